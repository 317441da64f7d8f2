// The op profiler: while a ProfileScope is active on a thread, every primitive op run on that
// thread records its name, operand shapes, FLOPs, bytes and wall time, tagged forward or
// backward (ops run by Tensor::backward are backward). Composite ops (mean, var, most layers)
// appear as the primitives they are made of, so counts are exact and add up; the fused ops
// (linear, conv2d, layer_norm, cross_entropy, scaled_dot_product_attention and their *_backward)
// are one record each, with the FLOPs of the primitives they replace.
//
// Definitions (what walls/ compares with; exact by definition, not estimates):
//   FLOPs  matmul: 2*M*N*K per batch entry (a multiply-add is 2);
//          elementwise (add, mul, exp, gelu, where, comparisons, ...): 1 per output element;
//          sum / max / argmax: 1 per input element;
//          softmax, log_softmax: 5 per element (max, subtract, exp, sum, divide or log);
//          linear: 2*rows*out*in + 1 per output for the bias; backward 2*rows*out*in per GEMM
//            (dW, and dx when the input needs it) + 1 per gradient element (the bias sum);
//          conv2d: 2*N*OC*OH*OW*(C/groups)*KH*KW + 1 per output for the bias;
//          scaled_dot_product_attention: 4*D + 5 per visible (query, key) pair (causal: only
//            the pairs the mask keeps; the tiled kernel does no work for the others);
//          layer_norm: 8 per element (backward 12); cross_entropy: 5 per logit;
//          adam_step (the fused Adam/AdamW update of one parameter tensor): 14 per parameter (+2
//            with weight decay), bytes p, g, m, v read + p, m, v written; sgd_step: 2 per
//            parameter (5 with momentum, +2 with weight decay), p, g (+ buffer) read, p (+ buffer)
//            written;
//          data movement (copy, clone, to, unfold2d, index_select, gather, cat): 0.
//   bytes  the minimum traffic: every operand read once as stored (a broadcast operand counts
//          its own size, not the broadcast size) plus the output written once.
// Views (reshape of contiguous data, transpose, slice, expand, ...) move no data and are not
// recorded.
#pragma once

#include "src/tensor.h"

#include <chrono>
#include <initializer_list>
#include <string>
#include <vector>

namespace bstack {

struct OpRecord {
  std::string name;
  bool backward = false;
  std::vector<Shape> inputs;
  Shape output;
  double flops = 0, bytes = 0, seconds = 0;
  int64_t step = 0;
  std::string signature() const;  // "[64, 784] [784, 256] -> [64, 256]"
};

// One collective of a data-parallel step (dist::DistributedDataParallel): a gradient bucket's
// all-reduce (or ZeRO-1's reduce-scatter / all-gather). `start` is when it was launched and
// `seconds` how long it was in flight (launch to observed completion), both from the start of
// the step's backward; `exposed` is the part the step waited for it after backward ended.
struct CommRecord {
  std::string name;  // "allreduce", "reduce_scatter", "allgather"
  double bytes = 0, start = 0, seconds = 0, exposed = 0;
  int64_t step = 0;
};

// How the run was distributed (stored in the trace when ranks > 1).
struct DistInfo {
  int64_t rank = 0, ranks = 1;
  std::string backend;  // "mpi (ring)", ...
  int64_t bucket_bytes = 0;
  bool overlap = false, zero1 = false;
};

class Profiler {
 public:
  std::vector<OpRecord> ops;
  std::vector<CommRecord> comm;
  DistInfo dist;
  std::vector<double> step_seconds;
  // Per step, when a distributed run records it: backward's own time (compute) and the time
  // spent after it waiting for communication (exposed).
  std::vector<double> step_backward_seconds, step_exposed_seconds;
  int64_t step = 0;  // stamped on each record; advanced by end_step()
  void end_step(double seconds) {
    step_seconds.push_back(seconds);
    ++step;
  }
  double total_flops(bool backward) const;
  double total_bytes(bool backward) const;
  // Writes format "bstack-trace" version 1 (atomic).
  void save(const std::string& path, const std::string& model, int64_t threads) const;
};

// A trace file read back (format "bstack-trace" version 1): what walls compare predicts from
// (FLOPs, bytes) and compares with (seconds).
struct TraceOp {
  std::string name, signature;
  bool backward = false;
  double flops = 0, bytes = 0, seconds = 0;
  int64_t step = 0;
};
struct Trace {
  std::string path, model;
  int64_t threads = 0;
  std::vector<TraceOp> ops;
  std::vector<double> step_seconds;
  // Distributed runs only (empty / ranks 1 otherwise).
  DistInfo dist;
  std::vector<CommRecord> comm;
  std::vector<double> step_backward_seconds, step_exposed_seconds;
};
// Throws bstack::Error naming the file for a missing, corrupt or foreign file.
Trace read_trace(const std::string& path);

// Makes `p` the active profiler of this thread while it lives.
class ProfileScope {
 public:
  explicit ProfileScope(Profiler& p);
  ~ProfileScope();
  ProfileScope(const ProfileScope&) = delete;
  ProfileScope& operator=(const ProfileScope&) = delete;

 private:
  Profiler* prev_;
};

namespace detail {
Profiler* active_profiler();
bool in_backward();
void set_in_backward(bool on);

// Used inside primitive ops: starts the clock if a profiler is active; done() records.
class OpTimer {
 public:
  OpTimer(const char* name, std::initializer_list<const Tensor*> inputs);
  // extra_bytes: reads not covered by the listed inputs (rows picked by an index, cat's parts).
  void done(const Tensor& out, double flops, double extra_bytes = 0);

 private:
  Profiler* p_;
  const char* name_;
  std::vector<Shape> shapes_;
  double in_bytes_ = 0;
  std::chrono::steady_clock::time_point t0_;
};
}  // namespace detail

}  // namespace bstack
