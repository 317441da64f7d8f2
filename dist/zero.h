// ZeRO stage 1: the optimizer state sharded over the ranks (Rajbhandari et al. 2020, "ZeRO:
// Memory Optimizations Toward Training Trillion Parameter Models", sec. 5.1, P_os).
//
// All parameters are viewed as one flat vector of N floats, padded to P * ceil(N / P); rank r
// owns slice r. A step:
//   1. the gradients, flattened, are reduce-scattered (average): rank r receives the averaged
//      gradient of its slice only;
//   2. the wrapped optimizer (Adam, SGD, ...; it is elementwise) updates rank r's slice of the
//      parameters, with moment buffers for that slice only: optimizer memory / P;
//   3. the updated slices are all-gathered back into every rank's parameters.
// Communication per step is the same as an all-reduce (reduce-scatter + all-gather is the ring
// all-reduce), and each element goes through the same arithmetic as unsharded, so a ZeRO-1 run
// matches a plain data-parallel one.
//
// state() gathers the full state (collective: every rank must call it) under the names the
// unsharded optimizer would use, so a checkpoint is the same file with or without ZeRO and loads
// with any number of ranks; load_state() takes this rank's slice of a full state.
// A parameter without a gradient counts as a zero gradient here.
#pragma once

#include "dist/backend.h"
#include "src/optim/optim.h"
#include "src/profile/profiler.h"

#include <functional>
#include <memory>

namespace bstack::dist {

class ZeroOptimizer : public optim::Optimizer {
 public:
  using MakeOptimizer = std::function<std::unique_ptr<optim::Optimizer>(std::vector<Tensor>)>;
  // timeout_s: how long a collective may wait for the other ranks before the step fails.
  ZeroOptimizer(std::vector<Tensor> params, Backend& backend, const MakeOptimizer& make, double timeout_s = 300);

  void step() override;
  // Runs `w` to completion within the timeout, or fails naming `what`.
  void finish(WorkPtr w, const char* what) const;
  std::map<std::string, Tensor> state() const override;
  void load_state(const std::map<std::string, Tensor>& state, int64_t steps) override;

  size_t shard_size() const { return shard_; }
  // The last step's reduce-scatter and all-gather (start and duration from the step's start).
  const std::vector<CommRecord>& last_comm() const { return last_comm_; }

 private:
  Backend& backend_;
  size_t total_ = 0, shard_ = 0;
  double timeout_s_;
  std::vector<size_t> offsets_;  // of each parameter in the flat vector
  Tensor shard_param_;           // this rank's slice of the parameters (the inner optimizer's)
  std::unique_ptr<optim::Optimizer> inner_;
  std::vector<float> flat_grad_, flat_param_;
  std::vector<CommRecord> last_comm_;
};

}  // namespace bstack::dist
