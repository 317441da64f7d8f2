// AVX-512 float conv plane kernels (contracts at the end of kernels/conv.h): the depthwise and
// max-pool loops of conv_simd.inc on 16 lanes with mask-register loads and stores, and the
// transpose, whose shuffle network is specific to 16 x 16 blocks.
// Compiled with -mavx512f/bw/vl/dq -mfma; every helper has internal linkage (see the note in
// kernels/CMakeLists.txt) and nothing here instantiates a std template.
#include "kernels/conv.h"
#include "kernels/simd_avx512.h"

namespace bstack::kernels::avx512 {
#include "kernels/conv_simd.inc"

// 16 x 16 blocks in registers: unpacklo/hi_ps interleave row pairs, unpacklo/hi_pd make 4 x 4
// blocks inside each 128-bit lane, two rounds of shuffle_f32x4 transpose the 4 x 4 grid of
// lanes. The edges (rows or columns beyond the last full block) are copied one by one.
void transpose(int64_t rows, int64_t cols, const float* src, int64_t lds, float* dst,
               int64_t ldd) {
  const int64_t rb = rows / W * W, cb = cols / W * W;
  for (int64_t i0 = 0; i0 < rb; i0 += W)
    for (int64_t j0 = 0; j0 < cb; j0 += W) {
      __m512 r[16], t[16], u[16];
      for (int k = 0; k < 16; ++k) r[k] = _mm512_loadu_ps(src + (i0 + k) * lds + j0);
      for (int k = 0; k < 16; k += 2) {
        t[k] = _mm512_unpacklo_ps(r[k], r[k + 1]);
        t[k + 1] = _mm512_unpackhi_ps(r[k], r[k + 1]);
      }
      for (int g = 0; g < 16; g += 4) {  // u[g + c], lane L: column 4L + c of rows g..g+3
        const __m512d a = _mm512_castps_pd(t[g]), b = _mm512_castps_pd(t[g + 1]);
        const __m512d c = _mm512_castps_pd(t[g + 2]), d = _mm512_castps_pd(t[g + 3]);
        u[g] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        u[g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        u[g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        u[g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
      }
      // Column 4L + c of the block = lanes L of u[c], u[4 + c], u[8 + c], u[12 + c].
      for (int c = 0; c < 4; ++c) {
        const __m512 x0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x44);
        const __m512 x1 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xEE);
        const __m512 y0 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x44);
        const __m512 y1 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xEE);
        _mm512_storeu_ps(dst + (j0 + c) * ldd + i0, _mm512_shuffle_f32x4(x0, y0, 0x88));
        _mm512_storeu_ps(dst + (j0 + 4 + c) * ldd + i0, _mm512_shuffle_f32x4(x0, y0, 0xDD));
        _mm512_storeu_ps(dst + (j0 + 8 + c) * ldd + i0, _mm512_shuffle_f32x4(x1, y1, 0x88));
        _mm512_storeu_ps(dst + (j0 + 12 + c) * ldd + i0, _mm512_shuffle_f32x4(x1, y1, 0xDD));
      }
    }
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = i < rb ? cb : 0; j < cols; ++j) dst[j * ldd + i] = src[i * lds + j];
}

}  // namespace bstack::kernels::avx512
