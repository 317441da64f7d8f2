// AVX2+FMA loop for kernels/peak.h (compiled with -mavx2 -mfma; called only when cpuid says so).
#include <cstdint>

#include "kernels/simd_avx2.h"

namespace bstack::kernels::detail {
namespace {
#include "kernels/peak_loop.inc"
}  // namespace

double fma_loop_avx2_f32(int64_t iters, volatile float* sink) { return fma_chains<F32>(iters, sink); }
double fma_loop_avx2_f64(int64_t iters, volatile double* sink) { return fma_chains<F64>(iters, sink); }

}  // namespace bstack::kernels::detail

// int8 dot loops for kernels/peak.h: 12 independent s32 accumulators per loop step, 32 u8 x s8
// multiply-accumulates per accumulator step. The VNNI loop is its own function with
// target("avxvnni") (a template cannot carry the attribute, and a call from a non-VNNI function
// would not be inlined); the other loop must not be compiled with VNNI enabled, or GCC may fuse
// madd + add into vpdpwssd.
#define BSTACK_INT8_CHAINS(STEP)                                             \
  __m256i acc[12];                                                          \
  const __m256i a = _mm256_set1_epi8(3), b = _mm256_set1_epi8(-2);                   \
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_epi32(i);                 \
  for (int64_t it = 0; it < iters; ++it) {                                  \
    _Pragma("GCC unroll 12") for (int i = 0; i < 12; ++i) acc[i] = (STEP); \
  }                                                                         \
  __m256i s = acc[0];                                                       \
  for (int i = 1; i < 12; ++i) s = _mm256_add_epi32(s, acc[i]);

namespace bstack::kernels::detail {

__attribute__((target("avxvnni"))) double int8_loop_avx_vnni(int64_t iters, volatile int32_t* sink) {
  BSTACK_INT8_CHAINS(_mm256_dpbusd_avx_epi32(acc[i], a, b))
  alignas(32) uint32_t lanes[8];  // summed as unsigned: the accumulators wrap
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), s);
  uint32_t t = 0;
  for (uint32_t v : lanes) t += v;
  *sink = static_cast<int32_t>(t);
  return static_cast<double>(iters) * 12 * 32 * 2;
}

double int8_loop_avx2(int64_t iters, volatile int32_t* sink) {
  const __m256i ones = _mm256_set1_epi16(1);
  // The u8 operand is the accumulator itself (reinterpreted), so each chain's product is
  // computed every step: with constant operands GCC hoisted maddubs + madd out of the loop.
  BSTACK_INT8_CHAINS(_mm256_add_epi32(acc[i], _mm256_madd_epi16(_mm256_maddubs_epi16(acc[i], b), ones)))
  (void)a;
  alignas(32) uint32_t lanes[8];  // summed as unsigned: the accumulators wrap
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), s);
  uint32_t t = 0;
  for (uint32_t v : lanes) t += v;
  *sink = static_cast<int32_t>(t);
  return static_cast<double>(iters) * 12 * 32 * 2;
}

}  // namespace bstack::kernels::detail
#undef BSTACK_INT8_CHAINS
