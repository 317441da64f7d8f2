// AVX2+FMA GEMM micro-kernels (compiled with -mavx2 -mfma; called only when cpuid says so).
// 6x16 keeps 12 accumulators + 2 B vectors + 1 broadcast in the 16 ymm registers (the BLIS
// Haswell shape, transposed for row-major C); 4x24 trades rows for width.
#include <cstdint>

#include "kernels/gemm_ukernels.h"
#include "kernels/simd_avx2.h"

namespace bstack::kernels::detail {
namespace {

#include "kernels/gemm_ukernel.inc"

const GemmUkernel<float> kF32[] = {
    {"avx2_6x16", 6, 16, ukernel<F32, 6, 2>},
    {"avx2_4x24", 4, 24, ukernel<F32, 4, 3>},
};
const GemmUkernel<double> kF64[] = {
    {"avx2_6x8", 6, 8, ukernel<F64, 6, 2>},
    {"avx2_4x12", 4, 12, ukernel<F64, 4, 3>},
};

}  // namespace

const GemmUkernel<float>* gemm_ukernels_avx2_f32(int* count) {
  *count = static_cast<int>(sizeof(kF32) / sizeof(kF32[0]));
  return kF32;
}
const GemmUkernel<double>* gemm_ukernels_avx2_f64(int* count) {
  *count = static_cast<int>(sizeof(kF64) / sizeof(kF64[0]));
  return kF64;
}

}  // namespace bstack::kernels::detail
