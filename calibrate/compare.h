// walls compare: a training trace (src/profile/profiler.h) beside what the walls predict for it
// on the machine a profile describes. The prediction takes only the trace's FLOPs and bytes per op
// and the profile's figures; the trace's seconds are what it is compared with, never an input.
#pragma once

#include <string>
#include <vector>

#include "calibrate/plot.h"
#include "calibrate/profile.h"
#include "src/profile/profiler.h"
#include "walls/predict.h"

namespace bstack::calibrate {

struct CompareResult {
  walls::Machine machine;                     // from the profile, at the trace's thread count
  std::vector<walls::ClassSummary> classes;   // per op class, per step (mean over the steps used)
  double predicted_step_s = 0;                // median over the steps used
  double measured_step_s = 0;                 // median of the trace's step times, steps used
  double measured_ops_s = 0;                  // median of the recorded ops' summed seconds
  double step_error = 0;                      // (predicted - measured) / measured
  int binding_wall = 0;                       // of the median step's prediction
  double compute_s = 0, memory_s = 0, dispatch_s = 0;  // the median step's shares
  int steps_used = 0;                         // the trace's steps after the first (warm-up)
  std::vector<RooflinePoint> points;          // one per op class: FLOP/byte, measured FLOP/s
};

// Whether an op name is GEMM-like (its compute roof uses the GEMM efficiency by size).
bool is_gemm_op(const std::string& name);

CompareResult compare_trace(const MachineProfile& p, const Trace& t);

}  // namespace bstack::calibrate
