// A walls::Workload from a bstack zoo model, before a run starts: the ops of one training step
// (forward, loss, backward, optimizer step, exactly as `bstack train` runs it) with their FLOPs
// and bytes as the profiler defines them (src/profile/profiler.h), the gradient bytes a data-
// parallel step all-reduces, and the memory the step holds at its peak ("will it fit").
//
// How, without running a step at the target batch (which may not fit): two profiled steps at
// small batches (2 and 3) on synthetic inputs of the model's shape, checked to run the same ops in
// the same order, and every per-op figure extrapolated affinely to the target batch. Exact, not an
// estimate: in these models every tensor is (batch x a per-sample shape) and every op's FLOPs and
// bytes are a per-sample amount times the batch plus a batch-independent amount (the weights it
// reads, the optimizer's work), so f(B) = f(2) + (f(3) - f(2)) (B - 2) holds to rounding. (Batch
// 1 is not used: size-1 dims make strided tensors look contiguous, which would change which
// copies the memory model sees.)
//
// The memory (walls/footprint.h): parameters, gradients and optimizer state from ZeRO sec. 3.1;
// activations and workspace from the autograd graph the forward pass builds at each small batch
// -- the tensors it keeps for backward, by their shapes -- and a replay of the backward pass over
// that graph (which gradients are alive at each op, which ops copy), as moments that are
// extrapolated to the target batch and the largest taken. Only shapes and formulas: nothing the
// allocator measured enters the prediction (`bstack train` reports the allocator's measured peak
// beside it).
#pragma once

#include <cstdint>
#include <string>

#include "walls/workload.h"

namespace bstack::calibrate {

struct ModelWorkloadOptions {
  std::string model;                // a zoo name: perceptron, mlp, cnn, gpt-tiny (src/nn/zoo.h)
  int64_t batch = 32;
  std::string optimizer = "adam";   // adam | adamw | sgd, as `bstack train --optimizer`
  bool training = true;             // false: forward only (inference)
  std::string data;                 // as `bstack train --data`; empty = the model's default
};

bool is_zoo_model(const std::string& name);

// Throws bstack::Error naming a bad model, batch, optimizer or data source.
walls::Workload model_workload(const ModelWorkloadOptions& o);

}  // namespace bstack::calibrate
