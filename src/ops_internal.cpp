#include "src/ops_internal.h"

#include <algorithm>

namespace bstack::detail {

Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    BSTACK_CHECK(da == db || da == 1 || db == 1,
                 "{}: shapes {} and {} do not broadcast (dim {}: {} vs {})", op, shape_str(a),
                 shape_str(b), i, da, db);
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Shape broadcast_strides(const Tensor& t, const Shape& out) {
  const int64_t lead = static_cast<int64_t>(out.size()) - t.dim();
  Shape st(out.size(), 0);
  for (int64_t d = 0; d < t.dim(); ++d)
    st[lead + d] = (t.shape()[d] == 1 && out[lead + d] != 1) ? 0 : t.strides()[d];
  return st;
}

int64_t normalize_axis(const char* op, int64_t axis, int64_t ndim) {
  const int64_t n = std::max<int64_t>(ndim, 1);  // a 0-d tensor accepts axis 0 / -1
  BSTACK_CHECK(axis >= -n && axis < n, "{}: axis {} out of range for a tensor with {} dims", op,
               axis, ndim);
  return axis < 0 ? axis + n : axis;
}

std::vector<int64_t> normalize_axes(const char* op, const std::vector<int64_t>& axes, int64_t ndim) {
  std::vector<int64_t> out;
  for (int64_t a : axes) out.push_back(normalize_axis(op, a, ndim));
  if (ndim == 0) return {};
  if (axes.empty()) {
    for (int64_t d = 0; d < ndim; ++d) out.push_back(d);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void check_same_dtype(const char* op, const Tensor& a, const Tensor& b) {
  BSTACK_CHECK(a.dtype() == b.dtype(), "{}: dtypes differ: {}{} vs {}{} (convert with .to())", op,
               dtype_name(a.dtype()), shape_str(a.shape()), dtype_name(b.dtype()),
               shape_str(b.shape()));
}

void check_defined(const char* op, const Tensor& t) {
  BSTACK_CHECK(t.defined(), "{}: an operand is an undefined tensor", op);
}

void for_each_run(const Shape& shape, const std::vector<const Shape*>& strides, const RunFn& fn,
                  int64_t cost) {
  const size_t N = strides.size();
  // Coalesce: drop size-1 dims; merge d into the previous kept dim when every operand is
  // contiguous across the two.
  Shape sz;
  std::vector<Shape> st(N);
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 0) return;
    if (shape[d] == 1) continue;
    bool merge = !sz.empty();
    for (size_t k = 0; k < N && merge; ++k) merge = st[k].back() == (*strides[k])[d] * shape[d];
    if (merge) {
      sz.back() *= shape[d];
      for (size_t k = 0; k < N; ++k) st[k].back() = (*strides[k])[d];
    } else {
      sz.push_back(shape[d]);
      for (size_t k = 0; k < N; ++k) st[k].push_back((*strides[k])[d]);
    }
  }
  if (sz.empty()) {  // one element
    sz.push_back(1);
    for (size_t k = 0; k < N; ++k) st[k].push_back(0);
  }
  const int64_t nd = static_cast<int64_t>(sz.size());
  const int64_t total = shape_numel(sz);
  const int64_t last = sz[nd - 1];
  std::vector<int64_t> inner(N);
  for (size_t k = 0; k < N; ++k) inner[k] = st[k][nd - 1];

  kernels::parallel_for(total, cost, [&](int64_t e0, int64_t e1) {
    Shape idx(nd, 0);
    int64_t rem = e0;
    for (int64_t d = nd - 1; d >= 0; --d) {
      idx[d] = rem % sz[d];
      rem /= sz[d];
    }
    std::vector<int64_t> base(N, 0), off(N);
    for (size_t k = 0; k < N; ++k)
      for (int64_t d = 0; d < nd - 1; ++d) base[k] += idx[d] * st[k][d];
    int64_t left = e1 - e0;
    while (left > 0) {
      const int64_t n = std::min(last - idx[nd - 1], left);
      for (size_t k = 0; k < N; ++k) off[k] = base[k] + idx[nd - 1] * inner[k];
      fn(off.data(), n, inner.data());
      left -= n;
      idx[nd - 1] = 0;
      for (int64_t d = nd - 2; d >= 0; --d) {  // carry into the outer dims
        for (size_t k = 0; k < N; ++k) base[k] += st[k][d];
        if (++idx[d] < sz[d]) break;
        for (size_t k = 0; k < N; ++k) base[k] -= st[k][d] * sz[d];
        idx[d] = 0;
      }
    }
  });
}

}  // namespace bstack::detail
