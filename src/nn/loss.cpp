#include "src/nn/loss.h"

#include "src/ops.h"

namespace bstack::nn {

Tensor mse_loss(const Tensor& pred, const Tensor& target) {
  BSTACK_CHECK(pred.shape() == target.shape(), "mse_loss: prediction {} and target {} differ in shape",
               shape_str(pred.shape()), shape_str(target.shape()));
  const Tensor d = pred - target;
  return mean(d * d);
}

Tensor cross_entropy(const Tensor& logits, const Tensor& target) {
  BSTACK_CHECK(logits.dim() == 2, "cross_entropy: logits must be (N, C), got {}", shape_str(logits.shape()));
  BSTACK_CHECK(target.dim() == 1 && target.size(0) == logits.size(0),
               "cross_entropy: target must be ({}) class indices, got {}", logits.size(0),
               shape_str(target.shape()));
  return -mean(gather(log_softmax(logits, 1), 1, target.unsqueeze(1)));
}

Tensor binary_cross_entropy(const Tensor& p, const Tensor& y) {
  BSTACK_CHECK(p.shape() == y.shape(), "binary_cross_entropy: prediction {} and target {} differ in shape",
               shape_str(p.shape()), shape_str(y.shape()));
  const Tensor pc = clamp(p, 1e-12, 1 - 1e-12);
  return -mean(y * log(pc) + (1.0 - y) * log(1.0 - pc));
}

Tensor binary_cross_entropy_with_logits(const Tensor& z, const Tensor& y) {
  BSTACK_CHECK(z.shape() == y.shape(), "binary_cross_entropy_with_logits: logits {} and target {} "
               "differ in shape", shape_str(z.shape()), shape_str(y.shape()));
  return mean(relu(z) - z * y + log(1.0 + exp(-abs(z))));
}

}  // namespace bstack::nn
