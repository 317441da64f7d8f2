// AVX2+FMA float elementwise runs and sums (contracts in kernels/eltwise.h): the loops of
// eltwise_simd.inc on 8 lanes, the tail read and written with vmaskmovps.
// Compiled with -mavx2 -mfma; every helper has internal linkage (see the note in
// kernels/CMakeLists.txt).
#include "kernels/eltwise.h"
#include "kernels/rowops.h"
#include "kernels/simd_avx2.h"

namespace bstack::kernels::avx2 {
#include "kernels/eltwise_simd.inc"
}  // namespace bstack::kernels::avx2
