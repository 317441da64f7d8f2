// Reductions (sum, mean, max, argmax, var), sum_to (the adjoint of broadcasting) and the
// row-wise softmax / log_softmax. A reduction moves its axes to the end and reads x as a
// contiguous (outer, inner) matrix: one output per row. Floating sums accumulate in double.
#include "src/ops.h"
#include "src/ops_internal.h"
#include "src/profile/profiler.h"

#include <cmath>
#include <limits>
#include <numeric>

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
};

Rows to_rows(const char* op, const Tensor& x, const Axes& axes_in, bool keepdim) {
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
  r.data = x.detach().permute(perm).contiguous();
  return r;
}

// Elements per output of a reduction over `axes`; an out-of-range axis is an error naming `op`.
int64_t reduced_count(const char* op, const Tensor& x, const Axes& axes) {
  int64_t n = 1;
  for (int64_t a : normalize_axes(op, axes, x.dim())) n *= x.shape()[a];
  return n;
}

}  // namespace

Tensor sum(const Tensor& x, const Axes& axes, bool keepdim) {
  Rows r = to_rows("sum", x, axes, keepdim);
  detail::OpTimer timer("sum", {&x});
  const DType out_dtype = is_floating(x.dtype()) ? x.dtype() : DType::i64;
  Tensor out = empty(r.out_shape, out_dtype);
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
// Applies a row kernel along `axis`: x is moved so that axis is last, each row of length n is
// transformed into the output row, and the result is moved back.
template <class RowFn>
Tensor along_axis(const char* op, const Tensor& x, int64_t axis, RowFn row_fn) {
  check_defined(op, x);
  const int64_t nd = std::max<int64_t>(x.dim(), 1);
  const int64_t a = normalize_axis(op, axis, nd);
  if (x.dim() == 0) return along_axis(op, x.reshape({1}), 0, row_fn).reshape({});
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
    const T* p = static_cast<const T*>(rows.data_ptr());
    T* o = static_cast<T*>(out.data_ptr());
    kernels::parallel_for(outer, 8 * n, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) row_fn(p + i * n, o + i * n, n);
    });
  });
  timer.done(out, 5.0 * static_cast<double>(out.numel()));
  return out.permute(inverse).contiguous();
}
}  // namespace

Tensor softmax(const Tensor& x, int64_t axis) {
  Tensor out = along_axis("softmax", x, axis, [](const auto* in, auto* out, int64_t n) {
    double m = -std::numeric_limits<double>::infinity();
    for (int64_t j = 0; j < n; ++j) m = std::max<double>(m, in[j]);
    double s = 0;
    for (int64_t j = 0; j < n; ++j) s += std::exp(in[j] - m);
    for (int64_t j = 0; j < n; ++j) out[j] = static_cast<std::remove_reference_t<decltype(*out)>>(std::exp(in[j] - m) / s);
  });
  const Tensor dy = out.detach();
  const int64_t ax = axis;
  return record(out, "softmax", {x}, [dy, ax](const Tensor& g) {
    return std::vector<Tensor>{dy * (g - sum(g * dy, {ax}, true))};
  });
}

Tensor log_softmax(const Tensor& x, int64_t axis) {
  Tensor out = along_axis("log_softmax", x, axis, [](const auto* in, auto* out, int64_t n) {
    double m = -std::numeric_limits<double>::infinity();
    for (int64_t j = 0; j < n; ++j) m = std::max<double>(m, in[j]);
    double s = 0;
    for (int64_t j = 0; j < n; ++j) s += std::exp(in[j] - m);
    const double lse = m + std::log(s);
    for (int64_t j = 0; j < n; ++j) out[j] = static_cast<std::remove_reference_t<decltype(*out)>>(in[j] - lse);
  });
  const Tensor dy = out.detach();
  const int64_t ax = axis;
  return record(out, "log_softmax", {x}, [dy, ax](const Tensor& g) {
    return std::vector<Tensor>{g - exp(dy) * sum(g, {ax}, true)};
  });
}

}  // namespace bstack
