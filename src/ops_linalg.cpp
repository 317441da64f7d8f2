// matmul with numpy semantics, and the fused linear layer op, over the packed GEMM
// (kernels/gemm.h). Operands are read through their strides, so transposed and broadcast views
// are not copied; a stack of matrices times one matrix ((..., M, K) @ (K, N), every Linear and
// attention projection) runs as a single (prod(...) * M, K) @ (K, N) GEMM, and its weight
// gradient as one GEMM over all rows instead of a batch of products summed afterwards.
#include "kernels/eltwise.h"
#include "kernels/gemm.h"
#include "src/ops.h"
#include "src/io/tune_cache.h"
#include "src/ops_internal.h"
#include "src/profile/profiler.h"

namespace bstack {
namespace {

// x (..., K) as one (rows, K) matrix with row stride rs and column stride cs, when its leading
// dimensions merge into a single stride (true for contiguous tensors and most views).
struct MatView {
  int64_t rows = 0, rs = 0, cs = 0;
};

bool as_matrix(const Tensor& x, MatView* v) {
  const int64_t nd = x.dim();
  if (nd < 2) return false;
  const Shape& sh = x.shape();
  const Shape& st = x.strides();
  int64_t rows = sh[nd - 2], rs = st[nd - 2];
  for (int64_t d = nd - 3; d >= 0; --d) {
    if (sh[d] == 1) continue;
    if (rows != 1 && st[d] != rs * rows) return false;
    if (rows == 1) rs = st[d];
    rows *= sh[d];
  }
  v->rows = rows;
  v->rs = rows == 1 ? std::max<int64_t>(sh[nd - 1], 1) : rs;
  v->cs = st[nd - 1];
  return true;
}

template <class T>
const T* ptr(const Tensor& t) {
  return static_cast<const T*>(t.data_ptr());
}
template <class T>
T* mptr(Tensor& t) {
  return static_cast<T*>(t.data_ptr());
}

// (rows, K) @ (K, N) for a stack of matrices a times a 2-D b: out (..., N).
Tensor matmul_flat(const Tensor& a, const MatView& av, const Tensor& b) {
  const int64_t K = a.size(-1), N = b.size(-1);
  Shape so = a.shape();
  so.back() = N;
  Tensor out = empty(so, a.dtype());
  visit_floating(a.dtype(), "matmul", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::gemm<T>(av.rows, N, K, T(1), ptr<T>(a), av.rs, av.cs, ptr<T>(b), b.strides()[0],
                     b.strides()[1], T(0), mptr<T>(out), N, 1);
  });
  return out;
}

// a^T @ g summed over the stack: (K, rows) @ (rows, N) -> (K, N), the gradient of a 2-D b.
Tensor matmul_flat_grad_b(const Tensor& a, const MatView& av, const Tensor& g, const MatView& gv) {
  const int64_t K = a.size(-1), N = g.size(-1);
  Tensor out = empty({K, N}, a.dtype());
  visit_floating(a.dtype(), "matmul", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::gemm<T>(K, N, av.rows, T(1), ptr<T>(a), av.cs, av.rs, ptr<T>(g), gv.rs, gv.cs, T(0),
                     mptr<T>(out), N, 1);
  });
  return out;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  static const bool tuned = load_tuning_cache_quietly();  // the per-machine cache, once
  (void)tuned;
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

  MatView av;
  if (b.dim() == 2 && is_floating(a.dtype()) && as_matrix(a, &av)) {
    detail::OpTimer timer("matmul", {&a, &b});
    Tensor out = matmul_flat(a, av, b);
    timer.done(out, 2.0 * static_cast<double>(av.rows) * N * K);
    const Tensor da = a.detach(), db = b.detach();
    const bool need_a = a.requires_grad(), need_b = b.requires_grad();
    return record(out, "matmul", {a, b}, [da, db, need_a, need_b](const Tensor& g) {
      Tensor ga, gb;
      MatView aview, gview;
      const Tensor gc = g.contiguous();
      as_matrix(da, &aview);
      as_matrix(gc, &gview);
      if (need_a) ga = matmul(gc, db.transpose(0, 1));
      if (need_b) {
        detail::OpTimer t("matmul", {&da, &gc});
        gb = matmul_flat_grad_b(da, aview, gc, gview);
        t.done(gb, 2.0 * static_cast<double>(aview.rows) * gb.numel());
      }
      return std::vector<Tensor>{ga, gb};
    });
  }

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
    auto offset = [&](int64_t bi, const Tensor& t) {
      int64_t o = 0, rem = bi;
      for (int64_t d = nbd - 1; d >= 0; --d) {
        o += (rem % batch[d]) * t.strides()[d];
        rem /= batch[d];
      }
      return o;
    };
    auto one = [&](int64_t bi, const kernels::GemmConfig& cfg) {
      kernels::gemm<T>(M, N, K, T(1), pa + offset(bi, ae), ae.strides()[nbd],
                       ae.strides()[nbd + 1], pb + offset(bi, be), be.strides()[nbd],
                       be.strides()[nbd + 1], T(0), po + bi * M * N, N, 1, {}, cfg);
    };
    // Many small products: threads over the batch, one thread per GEMM. Few: threads inside.
    if (nb >= kernels::num_threads() && nb > 1) {
      kernels::GemmConfig single;
      single.threads = 1;
      kernels::parallel_for(nb, 2 * M * N * K + 1, [&](int64_t b0, int64_t b1) {
        for (int64_t bi = b0; bi < b1; ++bi) one(bi, single);
      });
    } else {
      for (int64_t bi = 0; bi < nb; ++bi) one(bi, {});
    }
  });

  timer.done(out, 2.0 * static_cast<double>(nb) * M * N * K);
  const Tensor da = a.detach(), db = b.detach();
  return record(out, "matmul", {a, b}, [da, db](const Tensor& g) {
    return std::vector<Tensor>{sum_to(matmul(g, db.transpose(-1, -2)), da.shape()),
                               sum_to(matmul(da.transpose(-1, -2), g), db.shape())};
  });
}

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  static const bool tuned = load_tuning_cache_quietly();
  (void)tuned;
  detail::check_defined("linear", x);
  detail::check_defined("linear", w);
  detail::check_same_dtype("linear", x, w);
  BSTACK_CHECK(is_floating(x.dtype()), "linear: needs a floating dtype, got {}", dtype_name(x.dtype()));
  BSTACK_CHECK(w.dim() == 2, "linear: weight must be (out, in), got {}", shape_str(w.shape()));
  BSTACK_CHECK(x.dim() >= 1 && x.size(-1) == w.size(1), "linear: input {} does not end in {} features",
               shape_str(x.shape()), w.size(1));
  if (b.defined()) {
    detail::check_same_dtype("linear", x, b);
    BSTACK_CHECK(b.dim() == 1 && b.size(0) == w.size(0), "linear: bias must be ({}), got {}",
                 w.size(0), shape_str(b.shape()));
  }
  if (x.dim() == 1) return linear(x.unsqueeze(0), w, b).squeeze(0);
  const int64_t in = w.size(1), out_f = w.size(0);
  MatView xv;
  const Tensor xm = as_matrix(x, &xv) ? x : x.contiguous();
  if (xm.impl() != x.impl()) as_matrix(xm, &xv);
  const Tensor bc = b.defined() ? b.contiguous() : Tensor();
  detail::OpTimer timer("linear", {&x, &w});
  Shape so = x.shape();
  so.back() = out_f;
  Tensor out = empty(so, x.dtype());
  visit_floating(x.dtype(), "linear", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::Epilogue<T> epi;
    if (bc.defined()) epi.bias = ptr<T>(bc);
    // out = x @ w^T (+ bias in the GEMM epilogue, while each tile is in L1).
    kernels::gemm<T>(xv.rows, out_f, in, T(1), ptr<T>(xm), xv.rs, xv.cs, ptr<T>(w), w.strides()[1],
                     w.strides()[0], T(0), mptr<T>(out), out_f, 1, epi);
  });
  // FLOPs: the GEMM's 2 per multiply-add and the bias add (1 per output), as the matmul + add it
  // replaces counted them; bytes: x, w, the bias (extra) and the output.
  timer.done(out, 2.0 * static_cast<double>(xv.rows) * out_f * in +
                      (b.defined() ? static_cast<double>(out.numel()) : 0.0),
             b.defined() ? static_cast<double>(b.numel() * dtype_size(b.dtype())) : 0.0);
  const Tensor dx = xm.detach(), dw = w.detach();
  const bool has_bias = b.defined(), need_x = x.requires_grad();
  std::vector<Tensor> inputs{x, w};
  if (has_bias) inputs.push_back(b);
  return record(out, "linear", std::move(inputs), [dx, dw, has_bias, need_x, xv](const Tensor& g_in) {
    const Tensor g = g_in.contiguous();
    const int64_t rows = xv.rows, in = dw.size(1), out_f = dw.size(0);
    detail::OpTimer timer("linear", {&g, &dx, &dw});
    // The input's gradient only when something upstream needs it (not for a first layer).
    Tensor gx = need_x ? empty(dx.shape(), dx.dtype()) : Tensor(), gw = empty(dw.shape(), dw.dtype());
    Tensor gb = has_bias ? empty({out_f}, dx.dtype()) : Tensor();
    visit_floating(dx.dtype(), "linear", [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* pg = ptr<T>(g);
      // dx = g @ w; dw = g^T @ x; db = column sums of g.
      if (need_x)
        kernels::gemm<T>(rows, in, out_f, T(1), pg, out_f, 1, ptr<T>(dw), dw.strides()[0],
                         dw.strides()[1], T(0), mptr<T>(gx), in, 1);
      kernels::gemm<T>(out_f, in, rows, T(1), pg, 1, out_f, ptr<T>(dx), xv.rs, xv.cs, T(0),
                       mptr<T>(gw), in, 1);
      if (has_bias) kernels::col_sum<T>(rows, out_f, pg, mptr<T>(gb));
    });
    timer.done(gw, (need_x ? 4.0 : 2.0) * static_cast<double>(rows) * in * out_f +
                       static_cast<double>(g.numel()));
    std::vector<Tensor> grads{gx, gw};
    if (has_bias) grads.push_back(gb);
    return grads;
  });
}

}  // namespace bstack
