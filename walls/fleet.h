// Walls 15-16, the fleet domain: what running on many nodes costs beyond communication.
// (Wall 14, communication, is walls/communication.h.)
//
//   15 Fragility     MTBF_cluster = MTBF_node / N; checkpoint every tau = sqrt(2 delta M)
//   16 Multi-tenant  T_wait = rho / (2 mu (1 - rho))   (M/D/1; Pollaczek-Khinchine in general)
//
// Contract: an input outside the model's domain (N < 1, non-positive MTBF or rates, negative
// times, NaN) gives NaN in every numeric result field. A queue at utilisation >= 1 has no
// steady state: its waits are +infinity.
#pragma once

#include "walls/units.h"

namespace bstack::walls {

// ---- wall 15: fragility ----------------------------------------------------------------------
// Independent node failures (exponential lifetimes): the cluster fails N times as often, so
// MTBF_cluster = MTBF_node / N. Checkpointing every tau seconds with a write time delta:
// Young 1974 ("A first order approximation to the optimum checkpoint interval", CACM 17(9)):
//   tau_Young = sqrt(2 delta M),  lost fraction ~ delta / tau + tau / (2 M)
// Daly 2006 ("A higher order estimate of the optimum checkpoint interval for restart dumps",
// FGCS 22(3), eq. 37), with restart time left out:
//   tau_Daly = sqrt(2 delta M) [1 + (1/3) sqrt(delta / (2M)) + (1/9) (delta / (2M))] - delta
//              for delta < 2M, else tau = M.
struct FragilityInput {
  double nodes;                     // N >= 1
  double node_mtbf_s;               // MTBF of one node
  double checkpoint_write_s;        // delta: time to write one checkpoint (wall 19)
};
struct FragilityResult {
  Seconds cluster_mtbf;             // M = MTBF_node / N
  Seconds young_interval;           // tau_Young
  Seconds daly_interval;            // tau_Daly
  Ratio lost_fraction;              // delta / tau + tau / (2M) at tau_Young (first order)
};
FragilityResult fragility_wall(const FragilityInput& in);

// ---- wall 16: multi-tenant -------------------------------------------------------------------
// A shared cluster as one M/G/1 queue of jobs: Poisson arrivals lambda, service rate mu,
// service-time squared coefficient of variation c_s^2. Pollaczek-Khinchine mean wait (Kleinrock
// 1975, "Queueing Systems, Volume 1", ch. 5, the M/G/1 mean-value result):
//   W_q = rho (1 + c_s^2) / (2 mu (1 - rho))
// c_s^2 = 0 (deterministic service, M/D/1) gives the MLSys-im form rho / (2 mu (1 - rho));
// c_s^2 = 1 (exponential, M/M/1) gives rho / (mu (1 - rho)). Little's law (Little 1961,
// "A proof for the queuing formula L = lambda W", Operations Research 9(3)): L_q = lambda W_q.
struct MultiTenantInput {
  double arrival_per_s;             // lambda
  double service_per_s;             // mu
  double service_scv = 0;           // c_s^2 >= 0
};
struct MultiTenantResult {
  Ratio utilisation;                // rho = lambda / mu
  Seconds mean_wait;                // W_q (+inf for rho >= 1)
  Seconds mean_turnaround;          // W_q + 1/mu
  Ratio mean_queue_length;          // L_q = lambda W_q
};
MultiTenantResult multi_tenant_wall(const MultiTenantInput& in);

}  // namespace bstack::walls
