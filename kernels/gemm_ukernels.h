// Private to kernels/: the register micro-kernels behind gemm(), one table per ISA path.
//
// A micro-kernel computes one MR x NR tile: C = alpha * (A_panel @ B_panel) + beta * C, where
// A_panel is MR-row micro-panel packed as kc columns of MR values (a[p*MR + i]) and B_panel an
// NR-column micro-panel packed as kc rows of NR values (b[p*NR + j]); C's rows are ldc apart and
// contiguous. beta == 0 writes C without reading it. Panels are 64-byte aligned.
#pragma once

#include <cstdint>

namespace bstack::kernels::detail {

template <class T>
using GemmUkernelFn = void (*)(int64_t kc, const T* a, const T* b, T* c, int64_t ldc, T alpha,
                               T beta);

template <class T>
struct GemmUkernel {
  const char* name;
  int mr, nr;
  GemmUkernelFn<T> fn;
};

// Each returns its table and sets *count; the first entry is the path's default.
const GemmUkernel<float>* gemm_ukernels_scalar_f32(int* count);
const GemmUkernel<double>* gemm_ukernels_scalar_f64(int* count);
const GemmUkernel<float>* gemm_ukernels_avx2_f32(int* count);
const GemmUkernel<double>* gemm_ukernels_avx2_f64(int* count);
const GemmUkernel<float>* gemm_ukernels_avx512_f32(int* count);
const GemmUkernel<double>* gemm_ukernels_avx512_f64(int* count);

}  // namespace bstack::kernels::detail
