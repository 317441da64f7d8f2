// matmul with numpy semantics over the reference GEMM (kernels/gemm_ref.h); batched operands
// are read through their strides, so transposed and broadcast views are not copied.
#include "kernels/gemm_ref.h"
#include "src/ops.h"
#include "src/ops_internal.h"
#include "src/profile/profiler.h"

namespace bstack {

Tensor matmul(const Tensor& a, const Tensor& b) {
  detail::check_defined("matmul", a);
  detail::check_defined("matmul", b);
  detail::check_same_dtype("matmul", a, b);
  BSTACK_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: operands need at least 1 dim, got {} @ {}",
               shape_str(a.shape()), shape_str(b.shape()));
  if (a.dim() == 1 && b.dim() == 1) return matmul(a.unsqueeze(0), b.unsqueeze(-1)).reshape({});
  if (a.dim() == 1) return matmul(a.unsqueeze(0), b).squeeze(-2);
  if (b.dim() == 1) return matmul(a, b.unsqueeze(-1)).squeeze(-1);

  const int64_t M = a.size(-2), K = a.size(-1), N = b.size(-1);
  BSTACK_CHECK(b.size(-2) == K, "matmul: inner dimensions differ: A{} @ B{} ({} != {})",
               shape_str(a.shape()), shape_str(b.shape()), K, b.size(-2));
  const Shape batch = detail::broadcast_shapes(
      "matmul", Shape(a.shape().begin(), a.shape().end() - 2),
      Shape(b.shape().begin(), b.shape().end() - 2));
  Shape sa = batch, sb = batch, so = batch;
  sa.insert(sa.end(), {M, K});
  sb.insert(sb.end(), {K, N});
  so.insert(so.end(), {M, N});
  detail::OpTimer timer("matmul", {&a, &b});
  const Tensor ae = a.detach().expand(sa), be = b.detach().expand(sb);
  Tensor out = empty(so, a.dtype());
  const int64_t nb = shape_numel(batch), nbd = static_cast<int64_t>(batch.size());

  visit_floating(a.dtype(), "matmul", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* pa = static_cast<const T*>(ae.data_ptr());
    const T* pb = static_cast<const T*>(be.data_ptr());
    T* po = static_cast<T*>(out.data_ptr());
    auto one = [&](int64_t bi) {
      int64_t oa = 0, ob = 0, rem = bi;
      for (int64_t d = nbd - 1; d >= 0; --d) {
        const int64_t i = rem % batch[d];
        rem /= batch[d];
        oa += i * ae.strides()[d];
        ob += i * be.strides()[d];
      }
      kernels::gemm_ref<T>(M, N, K, T(1), pa + oa, ae.strides()[nbd], ae.strides()[nbd + 1],
                           pb + ob, be.strides()[nbd], be.strides()[nbd + 1], T(0),
                           po + bi * M * N, N, 1);
    };
    // Many small products: threads over the batch (gemm_ref then runs serially inside).
    if (nb >= kernels::num_threads() && nb > 1) {
      kernels::parallel_for(nb, M * N * K + 1, [&](int64_t b0, int64_t b1) {
        for (int64_t bi = b0; bi < b1; ++bi) one(bi);
      });
    } else {
      for (int64_t bi = 0; bi < nb; ++bi) one(bi);
    }
  });

  timer.done(out, 2.0 * static_cast<double>(nb) * M * N * K);
  const Tensor da = a.detach(), db = b.detach();
  return record(out, "matmul", {a, b}, [da, db](const Tensor& g) {
    return std::vector<Tensor>{sum_to(matmul(g, db.transpose(-1, -2)), da.shape()),
                               sum_to(matmul(da.transpose(-1, -2), g), db.shape())};
  });
}

}  // namespace bstack
