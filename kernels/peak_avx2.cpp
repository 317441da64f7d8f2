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
