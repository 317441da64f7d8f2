// AVX2+FMA GEMM micro-kernels (compiled with -mavx2 -mfma; called only when cpuid says so).
//
// The same scheme as gemm_avx512.cpp with 8 floats (4 doubles) per vector and 16 registers:
// 6x16 keeps 12 accumulators + 2 B vectors + 1 broadcast (the BLIS Haswell shape, transposed for
// row-major C); 4x24 trades rows for width.
#include <immintrin.h>

#include <cstdint>

#include "kernels/gemm_ukernels.h"

namespace bstack::kernels::detail {
namespace {

template <int MR, int NV>
void ukernel_f32(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha,
                 float beta) {
  __m256 acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 8 * NV - 1), _MM_HINT_T0);
  }
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm256_setzero_ps();
  for (int64_t p = 0; p < kc; ++p) {
    __m256 bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = _mm256_load_ps(b + 8 * v);
    _mm_prefetch(reinterpret_cast<const char*>(b + 8 * NV * 8), _MM_HINT_T0);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const __m256 ai = _mm256_set1_ps(a[i]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm256_fmadd_ps(ai, bv[v], acc[i][v]);
    }
    a += MR;
    b += 8 * NV;
  }
  const __m256 va = _mm256_set1_ps(alpha);
  if (beta == 0.0f) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) _mm256_storeu_ps(c + i * ldc + 8 * v, _mm256_mul_ps(va, acc[i][v]));
  } else {
    const __m256 vb = _mm256_set1_ps(beta);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        float* cp = c + i * ldc + 8 * v;
        _mm256_storeu_ps(cp, _mm256_fmadd_ps(va, acc[i][v], _mm256_mul_ps(vb, _mm256_loadu_ps(cp))));
      }
  }
}

template <int MR, int NV>
void ukernel_f64(int64_t kc, const double* a, const double* b, double* c, int64_t ldc,
                 double alpha, double beta) {
  __m256d acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 4 * NV - 1), _MM_HINT_T0);
  }
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm256_setzero_pd();
  for (int64_t p = 0; p < kc; ++p) {
    __m256d bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = _mm256_load_pd(b + 4 * v);
    _mm_prefetch(reinterpret_cast<const char*>(b + 4 * NV * 8), _MM_HINT_T0);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const __m256d ai = _mm256_set1_pd(a[i]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm256_fmadd_pd(ai, bv[v], acc[i][v]);
    }
    a += MR;
    b += 4 * NV;
  }
  const __m256d va = _mm256_set1_pd(alpha);
  if (beta == 0.0) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) _mm256_storeu_pd(c + i * ldc + 4 * v, _mm256_mul_pd(va, acc[i][v]));
  } else {
    const __m256d vb = _mm256_set1_pd(beta);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        double* cp = c + i * ldc + 4 * v;
        _mm256_storeu_pd(cp, _mm256_fmadd_pd(va, acc[i][v], _mm256_mul_pd(vb, _mm256_loadu_pd(cp))));
      }
  }
}

const GemmUkernel<float> kF32[] = {
    {"avx2_6x16", 6, 16, ukernel_f32<6, 2>},
    {"avx2_4x24", 4, 24, ukernel_f32<4, 3>},
};
const GemmUkernel<double> kF64[] = {
    {"avx2_6x8", 6, 8, ukernel_f64<6, 2>},
    {"avx2_4x12", 4, 12, ukernel_f64<4, 3>},
};

}  // namespace

const GemmUkernel<float>* gemm_ukernels_avx2_f32(int* count) {
  *count = static_cast<int>(sizeof(kF32) / sizeof(kF32[0]));
  return kF32;
}
const GemmUkernel<double>* gemm_ukernels_avx2_f64(int* count) {
  *count = static_cast<int>(sizeof(kF64) / sizeof(kF64[0]));
  return kF64;
}

}  // namespace bstack::kernels::detail
