// "Will it fit?": the memory a training (or inference) run holds at its peak, and the verdict
// against a device's capacity (this machine's RAM, a registry device's HBM, a board's SRAM).
//
// The inventory (walls/workload.h MemoryInventory) has the five parts of Rajbhandari et al. 2020,
// "ZeRO: memory optimizations toward training trillion parameter models" (SC20), sec. 3.1 --
// model states: parameters, gradients, optimizer states -- and sec. 3.2 / Korthikanti et al.
// 2022, "Reducing activation recomputation in large transformer models" (MLSys 2023), sec. 4 --
// residual states: activations kept for backward, temporary buffers (workspace).
//
// Model states for P parameters of b bytes each, training with an optimizer keeping K states per
// parameter (ZeRO sec. 3.1 counts Adam's two moments; fp32 here, so no fp32 master copy):
//   parameters  b P        gradients  b P        optimizer  K b P     (Adam, AdamW: K = 2;
//   SGD with momentum: K = 1; plain SGD and inference: K = 0; inference keeps no gradients)
// so fp32 Adam holds 16 bytes per parameter before any activation.
//
// Activations and workspace change during a step (they are kept through the forward pass and
// released through the backward pass, while gradients appear), so a step is described as a
// sequence of moments, each an inventory; the peak is the moment with the largest total. Every
// quantity of a moment is affine in the batch size B (tensors are B x a per-sample shape;
// parameters and optimizer states do not depend on B), so each moment measured at two batch
// sizes gives it at any other exactly: m(B) = m(b1) + (m(b2) - m(b1)) (B - b1) / (b2 - b1). The
// peak at B is the largest of the extrapolated moments -- a maximum of affine functions is not
// affine, so the moment that binds can change with B (forward end at a small batch, a backward
// op's transient gradients at a large one).
//
// Contract (as the walls', walls/node.h): sizes or capacities that are negative or NaN give NaN
// in every numeric field and fits = false; never a plausible wrong number. Vectors of different
// lengths or equal batch sizes are malformed calls and throw std::invalid_argument.
#pragma once

#include <string>
#include <vector>

#include "walls/workload.h"

namespace bstack::walls {

// K, optimizer states per parameter: "adam" and "adamw" 2 (first and second moments), "sgd" 1 (the
// momentum buffer, as `bstack train --optimizer sgd` uses momentum 0.9), "sgd-plain" and "none"
// 0. Unknown names throw std::invalid_argument naming the optimizer.
double optimizer_states_per_parameter(const std::string& optimizer);

// The model states of ZeRO sec. 3.1 (activations and workspace 0). training = false: parameters
// only.
MemoryInventory model_states(double parameters, double bytes_per_element, double optimizer_states,
                             bool training);

// One moment measured at two batch sizes, extrapolated (or interpolated) affinely to `batch`,
// part by part. Parts that come out negative (impossible for a real moment) give NaN.
MemoryInventory extrapolate(const MemoryInventory& at_b1, double b1, const MemoryInventory& at_b2, double b2,
                            double batch);

// The peak of a step at `batch` from its moments measured at b1 and b2 (same moments, same
// order): every moment extrapolated, the largest total taken. `moment` is its index.
struct PeakMemory {
  MemoryInventory memory;
  int moment = -1;
};
PeakMemory peak_at_batch(const std::vector<MemoryInventory>& at_b1, double b1,
                         const std::vector<MemoryInventory>& at_b2, double b2, double batch);

// The verdict against a capacity: fits when required <= capacity; headroom = capacity - required
// (negative when it does not fit); times = required / capacity (how many times over when > 1).
// A capacity of +inf always fits (times 0).
struct MemoryFit {
  double required_bytes = 0, capacity_bytes = 0;
  double headroom_bytes = 0, times = 0;
  bool fits = false;
};
MemoryFit memory_fit(double required_bytes, double capacity_bytes);

}  // namespace bstack::walls
