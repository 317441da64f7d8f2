// AVX-512 float elementwise runs and sums (contracts in kernels/eltwise.h): the loops of
// eltwise_simd.inc on 16 lanes, one mask-register load/store for the tail.
// Compiled with -mavx512f/bw/vl/dq -mfma; every helper has internal linkage (see the note in
// kernels/CMakeLists.txt).
#include "kernels/eltwise.h"
#include "kernels/rowops.h"
#include "kernels/simd_avx512.h"

namespace bstack::kernels::avx512 {
#include "kernels/eltwise_simd.inc"
}  // namespace bstack::kernels::avx512
