// DistributedDataParallel: every rank holds the whole model, trains on its shard of each global
// batch, and averages its gradients with every other rank's during backward.
//
// Method (the bucketed reducer of PyTorch DDP; Li et al. 2020, "PyTorch Distributed: Experiences
// on Accelerating Data Parallel Training", sec. 3.2):
//   - At start, rank 0's parameter values are broadcast to every rank.
//   - Gradients are grouped into buckets of about `bucket_bytes`, parameters taken in reverse
//     registration order (roughly the order backward produces their gradients). After the first
//     step the buckets are rebuilt in the order gradients actually became ready (the autograd
//     engine is deterministic, so every rank rebuilds them identically).
//   - During backward, the engine tells the reducer when a parameter's gradient is final
//     (BackwardObserver); when every gradient of a bucket is, the bucket is copied into one flat
//     buffer and its all-reduce (average) starts, non-blocking, in bucket order (all ranks start
//     collectives in the same order). After every op of backward the reducer advances everything
//     in flight (Work::test), so communication proceeds while the rest of backward computes.
//   - When backward ends, the reducer launches what is left, waits, and copies the averages back
//     into the gradients. The time it waits there is the communication backward did not hide.
//   bucket_bytes = 0: no buckets: one all-reduce of all gradients after backward. overlap = false:
//   buckets, but every all-reduce after backward (the baseline the overlap is measured against).
//
// Only f32 parameters. A rank that stops answering (crashed, killed, hung) makes the others fail
// after `timeout_s` in their wait with a message saying so, rather than hang; under mpirun the
// launcher normally notices a dead rank first and names it.
#pragma once

#include "dist/backend.h"
#include "src/profile/profiler.h"
#include "src/tensor.h"

#include <chrono>
#include <cstddef>
#include <unordered_map>
#include <vector>

namespace bstack::dist {

struct DDPOptions {
  size_t bucket_bytes = 1 << 20;
  bool overlap = true;
  double timeout_s = 300;
};

class DistributedDataParallel : private BackwardObserver {
 public:
  DistributedDataParallel(std::vector<Tensor> params, Backend& backend, DDPOptions options = {});
  ~DistributedDataParallel() override;

  // Makes every rank's parameters rank 0's.
  void broadcast_parameters();
  // loss.backward(), with every parameter's gradient averaged over the ranks when it returns.
  void backward(const Tensor& loss);

  // The last backward(): its own time, the time waited for communication after it, and one
  // record per bucket (start and duration from the start of backward, the part waited for).
  struct StepStats {
    double backward_s = 0, exposed_s = 0;
    std::vector<CommRecord> comm;
  };
  const StepStats& last_step() const { return last_; }
  // The parameter indices of each bucket, in launch order.
  std::vector<std::vector<size_t>> buckets() const;
  const DDPOptions& options() const { return opt_; }

 private:
  struct Bucket {
    std::vector<size_t> params;   // indices into params_
    std::vector<size_t> offsets;  // of each parameter in `flat`
    std::vector<float> flat;
    size_t pending = 0;           // gradients not yet ready this step
    WorkPtr work;
    bool launched = false, done = false;
    double t_launch = 0, t_done = 0, waited = 0;
  };
  using Clock = std::chrono::steady_clock;

  void grad_ready(TensorImpl* leaf) override;
  void node_done() override;
  void build_buckets(const std::vector<size_t>& order);
  void reset_step();
  void launch_ready();
  void launch(Bucket& b);
  void poll();
  void wait(Bucket& b, size_t index);
  double now() const;

  std::vector<Tensor> params_;
  Backend& backend_;
  DDPOptions opt_;
  std::unordered_map<TensorImpl*, size_t> index_;
  std::vector<Bucket> buckets_;
  std::vector<size_t> bucket_of_;  // parameter index -> bucket
  std::vector<char> ready_;
  std::vector<size_t> ready_order_;
  size_t next_launch_ = 0;
  bool rebuilt_ = false, in_backward_ = false;
  Clock::time_point t0_;
  StepStats last_;
};

}  // namespace bstack::dist
