// Reductions (sum, mean, max, argmax, var), sum_to (the adjoint of broadcasting), the
// row-wise softmax / log_softmax and layer norm. A reduction moves its axes to the end and reads
// x as a contiguous (outer, inner) matrix: one output per row. Floating sums accumulate in
// double. Contiguous floating sums whose axes form a row-sum or column-sum pattern (a bias
// gradient, BatchNorm's per-channel sums) skip that copy and use kernels/eltwise.h; softmax,
// log_softmax and layer_norm run the fused row kernels of kernels/rowops.h, forward and backward.
#include "kernels/eltwise.h"
#include "kernels/rowops.h"
#include "src/ops.h"
#include "src/ops_internal.h"
#include "src/profile/profiler.h"

#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

namespace bstack {

using detail::check_defined;
using detail::normalize_axes;
using detail::normalize_axis;

namespace {

struct Rows {
  Tensor data;       // contiguous (outer, inner), reduced axes last; no history
  int64_t outer = 1, inner = 1;
  Shape keep_shape;  // output shape with keepdim
  Shape out_shape;   // output shape as requested
  std::vector<int64_t> axes, perm;  // normalised reduced axes; kept dims then reduced ones
};

// copy = false leaves r.data undefined (the caller may not need the permuted copy).
Rows to_rows(const char* op, const Tensor& x, const Axes& axes_in, bool keepdim, bool copy = true) {
  check_defined(op, x);
  const int64_t nd = x.dim();
  std::vector<int64_t> axes = normalize_axes(op, axes_in, nd);
  std::vector<bool> reduced(nd, false);
  for (int64_t a : axes) reduced[a] = true;
  std::vector<int64_t> perm;
  Rows r;
  for (int64_t d = 0; d < nd; ++d) {
    if (reduced[d]) {
      r.keep_shape.push_back(1);
      if (keepdim) r.out_shape.push_back(1);
    } else {
      perm.push_back(d);
      r.keep_shape.push_back(x.shape()[d]);
      r.out_shape.push_back(x.shape()[d]);
      r.outer *= x.shape()[d];
    }
  }
  for (int64_t a : axes) {
    perm.push_back(a);
    r.inner *= x.shape()[a];
  }
  if (copy) r.data = x.detach().permute(perm).contiguous();
  r.axes = std::move(axes);
  r.perm = std::move(perm);
  return r;
}

// Elements per output of a reduction over `axes`; an out-of-range axis is an error naming `op`.
int64_t reduced_count(const char* op, const Tensor& x, const Axes& axes) {
  int64_t n = 1;
  for (int64_t a : normalize_axes(op, axes, x.dim())) n *= x.shape()[a];
  return n;
}

// Sums of a contiguous f32/f64 x that the row/column-sum kernels take without the permuted
// copy: kept (K) and reduced (R) dims, size-1 dims dropped and neighbours of one kind merged,
// must form [R] (total), [K, R] (row sums), [R, K] (column sums: a bias gradient), [K1, R, K2]
// (column sums per K1 block) or [R1, K, R2] (row sums, then column sums: BatchNorm's
// per-channel sums over (N, C, H, W)).
struct SumPattern {
  std::string kind;           // one letter per group: 'R' reduced, 'K' kept
  std::vector<int64_t> size;  // elements per group
};

bool sum_pattern(const Tensor& x, const std::vector<int64_t>& axes, SumPattern& p) {
  if (!is_floating(x.dtype()) || !x.is_contiguous() || x.numel() == 0) return false;
  std::vector<bool> reduced(x.dim(), false);
  for (int64_t a : axes) reduced[a] = true;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (x.shape()[d] == 1) continue;
    const char k = reduced[d] ? 'R' : 'K';
    if (!p.kind.empty() && p.kind.back() == k) {
      p.size.back() *= x.shape()[d];
    } else {
      p.kind += k;
      p.size.push_back(x.shape()[d]);
    }
  }
  return p.kind == "R" || p.kind == "KR" || p.kind == "RK" || p.kind == "KRK" || p.kind == "RKR";
}

void sum_by_pattern(const Tensor& x, const SumPattern& pat, Tensor& out) {
  const std::vector<int64_t>& n = pat.size;
  visit_floating(x.dtype(), "sum", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = static_cast<const T*>(x.data_ptr());
    T* o = static_cast<T*>(out.data_ptr());
    if (pat.kind == "R") {
      kernels::row_sum<T>(1, n[0], p, o);
    } else if (pat.kind == "KR") {
      kernels::row_sum<T>(n[0], n[1], p, o);
    } else if (pat.kind == "RK") {
      kernels::col_sum<T>(n[0], n[1], p, o);
    } else if (pat.kind == "KRK") {
      for (int64_t k = 0; k < n[0]; ++k)
        kernels::col_sum<T>(n[1], n[2], p + k * n[1] * n[2], o + k * n[2]);
    } else {  // RKR
      std::vector<T> rows(static_cast<size_t>(n[0] * n[1]));
      kernels::row_sum<T>(n[0] * n[1], n[2], p, rows.data());
      kernels::col_sum<T>(n[0], n[1], rows.data(), o);
    }
  });
}

}  // namespace

Tensor sum(const Tensor& x, const Axes& axes, bool keepdim) {
  Rows r = to_rows("sum", x, axes, keepdim, /*copy=*/false);
  SumPattern pat;
  const bool fast = sum_pattern(x, r.axes, pat);
  if (!fast) r.data = x.detach().permute(r.perm).contiguous();
  detail::OpTimer timer("sum", {&x});
  const DType out_dtype = is_floating(x.dtype()) ? x.dtype() : DType::i64;
  Tensor out = empty(r.out_shape, out_dtype);
  if (fast) {
    sum_by_pattern(x, pat, out);
  } else {
    visit_dtype(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      using Acc = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;
      using O = std::conditional_t<std::is_floating_point_v<T>, T, int64_t>;
      const T* p = static_cast<const T*>(r.data.data_ptr());
      O* o = static_cast<O*>(out.data_ptr());
      kernels::parallel_for(r.outer, r.inner, [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) {
          Acc acc = 0;
          const T* row = p + i * r.inner;
          for (int64_t j = 0; j < r.inner; ++j) acc += row[j];
          o[i] = static_cast<O>(acc);
        }
      });
    });
  }
  timer.done(out, static_cast<double>(x.numel()));
  const Shape in_shape = x.shape(), keep = r.keep_shape;
  return record(out, "sum", {x}, [in_shape, keep](const Tensor& g) {
    return std::vector<Tensor>{g.reshape(keep).expand(in_shape)};
  });
}

Tensor mean(const Tensor& x, const Axes& axes, bool keepdim) {
  check_defined("mean", x);
  BSTACK_CHECK(is_floating(x.dtype()), "mean: needs a floating-point tensor (f32 or f64), got {}",
               dtype_name(x.dtype()));
  const int64_t n = reduced_count("mean", x, axes);
  return sum(x, axes, keepdim) / static_cast<double>(n);
}

Tensor var(const Tensor& x, const Axes& axes, bool keepdim, int64_t correction) {
  check_defined("var", x);
  BSTACK_CHECK(is_floating(x.dtype()), "var: needs a floating-point tensor (f32 or f64), got {}",
               dtype_name(x.dtype()));
  const int64_t n = reduced_count("var", x, axes);
  const Tensor d = x - mean(x, axes, true);
  return sum(d * d, axes, keepdim) / static_cast<double>(n - correction);
}

Tensor max(const Tensor& x, const Axes& axes, bool keepdim) {
  Rows r = to_rows("max", x, axes, keepdim);
  BSTACK_CHECK(r.inner > 0 || r.outer == 0, "max: reduction over an empty dimension of shape {}",
               shape_str(x.shape()));
  detail::OpTimer timer("max", {&x});
  Tensor out = empty(r.out_shape, x.dtype());
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = static_cast<const T*>(r.data.data_ptr());
    T* o = static_cast<T*>(out.data_ptr());
    kernels::parallel_for(r.outer, r.inner, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        const T* row = p + i * r.inner;
        T m = row[0];
        for (int64_t j = 1; j < r.inner; ++j) m = row[j] > m ? row[j] : m;
        o[i] = m;
      }
    });
  });
  timer.done(out, static_cast<double>(x.numel()));
  const Tensor dx = x.detach();
  const Tensor dm = out.detach().reshape(r.keep_shape);
  const Axes ax = axes;
  const Shape keep = r.keep_shape;
  return record(out, "max", {x}, [dx, dm, ax, keep](const Tensor& g) {
    // The gradient goes to the maxima, split evenly between ties.
    Tensor mask = eq(dx, dm).to(dx.dtype());
    Tensor count = sum(mask, ax, true);
    return std::vector<Tensor>{mask * g.reshape(keep) / count};
  });
}

Tensor argmax(const Tensor& x, int64_t axis, bool keepdim) {
  const int64_t a = normalize_axis("argmax", axis, std::max<int64_t>(x.dim(), 1));
  Rows r = to_rows("argmax", x, x.dim() == 0 ? Axes{} : Axes{a}, keepdim);
  BSTACK_CHECK(r.inner > 0 || r.outer == 0, "argmax: reduction over an empty dimension of shape {}",
               shape_str(x.shape()));
  detail::OpTimer timer("argmax", {&x});
  Tensor out = empty(r.out_shape, DType::i64);
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = static_cast<const T*>(r.data.data_ptr());
    int64_t* o = static_cast<int64_t*>(out.data_ptr());
    kernels::parallel_for(r.outer, r.inner, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        const T* row = p + i * r.inner;
        int64_t best = 0;
        for (int64_t j = 1; j < r.inner; ++j)
          if (row[j] > row[best]) best = j;
        o[i] = best;
      }
    });
  });
  timer.done(out, static_cast<double>(x.numel()));
  return out;
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  check_defined("sum_to", x);
  if (x.shape() == shape) return x;
  const int64_t lead = x.dim() - static_cast<int64_t>(shape.size());
  BSTACK_CHECK(lead >= 0, "sum_to: cannot sum shape {} to the larger shape {}",
               shape_str(x.shape()), shape_str(shape));
  Axes axes;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (d < lead) {
      axes.push_back(d);
      continue;
    }
    const int64_t want = shape[d - lead], have = x.shape()[d];
    BSTACK_CHECK(want == have || want == 1, "sum_to: shape {} does not broadcast to {}",
                 shape_str(shape), shape_str(x.shape()));
    if (want == 1 && have != 1) axes.push_back(d);
  }
  if (axes.empty()) return x.reshape(shape);
  return sum(x, axes, true).reshape(shape);
}

// ---- softmax --------------------------------------------------------------------------------

namespace {
// Applies a row kernel along `axis`: x is moved so that axis is last (no copy when it already is
// and x is contiguous), rows_fn(rows, n, in, out) transforms the contiguous (rows, n) matrix,
// and the result is moved back.
template <class RowsFn>
Tensor along_axis(const char* op, const Tensor& x, int64_t axis, RowsFn rows_fn) {
  check_defined(op, x);
  const int64_t nd = std::max<int64_t>(x.dim(), 1);
  const int64_t a = normalize_axis(op, axis, nd);
  if (x.dim() == 0) return along_axis(op, x.reshape({1}), 0, rows_fn).reshape({});
  std::vector<int64_t> perm;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (d != a) perm.push_back(d);
  perm.push_back(a);
  std::vector<int64_t> inverse(x.dim());
  for (int64_t i = 0; i < x.dim(); ++i) inverse[perm[i]] = i;
  Tensor rows = x.detach().permute(perm).contiguous();
  detail::OpTimer timer(op, {&x});
  Tensor out = empty(rows.shape(), x.dtype());
  const int64_t n = x.shape()[a];
  const int64_t outer = n == 0 ? 0 : rows.numel() / n;
  visit_floating(x.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    rows_fn(outer, n, static_cast<const T*>(rows.data_ptr()), static_cast<T*>(out.data_ptr()));
  });
  timer.done(out, 5.0 * static_cast<double>(out.numel()));
  return out.permute(inverse).contiguous();
}

bool is_last_axis(const Tensor& x, int64_t axis) {
  return x.dim() == 0 || normalize_axis("softmax", axis, x.dim()) == x.dim() - 1;
}

// The fused backward of softmax / log_softmax along the last axis, from the forward's
// (contiguous) output y. FLOPs: 4 per element (a dot or sum, then a multiply-add and one more).
Tensor softmax_rows_backward(const char* op, const Tensor& y, const Tensor& g, bool log_form) {
  const Tensor gc = g.contiguous();
  detail::OpTimer timer(op, {&y, &gc});
  Tensor dx = empty(y.shape(), y.dtype());
  const int64_t n = y.dim() == 0 ? 1 : y.size(-1);
  const int64_t rows = n == 0 ? 0 : y.numel() / n;
  visit_floating(y.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* py = static_cast<const T*>(y.data_ptr());
    const T* pg = static_cast<const T*>(gc.data_ptr());
    T* pd = static_cast<T*>(dx.data_ptr());
    if (log_form) {
      kernels::log_softmax_backward<T>(rows, n, py, pg, pd);
    } else {
      kernels::softmax_backward<T>(rows, n, py, pg, pd);
    }
  });
  timer.done(dx, 4.0 * static_cast<double>(dx.numel()));
  return dx;
}
}  // namespace

Tensor softmax(const Tensor& x, int64_t axis) {
  Tensor out = along_axis("softmax", x, axis, [](int64_t rows, int64_t n, const auto* in, auto* o) {
    kernels::softmax_forward(rows, n, in, o);
  });
  const Tensor dy = out.detach();
  const int64_t ax = axis;
  const bool last = is_last_axis(x, axis);
  return record(out, "softmax", {x}, [dy, ax, last](const Tensor& g) {
    if (last) return std::vector<Tensor>{softmax_rows_backward("softmax_backward", dy, g, false)};
    return std::vector<Tensor>{dy * (g - sum(g * dy, {ax}, true))};
  });
}

Tensor log_softmax(const Tensor& x, int64_t axis) {
  Tensor out = along_axis("log_softmax", x, axis,
                          [](int64_t rows, int64_t n, const auto* in, auto* o) {
                            kernels::log_softmax_forward(rows, n, in, o);
                          });
  const Tensor dy = out.detach();
  const int64_t ax = axis;
  const bool last = is_last_axis(x, axis);
  return record(out, "log_softmax", {x}, [dy, ax, last](const Tensor& g) {
    if (last)
      return std::vector<Tensor>{softmax_rows_backward("log_softmax_backward", dy, g, true)};
    return std::vector<Tensor>{g - exp(dy) * sum(g, {ax}, true)};
  });
}

// ---- layer norm -----------------------------------------------------------------------------

// FLOPs: 8 per element forward (two sums, subtract, scale, multiply-add), 12 backward.
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  check_defined("layer_norm", x);
  BSTACK_CHECK(x.dim() >= 1, "layer_norm: input must have at least one dim, got a 0-d tensor");
  BSTACK_CHECK(is_floating(x.dtype()),
               "layer_norm: needs a floating-point tensor (f32 or f64), got {}",
               dtype_name(x.dtype()));
  const int64_t n = x.size(-1);
  for (const Tensor* p : {&weight, &bias}) {
    if (!p->defined()) continue;
    BSTACK_CHECK(p->shape() == Shape{n} && p->dtype() == x.dtype(),
                 "layer_norm: weight and bias must be {} [{}] like the last dim of input {}, "
                 "got {} {}",
                 dtype_name(x.dtype()), n, shape_str(x.shape()), dtype_name(p->dtype()),
                 shape_str(p->shape()));
  }
  const Tensor xc = x.detach().contiguous();
  const Tensor w = weight.defined() ? weight.detach().contiguous() : Tensor();
  const Tensor b = bias.defined() ? bias.detach().contiguous() : Tensor();
  const int64_t rows = n == 0 ? 0 : x.numel() / n;
  detail::OpTimer timer("layer_norm", {&x});
  Tensor out = empty(x.shape(), x.dtype());
  Tensor mean = empty({rows}, x.dtype()), rstd = empty({rows}, x.dtype());
  visit_floating(x.dtype(), "layer_norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::layernorm_forward<T>(
        rows, n, static_cast<const T*>(xc.data_ptr()),
        w.defined() ? static_cast<const T*>(w.data_ptr()) : nullptr,
        b.defined() ? static_cast<const T*>(b.data_ptr()) : nullptr, static_cast<T>(eps),
        static_cast<T*>(out.data_ptr()), static_cast<T*>(mean.data_ptr()),
        static_cast<T*>(rstd.data_ptr()));
  });
  const double param_bytes =
      static_cast<double>((w.defined() ? n : 0) + (b.defined() ? n : 0)) * dtype_size(x.dtype());
  timer.done(out, 8.0 * static_cast<double>(x.numel()), param_bytes);
  const bool has_bias = b.defined();
  return record(out, "layer_norm", {x, weight, bias},
                [xc, w, has_bias, mean, rstd, rows, n](const Tensor& g) {
    const Tensor gc = g.contiguous();
    detail::OpTimer bt("layer_norm_backward", {&xc, &gc});
    Tensor dx = empty(xc.shape(), xc.dtype());
    Tensor dw = w.defined() ? empty({n}, xc.dtype()) : Tensor();
    Tensor db = has_bias ? empty({n}, xc.dtype()) : Tensor();
    visit_floating(xc.dtype(), "layer_norm_backward", [&](auto tag) {
      using T = typename decltype(tag)::type;
      kernels::layernorm_backward<T>(
          rows, n, static_cast<const T*>(xc.data_ptr()),
          w.defined() ? static_cast<const T*>(w.data_ptr()) : nullptr,
          static_cast<const T*>(mean.data_ptr()), static_cast<const T*>(rstd.data_ptr()),
          static_cast<const T*>(gc.data_ptr()), static_cast<T*>(dx.data_ptr()),
          dw.defined() ? static_cast<T*>(dw.data_ptr()) : nullptr,
          db.defined() ? static_cast<T*>(db.data_ptr()) : nullptr);
    });
    bt.done(dx, 12.0 * static_cast<double>(dx.numel()));
    return std::vector<Tensor>{dx, dw, db};
  });
}

}  // namespace bstack
