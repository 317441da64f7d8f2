// AVX-512 GEMM micro-kernels (compiled with -mavx512f...; called only when cpuid says so).
//
// The tile is MR rows x NV vectors of 16 floats (8 doubles): per k step, NV loads of the B row,
// MR broadcasts of A (folded into the FMA as an embedded-broadcast memory operand) and MR*NV
// FMAs into accumulators that stay in zmm registers for the whole k loop. 14x2 keeps 28
// accumulators + 2 B vectors + 1 broadcast in the 32 registers; 8x3 and 6x4 trade rows for width.
// Enough independent accumulators to cover FMA latency x throughput (4 cycles x 2 pipes on
// Zen 4/5, Skylake-X) is what lets the kernel run at peak (Goto & van de Geijn 2008, sec. 6).
#include <immintrin.h>

#include <cstdint>

#include "kernels/gemm_ukernels.h"

namespace bstack::kernels::detail {
namespace {

template <int MR, int NV>
void ukernel_f32(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha,
                 float beta) {
  __m512 acc[MR][NV];
  // Touch the C tile now (its rows are ldc apart, the hardware prefetcher cannot guess them):
  // the loads overlap the k loop instead of stalling the stores at its end.
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 16 * NV - 1), _MM_HINT_T0);
  }
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_ps();
  for (int64_t p = 0; p < kc; ++p) {
    __m512 bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = _mm512_load_ps(b + 16 * v);
    _mm_prefetch(reinterpret_cast<const char*>(b + 16 * NV * 8), _MM_HINT_T0);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const __m512 ai = _mm512_set1_ps(a[i]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
    }
    a += MR;
    b += 16 * NV;
  }
  const __m512 va = _mm512_set1_ps(alpha);
  if (beta == 0.0f) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) _mm512_storeu_ps(c + i * ldc + 16 * v, _mm512_mul_ps(va, acc[i][v]));
  } else {
    const __m512 vb = _mm512_set1_ps(beta);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        float* cp = c + i * ldc + 16 * v;
        _mm512_storeu_ps(cp, _mm512_fmadd_ps(va, acc[i][v], _mm512_mul_ps(vb, _mm512_loadu_ps(cp))));
      }
  }
}

template <int MR, int NV>
void ukernel_f64(int64_t kc, const double* a, const double* b, double* c, int64_t ldc,
                 double alpha, double beta) {
  __m512d acc[MR][NV];
  // Touch the C tile now (its rows are ldc apart, the hardware prefetcher cannot guess them):
  // the loads overlap the k loop instead of stalling the stores at its end.
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 8 * NV - 1), _MM_HINT_T0);
  }
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_pd();
  for (int64_t p = 0; p < kc; ++p) {
    __m512d bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = _mm512_load_pd(b + 8 * v);
    _mm_prefetch(reinterpret_cast<const char*>(b + 8 * NV * 8), _MM_HINT_T0);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const __m512d ai = _mm512_set1_pd(a[i]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_fmadd_pd(ai, bv[v], acc[i][v]);
    }
    a += MR;
    b += 8 * NV;
  }
  const __m512d va = _mm512_set1_pd(alpha);
  if (beta == 0.0) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) _mm512_storeu_pd(c + i * ldc + 8 * v, _mm512_mul_pd(va, acc[i][v]));
  } else {
    const __m512d vb = _mm512_set1_pd(beta);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        double* cp = c + i * ldc + 8 * v;
        _mm512_storeu_pd(cp, _mm512_fmadd_pd(va, acc[i][v], _mm512_mul_pd(vb, _mm512_loadu_pd(cp))));
      }
  }
}

const GemmUkernel<float> kF32[] = {
    {"avx512_14x32", 14, 32, ukernel_f32<14, 2>},
    {"avx512_8x48", 8, 48, ukernel_f32<8, 3>},
    {"avx512_6x64", 6, 64, ukernel_f32<6, 4>},
};
const GemmUkernel<double> kF64[] = {
    {"avx512_14x16", 14, 16, ukernel_f64<14, 2>},
    {"avx512_8x24", 8, 24, ukernel_f64<8, 3>},
};

}  // namespace

const GemmUkernel<float>* gemm_ukernels_avx512_f32(int* count) {
  *count = static_cast<int>(sizeof(kF32) / sizeof(kF32[0]));
  return kF32;
}
const GemmUkernel<double>* gemm_ukernels_avx512_f64(int* count) {
  *count = static_cast<int>(sizeof(kF64) / sizeof(kF64[0]));
  return kF64;
}

}  // namespace bstack::kernels::detail
