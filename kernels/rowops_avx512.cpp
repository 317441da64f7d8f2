// AVX-512 float row kernels (contracts in kernels/rowops.h): the loops of rowops_simd.inc on 16
// lanes, the row tail handled by one mask-register load/store, exp's 2^n by vscalefps.
// Compiled with -mavx512f/bw/vl/dq -mfma; every helper has internal linkage (see the note in
// kernels/CMakeLists.txt).
#include "kernels/rowops.h"
#include "kernels/simd_avx512.h"

#include <cmath>
#include <limits>

namespace bstack::kernels::avx512 {
#include "kernels/rowops_simd.inc"
}  // namespace bstack::kernels::avx512
