// AVX-512 GEMM micro-kernels (compiled with -mavx512f...; called only when cpuid says so).
// 6x64 keeps 24 accumulators + 4 B vectors + 1 broadcast in the 32 zmm registers (4 loads of B
// and 6 broadcasts per 24 FMAs); 14x32 and 8x48 trade width for rows (the tuner picks per shape
// class).
#include <cstdint>

#include "kernels/gemm_ukernels.h"
#include "kernels/simd_avx512.h"

namespace bstack::kernels::detail {
namespace {

#include "kernels/gemm_ukernel.inc"

const GemmUkernel<float> kF32[] = {
    {"avx512_6x64", 6, 64, ukernel<F32, 6, 4>},  // the tuner's choice on 12 of 14 shape classes
    {"avx512_14x32", 14, 32, ukernel<F32, 14, 2>},
    {"avx512_8x48", 8, 48, ukernel<F32, 8, 3>},
};
const GemmUkernel<double> kF64[] = {
    {"avx512_14x16", 14, 16, ukernel<F64, 14, 2>},
    {"avx512_8x24", 8, 24, ukernel<F64, 8, 3>},
};

}  // namespace

const GemmUkernel<float>* gemm_ukernels_avx512_f32(int* count) {
  *count = static_cast<int>(sizeof(kF32) / sizeof(kF32[0]));
  return kF32;
}
const GemmUkernel<double>* gemm_ukernels_avx512_f64(int* count) {
  *count = static_cast<int>(sizeof(kF64) / sizeof(kF64[0]));
  return kF64;
}

}  // namespace bstack::kernels::detail
