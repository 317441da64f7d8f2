// Joining (cat, stack) and indexing (index_select for embeddings, gather for picking one
// logit per row), each with its gradient (slices for cat; scatter-add for the indexing ops).
#include "src/ops.h"
#include "src/ops_internal.h"
#include "src/profile/profiler.h"

#include <cstring>

namespace bstack {

using detail::check_defined;
using detail::normalize_axis;

Tensor cat(const std::vector<Tensor>& xs, int64_t dim) {
  BSTACK_CHECK(!xs.empty(), "cat: needs at least one tensor");
  for (const Tensor& x : xs) check_defined("cat", x);
  const Tensor& first = xs[0];
  const int64_t d = normalize_axis("cat", dim, first.dim());
  BSTACK_CHECK(first.dim() > 0, "cat: zero-dimensional tensors cannot be joined; use stack");
  Shape shape = first.shape();
  shape[d] = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const Tensor& x = xs[i];
    detail::check_same_dtype("cat", first, x);
    BSTACK_CHECK(x.dim() == first.dim(), "cat: tensor {} has shape {}, tensor 0 has {}", i,
                 shape_str(x.shape()), shape_str(first.shape()));
    for (int64_t k = 0; k < x.dim(); ++k)
      BSTACK_CHECK(k == d || x.shape()[k] == first.shape()[k],
                   "cat: tensor {} has shape {}, tensor 0 has {} (only dim {} may differ)", i,
                   shape_str(x.shape()), shape_str(first.shape()), d);
    shape[d] += x.shape()[d];
  }
  detail::OpTimer timer("cat", {});
  Tensor out = empty(shape, first.dtype());
  std::vector<int64_t> starts;
  {
    NoGradGuard ng;
    int64_t at = 0;
    for (const Tensor& x : xs) {
      starts.push_back(at);
      out.slice(d, at, at + x.shape()[d]).copy_(x);
      at += x.shape()[d];
    }
    starts.push_back(at);
  }
  timer.done(out, 0, static_cast<double>(out.numel()) * dtype_size(out.dtype()));
  return record(out, "cat", xs, [d, starts](const Tensor& g) {
    std::vector<Tensor> gs;
    for (size_t i = 0; i + 1 < starts.size(); ++i) gs.push_back(g.slice(d, starts[i], starts[i + 1]));
    return gs;
  });
}

Tensor stack(const std::vector<Tensor>& xs, int64_t dim) {
  BSTACK_CHECK(!xs.empty(), "stack: needs at least one tensor");
  check_defined("stack", xs[0]);
  const int64_t d = normalize_axis("stack", dim, xs[0].dim() + 1);
  std::vector<Tensor> us;
  for (size_t i = 0; i < xs.size(); ++i) {
    check_defined("stack", xs[i]);
    BSTACK_CHECK(xs[i].shape() == xs[0].shape(), "stack: tensor {} has shape {}, tensor 0 has {}",
                 i, shape_str(xs[i].shape()), shape_str(xs[0].shape()));
    us.push_back(xs[i].unsqueeze(d));
  }
  return cat(us, d);
}

namespace {

// Reads an index tensor (i32 or i64) as int64 values, each checked against [0, size).
std::vector<int64_t> read_indices(const char* op, const Tensor& idx, int64_t size, int64_t dim) {
  BSTACK_CHECK(idx.dtype() == DType::i64 || idx.dtype() == DType::i32,
               "{}: index tensor must be i32 or i64, got {}", op, dtype_name(idx.dtype()));
  std::vector<int64_t> v = idx.to_vector_as<int64_t>();
  for (int64_t i : v)
    BSTACK_CHECK(i >= 0 && i < size, "{}: index {} out of range for dim {} of size {}", op, i,
                 dim, size);
  return v;
}

// Adds (or copies) rows of `src` (outer, m, inner) into rows of `dst` (outer, n, inner):
// dst[o, ids[i], :] (+)= src[o, i, :]. Contiguous operands.
void move_rows(const Tensor& dst, const Tensor& src, const std::vector<int64_t>& ids,
               int64_t outer, int64_t n, int64_t inner, bool gather_from_src_rows, bool accumulate) {
  visit_dtype(dst.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* pd = static_cast<T*>(dst.data_ptr());
    const T* ps = static_cast<const T*>(src.data_ptr());
    const int64_t m = static_cast<int64_t>(ids.size());
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < m; ++i) {
        // select: dst row i <- src row ids[i];  scatter: dst row ids[i] += src row i
        T* to = gather_from_src_rows ? pd + (o * m + i) * inner : pd + (o * n + ids[i]) * inner;
        const T* from = gather_from_src_rows ? ps + (o * n + ids[i]) * inner : ps + (o * m + i) * inner;
        if (accumulate) {
          for (int64_t k = 0; k < inner; ++k) to[k] += from[k];
        } else {
          std::memcpy(to, from, sizeof(T) * inner);
        }
      }
  });
}

}  // namespace

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& idx) {
  check_defined("index_select", x);
  check_defined("index_select", idx);
  BSTACK_CHECK(idx.dim() == 1, "index_select: index must be 1-D, got shape {}", shape_str(idx.shape()));
  BSTACK_CHECK(x.dim() >= 1, "index_select: input must have at least 1 dim");
  const int64_t d = normalize_axis("index_select", dim, x.dim());
  const int64_t n = x.shape()[d];
  const std::vector<int64_t> ids = read_indices("index_select", idx, n, d);
  int64_t outer = 1, inner = 1;
  for (int64_t k = 0; k < d; ++k) outer *= x.shape()[k];
  for (int64_t k = d + 1; k < x.dim(); ++k) inner *= x.shape()[k];
  Shape shape = x.shape();
  shape[d] = static_cast<int64_t>(ids.size());
  detail::OpTimer timer("index_select", {&idx});
  Tensor out = empty(shape, x.dtype());
  move_rows(out, x.detach().contiguous(), ids, outer, n, inner, true, false);
  timer.done(out, 0, static_cast<double>(out.numel()) * dtype_size(out.dtype()));
  const Shape in_shape = x.shape();
  return record(out, "index_select", {x}, [in_shape, ids, outer, n, inner](const Tensor& g) {
    detail::OpTimer timer("index_select_backward", {&g});  // zero-fill + scatter-add
    Tensor gx = zeros(in_shape, g.dtype());
    move_rows(gx, g.contiguous(), ids, outer, n, inner, false, true);
    timer.done(gx, static_cast<double>(g.numel()), static_cast<double>(g.numel()) * dtype_size(g.dtype()));
    return std::vector<Tensor>{gx};
  });
}

namespace {
// For each element of idx (row-major), the element offset in contiguous x it refers to.
std::vector<int64_t> gather_offsets(const Tensor& x, int64_t d, const Tensor& idx) {
  const int64_t n = x.dim() == 0 ? 1 : x.shape()[d];  // a 0-d x holds one element
  const std::vector<int64_t> ids = read_indices("gather", idx, n, d);
  const Shape xs = contiguous_strides(x.shape());
  const int64_t nd = idx.dim();
  std::vector<int64_t> offs(ids.size());
  Shape at(nd, 0);
  for (size_t e = 0; e < ids.size(); ++e) {
    int64_t off = 0;
    for (int64_t k = 0; k < nd; ++k) off += (k == d ? ids[e] : at[k]) * xs[k];
    offs[e] = off;
    for (int64_t k = nd - 1; k >= 0; --k) {  // next row-major index of idx
      if (++at[k] < idx.shape()[k]) break;
      at[k] = 0;
    }
  }
  return offs;
}
}  // namespace

Tensor gather(const Tensor& x, int64_t dim, const Tensor& idx) {
  check_defined("gather", x);
  check_defined("gather", idx);
  BSTACK_CHECK(idx.dim() == x.dim(), "gather: index has {} dims ({}), input has {} ({})", idx.dim(),
               shape_str(idx.shape()), x.dim(), shape_str(x.shape()));
  const int64_t d = normalize_axis("gather", dim, x.dim());
  for (int64_t k = 0; k < x.dim(); ++k)
    BSTACK_CHECK(k == d || idx.shape()[k] <= x.shape()[k],
                 "gather: index shape {} exceeds input shape {} at dim {}", shape_str(idx.shape()),
                 shape_str(x.shape()), k);
  const std::vector<int64_t> offs = gather_offsets(x, d, idx);
  detail::OpTimer timer("gather", {&idx});
  Tensor out = empty(idx.shape(), x.dtype());
  const Tensor xc = x.detach().contiguous();
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = static_cast<const T*>(xc.data_ptr());
    T* po = static_cast<T*>(out.data_ptr());
    for (size_t e = 0; e < offs.size(); ++e) po[e] = px[offs[e]];
  });
  timer.done(out, 0, static_cast<double>(out.numel()) * dtype_size(out.dtype()));
  const Shape in_shape = x.shape();
  return record(out, "gather", {x}, [in_shape, offs](const Tensor& g) {
    Tensor gx = zeros(in_shape, g.dtype());
    const Tensor gc = g.contiguous();
    visit_floating(g.dtype(), "gather_backward", [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* pgx = static_cast<T*>(gx.data_ptr());
      const T* pg = static_cast<const T*>(gc.data_ptr());
      for (size_t e = 0; e < offs.size(); ++e) pgx[offs[e]] += pg[e];
    });
    return std::vector<Tensor>{gx};
  });
}

}  // namespace bstack
