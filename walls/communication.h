// Wall 14, communication: how long moving bytes between ranks takes, in the alpha-beta model.
//
//   alpha  latency per message (s): software overhead + wire/switch latency, paid per step
//   beta   bandwidth (bytes/s): the rate one link streams a large message at
//
// Point to point (Hockney 1994, "The communication challenge for MPP: Intel Paragon and Meiko
// CS-2", Parallel Computing 20(3)):                T = alpha + M / beta
//
// Ring all-reduce of M bytes over N ranks: a reduce-scatter then an all-gather, each N-1 steps
// moving M/N bytes per rank per step (Patarasuk & Yuan 2009, "Bandwidth optimal all-reduce
// algorithms for clusters of workstations", JPDC 69(2); Thakur, Rabenseifner & Gropp 2005,
// "Optimization of collective communication operations in MPICH", IJHPCA 19(1), sec. 4.4):
//                                                  T = 2(N-1) alpha + 2(N-1)/N * M / beta
// The bandwidth term is optimal: no all-reduce moves less than 2(N-1)/N * M bytes per rank.
//
// Bus bandwidth (nccl-tests, doc/PERFORMANCE.md): algbw = M / T is what the user sees; for an
// all-reduce busbw = algbw * 2(N-1)/N, the rate each link really ran at, comparable with the
// link's peak and constant in N for an ideal ring.
//
// Pure functions of numbers. Inputs outside a model's domain (N < 1, negative bytes, alpha < 0,
// beta <= 0, T <= 0) give NaN rather than a wrong number; N = 1 all-reduce takes 0 s.
#pragma once

namespace bstack::walls {

struct PointToPoint {
  double bytes;             // message size M
  double alpha_s;           // latency per message
  double beta_bytes_per_s;  // bandwidth
};

struct RingAllreduce {
  int ranks;                // N
  double bytes;             // M: the buffer each rank contributes (and receives reduced)
  double alpha_s;
  double beta_bytes_per_s;
};

// Hockney: alpha + M / beta.
double hockney_seconds(const PointToPoint& p);

// Ring all-reduce: 2(N-1) alpha + 2(N-1)/N * M / beta.
double ring_allreduce_seconds(const RingAllreduce& r);

// The factor 2(N-1)/N by which an all-reduce's bus bandwidth exceeds its algorithm bandwidth
// (and by which the ring's bandwidth term exceeds M / beta).
double allreduce_bus_factor(int ranks);

// nccl-tests: algbw = M / T.
double algorithm_bandwidth(double bytes, double seconds);

// nccl-tests all-reduce: busbw = algbw * 2(N-1)/N.
double allreduce_bus_bandwidth(double algbw_bytes_per_s, int ranks);

}  // namespace bstack::walls
