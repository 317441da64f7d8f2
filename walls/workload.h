// A workload as the walls see it: the ops of one step with their FLOPs and bytes (what walls 1-3
// price), the bytes a data-parallel step all-reduces (wall 14), and the memory a training run
// holds (the "will it fit" inventory). Filled either from a bstack model (calibrate/
// model_workload.h: the profiler's exact per-op FLOPs and bytes) or from an analytic description
// of a named model (walls/workloads.h: GPT-2 124M, Llama-3-8B, ResNet-50, ...). Pure data.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "walls/predict.h"

namespace bstack::walls {

// The memory a training (or inference) run holds at its peak, by kind, in bytes. Sources:
// Rajbhandari et al. 2020, "ZeRO: memory optimizations toward training trillion parameter
// models" (SC20), sec. 3.1 (model states: parameters, gradients, optimizer states; Adam keeps two
// moments per parameter); Korthikanti et al. 2022, "Reducing activation recomputation in large
// transformer models" (MLSys 2023), sec. 4 (activations kept for backward).
struct MemoryInventory {
  double parameter_bytes = 0;   // the weights
  double gradient_bytes = 0;    // one gradient per parameter (0 for inference)
  double optimizer_bytes = 0;   // optimizer state (Adam: 2 moments; SGD with momentum: 1)
  double activation_bytes = 0;  // tensors kept from forward for backward (inference: the largest
                                // live set, the KV cache included)
  double workspace_bytes = 0;   // transient buffers beyond the above at the peak (a GEMM's packed
                                // panels, backward's temporaries)
  double total() const {
    return parameter_bytes + gradient_bytes + optimizer_bytes + activation_bytes + workspace_bytes;
  }
};

struct Workload {
  std::string name;             // "mlp", "gpt2-124m"
  std::string description;      // one line for reports: sizes, batch, precision
  bool training = true;         // a training step (forward, backward, optimizer) or inference
  int64_t batch = 0;            // samples (sequences) per step
  double parameters = 0;        // count
  double bytes_per_element = 4; // of parameters and activations (fp32: 4)
  std::vector<OpCost> ops;      // one step, in execution order
  double gradient_bytes = 0;    // all-reduced per step with data parallelism (wall 14's M)
  MemoryInventory memory;       // at the peak of the step
  double flops() const {
    double f = 0;
    for (const OpCost& o : ops) f += o.flops;
    return f;
  }
  double bytes() const {
    double b = 0;
    for (const OpCost& o : ops) b += o.bytes;
    return b;
  }
};

}  // namespace bstack::walls
