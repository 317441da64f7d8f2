#include "src/nn/loss.h"

#include "kernels/rowops.h"
#include "src/ops.h"
#include "src/profile/profiler.h"
#include "src/tensor_impl.h"

#include <vector>

namespace bstack::nn {

Tensor mse_loss(const Tensor& pred, const Tensor& target) {
  BSTACK_CHECK(pred.shape() == target.shape(), "mse_loss: prediction {} and target {} differ in shape",
               shape_str(pred.shape()), shape_str(target.shape()));
  const Tensor d = pred - target;
  return mean(d * d);
}

// One fused op (kernels/rowops.h): per-row log-sum-exp and NLL in one pass over the logits,
// and the gradient (softmax - onehot) * g / N in one more, instead of log_softmax, gather and
// mean with their temporaries. FLOPs: 5 per logit forward (as softmax), 3 backward.
Tensor cross_entropy(const Tensor& logits, const Tensor& target) {
  BSTACK_CHECK(logits.dim() == 2, "cross_entropy: logits must be (N, C), got {}", shape_str(logits.shape()));
  BSTACK_CHECK(target.dim() == 1 && target.size(0) == logits.size(0),
               "cross_entropy: target must be ({}) class indices, got {}", logits.size(0),
               shape_str(target.shape()));
  BSTACK_CHECK(is_floating(logits.dtype()), "cross_entropy: logits must be f32 or f64, got {}",
               dtype_name(logits.dtype()));
  BSTACK_CHECK(target.dtype() == DType::i32 || target.dtype() == DType::i64,
               "cross_entropy: target must hold i32 or i64 class indices, got {}",
               dtype_name(target.dtype()));
  const int64_t N = logits.size(0), C = logits.size(1);
  const Tensor t = target.to(DType::i64).contiguous().detach();
  const int64_t* tp = t.data<int64_t>();
  for (int64_t i = 0; i < N; ++i)
    BSTACK_CHECK(tp[i] >= 0 && tp[i] < C,
                 "cross_entropy: target[{}] = {} is not a class index in [0, {})", i, tp[i], C);
  const Tensor x = logits.detach().contiguous();
  detail::OpTimer timer("cross_entropy", {&logits});
  Tensor lse = empty({N}, x.dtype());
  Tensor out = visit_floating(x.dtype(), "cross_entropy", [&](auto tag) {
    using T = typename decltype(tag)::type;
    std::vector<T> loss(static_cast<size_t>(N));
    kernels::cross_entropy_forward<T>(N, C, static_cast<const T*>(x.data_ptr()), tp, loss.data(),
                                      static_cast<T*>(lse.data_ptr()));
    double total = 0;  // the mean over the batch, in double (as sum does)
    for (T v : loss) total += v;
    return scalar_tensor(total / static_cast<double>(N), x.dtype());
  });
  timer.done(out, 5.0 * static_cast<double>(x.numel()), static_cast<double>(N) * sizeof(int64_t));
  return record(out, "cross_entropy", {logits}, [x, t, lse, N, C](const Tensor& g) {
    detail::OpTimer bt("cross_entropy_backward", {&x, &g});
    Tensor dx = empty({N, C}, x.dtype());
    visit_floating(x.dtype(), "cross_entropy_backward", [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T scale = static_cast<T>(g.item() / static_cast<double>(N));
      kernels::cross_entropy_backward<T>(N, C, static_cast<const T*>(x.data_ptr()),
                                         t.data<int64_t>(), static_cast<const T*>(lse.data_ptr()),
                                         scale, static_cast<T*>(dx.data_ptr()));
    });
    bt.done(dx, 3.0 * static_cast<double>(dx.numel()));
    return std::vector<Tensor>{dx};
  });
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
