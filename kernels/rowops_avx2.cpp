// AVX2+FMA float row kernels (contracts in kernels/rowops.h): the loops of rowops_simd.inc on 8
// lanes, the row tail read and written with vmaskmovps, exp's 2^n built in the exponent field.
// Compiled with -mavx2 -mfma; every helper has internal linkage (see the note in
// kernels/CMakeLists.txt).
#include "kernels/rowops.h"
#include "kernels/simd_avx2.h"

#include <cmath>
#include <limits>

namespace bstack::kernels::avx2 {
#include "kernels/rowops_simd.inc"
}  // namespace bstack::kernels::avx2
