// AVX-512 inner loops of the tiled attention (compiled with -mavx512f...; reached only through
// kernels::isa()): the block product, vectorised over its output row (the key block for
// S = Q K^T and dP = dO V^T, D for P V, dS K, P^T dO and dS^T Q), and the exp of the online
// softmax (vexp_flush, simd_math.inc). Tails (odd D, partial key blocks) use masked loads and
// stores, so any size runs the same code without reading past a row.
#include <cstdint>

#include "kernels/attention.h"
#include "kernels/simd_avx512.h"

namespace bstack::kernels::detail {
namespace {

__mmask16 tail_mask(int64_t n) {  // the first n lanes (n in 1..16)
  return static_cast<__mmask16>((1u << n) - 1u);
}

// One tile of C = alpha A B (+ C): R rows x NV vectors of 16 columns, the last vector masked.
// Per step p of the inner dimension: NV loads of B's row p, R broadcasts of A, R*NV FMAs into
// accumulators that stay in registers (up to 16 of the 32 zmm).
template <int R, int NV>
void tile(int64_t k, float alpha, const float* a, int64_t rsa, int64_t csa, const float* b,
          int64_t ldb, bool accumulate, float* c, int64_t ldc, __mmask16 last) {
  __m512 acc[R][NV];
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_ps();
  for (int64_t p = 0; p < k; ++p) {
    const float* bp = b + p * ldb;
    __m512 bv[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV - 1; ++v) bv[v] = _mm512_loadu_ps(bp + 16 * v);
    bv[NV - 1] = _mm512_maskz_loadu_ps(last, bp + 16 * (NV - 1));
    const float* ap = a + p * csa;
#pragma GCC unroll 8
    for (int i = 0; i < R; ++i) {
      const __m512 ai = _mm512_set1_ps(ap[i * rsa]);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
    }
  }
  const __m512 va = _mm512_set1_ps(alpha);
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i) {
    float* ci = c + i * ldc;
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) {
      const __mmask16 mk = v == NV - 1 ? last : static_cast<__mmask16>(0xFFFF);
      __m512 x = _mm512_mul_ps(acc[i][v], va);
      if (accumulate) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(mk, ci + 16 * v));
      _mm512_mask_storeu_ps(ci + 16 * v, mk, x);
    }
  }
}

using TileFn = void (*)(int64_t, float, const float*, int64_t, int64_t, const float*, int64_t,
                        bool, float*, int64_t, __mmask16);

template <int R>
TileFn tile_for(int nv) {
  switch (nv) {
    case 1: return tile<R, 1>;
    case 2: return tile<R, 2>;
    case 3: return tile<R, 3>;
    default: return tile<R, 4>;
  }
}

TileFn tile_for(int rows, int nv) {
  switch (rows) {
    case 1: return tile_for<1>(nv);
    case 2: return tile_for<2>(nv);
    case 3: return tile_for<3>(nv);
    default: return tile_for<4>(nv);
  }
}

// Column panels of 64 outside, row strips of 4 inside: B's k x 64 panel stays in L1 while every
// strip of A passes over it.
void gemm(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t rsa,
          int64_t csa, const float* b, int64_t ldb, bool accumulate, float* c, int64_t ldc) {
  for (int64_t j = 0; j < n; j += 64) {
    const int64_t cols = n - j < 64 ? n - j : 64;
    const int nv = static_cast<int>((cols + 15) / 16);
    const __mmask16 last = tail_mask(cols - 16 * (nv - 1));
    for (int64_t i = 0; i < m; i += 4) {
      const int rows = static_cast<int>(m - i < 4 ? m - i : 4);
      tile_for(rows, nv)(k, alpha, a + i * rsa, rsa, csa, b + j, ldb, accumulate, c + i * ldc + j,
                         ldc, last);
    }
  }
}

float max(const float* x, int64_t n) {
  __m512 m = _mm512_set1_ps(-__builtin_inff());
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) m = _mm512_max_ps(m, _mm512_loadu_ps(x + j));
  if (j < n) {
    const __mmask16 mk = tail_mask(n - j);
    m = _mm512_mask_max_ps(m, mk, m, _mm512_maskz_loadu_ps(mk, x + j));
  }
  return _mm512_reduce_max_ps(m);
}

float exp_sum(float* x, int64_t n, float shift) {
  const __m512 vs = _mm512_set1_ps(shift);
  __m512 s = _mm512_setzero_ps();
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    const __m512 e = vexp_flush<F32>(_mm512_sub_ps(_mm512_loadu_ps(x + j), vs));
    _mm512_storeu_ps(x + j, e);
    s = _mm512_add_ps(s, e);
  }
  if (j < n) {
    const __mmask16 mk = tail_mask(n - j);
    const __m512 x_j = _mm512_maskz_loadu_ps(mk, x + j);
    const __m512 e = _mm512_maskz_mov_ps(mk, vexp_flush<F32>(_mm512_sub_ps(x_j, vs)));
    _mm512_mask_storeu_ps(x + j, mk, e);
    s = _mm512_add_ps(s, e);
  }
  return _mm512_reduce_add_ps(s);
}

void ds(float* dp, const float* p, int64_t n, float di) {
  const __m512 vd = _mm512_set1_ps(di);
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 mk = n - j >= 16 ? static_cast<__mmask16>(0xFFFF) : tail_mask(n - j);
    const __m512 x = _mm512_mul_ps(_mm512_maskz_loadu_ps(mk, p + j),
                                   _mm512_sub_ps(_mm512_maskz_loadu_ps(mk, dp + j), vd));
    _mm512_mask_storeu_ps(dp + j, mk, x);
  }
}

const AttnOps<float> kOps = {gemm, max, exp_sum, ds};

}  // namespace

const AttnOps<float>* attn_ops_avx512_f32() { return &kOps; }

}  // namespace bstack::kernels::detail
