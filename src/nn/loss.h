// Losses, each a mean over the batch and built from differentiable ops.
#pragma once

#include "src/tensor.h"

namespace bstack::nn {

// mean((pred - target)^2)
Tensor mse_loss(const Tensor& pred, const Tensor& target);
// logits (N, C), target (N) of class indices (i32/i64): -mean(log_softmax(logits)[i, t_i]).
// log-softmax is computed with the max subtracted, so any logit magnitude is safe.
Tensor cross_entropy(const Tensor& logits, const Tensor& target);
// p in (0, 1), y in {0, 1} (same shape): -mean(y log p + (1 - y) log(1 - p)); p is clamped to
// [1e-12, 1 - 1e-12] so a saturated prediction gives a large finite loss, not inf.
Tensor binary_cross_entropy(const Tensor& p, const Tensor& y);
// The same from logits z: mean(max(z, 0) - z y + log(1 + exp(-|z|))), stable for any z.
Tensor binary_cross_entropy_with_logits(const Tensor& z, const Tensor& y);

}  // namespace bstack::nn
