// walls compare: a training trace (src/profile/profiler.h) beside what the walls predict for it
// on the machine a profile describes. The prediction takes only the trace's FLOPs and bytes per op
// and the profile's figures; the trace's seconds are what it is compared with, never an input.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "calibrate/plot.h"
#include "calibrate/profile.h"
#include "src/profile/profiler.h"
#include "walls/predict.h"

namespace bstack::calibrate {

// Which side of its ridge point (walls::ridge_intensity) each op of a step falls on, judged for
// the two kinds the roofline places without doubt on a CPU: GEMM-class ops belong right of it
// (their intensity grows with the matrix sides: O(MNK) FLOPs over O(MK + KN + MN) bytes), element-
// wise maps left of it (O(1) FLOPs per element moved). The other ops -- reductions, normalisations,
// softmax and the loss, the optimizer's update, indexing -- are counted, not judged: their place
// depends on the level their data lives in.
struct RidgeCheck {
  int gemm_ops = 0, gemm_right = 0;              // GEMM-class ops in the step; those at/right of I*
  int elementwise_ops = 0, elementwise_left = 0; // element-wise maps; those left of I*
  int other_ops = 0;
  double gemm_min_ratio = 0;          // min over GEMM ops of intensity / I* (NaN: none)
  double elementwise_max_ratio = 0;   // max over element-wise ops of intensity / I* (NaN: none)
  std::vector<std::string> misplaced; // "<layer or class#k>: I = x FLOP/B, I* = y FLOP/B (level)"
  bool ok() const { return gemm_right == gemm_ops && elementwise_left == elementwise_ops; }
};

struct CompareResult {
  walls::Machine machine;                     // from the profile, at the trace's thread count
  std::vector<walls::ClassSummary> classes;   // per op class, per step (mean over the steps used)
  double predicted_step_s = 0;                // median over the steps used
  double measured_step_s = 0;                 // median of the trace's step times, steps used
  double measured_ops_s = 0;                  // median of the recorded ops' summed seconds
  double step_error = 0;                      // (predicted - measured) / measured
  int binding_wall = 0;                       // of the median step's prediction
  double compute_s = 0, memory_s = 0, dispatch_s = 0;  // the median step's shares
  double outside_ops_s = 0;                   // of dispatch_s: the framework's time outside the ops
  int steps_used = 0;                         // steps compared: after the first (warm-up), those
                                              // at the full batch (the largest step FLOPs)
  int partial_steps = 0;                      // steps left out for a smaller (partial) batch
  // Data-parallel traces (ranks > 1): wall 14 for the gradient all-reduce the trace records
  // (its bytes per step), with the profile's alpha and beta and the overlap the DDP buckets allow.
  int ranks = 1;
  double comm_s = 0;                          // predicted exposed all-reduce time per step
  double corun_s = 0;                         // of compute_s + memory_s + dispatch_s: the ranks'
                                              // slowdown of each other (walls::corun_factor)
  double comm_total_s = 0;                    // predicted all-reduce time per step, hidden included
  double gradient_bytes = 0;                  // all-reduced per step (the trace's comm records)
  double overlap_fraction = 0;                // f of walls::predict_step
  double measured_comm_s = 0;                 // median per step of the records' time in flight
  double measured_exposed_s = 0;              // median per step of the time waited after backward
  std::vector<RooflinePoint> points;          // one per op class: FLOP/byte, measured FLOP/s
  RidgeCheck ridge;                           // of the median step's ops
};

// Element-wise map ops: one output element from one element of each input, no reduction (the
// unary and binary maps of src/ops_elementwise.cpp, and their backward calls).
bool is_elementwise_op(const std::string& name);

// The ridge check of one step: `step` is walls::predict_step's result for `ops` on `m`. An op with
// an invalid prediction counts as misplaced.
RidgeCheck check_ridge(const walls::Machine& m, const std::vector<walls::OpCost>& ops,
                       const walls::StepPrediction& step);

// The fraction of the all-reduce the DDP buckets let run during backward (walls::predict_step's
// f): the buckets are reduced in reverse order, and the last one -- at most bucket_bytes, holding
// the first layers' gradients, ready only when backward ends -- cannot overlap (Li et al. 2020,
// sec. 3.2.3). 0 without overlap or with one bucket (bucket_bytes 0).
double overlap_fraction(const DistInfo& d, double gradient_bytes);

// Whether an op name is GEMM-like (its compute roof uses the GEMM efficiency by size).
bool is_gemm_op(const std::string& name);
// The profile key of an op class: the op name, "_bwd" appended for its backward call (calibrate
// section ops: op_<class>_t0_s, series ops/<class>).
std::string op_class_key(const std::string& name, bool backward);
// Its inverse: the op name and whether the class is a backward call.
std::pair<std::string, bool> op_class_name(const std::string& cls);
// The layer key of the k-th (from 0) op of class `cls` (op_class_key) in a training step of zoo
// model `model`: "<model>/<cls>#<k>" (walls::LayerModel). Its samples are the profile series
// "layers/<model>/<cls>" (threads, k, flops, bytes, seconds).
std::string layer_key(const std::string& model, const std::string& cls, int k);

CompareResult compare_trace(const MachineProfile& p, const Trace& t);

}  // namespace bstack::calibrate
