// AVX2+FMA float row kernels (contracts in kernels/rowops.h): 8 lanes, the row tail read and
// written with vmaskmovps (masked-off lanes are never touched, so no read past the row) and
// neutralised before it enters a reduction. The same algorithms as rowops_avx512.cpp, line for
// line where the instruction sets allow. Compiled with -mavx2 -mfma; every helper has internal
// linkage (see the note in kernels/CMakeLists.txt).
#include "kernels/rowops.h"

#include <immintrin.h>

#include <cmath>
#include <limits>

namespace bstack::kernels::avx2 {
namespace {

constexpr int64_t W = 8;

struct Mask {
  bool full;
  __m256i m;  // lanes to touch: all ones; only read when !full
};

Mask full_mask() { return {true, _mm256_set1_epi32(-1)}; }
Mask tail_mask(int64_t r) {
  alignas(32) static const int32_t table[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                                0,  0,  0,  0,  0,  0,  0,  0};
  return {false, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(table + 8 - r))};
}

__m256 load(const float* p, const Mask& k) {
  return k.full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, k.m);
}
void store(float* p, __m256 v, const Mask& k) {
  if (k.full) {
    _mm256_storeu_ps(p, v);
  } else {
    _mm256_maskstore_ps(p, k.m, v);
  }
}
// v on the lanes in k, 0 elsewhere (so a sum ignores them).
__m256 keep(__m256 v, const Mask& k) {
  return k.full ? v : _mm256_and_ps(v, _mm256_castsi256_ps(k.m));
}

template <class F>
void blocks(int64_t n, F&& f) {
  int64_t j = 0;
  const Mask full = full_mask();
  for (; j + W <= n; j += W) f(j, full);
  if (j < n) f(j, tail_mask(n - j));
}

float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
float hmax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// exp, Cephes expf (rowops.h): as exp16 in rowops_avx512.cpp, but AVX2 has no vscalefps, so
// 2^n is applied as two normal powers 2^(n/2) and 2^(n - n/2) built in the exponent field:
// n in [-150, 128] after the clamp, each half in [-75, 64], and the second multiply rounds once
// into the subnormal range or overflows to inf as it should.
__m256 exp8(__m256 x) {
  x = _mm256_max_ps(_mm256_set1_ps(-104.0f), _mm256_min_ps(_mm256_set1_ps(89.0f), x));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i ni = _mm256_cvtps_epi32(n);
  const __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
  const __m256i bias = _mm256_set1_epi32(127);
  const __m256 p1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
  const __m256 p2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
  return _mm256_mul_ps(_mm256_mul_ps(p, p1), p2);
}

float row_max(const float* x, int64_t n) {
  const __m256 ninf = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  __m256 m = ninf;
  blocks(n, [&](int64_t j, const Mask& k) {
    const __m256 v = load(x + j, k);
    m = _mm256_max_ps(m, k.full ? v : _mm256_blendv_ps(ninf, v, _mm256_castsi256_ps(k.m)));
  });
  return hmax(m);
}

float exp_sum(const float* x, int64_t n, float m, float* e) {
  const __m256 vm = _mm256_set1_ps(m);
  __m256 s = _mm256_setzero_ps();
  blocks(n, [&](int64_t j, const Mask& k) {
    const __m256 v = exp8(_mm256_sub_ps(load(x + j, k), vm));
    s = _mm256_add_ps(s, keep(v, k));
    if (e) store(e + j, v, k);
  });
  return hsum(s);
}

void add_const(const float* x, int64_t n, float c, float* y) {
  const __m256 vc = _mm256_set1_ps(c);
  blocks(n, [&](int64_t j, const Mask& k) { store(y + j, _mm256_add_ps(load(x + j, k), vc), k); });
}

}  // namespace

void exp_run(int64_t n, const float* x, float* y) {
  blocks(n, [&](int64_t j, const Mask& k) { store(y + j, exp8(load(x + j, k)), k); });
}

// tanh, Cephes tanhf: x + x^3 P(x^2) for |x| < 0.625, else 1 - 2 / (exp(2|x|) + 1) with x's
// sign (exp overflows to inf for large |x|, giving exactly 1; NaN stays NaN).
void tanh_run(int64_t n, const float* x, float* y) {
  const __m256 one = _mm256_set1_ps(1.0f), two = _mm256_set1_ps(2.0f);
  const __m256 sign = _mm256_set1_ps(-0.0f);
  blocks(n, [&](int64_t j, const Mask& k) {
    const __m256 v = load(x + j, k);
    const __m256 a = _mm256_andnot_ps(sign, v);
    const __m256 big =
        _mm256_sub_ps(one, _mm256_div_ps(two, _mm256_add_ps(exp8(_mm256_add_ps(a, a)), one)));
    const __m256 s = _mm256_mul_ps(v, v);
    __m256 p = _mm256_set1_ps(-5.70498872745e-3f);
    p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(2.06390887954e-2f));
    p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(-5.37397155531e-2f));
    p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(1.33314422036e-1f));
    p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(-3.33332819422e-1f));
    const __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, s), v, v);
    const __m256 is_small = _mm256_cmp_ps(a, _mm256_set1_ps(0.625f), _CMP_LT_OQ);
    const __m256 r = _mm256_or_ps(big, _mm256_and_ps(v, sign));
    store(y + j, _mm256_blendv_ps(r, small, is_small), k);
  });
}

// sigmoid = 1 / (1 + exp(-x)): exp(-x) overflows to inf for x < -89, giving 0.
void sigmoid_run(int64_t n, const float* x, float* y) {
  const __m256 one = _mm256_set1_ps(1.0f), sign = _mm256_set1_ps(-0.0f);
  blocks(n, [&](int64_t j, const Mask& k) {
    const __m256 e = exp8(_mm256_xor_ps(load(x + j, k), sign));
    store(y + j, _mm256_div_ps(one, _mm256_add_ps(one, e)), k);
  });
}

void softmax_rows(int64_t rows, int64_t n, const float* x, float* y, bool log_form) {
  for (int64_t i = 0; i < rows; ++i) {
    const float* xr = x + i * n;
    float* yr = y + i * n;
    const float m = row_max(xr, n);
    if (log_form) {
      const float s = exp_sum(xr, n, m, nullptr);
      add_const(xr, n, -(m + std::log(s)), yr);
    } else {
      const float s = exp_sum(xr, n, m, yr);
      const __m256 inv = _mm256_set1_ps(1.0f / s);
      blocks(n, [&](int64_t j, const Mask& k) {
        store(yr + j, _mm256_mul_ps(load(yr + j, k), inv), k);
      });
    }
  }
}

void softmax_backward_rows(int64_t rows, int64_t n, const float* y, const float* dy, float* dx,
                           bool log_form) {
  for (int64_t i = 0; i < rows; ++i) {
    const float* yr = y + i * n;
    const float* gr = dy + i * n;
    float* dr = dx + i * n;
    __m256 acc = _mm256_setzero_ps();
    if (log_form) {  // dx = dy - exp(y) * sum(dy)
      blocks(n, [&](int64_t j, const Mask& k) { acc = _mm256_add_ps(acc, load(gr + j, k)); });
      const __m256 s = _mm256_set1_ps(hsum(acc));
      blocks(n, [&](int64_t j, const Mask& k) {
        store(dr + j, _mm256_fnmadd_ps(exp8(load(yr + j, k)), s, load(gr + j, k)), k);
      });
    } else {  // dx = y * (dy - sum(dy * y))
      blocks(n, [&](int64_t j, const Mask& k) {
        acc = _mm256_fmadd_ps(load(gr + j, k), load(yr + j, k), acc);
      });
      const __m256 dot = _mm256_set1_ps(hsum(acc));
      blocks(n, [&](int64_t j, const Mask& k) {
        store(dr + j, _mm256_mul_ps(load(yr + j, k), _mm256_sub_ps(load(gr + j, k), dot)), k);
      });
    }
  }
}

void cross_entropy_forward_rows(int64_t rows, int64_t n, const float* x, const int64_t* target,
                                float* loss, float* lse) {
  for (int64_t i = 0; i < rows; ++i) {
    const float* xr = x + i * n;
    const float m = row_max(xr, n);
    const float l = m + std::log(exp_sum(xr, n, m, nullptr));
    lse[i] = l;
    loss[i] = l - xr[target[i]];
  }
}

void cross_entropy_backward_rows(int64_t rows, int64_t n, const float* x, const int64_t* target,
                                 const float* lse, float scale, float* dx) {
  const __m256 vs = _mm256_set1_ps(scale);
  for (int64_t i = 0; i < rows; ++i) {
    const float* xr = x + i * n;
    float* dr = dx + i * n;
    const __m256 vl = _mm256_set1_ps(lse[i]);
    blocks(n, [&](int64_t j, const Mask& k) {
      store(dr + j, _mm256_mul_ps(exp8(_mm256_sub_ps(load(xr + j, k), vl)), vs), k);
    });
    dr[target[i]] -= scale;
  }
}

void layernorm_forward_rows(int64_t rows, int64_t n, const float* x, const float* gamma,
                            const float* beta, float eps, float* y, float* mean, float* rstd) {
  const float inv_n = 1.0f / static_cast<float>(n);
  for (int64_t i = 0; i < rows; ++i) {
    const float* xr = x + i * n;
    float* yr = y + i * n;
    __m256 acc = _mm256_setzero_ps();
    blocks(n, [&](int64_t j, const Mask& k) { acc = _mm256_add_ps(acc, load(xr + j, k)); });
    const float mu = hsum(acc) * inv_n;
    const __m256 vmu = _mm256_set1_ps(mu);
    acc = _mm256_setzero_ps();
    blocks(n, [&](int64_t j, const Mask& k) {
      const __m256 d = keep(_mm256_sub_ps(load(xr + j, k), vmu), k);
      acc = _mm256_fmadd_ps(d, d, acc);
    });
    const float rs = 1.0f / std::sqrt(hsum(acc) * inv_n + eps);
    mean[i] = mu;
    rstd[i] = rs;
    const __m256 vr = _mm256_set1_ps(rs);
    blocks(n, [&](int64_t j, const Mask& k) {
      const __m256 xh = _mm256_mul_ps(_mm256_sub_ps(load(xr + j, k), vmu), vr);
      store(yr + j, _mm256_fmadd_ps(xh, load(gamma + j, k), load(beta + j, k)), k);
    });
  }
}

void layernorm_backward_rows(int64_t rows, int64_t n, const float* x, const float* gamma,
                             const float* mean, const float* rstd, const float* dy, float* dx,
                             float* dgamma_acc, float* dbeta_acc) {
  const float inv_n = 1.0f / static_cast<float>(n);
  for (int64_t i = 0; i < rows; ++i) {
    const float* xr = x + i * n;
    const float* gr = dy + i * n;
    float* dr = dx + i * n;
    const __m256 vmu = _mm256_set1_ps(mean[i]), vr = _mm256_set1_ps(rstd[i]);
    __m256 s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps();
    blocks(n, [&](int64_t j, const Mask& k) {
      const __m256 xh = _mm256_mul_ps(_mm256_sub_ps(load(xr + j, k), vmu), vr);
      const __m256 d = load(gr + j, k);  // 0 on masked-off lanes, so they add nothing
      const __m256 g = _mm256_mul_ps(d, load(gamma + j, k));
      s1 = _mm256_add_ps(s1, g);
      s2 = _mm256_fmadd_ps(g, xh, s2);
      store(dgamma_acc + j, _mm256_fmadd_ps(d, xh, load(dgamma_acc + j, k)), k);
      store(dbeta_acc + j, _mm256_add_ps(d, load(dbeta_acc + j, k)), k);
    });
    const __m256 m1 = _mm256_set1_ps(hsum(s1) * inv_n);
    const __m256 m2 = _mm256_set1_ps(hsum(s2) * inv_n);
    blocks(n, [&](int64_t j, const Mask& k) {
      const __m256 xh = _mm256_mul_ps(_mm256_sub_ps(load(xr + j, k), vmu), vr);
      const __m256 g = _mm256_mul_ps(load(gr + j, k), load(gamma + j, k));
      const __m256 t = _mm256_fnmadd_ps(xh, m2, _mm256_sub_ps(g, m1));
      store(dr + j, _mm256_mul_ps(t, vr), k);
    });
  }
}

namespace {
constexpr float kGeluC = 0.7978845608028654f;  // sqrt(2 / pi)
constexpr float kGeluA = 0.044715f;

__m256 gelu_sigmoid(__m256 x, __m256 x2) {
  const __m256 u = _mm256_mul_ps(_mm256_mul_ps(x, _mm256_set1_ps(-2.0f * kGeluC)),
                                 _mm256_fmadd_ps(x2, _mm256_set1_ps(kGeluA), _mm256_set1_ps(1.0f)));
  return _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(_mm256_set1_ps(1.0f), exp8(u)));
}
}  // namespace

void gelu_forward_run(int64_t n, const float* x, float* y) {
  blocks(n, [&](int64_t j, const Mask& k) {
    const __m256 v = load(x + j, k);
    store(y + j, _mm256_mul_ps(v, gelu_sigmoid(v, _mm256_mul_ps(v, v))), k);
  });
}

void gelu_backward_run(int64_t n, const float* x, const float* dy, float* dx) {
  const __m256 one = _mm256_set1_ps(1.0f);
  blocks(n, [&](int64_t j, const Mask& k) {
    const __m256 v = load(x + j, k);
    const __m256 v2 = _mm256_mul_ps(v, v);
    const __m256 s = gelu_sigmoid(v, v2);
    const __m256 du2 =
        _mm256_fmadd_ps(v2, _mm256_set1_ps(6.0f * kGeluC * kGeluA), _mm256_set1_ps(2.0f * kGeluC));
    const __m256 t = _mm256_mul_ps(_mm256_mul_ps(v, s), _mm256_sub_ps(one, s));
    store(dx + j, _mm256_mul_ps(load(dy + j, k), _mm256_fmadd_ps(t, du2, s)), k);
  });
}

}  // namespace bstack::kernels::avx2
