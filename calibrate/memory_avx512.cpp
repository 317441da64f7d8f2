// AVX-512 STREAM loops for calibrate/memory.h (compiled with the AVX-512 flags; reached only
// through cpuid dispatch, kernels/cpu.h). Internal linkage throughout (kernels/CMakeLists.txt
// says why). The vector traits are kernels/'s (F64), plus the streaming store.
#include <cstddef>
#include <cstdint>

#include "kernels/simd_avx512.h"

namespace bstack::calibrate::detail {
namespace {

struct V : bstack::kernels::detail::F64 {
  static void stream(double* p, reg x) { _mm512_stream_pd(p, x); }
  static void fence() { _mm_sfence(); }
};

#include "calibrate/memory_kernels.inc"

}  // namespace

double stream_pass_avx512(int k, bool nt, double* a, const double* b, const double* c, size_t n,
                          double s, int64_t passes) {
  return stream_pass<V>(k, nt, a, b, c, n, s, passes);
}

}  // namespace bstack::calibrate::detail
