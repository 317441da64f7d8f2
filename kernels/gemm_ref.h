// Reference GEMM: C = alpha * A @ B + beta * C with arbitrary row/column strides for every
// operand, so transposed and sliced views need no copy. Obviously-correct loops (i, p, j
// order so the inner loop streams rows of B and C; a B with strided rows is packed first),
// parallel over rows of C. The kernels
// issue adds packed BLIS-style kernels beside it; this stays as their reference and fallback.
//
// Shapes: A (M x K), B (K x N), C (M x N). Element (i, j) of X lives at X[i*rs + j*cs].
// beta == 0 overwrites C without reading it (NaNs in C do not propagate), as BLAS does.
#pragma once

#include <cstdint>

namespace bstack::kernels {

template <class T>
void gemm_ref(int64_t M, int64_t N, int64_t K, T alpha,
              const T* A, int64_t rs_a, int64_t cs_a,
              const T* B, int64_t rs_b, int64_t cs_b,
              T beta, T* C, int64_t rs_c, int64_t cs_c);

extern template void gemm_ref<float>(int64_t, int64_t, int64_t, float, const float*, int64_t,
                                     int64_t, const float*, int64_t, int64_t, float, float*,
                                     int64_t, int64_t);
extern template void gemm_ref<double>(int64_t, int64_t, int64_t, double, const double*, int64_t,
                                      int64_t, const double*, int64_t, int64_t, double, double*,
                                      int64_t, int64_t);

}  // namespace bstack::kernels
