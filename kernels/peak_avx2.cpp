// AVX2+FMA loop for kernels/peak.h (compiled with -mavx2 -mfma; called only when cpuid says so).
#include <immintrin.h>

#include <cstdint>

namespace bstack::kernels::detail {

double fma_loop_avx2_f32(int64_t iters, volatile float* sink) {
  __m256 acc[12];
  const __m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(static_cast<float>(i));
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], x, y);
  }
  __m256 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, acc[i]);
  alignas(32) float out[8];
  _mm256_store_ps(out, s);
  *sink = out[0] + out[1] + out[2] + out[3] + out[4] + out[5] + out[6] + out[7];
  return static_cast<double>(iters) * 12 * 8 * 2;
}

double fma_loop_avx2_f64(int64_t iters, volatile double* sink) {
  __m256d acc[12];
  const __m256d x = _mm256_set1_pd(0.999999), y = _mm256_set1_pd(1e-7);
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_pd(static_cast<double>(i));
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_pd(acc[i], x, y);
  }
  __m256d s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm256_add_pd(s, acc[i]);
  alignas(32) double out[4];
  _mm256_store_pd(out, s);
  *sink = out[0] + out[1] + out[2] + out[3];
  return static_cast<double>(iters) * 12 * 4 * 2;
}

}  // namespace bstack::kernels::detail
