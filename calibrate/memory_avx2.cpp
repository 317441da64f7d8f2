// AVX2+FMA STREAM loops for calibrate/memory.h (compiled with the AVX2 flags; reached only
// through cpuid dispatch, kernels/cpu.h). Internal linkage throughout (kernels/CMakeLists.txt
// says why).
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

namespace bstack::calibrate::detail {
namespace {

struct V {
  using reg = __m256d;
  static constexpr size_t W = 4;
  static reg zero() { return _mm256_setzero_pd(); }
  static reg loadu(const double* p) { return _mm256_loadu_pd(p); }
  static void storeu(double* p, reg x) { _mm256_storeu_pd(p, x); }
  static void stream(double* p, reg x) { _mm256_stream_pd(p, x); }
  static reg set1(double x) { return _mm256_set1_pd(x); }
  static reg add(reg a, reg b) { return _mm256_add_pd(a, b); }
  static reg fma(reg a, reg b, reg c) { return _mm256_fmadd_pd(a, b, c); }
  static double hsum(reg x) {
    const __m128d q = _mm_add_pd(_mm256_castpd256_pd128(x), _mm256_extractf128_pd(x, 1));
    return _mm_cvtsd_f64(_mm_add_sd(q, _mm_unpackhi_pd(q, q)));
  }
  static void fence() { _mm_sfence(); }
};

#include "calibrate/memory_kernels.inc"

}  // namespace

double stream_pass_avx2(int k, bool nt, double* a, const double* b, const double* c, size_t n,
                        double s, int64_t passes) {
  return stream_pass<V>(k, nt, a, b, c, n, s, passes);
}

}  // namespace bstack::calibrate::detail
