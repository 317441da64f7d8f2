// Walls 21-22, the analysis domain: tools over the other walls rather than walls of their own.
//
//   21 Sensitivity  dT/dx_i: which parameter binds, by perturbing each one
//   22 Synthesis    BW_req = |W| / T_target: the inverse roofline, the hardware an SLA needs
//
// Contract: sensitivity() never throws for bad numbers: a parameter whose elasticity cannot be
// computed (x_i = 0, T(x) not finite or 0, T non-finite at a perturbed point) gets NaN and is
// ranked last. It throws std::invalid_argument only for a malformed call (names and values of
// different lengths, relative_step outside (0, 1), an empty model). synthesis_wall gives NaN
// outside its domain like the other walls.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "walls/units.h"

namespace bstack::walls {

// ---- wall 21: sensitivity --------------------------------------------------------------------
// Central differences with a relative step h (the roofline's "which ceiling binds" question
// asked numerically, as MLSys-im's SensitivitySolver does; Saltelli et al. 2008, "Global
// sensitivity analysis: the primer", ch. 1, for local elasticities):
//   dT/dx_i   ~ (T(x_i (1+h)) - T(x_i (1-h))) / (2 h x_i)
//   e_i       = dlnT/dln x_i ~ (T+ - T-) / (2 h T(x))
// An elasticity of -1 means T is inversely proportional to x_i (the binding roof: 10% more
// bandwidth, 10% less time); 0 means x_i does not matter at this point. A roofline max() has a
// kink where two roofs meet: there the central difference averages the two sides (-0.5 each).
using TimeModel = std::function<double(const std::vector<double>&)>;

struct Sensitivity {
  std::string name;
  double value;                     // x_i
  double derivative;                // dT/dx_i (units of T per unit of x_i)
  double elasticity;                // dlnT/dln x_i (dimensionless)
  double time_up, time_down;        // T(x_i (1+h)), T(x_i (1-h))
};
struct SensitivityResult {
  double time;                      // T(x)
  std::vector<Sensitivity> ranked;  // by |elasticity|, largest first; NaN last
  // The binding parameter: ranked[0].name if its elasticity is finite and non-zero, else "".
  std::string binding;
};
SensitivityResult sensitivity(const TimeModel& model, const std::vector<std::string>& names,
                              const std::vector<double>& values, double relative_step = 0.1);

// ---- wall 22: synthesis ----------------------------------------------------------------------
// The inverse roofline (Williams et al. 2009 read backwards; MLSys-im's SynthesisSolver): to
// finish OPs of work moving |W| bytes within T_target, a device needs
//   BW_req   = |W| / (T_target x eta_mem)
//   Peak_req = OPs / (T_target x eta)
// and both roofs at once; its ridge point must then sit at Peak_req / BW_req = the workload's
// intensity. meets() checks a device against the requirement.
struct SynthesisInput {
  double work_flop;                 // OPs
  double bytes_moved;               // |W|
  double target_s;                  // T_target (SLA)
  double compute_efficiency = 1.0;  // eta in (0, 1]
  double memory_efficiency = 1.0;   // eta_mem in (0, 1]: achieved / datasheet bandwidth
};
struct SynthesisResult {
  BytesPerSecond bandwidth;         // BW_req
  FlopPerSecond peak;               // Peak_req
  FlopPerByte intensity;            // OPs / |W| (NaN when |W| = 0)
};
SynthesisResult synthesis_wall(const SynthesisInput& in);
// True if a device with these datasheet figures meets the requirement (both roofs).
bool meets(const SynthesisResult& need, double peak_flops_per_s, double bandwidth_bytes_per_s);

}  // namespace bstack::walls
