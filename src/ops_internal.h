// Helpers shared by the op files: shape checks, broadcasting, axis normalisation and the
// strided element loop. Internal to src/ (the loops move to kernels/ as they get SIMD paths).
#pragma once

#include "kernels/parallel.h"
#include "src/error.h"
#include "src/tensor.h"
#include "src/tensor_impl.h"

#include <array>
#include <cstdint>
#include <functional>
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

// Calls fn(off, n, inc) over every element of `shape`, in row-major order, in runs of n
// elements along the innermost dimension: operand k's run starts at off[k] (elements,
// relative to its data pointer) and steps by inc[k]. Dimensions are coalesced first, so
// contiguous operands give long runs. Work splits across threads by element ranges when
// numel * cost reaches kernels::kParallelGrain (fn must then be thread-safe).
// Not a template, so each op instantiates only its inner loop (compile time stays low).
using RunFn = std::function<void(const int64_t* off, int64_t n, const int64_t* inc)>;
void for_each_run(const Shape& shape, const std::vector<const Shape*>& strides, const RunFn& fn,
                  int64_t cost = 1);

// The same with the offsets as std::arrays of the operand count.
template <size_t N, class F>
void for_each_strided(const Shape& shape, const std::array<const Shape*, N>& strides, F&& fn,
                      int64_t cost = 1) {
  for_each_run(
      shape, std::vector<const Shape*>(strides.begin(), strides.end()),
      [&fn](const int64_t* off, int64_t n, const int64_t* inc) {
        std::array<int64_t, N> o, i;
        for (size_t k = 0; k < N; ++k) {
          o[k] = off[k];
          i[k] = inc[k];
        }
        fn(o, n, i);
      },
      cost);
}

}  // namespace bstack::detail
