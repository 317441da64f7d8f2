// Helpers shared by the op files: shape checks, broadcasting, axis normalisation and the
// strided element loop. Internal to src/ (the loops move to kernels/ as they get SIMD paths).
#pragma once

#include "kernels/parallel.h"
#include "src/error.h"
#include "src/tensor.h"
#include "src/tensor_impl.h"

#include <array>
#include <cstdint>
#include <vector>

namespace bstack::detail {

// NumPy broadcasting of two shapes; throws naming `op` and both shapes when incompatible.
Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b);

// Strides (elements) that read `t` as if expanded to `out` (0 for broadcast dims).
Shape broadcast_strides(const Tensor& t, const Shape& out);

// Maps a possibly negative axis into [0, ndim); throws naming `op` when out of range.
int64_t normalize_axis(const char* op, int64_t axis, int64_t ndim);
// Sorted, unique, normalised axes; empty means all axes.
std::vector<int64_t> normalize_axes(const char* op, const std::vector<int64_t>& axes, int64_t ndim);

void check_same_dtype(const char* op, const Tensor& a, const Tensor& b);
void check_defined(const char* op, const Tensor& t);

// Calls fn(offsets, n, inner) over every element of `shape`, in row-major order, in runs of
// n elements along the innermost dimension: operand k's run starts at offsets[k] (elements,
// relative to its data pointer) and steps by inner[k]. Dimensions are coalesced first, so
// contiguous operands give long runs. Work splits across threads by element ranges when
// numel * cost reaches kernels::kParallelGrain (fn must then be thread-safe).
template <size_t N, class F>
void for_each_strided(const Shape& shape, const std::array<const Shape*, N>& strides, F&& fn,
                      int64_t cost = 1) {
  // Coalesce: drop size-1 dims; merge d into d+1 when every operand is contiguous across them.
  Shape sz;
  std::array<Shape, N> st;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 0) return;
    if (shape[d] == 1) continue;
    bool merge = !sz.empty();
    for (size_t k = 0; k < N && merge; ++k)
      merge = st[k].back() == (*strides[k])[d] * shape[d];
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
  int64_t total = 1;
  for (int64_t s : sz) total *= s;
  const int64_t last = sz[nd - 1];
  std::array<int64_t, N> inner;
  for (size_t k = 0; k < N; ++k) inner[k] = st[k][nd - 1];

  kernels::parallel_for(total, cost, [&](int64_t e0, int64_t e1) {
    Shape idx(nd, 0);
    int64_t rem = e0;
    for (int64_t d = nd - 1; d >= 0; --d) {
      idx[d] = rem % sz[d];
      rem /= sz[d];
    }
    std::array<int64_t, N> base{};
    for (size_t k = 0; k < N; ++k)
      for (int64_t d = 0; d < nd - 1; ++d) base[k] += idx[d] * st[k][d];
    int64_t left = e1 - e0;
    while (left > 0) {
      const int64_t n = std::min(last - idx[nd - 1], left);
      std::array<int64_t, N> off;
      for (size_t k = 0; k < N; ++k) off[k] = base[k] + idx[nd - 1] * inner[k];
      fn(off, n, inner);
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
