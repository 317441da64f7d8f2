// AVX-512 float depthwise plane kernels (contracts at the end of kernels/conv.h), stride 1 along
// the width. 16 output columns per vector; the taps that read padding are masked-off lanes of
// one masked load (which never faults on those lanes), so borders need no scalar loops and no
// padded copy of the input. The masks depend only on the column block and the tap column j, so
// they are computed once per block, outside the row loops. Accumulators stay in registers across
// all KH*KW taps of an output vector: one store per 16 outputs, where the portable loop
// read-modify-writes the output row once per tap.
// Compiled with -mavx512f/bw/vl/dq -mfma; every helper has internal linkage (see the note in
// kernels/CMakeLists.txt) and nothing here instantiates a std template.
#include "kernels/conv.h"

// GCC 12 warns that the undefined source of some AVX-512 intrinsics is uninitialised (GCC bug
// 105593, fixed in GCC 13); the value is never used.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

namespace bstack::kernels::avx512 {
namespace {

constexpr int64_t V = 16;

int64_t clamp_lane(int64_t v) { return v < 0 ? 0 : v > V ? V : v; }

// Lanes l of the block starting at `start` with lo <= start + l < hi.
__mmask16 range_mask(int64_t start, int64_t lo, int64_t hi) {
  const int64_t a = clamp_lane(lo - start), b = clamp_lane(hi - start);
  if (b <= a) return 0;
  return static_cast<__mmask16>(((1u << b) - 1u) & ~((1u << a) - 1u));
}

// R output rows [oh0, oh0 + R) of one 16-column block in Q output planes that share the input
// plane (a channel multiplier): Q*R independent accumulators, so the KH*KW fused multiply-adds
// of each are not one dependent chain (latency 4 cycles), and each loaded input vector feeds Q
// of them.
template <int R, int Q>
void forward_rows(const Conv2dShape& s, int64_t oh0, int64_t ow0, const __mmask16* mj,
                  __mmask16 out, const float* x, const float* w, const float* b, float* y) {
  const int64_t KK = s.KH * s.KW, OW = s.OW(), L = s.OH() * OW;
  __m512 acc[Q][R];
  for (int q = 0; q < Q; ++q)
    for (int r = 0; r < R; ++r) acc[q][r] = _mm512_set1_ps(b ? b[q] : 0.0f);
  for (int64_t i = 0; i < s.KH; ++i) {
    const float* xr[R];
    bool ok[R];
    for (int r = 0; r < R; ++r) {
      const int64_t h = (oh0 + r) * s.SH - s.PH + i * s.DH;
      ok[r] = h >= 0 && h < s.H;
      xr[r] = ok[r] ? x + h * s.W + ow0 - s.PW : x;
    }
    for (int64_t j = 0; j < s.KW; ++j) {
      if (!mj[j]) continue;
      const int64_t dj = j * s.DW;
      __m512 xv[R];
      for (int r = 0; r < R; ++r)
        if (ok[r]) xv[r] = _mm512_maskz_loadu_ps(mj[j], xr[r] + dj);
      for (int q = 0; q < Q; ++q) {
        const __m512 wv = _mm512_set1_ps(w[q * KK + i * s.KW + j]);
        for (int r = 0; r < R; ++r)
          if (ok[r]) acc[q][r] = _mm512_fmadd_ps(wv, xv[r], acc[q][r]);
      }
    }
  }
  for (int q = 0; q < Q; ++q)
    for (int r = 0; r < R; ++r)
      _mm512_mask_storeu_ps(y + q * L + (oh0 + r) * OW + ow0, out, acc[q][r]);
}

// dx rows [h0, h0 + R) of one block, gathered from the m dy planes.
template <int R>
void backward_input_rows(const Conv2dShape& s, int64_t m, int64_t h0, int64_t c0,
                         const __mmask16* mj, __mmask16 out, const float* dy, const float* w,
                         float* dx) {
  const int64_t OH = s.OH(), OW = s.OW(), L = OH * OW, KK = s.KH * s.KW;
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
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
        if (!mj[j]) continue;
        const __m512 wv = _mm512_set1_ps(wr[j]);
        const int64_t dj = j * s.DW;
        for (int r = 0; r < R; ++r)
          if (row[r] >= 0)
            acc[r] = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(mj[j], dyq + row[r] - dj), acc[r]);
      }
    }
  }
  for (int r = 0; r < R; ++r) _mm512_mask_storeu_ps(dx + (h0 + r) * s.W + c0, out, acc[r]);
}

constexpr int kRows = 4;    // output rows per block
constexpr int kPlanes = 4;  // output planes per block (channel multiplier)

}  // namespace

void depthwise_forward_planes(const Conv2dShape& s, int64_t m, const float* x, const float* w,
                              const float* b, float* y) {
  const int64_t OH = s.OH(), OW = s.OW(), L = OH * OW, KK = s.KH * s.KW;
  __mmask16 mj[kDepthwiseMaxKW];
  for (int64_t ow0 = 0; ow0 < OW; ow0 += V) {
    const __mmask16 out = range_mask(ow0, 0, OW);
    for (int64_t j = 0; j < s.KW; ++j) {  // x column ow + j*DW - PW must lie in [0, W)
      const int64_t off = j * s.DW - s.PW;
      mj[j] = range_mask(ow0, -off, s.W - off) & out;
    }
    int64_t q = 0;
    for (; q + kPlanes <= m; q += kPlanes) {
      const float* wq = w + q * KK;
      const float* bq = b ? b + q : nullptr;
      int64_t oh = 0;
      for (; oh + kRows <= OH; oh += kRows)
        forward_rows<kRows, kPlanes>(s, oh, ow0, mj, out, x, wq, bq, y + q * L);
      for (; oh < OH; ++oh) forward_rows<1, kPlanes>(s, oh, ow0, mj, out, x, wq, bq, y + q * L);
    }
    for (; q < m; ++q) {
      const float* wq = w + q * KK;
      const float* bq = b ? b + q : nullptr;
      int64_t oh = 0;
      for (; oh + kRows <= OH; oh += kRows)
        forward_rows<kRows, 1>(s, oh, ow0, mj, out, x, wq, bq, y + q * L);
      for (; oh < OH; ++oh) forward_rows<1, 1>(s, oh, ow0, mj, out, x, wq, bq, y + q * L);
    }
  }
}

// dx[h, c] = sum over q, i, j of w_q[i, j] * dy_q[oh, ow] where oh*SH = h + PH - i*DH and
// ow = c + PW - j*DW: the gather form of the transposed stencil, so each dx vector is written once.
void depthwise_backward_input_plane(const Conv2dShape& s, int64_t m, const float* dy,
                                    const float* w, float* dx) {
  const int64_t OW = s.OW();
  __mmask16 mj[kDepthwiseMaxKW];
  for (int64_t c0 = 0; c0 < s.W; c0 += V) {
    const __mmask16 out = range_mask(c0, 0, s.W);
    for (int64_t j = 0; j < s.KW; ++j) {  // dy column c + PW - j*DW must lie in [0, OW)
      const int64_t off = s.PW - j * s.DW;
      mj[j] = range_mask(c0, -off, OW - off) & out;
    }
    int64_t h = 0;
    for (; h + kRows <= s.H; h += kRows)
      backward_input_rows<kRows>(s, m, h, c0, mj, out, dy, w, dx);
    for (; h < s.H; ++h) backward_input_rows<1>(s, m, h, c0, mj, out, dy, w, dx);
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
      __m512 acc[Q > 1 ? Q : 4];
      for (int q = 0; q < (Q > 1 ? Q : 4); ++q) acc[q] = _mm512_setzero_ps();
      for (int64_t ow0 = 0; ow0 < OW; ow0 += V) {
        const __mmask16 mk = range_mask(ow0, -off, s.W - off) & range_mask(ow0, 0, OW);
        if (!mk) continue;
        const float* xs = x + (i * s.DH - s.PH) * s.W + ow0 + off;  // row oh*SH of this
        const float* d = dy + ow0;
        if (Q > 1) {
          for (int64_t oh = lo; oh < hi; ++oh) {
            const __m512 xv = _mm512_maskz_loadu_ps(mk, xs + oh * xstep);
            for (int q = 0; q < Q; ++q)
              acc[q] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk, d + q * L + oh * OW), xv, acc[q]);
          }
        } else {
          int64_t oh = lo;
          for (; oh + 4 <= hi; oh += 4)
            for (int r = 0; r < 4; ++r)
              acc[r] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk, d + (oh + r) * OW),
                                       _mm512_maskz_loadu_ps(mk, xs + (oh + r) * xstep), acc[r]);
          for (; oh < hi; ++oh)
            acc[0] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk, d + oh * OW),
                                     _mm512_maskz_loadu_ps(mk, xs + oh * xstep), acc[0]);
        }
      }
      if (Q > 1) {
        for (int q = 0; q < Q; ++q) dw[q * KK + i * s.KW + j] += _mm512_reduce_add_ps(acc[q]);
      } else {
        const __m512 sum =
            _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
        dw[i * s.KW + j] += _mm512_reduce_add_ps(sum);
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

// Max pooling, 16 outputs per vector. Stride 1: tap j of the window is the row loaded at column
// ow0 + j. Stride 2: it is the even lanes of the 32 columns from 2*ow0 + j (two loads and one
// two-source permute). Taps are visited in the portable loop's order with its rule (a strictly
// greater value or a NaN over a non-NaN replaces the winner), so values and indices are identical.
void max_pool_plane(const Pool2dShape& s, const float* x, float* y, int32_t* argmax) {
  const int64_t OH = s.OH(), OW = s.OW(), SW = s.SW;
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i even = _mm512_slli_epi32(lane, 1);
  const __m512i lane_sw = _mm512_mullo_epi32(lane, _mm512_set1_epi32(static_cast<int32_t>(SW)));
  __mmask16 mlo[kDepthwiseMaxKW], mhi[kDepthwiseMaxKW];  // load masks per tap column j
  for (int64_t ow0 = 0; ow0 < OW; ow0 += V) {
    const __mmask16 out = range_mask(ow0, 0, OW);
    for (int64_t j = 0; j < s.KW; ++j) {
      const int64_t c = SW * ow0 + j;  // the column of lane 0
      mlo[j] = range_mask(c, 0, s.W);
      mhi[j] = range_mask(c + V, 0, s.W);
    }
    const __m512i col0 =
        _mm512_add_epi32(lane_sw, _mm512_set1_epi32(static_cast<int32_t>(SW * ow0)));
    for (int64_t oh = 0; oh < OH; ++oh) {
      __m512 v = _mm512_setzero_ps();
      __m512i idx = _mm512_setzero_si512();
      for (int64_t i = 0; i < s.KH; ++i) {
        const int64_t row = (oh * s.SH + i) * s.W;
        const float* xr = x + row + SW * ow0;
        const __m512i rowv = _mm512_add_epi32(col0, _mm512_set1_epi32(static_cast<int32_t>(row)));
        for (int64_t j = 0; j < s.KW; ++j) {
          __m512 u;
          if (SW == 1) {
            u = _mm512_maskz_loadu_ps(mlo[j], xr + j);
          } else {
            const __m512 lo = _mm512_maskz_loadu_ps(mlo[j], xr + j);
            const __m512 hi = _mm512_maskz_loadu_ps(mhi[j], xr + j + V);
            u = _mm512_permutex2var_ps(lo, even, hi);
          }
          const __m512i cand = _mm512_add_epi32(rowv, _mm512_set1_epi32(static_cast<int32_t>(j)));
          // take = !(u <= v) && !isnan(v): u > v, or u NaN while v is not.
          const __mmask16 take = i == 0 && j == 0 ? __mmask16(0xFFFF)
                                                  : _mm512_cmp_ps_mask(u, v, _CMP_NLE_UQ) &
                                                        _mm512_cmp_ps_mask(v, v, _CMP_ORD_Q);
          v = _mm512_mask_blend_ps(take, v, u);
          idx = _mm512_mask_blend_epi32(take, idx, cand);
        }
      }
      _mm512_mask_storeu_ps(y + oh * OW + ow0, out, v);
      if (argmax) _mm512_mask_storeu_epi32(argmax + oh * OW + ow0, out, idx);
    }
  }
}

// 16 x 16 blocks in registers: unpacklo/hi_ps interleave row pairs, unpacklo/hi_pd make 4 x 4
// blocks inside each 128-bit lane, two rounds of shuffle_f32x4 transpose the 4 x 4 grid of
// lanes. The edges (rows or columns beyond the last full block) are copied one by one.
void transpose(int64_t rows, int64_t cols, const float* src, int64_t lds, float* dst,
               int64_t ldd) {
  const int64_t rb = rows / V * V, cb = cols / V * V;
  for (int64_t i0 = 0; i0 < rb; i0 += V)
    for (int64_t j0 = 0; j0 < cb; j0 += V) {
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
