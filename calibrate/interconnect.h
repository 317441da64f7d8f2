// The interconnect measurements of `bstack calibrate` (section "interconnect", run under
// mpirun): the OSU Micro-Benchmarks methods (osu_latency, osu_bw, osu_allreduce; Ohio State
// University, mvapich.cse.ohio-state.edu/benchmarks), over bstack's own Communicator
// (dist/comm.h), so calibrate measures exactly the path training uses.
//
// Every rank calls each function with the same arguments (they communicate); the results are
// the same on every rank (rank 0's measurement, broadcast). Point-to-point runs between ranks 0
// and 1 while the other ranks wait in Communicator::idle_barrier. Each needs size() >= 2.
//
// Iteration counts per size: OSU's defaults (warm-up "skip" and timed iterations, smaller above
// 8 KiB) cut down so one size costs about `budget_s` (estimated from the warm-up on rank 0, at
// least `min_iters`), so a slow network still finishes in time. calibrate_interconnect (declared
// in calibrate.h) runs the three sweeps, fits wall 14 (walls/communication.h) and records them.
#pragma once

#include <cstddef>
#include <functional>
#include <span>
#include <vector>

#include "dist/comm.h"

namespace bstack::calibrate {

struct SweepBudget {
  double budget_s = 0.05;  // about this long per message size (warm-up included)
  int min_iters = 5;       // timed iterations at least, whatever the budget says
};

// Called after each size with the index just finished (for progress bars).
using SizeDone = std::function<void(size_t index)>;

// osu_latency: rank 0 sends `bytes`, rank 1 sends them back (MPI_Send/MPI_Recv through the
// Communicator); half the mean round trip.
struct PingPongPoint {
  double bytes = 0;
  double half_round_trip_s = 0;
  int iters = 0;
};
std::vector<PingPongPoint> osu_latency(dist::Communicator& comm, std::span<const size_t> sizes,
                                       const SweepBudget& b, const SizeDone& done = {});

// osu_bw: rank 0 posts a window of non-blocking sends, rank 1 a window of receives; after the
// window rank 1 returns a 4-byte ack. bytes x window x iterations / time. OSU's window is 64
// messages; here it shrinks above 2 MiB so that a window holds at most kMaxWindowBytes (a
// 64 MiB window of 64 messages would take ~0.4 s on shared memory, per iteration).
constexpr int kOsuWindow = 64;
constexpr size_t kMaxWindowBytes = size_t(128) << 20;
int bandwidth_window(size_t bytes);
struct BandwidthPoint {
  double bytes = 0;
  double bytes_per_s = 0;
  int window = 0;
  int iters = 0;
};
std::vector<BandwidthPoint> osu_bandwidth(dist::Communicator& comm, std::span<const size_t> sizes,
                                          const SweepBudget& b, const SizeDone& done = {});

// osu_allreduce: every rank all-reduces `bytes` of float32 (sum, in place), each call timed on
// its own with a barrier between calls (untimed); the mean over iterations per rank, then the
// minimum, mean and maximum of those over the ranks (OSU prints avg, with min and max under -f).
struct AllreducePoint {
  double bytes = 0;
  double avg_s = 0;  // mean over ranks of the per-rank mean
  double min_s = 0;
  double max_s = 0;  // slowest rank: the time the collective costs the job
  int iters = 0;
};
std::vector<AllreducePoint> osu_allreduce(dist::Communicator& comm, std::span<const size_t> sizes,
                                          const SweepBudget& b, const SizeDone& done = {});

// osu_allreduce's method over the all-reduce DistributedDataParallel runs by default: the mpi
// Backend with bstack's ring (dist/allreduce.h), float32 average, start_allreduce then wait.
std::vector<AllreducePoint> ddp_allreduce(dist::Communicator& comm, std::span<const size_t> sizes,
                                          const SweepBudget& b, const SizeDone& done = {});

// Powers of two from `lo` to `hi` bytes, both included (lo, hi powers of two).
std::vector<size_t> power_of_two_sizes(size_t lo, size_t hi);

}  // namespace bstack::calibrate
