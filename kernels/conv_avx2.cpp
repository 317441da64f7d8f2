// AVX2 + FMA float conv plane kernels (contracts at the end of kernels/conv.h): the depthwise
// and max-pool loops of conv_simd.inc on 8 lanes with vmaskmovps loads and stores, and the
// transpose, whose shuffle network is specific to 8 x 8 blocks.
// Compiled with -mavx2 -mfma; every helper has internal linkage (see the note in
// kernels/CMakeLists.txt) and nothing here instantiates a std template.
#include "kernels/conv.h"
#include "kernels/simd_avx2.h"

namespace bstack::kernels::avx2 {
#include "kernels/conv_simd.inc"

// 8 x 8 blocks in registers: unpacklo/hi_ps interleave row pairs, shuffle_ps makes 4 x 4 blocks
// inside each 128-bit lane, permute2f128 swaps the off-diagonal lanes. Edges one by one.
void transpose(int64_t rows, int64_t cols, const float* src, int64_t lds, float* dst,
               int64_t ldd) {
  const int64_t rb = rows / W * W, cb = cols / W * W;
  for (int64_t i0 = 0; i0 < rb; i0 += W)
    for (int64_t j0 = 0; j0 < cb; j0 += W) {
      __m256 r[8], t[8], u[8];
      for (int k = 0; k < 8; ++k) r[k] = _mm256_loadu_ps(src + (i0 + k) * lds + j0);
      for (int k = 0; k < 8; k += 2) {
        t[k] = _mm256_unpacklo_ps(r[k], r[k + 1]);
        t[k + 1] = _mm256_unpackhi_ps(r[k], r[k + 1]);
      }
      for (int g = 0; g < 8; g += 4) {  // u[g + c], lane L: column 4L + c of rows g..g+3
        u[g] = _mm256_shuffle_ps(t[g], t[g + 2], 0x44);
        u[g + 1] = _mm256_shuffle_ps(t[g], t[g + 2], 0xEE);
        u[g + 2] = _mm256_shuffle_ps(t[g + 1], t[g + 3], 0x44);
        u[g + 3] = _mm256_shuffle_ps(t[g + 1], t[g + 3], 0xEE);
      }
      for (int c = 0; c < 4; ++c) {
        _mm256_storeu_ps(dst + (j0 + c) * ldd + i0, _mm256_permute2f128_ps(u[c], u[4 + c], 0x20));
        _mm256_storeu_ps(dst + (j0 + 4 + c) * ldd + i0,
                         _mm256_permute2f128_ps(u[c], u[4 + c], 0x31));
      }
    }
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = i < rb ? cb : 0; j < cols; ++j) dst[j * ldd + i] = src[i * lds + j];
}

}  // namespace bstack::kernels::avx2
