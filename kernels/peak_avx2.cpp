// AVX2+FMA loop for kernels/peak.h (compiled with -mavx2 -mfma; called only when cpuid says so).
#include <cstdint>
#include <cstring>

#include "kernels/simd_avx2.h"

namespace bstack::kernels::detail {
namespace {
#include "kernels/peak_loop.inc"
}  // namespace

double fma_loop_avx2_f32(int64_t iters, volatile float* sink) { return fma_chains<F32>(iters, sink); }
double fma_loop_avx2_f64(int64_t iters, volatile double* sink) { return fma_chains<F64>(iters, sink); }

}  // namespace bstack::kernels::detail

// int8 dot loops for kernels/peak.h (BSTACK_INT8_CHAINS: kernels/peak_loop.inc).
namespace bstack::kernels::detail {

__attribute__((target("avxvnni"))) double int8_loop_avx_vnni(int64_t iters, volatile int32_t* sink) {
  BSTACK_INT8_CHAINS(__m256i, _mm256, _mm256_dpbusd_avx_epi32(acc[i], a, b))
}

// The u8 operand is the accumulator itself (reinterpreted), so each chain's product is computed
// every step: with constant operands GCC hoisted maddubs + madd out of the loop.
double int8_loop_avx2(int64_t iters, volatile int32_t* sink) {
  const __m256i ones = _mm256_set1_epi16(1);
  BSTACK_INT8_CHAINS(__m256i, _mm256, _mm256_add_epi32(acc[i], _mm256_madd_epi16(_mm256_maddubs_epi16(acc[i], b), ones)))
}

}  // namespace bstack::kernels::detail
#undef BSTACK_INT8_CHAINS
