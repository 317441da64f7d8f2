// The libtorch peer of bench_train: the same models and step (forward, backward, Adam), built
// only when libtorch is found (BSTACK_HAS_TORCH). Plain C++ interface: no torch headers here.
#pragma once

#include <memory>
#include <string>

namespace bstack::bench {

class PeerStep {
 public:
  virtual ~PeerStep() = default;
  virtual void step() = 0;
};

// model: mlp | cnn | gpt-tiny (same shapes as bench_train.cpp); threads: intra-op threads.
std::unique_ptr<PeerStep> make_torch_step(const std::string& model, int threads);

}  // namespace bstack::bench
