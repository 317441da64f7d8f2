// AVX2 + FMA inner loops of the tiled attention (compiled with -mavx2 -mfma; reached only through
// kernels::isa()): the same block product and softmax exp as attention_avx512.cpp with 8-lane
// vectors. A tile is up to 6 rows x 2 vectors (12 accumulators + 2 B vectors + 1 broadcast of
// the 16 ymm registers, the shape of BLIS's Haswell sgemm kernel); tails use vmaskmov.
#include <cstdint>

#include "kernels/attention.h"
#include "kernels/simd_avx2.h"

namespace bstack::kernels::detail {
namespace {

__m256i tail_mask(int64_t n) {  // lanes < n all ones (n in 0..8)
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), idx);
}

template <int R, int NV>
void tile(int64_t k, float alpha, const float* a, int64_t rsa, int64_t csa, const float* b,
          int64_t ldb, bool accumulate, float* c, int64_t ldc, __m256i last) {
  __m256 acc[R][NV];
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm256_setzero_ps();
  for (int64_t p = 0; p < k; ++p) {
    const float* bp = b + p * ldb;
    __m256 bv[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV - 1; ++v) bv[v] = _mm256_loadu_ps(bp + 8 * v);
    bv[NV - 1] = _mm256_maskload_ps(bp + 8 * (NV - 1), last);
    const float* ap = a + p * csa;
#pragma GCC unroll 8
    for (int i = 0; i < R; ++i) {
      const __m256 ai = _mm256_broadcast_ss(ap + i * rsa);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm256_fmadd_ps(ai, bv[v], acc[i][v]);
    }
  }
  const __m256 va = _mm256_set1_ps(alpha);
  const __m256i all = _mm256_set1_epi32(-1);
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i) {
    float* ci = c + i * ldc;
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) {
      const __m256i mk = v == NV - 1 ? last : all;
      __m256 x = _mm256_mul_ps(acc[i][v], va);
      if (accumulate) x = _mm256_add_ps(x, _mm256_maskload_ps(ci + 8 * v, mk));
      _mm256_maskstore_ps(ci + 8 * v, mk, x);
    }
  }
}

using TileFn = void (*)(int64_t, float, const float*, int64_t, int64_t, const float*, int64_t,
                        bool, float*, int64_t, __m256i);

template <int R>
TileFn tile_for(int nv) {
  return nv == 1 ? tile<R, 1> : tile<R, 2>;
}

TileFn tile_for(int rows, int nv) {
  switch (rows) {
    case 1: return tile_for<1>(nv);
    case 2: return tile_for<2>(nv);
    case 3: return tile_for<3>(nv);
    case 4: return tile_for<4>(nv);
    case 5: return tile_for<5>(nv);
    default: return tile_for<6>(nv);
  }
}

void gemm(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t rsa,
          int64_t csa, const float* b, int64_t ldb, bool accumulate, float* c, int64_t ldc) {
  for (int64_t j = 0; j < n; j += 16) {
    const int64_t cols = n - j < 16 ? n - j : 16;
    const int nv = cols > 8 ? 2 : 1;
    const __m256i last = tail_mask(cols - 8 * (nv - 1));
    for (int64_t i = 0; i < m; i += 6) {
      const int rows = static_cast<int>(m - i < 6 ? m - i : 6);
      tile_for(rows, nv)(k, alpha, a + i * rsa, rsa, csa, b + j, ldb, accumulate, c + i * ldc + j,
                         ldc, last);
    }
  }
}

float max(const float* x, int64_t n) {
  __m256 m = _mm256_set1_ps(-__builtin_inff());
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) m = _mm256_max_ps(m, _mm256_loadu_ps(x + j));
  float r = F32::hmax(m);
  for (; j < n; ++j) r = x[j] > r ? x[j] : r;
  return r;
}

float exp_sum(float* x, int64_t n, float shift) {
  const __m256 vs = _mm256_set1_ps(shift);
  __m256 s = _mm256_setzero_ps();
  for (int64_t j = 0; j < n; j += 8) {
    const __m256i mk = tail_mask(n - j < 8 ? n - j : 8);
    const __m256 x_j = _mm256_maskload_ps(x + j, mk);
    const __m256 e =
        _mm256_and_ps(vexp_flush<F32>(_mm256_sub_ps(x_j, vs)), _mm256_castsi256_ps(mk));
    _mm256_maskstore_ps(x + j, mk, e);
    s = _mm256_add_ps(s, e);
  }
  return F32::hsum(s);
}

void ds(float* dp, const float* p, int64_t n, float di) {
  const __m256 vd = _mm256_set1_ps(di);
  for (int64_t j = 0; j < n; j += 8) {
    const __m256i mk = tail_mask(n - j < 8 ? n - j : 8);
    const __m256 x = _mm256_mul_ps(_mm256_maskload_ps(p + j, mk),
                                   _mm256_sub_ps(_mm256_maskload_ps(dp + j, mk), vd));
    _mm256_maskstore_ps(dp + j, mk, x);
  }
}

const AttnOps<float> kOps = {gemm, max, exp_sum, ds};

}  // namespace

const AttnOps<float>* attn_ops_avx2_f32() { return &kOps; }

}  // namespace bstack::kernels::detail
