// AVX-512 FMA loop for kernels/peak.h (compiled with -mavx512f; called only when cpuid says so).
#include <immintrin.h>

#include <cstdint>

namespace bstack::kernels::detail {

// 12 independent chains: FMA latency (4 cycles) x 2 pipes needs 8 in flight on current cores.
double fma_loop_avx512_f32(int64_t iters, volatile float* sink) {
  __m512 acc[12];
  const __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i));
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = _mm512_fmadd_ps(acc[i], x, y);
  }
  __m512 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm512_add_ps(s, acc[i]);
  alignas(64) float out[16];
  _mm512_store_ps(out, s);
  float t = 0;
  for (float v : out) t += v;
  *sink = t;
  return static_cast<double>(iters) * 12 * 16 * 2;
}

double fma_loop_avx512_f64(int64_t iters, volatile double* sink) {
  __m512d acc[12];
  const __m512d x = _mm512_set1_pd(0.999999), y = _mm512_set1_pd(1e-7);
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_pd(static_cast<double>(i));
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = _mm512_fmadd_pd(acc[i], x, y);
  }
  __m512d s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm512_add_pd(s, acc[i]);
  alignas(64) double out[8];
  _mm512_store_pd(out, s);
  double t = 0;
  for (double v : out) t += v;
  *sink = t;
  return static_cast<double>(iters) * 12 * 8 * 2;
}

}  // namespace bstack::kernels::detail
