// AVX2 + FMA float depthwise plane kernels: the AVX-512 file's loops (read its comment) with
// 8-lane vectors; masks are integer vectors for vmaskmovps, whose masked-off lanes never fault.
// Compiled with -mavx2 -mfma; every helper has internal linkage (see the note in
// kernels/CMakeLists.txt) and nothing here instantiates a std template.
#include "kernels/conv.h"

#include <immintrin.h>

namespace bstack::kernels::avx2 {
namespace {

constexpr int64_t V = 8;

// Lanes l of the block starting at `start` with lo <= start + l < hi (all ones where true).
__m256i range_mask(int64_t start, int64_t lo, int64_t hi) {
  const int64_t a = lo - start, b = hi - start;
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const int32_t a32 = a < -1 ? -1 : a > V ? V : static_cast<int32_t>(a);
  const int32_t b32 = b < 0 ? 0 : b > V ? V : static_cast<int32_t>(b);
  const __m256i ge_a = _mm256_cmpgt_epi32(lane, _mm256_set1_epi32(a32 - 1));
  const __m256i lt_b = _mm256_cmpgt_epi32(_mm256_set1_epi32(b32), lane);
  return _mm256_and_si256(ge_a, lt_b);
}

bool any(__m256i m) { return !_mm256_testz_si256(m, m); }

float reduce_add(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// R output rows of one 8-column block in Q output planes sharing the input plane (see the
// AVX-512 file); Q*R = 8 accumulators + R inputs fit the 16 ymm registers.
template <int R, int Q>
void forward_rows(const Conv2dShape& s, int64_t oh0, int64_t ow0, const __m256i* mj,
                  const bool* use, __m256i out, const float* x, const float* w, const float* b,
                  float* y) {
  const int64_t KK = s.KH * s.KW, OW = s.OW(), L = s.OH() * OW;
  __m256 acc[Q][R];
  for (int q = 0; q < Q; ++q)
    for (int r = 0; r < R; ++r) acc[q][r] = _mm256_set1_ps(b ? b[q] : 0.0f);
  for (int64_t i = 0; i < s.KH; ++i) {
    const float* xr[R];
    bool ok[R];
    for (int r = 0; r < R; ++r) {
      const int64_t h = (oh0 + r) * s.SH - s.PH + i * s.DH;
      ok[r] = h >= 0 && h < s.H;
      xr[r] = ok[r] ? x + h * s.W + ow0 - s.PW : x;
    }
    for (int64_t j = 0; j < s.KW; ++j) {
      if (!use[j]) continue;
      const int64_t dj = j * s.DW;
      __m256 xv[R];
      for (int r = 0; r < R; ++r)
        if (ok[r]) xv[r] = _mm256_maskload_ps(xr[r] + dj, mj[j]);
      for (int q = 0; q < Q; ++q) {
        const __m256 wv = _mm256_set1_ps(w[q * KK + i * s.KW + j]);
        for (int r = 0; r < R; ++r)
          if (ok[r]) acc[q][r] = _mm256_fmadd_ps(wv, xv[r], acc[q][r]);
      }
    }
  }
  for (int q = 0; q < Q; ++q)
    for (int r = 0; r < R; ++r)
      _mm256_maskstore_ps(y + q * L + (oh0 + r) * OW + ow0, out, acc[q][r]);
}

// dx rows [h0, h0 + R) of one block, gathered from the m dy planes.
template <int R>
void backward_input_rows(const Conv2dShape& s, int64_t m, int64_t h0, int64_t c0,
                         const __m256i* mj, const bool* use, __m256i out, const float* dy,
                         const float* w, float* dx) {
  const int64_t OH = s.OH(), OW = s.OW(), L = OH * OW, KK = s.KH * s.KW;
  __m256 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  for (int64_t i = 0; i < s.KH; ++i) {
    int64_t row[R];  // dy row offset, or -1 when no output row maps onto dx row h0 + r
    for (int r = 0; r < R; ++r) {
      const int64_t t = h0 + r + s.PH - i * s.DH;
      row[r] = t < 0 || t % s.SH != 0 || t / s.SH >= OH ? -1 : t / s.SH * OW + c0 + s.PW;
    }
    for (int64_t q = 0; q < m; ++q) {
      const float* dyq = dy + q * L;
      const float* wr = w + q * KK + i * s.KW;
      for (int64_t j = 0; j < s.KW; ++j) {
        if (!use[j]) continue;
        const __m256 wv = _mm256_set1_ps(wr[j]);
        const int64_t dj = j * s.DW;
        for (int r = 0; r < R; ++r)
          if (row[r] >= 0)
            acc[r] = _mm256_fmadd_ps(wv, _mm256_maskload_ps(dyq + row[r] - dj, mj[j]), acc[r]);
      }
    }
  }
  for (int r = 0; r < R; ++r) _mm256_maskstore_ps(dx + (h0 + r) * s.W + c0, out, acc[r]);
}

constexpr int kRows = 4;    // output rows per block
constexpr int kPlanes = 2;  // output planes per block (channel multiplier)

}  // namespace

void depthwise_forward_planes(const Conv2dShape& s, int64_t m, const float* x, const float* w,
                              const float* b, float* y) {
  const int64_t OH = s.OH(), OW = s.OW(), L = OH * OW, KK = s.KH * s.KW;
  __m256i mj[kDepthwiseMaxKW];
  bool use[kDepthwiseMaxKW];
  for (int64_t ow0 = 0; ow0 < OW; ow0 += V) {
    const __m256i out = range_mask(ow0, 0, OW);
    for (int64_t j = 0; j < s.KW; ++j) {  // x column ow + j*DW - PW must lie in [0, W)
      const int64_t off = j * s.DW - s.PW;
      mj[j] = _mm256_and_si256(range_mask(ow0, -off, s.W - off), out);
      use[j] = any(mj[j]);
    }
    int64_t q = 0;
    for (; q + kPlanes <= m; q += kPlanes) {
      const float* wq = w + q * KK;
      const float* bq = b ? b + q : nullptr;
      int64_t oh = 0;
      for (; oh + kRows <= OH; oh += kRows)
        forward_rows<kRows, kPlanes>(s, oh, ow0, mj, use, out, x, wq, bq, y + q * L);
      for (; oh < OH; ++oh)
        forward_rows<1, kPlanes>(s, oh, ow0, mj, use, out, x, wq, bq, y + q * L);
    }
    for (; q < m; ++q) {
      const float* wq = w + q * KK;
      const float* bq = b ? b + q : nullptr;
      int64_t oh = 0;
      for (; oh + kRows <= OH; oh += kRows)
        forward_rows<kRows, 1>(s, oh, ow0, mj, use, out, x, wq, bq, y + q * L);
      for (; oh < OH; ++oh) forward_rows<1, 1>(s, oh, ow0, mj, use, out, x, wq, bq, y + q * L);
    }
  }
}

void depthwise_backward_input_plane(const Conv2dShape& s, int64_t m, const float* dy,
                                    const float* w, float* dx) {
  const int64_t OW = s.OW();
  __m256i mj[kDepthwiseMaxKW];
  bool use[kDepthwiseMaxKW];
  for (int64_t c0 = 0; c0 < s.W; c0 += V) {
    const __m256i out = range_mask(c0, 0, s.W);
    for (int64_t j = 0; j < s.KW; ++j) {  // dy column c + PW - j*DW must lie in [0, OW)
      const int64_t off = s.PW - j * s.DW;
      mj[j] = _mm256_and_si256(range_mask(c0, -off, OW - off), out);
      use[j] = any(mj[j]);
    }
    int64_t h = 0;
    for (; h + kRows <= s.H; h += kRows)
      backward_input_rows<kRows>(s, m, h, c0, mj, use, out, dy, w, dx);
    for (; h < s.H; ++h) backward_input_rows<1>(s, m, h, c0, mj, use, out, dy, w, dx);
  }
}

namespace {

// dw_q[i, j] += sum over the plane of dy_q * shifted x, for Q output planes of one input plane:
// each loaded x vector feeds Q independent accumulators. Q == 1 (no channel multiplier) keeps
// four partial sums over the rows instead, to break the dependency chain.
template <int Q>
void weight_taps(const Conv2dShape& s, const float* x, const float* dy, float* dw) {
  const int64_t OH = s.OH(), OW = s.OW(), L = OH * OW, KK = s.KH * s.KW;
  for (int64_t i = 0; i < s.KH; ++i) {
    // The output rows whose tap i reads a row of x: 0 <= oh*SH - PH + i*DH < H.
    const int64_t a = s.PH - i * s.DH, b = s.H + s.PH - i * s.DH;
    const int64_t lo = a <= 0 ? 0 : (a + s.SH - 1) / s.SH;
    const int64_t hi_raw = b <= 0 ? 0 : (b + s.SH - 1) / s.SH;
    const int64_t hi = hi_raw < OH ? hi_raw : OH;
    const int64_t xstep = s.SH * s.W;
    for (int64_t j = 0; j < s.KW; ++j) {
      const int64_t off = j * s.DW - s.PW;
      __m256 acc[Q > 1 ? Q : 4];
      for (int q = 0; q < (Q > 1 ? Q : 4); ++q) acc[q] = _mm256_setzero_ps();
      for (int64_t ow0 = 0; ow0 < OW; ow0 += V) {
        const __m256i mk =
            _mm256_and_si256(range_mask(ow0, -off, s.W - off), range_mask(ow0, 0, OW));
        if (!any(mk)) continue;
        const float* xs = x + (i * s.DH - s.PH) * s.W + ow0 + off;  // row oh*SH of this
        const float* d = dy + ow0;
        if (Q > 1) {
          for (int64_t oh = lo; oh < hi; ++oh) {
            const __m256 xv = _mm256_maskload_ps(xs + oh * xstep, mk);
            for (int q = 0; q < Q; ++q)
              acc[q] = _mm256_fmadd_ps(_mm256_maskload_ps(d + q * L + oh * OW, mk), xv, acc[q]);
          }
        } else {
          int64_t oh = lo;
          for (; oh + 4 <= hi; oh += 4)
            for (int r = 0; r < 4; ++r)
              acc[r] = _mm256_fmadd_ps(_mm256_maskload_ps(d + (oh + r) * OW, mk),
                                       _mm256_maskload_ps(xs + (oh + r) * xstep, mk), acc[r]);
          for (; oh < hi; ++oh)
            acc[0] = _mm256_fmadd_ps(_mm256_maskload_ps(d + oh * OW, mk),
                                     _mm256_maskload_ps(xs + oh * xstep, mk), acc[0]);
        }
      }
      if (Q > 1) {
        for (int q = 0; q < Q; ++q) dw[q * KK + i * s.KW + j] += reduce_add(acc[q]);
      } else {
        const __m256 sum =
            _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
        dw[i * s.KW + j] += reduce_add(sum);
      }
    }
  }
}

}  // namespace

void depthwise_backward_weight_planes(const Conv2dShape& s, int64_t m, const float* x,
                                      const float* dy, float* dw) {
  const int64_t L = s.OH() * s.OW(), KK = s.KH * s.KW;
  int64_t q = 0;
  for (; q + 4 <= m; q += 4) weight_taps<4>(s, x, dy + q * L, dw + q * KK);
  for (; q < m; ++q) weight_taps<1>(s, x, dy + q * L, dw + q * KK);
}

// Max pooling, 8 outputs per vector: the AVX-512 file's loop (read its comment); for stride 2
// the even lanes of 16 columns come from one shuffle and one cross-lane permute.
void max_pool_plane(const Pool2dShape& s, const float* x, float* y, int32_t* argmax) {
  const int64_t OH = s.OH(), OW = s.OW(), SW = s.SW;
  const __m256i lane_sw = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                             _mm256_set1_epi32(static_cast<int32_t>(SW)));
  __m256i mlo[kDepthwiseMaxKW], mhi[kDepthwiseMaxKW];  // load masks per tap column j
  for (int64_t ow0 = 0; ow0 < OW; ow0 += V) {
    const __m256i out = range_mask(ow0, 0, OW);
    for (int64_t j = 0; j < s.KW; ++j) {
      const int64_t c = SW * ow0 + j;  // the column of lane 0
      mlo[j] = range_mask(c, 0, s.W);
      mhi[j] = range_mask(c + V, 0, s.W);
    }
    const __m256i col0 =
        _mm256_add_epi32(lane_sw, _mm256_set1_epi32(static_cast<int32_t>(SW * ow0)));
    for (int64_t oh = 0; oh < OH; ++oh) {
      __m256 v = _mm256_setzero_ps();
      __m256i idx = _mm256_setzero_si256();
      for (int64_t i = 0; i < s.KH; ++i) {
        const int64_t row = (oh * s.SH + i) * s.W;
        const float* xr = x + row + SW * ow0;
        const __m256i rowv = _mm256_add_epi32(col0, _mm256_set1_epi32(static_cast<int32_t>(row)));
        for (int64_t j = 0; j < s.KW; ++j) {
          __m256 u;
          if (SW == 1) {
            u = _mm256_maskload_ps(xr + j, mlo[j]);
          } else {
            const __m256 lo = _mm256_maskload_ps(xr + j, mlo[j]);
            const __m256 hi = _mm256_maskload_ps(xr + j + V, mhi[j]);
            const __m256 ev = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
            u = _mm256_castpd_ps(
                _mm256_permute4x64_pd(_mm256_castps_pd(ev), _MM_SHUFFLE(3, 1, 2, 0)));
          }
          const __m256i cand = _mm256_add_epi32(rowv, _mm256_set1_epi32(static_cast<int32_t>(j)));
          // take = !(u <= v) && !isnan(v): u > v, or u NaN while v is not.
          const __m256 take = i == 0 && j == 0
                                  ? _mm256_castsi256_ps(_mm256_set1_epi32(-1))
                                  : _mm256_and_ps(_mm256_cmp_ps(u, v, _CMP_NLE_UQ),
                                                  _mm256_cmp_ps(v, v, _CMP_ORD_Q));
          v = _mm256_blendv_ps(v, u, take);
          idx = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(idx),
                                                     _mm256_castsi256_ps(cand), take));
        }
      }
      _mm256_maskstore_ps(y + oh * OW + ow0, out, v);
      if (argmax) _mm256_maskstore_epi32(argmax + oh * OW + ow0, out, idx);
    }
  }
}

// 8 x 8 blocks in registers: unpacklo/hi_ps interleave row pairs, shuffle_ps makes 4 x 4 blocks
// inside each 128-bit lane, permute2f128 swaps the off-diagonal lanes. Edges one by one.
void transpose(int64_t rows, int64_t cols, const float* src, int64_t lds, float* dst,
               int64_t ldd) {
  const int64_t rb = rows / V * V, cb = cols / V * V;
  for (int64_t i0 = 0; i0 < rb; i0 += V)
    for (int64_t j0 = 0; j0 < cb; j0 += V) {
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
