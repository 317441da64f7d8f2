// AVX-512 FMA loop for kernels/peak.h (compiled with -mavx512f; called only when cpuid says so).
#include <cstdint>

#include "kernels/simd_avx512.h"

namespace bstack::kernels::detail {
namespace {
#include "kernels/peak_loop.inc"
}  // namespace

double fma_loop_avx512_f32(int64_t iters, volatile float* sink) { return fma_chains<F32>(iters, sink); }
double fma_loop_avx512_f64(int64_t iters, volatile double* sink) { return fma_chains<F64>(iters, sink); }

}  // namespace bstack::kernels::detail
