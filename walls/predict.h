// The predictor: how long one training (or inference) step takes on a calibrated machine, op by
// op, and which wall binds at each op and for the step. It joins walls 1, 2, 3 and 14:
//
//   per op   T_op   = max(OPs / (Peak x eta_op), |W| / BW_level) + D_op
//   step     T_step = sum_op T_op + T_comm,exposed
//   comm     T_comm = 2(N-1) alpha + 2(N-1)/N x M / beta                  (ring all-reduce)
//            T_comm,exposed = T_comm - min(f x T_comm, T_backward)        (DDP bucket overlap)
//
// where eta_op is the kernel efficiency measured at the op's size (GEMM-class ops) or the
// element-wise efficiency, BW_level the bandwidth of the fastest memory level the op's working set
// fits in, D_op the measured per-op dispatch overhead, M the gradient bytes, f the overlap
// fraction the DDP buckets allow.
//
// Sources: the roofline (Williams, Waterman & Patterson 2009, "Roofline: an insightful visual
// performance model for multicore architectures", CACM 52(4)) for the max of the compute and
// memory roofs, with the memory roof taken at the level the working set lives in (MLSys-im walls 1
// Compute and 2 Memory: Janapa Reddi 2026; walls/node.h); the per-launch framework overhead added
// outside the roofline (MLSys-im wall 3 Software; He 2022, "Making deep learning go brrrr from
// first principles": on an eager CPU framework the dispatch runs on the same thread before the
// kernel, so it adds rather than overlaps); the ring all-reduce (MLSys-im wall 14; Patarasuk &
// Yuan 2009; walls/communication.h); the overlap of the all-reduce with the backward pass by
// gradient buckets (Li et al. 2020, "PyTorch Distributed: experiences on accelerating data
// parallel training", VLDB 13(12), sec. 3.2.3: a bucket is reduced while backward computes the
// next one, so at most the backward time can hide it).
//
// What a prediction reads: only the Machine (calibrated peaks, bandwidths, kernel efficiency by
// size, overheads) and each op's FLOPs and bytes -- never the measured times of the run it is
// compared with (those enter summarize_by_class only, as the thing compared against).
//
// Contract (as every wall's, walls/node.h): an input outside the model's domain -- negative or
// non-finite FLOPs/bytes, a non-positive peak or bandwidth, an efficiency outside (0, 1], an empty
// or malformed efficiency table for a GEMM-class op, a working set larger than the last memory
// level, a NaN overhead -- gives NaN in every numeric field of that op (level -1, binding wall 0)
// and so NaN for the step; never a plausible wrong number. With ranks > 1 the all-reduce needs
// alpha and beta: unknown ones (NaN) give NaN communication and a NaN step. ranks = 1 has no
// all-reduce and takes 0 s whatever alpha and beta are. Malformed calls (vectors of different
// lengths) throw std::invalid_argument.
//
// Left out on purpose: reading profiles or traces, and mapping their keys onto these structs (the
// caller's glue); per-op thread counts (a Machine describes the machine at one thread count);
// overlap of compute and memory traffic beyond the roofline's max; contention of the all-reduce
// with the backward pass for memory bandwidth.
#pragma once

#include <string>
#include <vector>

namespace bstack::walls {

// One level of the memory hierarchy as the predictor sees it. Same numbers as node.h's
// MemoryLevel (which memory_level_for takes) plus the level's name for reports ("l1d", "l2", "l3",
// "dram"); MemoryLevel carries no name, so it does not fit alone.
struct MemoryLevelSpec {
  std::string name;
  double capacity_bytes;          // what the run's threads together hold there (+inf: unbounded)
  double bandwidth_bytes_per_s;   // at the run's thread count (<level>_triad_bytes_per_s)
};

// A GEMM efficiency measured at one problem size: eta = achieved / peak at flops = 2 M N K
// (calibrate's gemm/sgemm series, column "efficiency", at the run's thread count).
struct EfficiencyPoint {
  double flops;                   // 2 M N K of the measured problem, > 0
  double efficiency;              // eta in (0, 1]
};

// eta at `flops`: linear interpolation in ln(flops) between the two measured sizes around it,
// clamped to the smallest / largest measured size's eta outside them (GEMM efficiency rises with
// size and saturates: interpolating in log size follows the measured curve, and the ends are not
// extrapolated beyond what was measured). Points may come in any order; points at the same size
// are averaged. NaN for an empty table, any point with flops not in (0, inf) or eta not in (0, 1],
// or flops < 0 / NaN. flops = 0 (an empty GEMM) gives the smallest size's eta.
double efficiency_for(const std::vector<EfficiencyPoint>& points, double flops);

// A measured time of one op class at one size (calibrate section ops: the median time of one
// (op, shapes) signature): bytes = the op's |W|, seconds its time.
struct TimePoint {
  double bytes;                   // > 0
  double seconds;                 // > 0
};

// T at `bytes`: linear interpolation in (ln bytes, ln T) between the two measured sizes around
// it (a class's time per byte changes where its working set leaves a cache level, which one
// fitted bandwidth cannot follow); below the smallest measured size its time (the per-call floor:
// allocation, dispatch, the autograd node); above the largest, that size's bytes / T held (the
// bandwidth of the biggest measured working set, no faster). Points may come in any order;
// points at the same size are averaged (geometric mean). NaN for an empty table, a point not
// positive and finite, or bytes < 0 / NaN.
double time_for(const std::vector<TimePoint>& points, double bytes);

// How one op class of the framework really runs (calibrate section ops), when measured: `name` and
// `backward` match OpCost's. Element-wise and other non-GEMM classes (efficiency empty):
//   T = time_for(time_by_bytes, bytes)    when the table is there (profiles since the table), else
//   T = t0_s + bytes / bytes_per_s        (Hockney 1994's latency + size / bandwidth form)
// with t0_s the per-call cost (allocation, thread-pool dispatch, autograd node) reported as the
// dispatch share (wall 3) and the rest of T as the roof the op's intensity puts it under.
// GEMM-class (efficiency not empty): eta = efficiency_for(efficiency, flops), measured on the
// class's own shapes, taking the place of gemm_efficiency; D_op = t0_s.
struct OpClassModel {
  std::string name;
  bool backward = false;
  double t0_s = 0;
  double bytes_per_s = 0;                   // non-GEMM classes without a table; > 0
  std::vector<TimePoint> time_by_bytes;     // non-GEMM classes; may be empty (older profiles)
  std::vector<EfficiencyPoint> efficiency;  // GEMM-class; empty for the others
};

// One layer of a calibrated model (calibrate section ops): the k-th op of a class in that model's
// training step, measured at several batch sizes. key = "<model>/<class>#<k>" (OpCost::layer);
// T = time_for(time, by_flops ? OPs : bytes): the same layer interpolated in batch, which
// follows its own shape's efficiency where a class-wide table mixes shapes of equal size.
struct LayerModel {
  std::string key;
  bool by_flops = false;                    // GEMM-class layers: T against OPs, else bytes
  std::vector<TimePoint> time;              // (OPs or bytes, seconds) per measured batch
};

// The machine at the thread count the run uses, from its calibrated profile.
struct Machine {
  std::string name;
  double peak_flops_per_s;        // Peak at `threads` threads (calibrate: peak_flops_fp32)
  double peak_flops_per_s_1t;     // Peak on one thread: carried for reports (the parallel speed-up
                                  // peak / peak_1t); not read by predict_op
  int threads;                    // the thread count the peak, bandwidths and eta were measured at
  std::vector<MemoryLevelSpec> levels;           // fastest first; last = DRAM, capacity = RAM
  std::vector<EfficiencyPoint> gemm_efficiency;  // eta of GEMM-class ops by size
  double elementwise_efficiency = 1.0;  // eta of every other op (they sit on the memory roof)
  double dispatch_s;              // framework time per op, no autograd (calibrate: dispatch_s)
  double dispatch_autograd_s;     // per op recorded for autograd, forward + backward together
                                  // (calibrate: dispatch_autograd_s)
  double alpha_s;                 // all-reduce latency per message; NaN when unknown (one rank)
  double beta_bytes_per_s;        // link bandwidth; NaN when unknown
  // How much slower a rank's node time runs when P ranks step together in lockstep on the node
  // than one process alone (calibrate section corun, under mpirun: shared caches, memory
  // bandwidth and cores, and each step waiting for the slowest rank). 1 when not measured.
  double corun_factor = 1.0;
  int corun_ranks = 0;  // the rank count corun_factor was measured at; 0: any (set by hand)
  // The all-reduce time of the DDP's default algorithm (bstack's ring) by message bytes, measured
  // on `allreduce_ranks` ranks (calibrate section interconnect, series interconnect/ddp_allreduce);
  // empty: wall 14's alpha-beta ring formula (older profiles, registry devices).
  std::vector<TimePoint> allreduce_time;
  int allreduce_ranks = 0;
  // Per op class measurements; an op whose class is listed here is predicted from them instead
  // of the roofline's triad bandwidth / square-GEMM efficiency / dispatch_s (empty: older profiles).
  std::vector<OpClassModel> op_classes;
  // The framework's time in a training step outside its ops (building and freeing the autograd
  // graph, zero_grad, the optimizer's loop, the profiler's records): per step and per op
  // (calibrate section ops; 0 in older profiles). Counted in wall 3.
  double step_overhead_s = 0;
  double overhead_per_op_s = 0;
  // Per layer of the calibrated zoo models; an op whose OpCost::layer is listed here takes it
  // before its class (empty: older profiles, or a model calibrate did not run).
  std::vector<LayerModel> layers;
};

// What one op (one forward or one backward call of a tensor op) costs, from the workload's shapes
// (src/ profiler's per-op FLOPs and bytes), never from its measured time.
struct OpCost {
  std::string name;               // "matmul", "add", "relu", ...
  bool backward = false;          // the backward call of `name`
  double flops = 0;               // OPs
  double bytes = 0;               // |W|: bytes read + written
  double working_set_bytes = 0;   // resident footprint; 0: the op's bytes (memory_wall's 0)
  bool is_gemm = false;           // matmul / linear / conv / attention: eta from gemm_efficiency
  std::string layer;              // "<model>/<class>#<k>" when the workload is a calibrated zoo
                                  // model (LayerModel); empty: predicted by class
};

struct OpPrediction {
  double seconds;                 // max(compute_s, memory_s) + dispatch_s
  double compute_s;               // OPs / (Peak x eta)                                  (wall 1)
  double memory_s;                // |W| / BW of `level`                                 (wall 2)
  double dispatch_s;              // D_op                                                (wall 3)
  int level;                      // index into Machine::levels; -1 when invalid
  int binding_wall;               // 1 compute, 2 memory, 3 software (dispatch > both roofs);
                                  // 0 when NaN or when the op takes no time at all
  double efficiency;              // eta used for the compute roof
};

// One op. Dispatch (MLSys-im wall 3's per-launch overhead, from calibrate's two measurements):
//   no autograd:            D = dispatch_s for every op;
//   autograd, forward op:   D = dispatch_s;
//   autograd, backward op:  D = max(0, dispatch_autograd_s - dispatch_s)  (graph node + backward
//                           call), so a forward/backward pair costs the measured
//                           dispatch_autograd_s.
// A backward op with autograd = false is outside the domain (NaN).
// An op whose (name, backward) has an OpClassModel in m.op_classes takes that model instead
// (level is still the level its working set fits in, for reports): non-GEMM
//   compute_s = OPs / (Peak x elementwise_efficiency), memory_s = bytes / bytes_per_s,
//   dispatch_s = t0_s;
//   (with a time table: T = time_for(table, bytes), dispatch_s = min(t0_s, T), and the rest of T
//   goes to the roof the op's intensity OPs / |W| puts it under -- compute when it is at or above
//   the ridge Peak x elementwise_efficiency / BW_level, else memory -- so seconds = T);
// GEMM-class  compute_s = OPs / (Peak x eta_class(OPs)), memory_s = |W| / BW_level,
//   dispatch_s = t0_s.
// An op whose `layer` has a LayerModel in m.layers takes T from it first, split as a time table's
// (dispatch_s = min(its class's t0_s, T), 0 without a class model).
// A class model with t0_s < 0 / NaN, bytes_per_s <= 0 (non-GEMM) or a malformed table gives NaN.
OpPrediction predict_op(const Machine& m, const OpCost& op, bool autograd);

struct StepPrediction {
  double seconds;                 // compute_s + memory_s + dispatch_s + comm_s
  double compute_s;               // sum of the roof time of ops whose compute roof binds (wall 1)
  double memory_s;                // sum of the roof time of ops whose memory roof binds   (wall 2)
  double dispatch_s;              // sum of every op's dispatch + outside_ops_s             (wall 3)
  double outside_ops_s;           // step_overhead_s + ops x overhead_per_op_s (autograd steps)
  double comm_s;                  // exposed all-reduce time                               (wall 14)
  double comm_total_s;            // the whole all-reduce, hidden part included
  double backward_s;              // sum of the backward ops' seconds (what can hide the comm)
  double corun_s;                 // with ranks > 1: the node time the ranks add to each other,
                                  // (corun_factor - 1) x the node time; shared out over walls
                                  // 1-3 (included in compute_s, memory_s, dispatch_s)
  int binding_wall;               // the wall with the largest share: 1, 2, 3 or 14 (ties go to
                                  // the lower number); 0 when seconds is NaN or 0
  std::vector<OpPrediction> ops;  // one per input op, same order
};

// A step of `ops` on `ranks` data-parallel ranks all-reducing `gradient_bytes` per step.
// Autograd (for dispatch) is on when any op is a backward op; a training step (autograd on) also
// pays the machine's time outside the ops, step_overhead_s + ops x overhead_per_op_s (wall 3). The shares split the step exactly:
// an op's roof time goes to wall 1 or 2 (whichever roof is higher), its dispatch to wall 3.
// overlap_fraction f in [0, 1]: the fraction of the all-reduce the DDP buckets let run during
// backward, capped by the backward time itself (Li et al. 2020):
//   hidden = min(f x T_comm, T_backward),  comm_s = T_comm - hidden.
// ranks < 1, gradient_bytes < 0 or f outside [0, 1] give NaN communication.
// With ranks > 1 each rank's node time (compute, memory, dispatch, backward) is scaled by
// corun_factor(m, ranks) (ranks sharing the node, in lockstep); the ops' own predictions are not.
// A corun_factor that is not finite and positive gives NaN.
StepPrediction predict_step(const Machine& m, const std::vector<OpCost>& ops, int ranks,
                            double gradient_bytes, double overlap_fraction);
// The same with the gradients all-reduced as separate messages (the DDP buckets): T_comm is the
// sum of allreduce_seconds over them.
StepPrediction predict_step(const Machine& m, const std::vector<OpCost>& ops, int ranks,
                            const std::vector<double>& message_bytes, double overlap_fraction);

// The factor predict_step scales a rank's node time by: m.corun_factor when ranks > 1 and it was
// measured at this rank count (or m.corun_ranks is 0), else 1 (a factor measured with 2 ranks
// on a node says nothing of 64).
double corun_factor(const Machine& m, int ranks);

// Whether allreduce_seconds reads the measured table for `ranks` (else the alpha-beta ring).
bool allreduce_from_table(const Machine& m, int ranks);

// The DDP's messages for `gradient_bytes` in buckets of `bucket_bytes` (as `bstack train` fills
// them, up to the bucket size): full buckets and the remainder; one message when bucket_bytes is
// 0 (no buckets) or not smaller than the gradient; none for no gradient. Throws
// std::invalid_argument when that would be kMaxBucketMessages or more, or an argument is negative.
inline constexpr double kMaxBucketMessages = double(1 << 22);
std::vector<double> bucket_messages(double gradient_bytes, double bucket_bytes);

// One all-reduce of `bytes` over `ranks`: the measured time table (time_for(m.allreduce_time,
// bytes)) when there is one for this rank count, else wall 14's ring formula
// 2(N-1) alpha + 2(N-1)/N bytes / beta. 0 for one rank; NaN for bytes < 0 or an unknown link.
double allreduce_seconds(const Machine& m, int ranks, double bytes);

// Predicted against measured time per op class (op name + forward/backward), in the order each
// class first appears in `ops`.
struct ClassSummary {
  std::string name;
  bool backward;
  int count;                      // ops of the class in the step
  double flops, bytes;            // summed
  double predicted_s;             // sum of the ops' predicted seconds
  double compute_s, memory_s, dispatch_s;  // the predicted shares, as in StepPrediction
  double measured_s;              // sum of the ops' measured seconds; NaN without measurements
  double error_pct;               // 100 (predicted - measured) / measured; NaN when measured <= 0
                                  // or either is NaN
  int binding_wall;               // largest share among 1, 2, 3; 0 when predicted is NaN or 0
};

// The ridge point of an op (Williams et al. 2009): the intensity OPs / |W| at which its compute
// roof, Peak x eta_op, meets the memory roof of the level its working set fits in,
//   I* = Peak x eta_op / BW_level    (FLOP per byte),
// with eta_op and the level the ones predict_op used (p.efficiency, p.level). An op at or right of
// I* sits under the compute roof, one left of it under the memory roof: predict_op puts an op's
// roof time on the side its intensity falls. NaN for an invalid prediction (level -1, eta NaN).
double ridge_intensity(const Machine& m, const OpPrediction& p);

// `step` must be predict_step's result for `ops`; `measured_seconds` (may be null) one measured
// time per op, same order. Sizes that differ throw std::invalid_argument.
std::vector<ClassSummary> summarize_by_class(const std::vector<OpCost>& ops,
                                             const StepPrediction& step,
                                             const std::vector<double>* measured_seconds);

}  // namespace bstack::walls
