// AVX-512 STREAM loops for calibrate/memory.h (compiled with the AVX-512 flags; reached only
// through cpuid dispatch, kernels/cpu.h). Internal linkage throughout (kernels/CMakeLists.txt
// says why).
// GCC 12 warns that the undefined source of some AVX-512 intrinsics is uninitialised (GCC bug
// 105593, fixed in GCC 13; kernels/simd_avx512.h does the same).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstddef>
#include <cstdint>

namespace bstack::calibrate::detail {
namespace {

struct V {
  using reg = __m512d;
  static constexpr size_t W = 8;
  static reg zero() { return _mm512_setzero_pd(); }
  static reg loadu(const double* p) { return _mm512_loadu_pd(p); }
  static void storeu(double* p, reg x) { _mm512_storeu_pd(p, x); }
  static void stream(double* p, reg x) { _mm512_stream_pd(p, x); }
  static reg set1(double x) { return _mm512_set1_pd(x); }
  static reg add(reg a, reg b) { return _mm512_add_pd(a, b); }
  static reg fma(reg a, reg b, reg c) { return _mm512_fmadd_pd(a, b, c); }
  static double hsum(reg x) {
    const __m256d h = _mm256_add_pd(_mm512_castpd512_pd256(x), _mm512_extractf64x4_pd(x, 1));
    const __m128d q = _mm_add_pd(_mm256_castpd256_pd128(h), _mm256_extractf128_pd(h, 1));
    return _mm_cvtsd_f64(_mm_add_sd(q, _mm_unpackhi_pd(q, q)));
  }
  static void fence() { _mm_sfence(); }
};

#include "calibrate/memory_kernels.inc"

}  // namespace

double stream_pass_avx512(int k, bool nt, double* a, const double* b, const double* c, size_t n,
                          double s, int64_t passes) {
  return stream_pass<V>(k, nt, a, b, c, n, s, passes);
}

}  // namespace bstack::calibrate::detail
