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

}  // namespace bstack::detail
