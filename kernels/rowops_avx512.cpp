// AVX-512 float row kernels (contracts in kernels/rowops.h): 16 lanes, the row tail handled by
// one masked load/store, so any row length and alignment needs no scalar clean-up loop.
// Reductions along a row accumulate in float lanes, then one horizontal reduce per row.
// Compiled with -mavx512f/bw/vl/dq -mfma; every helper below has internal linkage (see the note
// in kernels/CMakeLists.txt).
#include "kernels/rowops.h"

// GCC 12 warns that the undefined source of some AVX-512 intrinsics is uninitialised (GCC bug
// 105593, fixed in GCC 13); the value is never used.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cmath>
#include <limits>

namespace bstack::kernels::avx512 {
namespace {

constexpr int64_t W = 16;
constexpr __mmask16 kFull = 0xFFFF;

__mmask16 tail_mask(int64_t r) { return static_cast<__mmask16>((1u << r) - 1u); }

// Full blocks take the unmasked load/store (masked stores are slow on some cores); the constant
// mask folds the branch away where blocks() calls the body with kFull.
__m512 load(const float* p, __mmask16 m) {
  return m == kFull ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(m, p);
}
void store(float* p, __m512 v, __mmask16 m) {
  if (m == kFull) {
    _mm512_storeu_ps(p, v);
  } else {
    _mm512_mask_storeu_ps(p, m, v);
  }
}

// Calls f(j, mask) for each 16-wide block of [0, n): mask is kFull except in the tail.
template <class F>
void blocks(int64_t n, F&& f) {
  int64_t j = 0;
  for (; j + W <= n; j += W) f(j, kFull);
  if (j < n) f(j, tail_mask(n - j));
}

// exp, Cephes expf (rowops.h): x = n ln2 + r with ln2 split in two (Cody-Waite) so r is exact,
// a degree-6 polynomial for exp(r), and vscalefps for the 2^n (it overflows to inf and goes
// gradually to zero by itself). The clamp keeps the reduction exact; min/max return their
// second operand on NaN, so NaN passes through.
__m512 exp16(__m512 x) {
  x = _mm512_max_ps(_mm512_set1_ps(-104.0f), _mm512_min_ps(_mm512_set1_ps(89.0f), x));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_scalef_ps(p, n);
}

float row_max(const float* x, int64_t n) {
  __m512 m = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  blocks(n, [&](int64_t j, __mmask16 k) { m = _mm512_mask_max_ps(m, k, m, load(x + j, k)); });
  return _mm512_reduce_max_ps(m);
}

// sum_j exp(x_j - m); stores the exponentials to e unless e is nullptr.
float exp_sum(const float* x, int64_t n, float m, float* e) {
  const __m512 vm = _mm512_set1_ps(m);
  __m512 s = _mm512_setzero_ps();
  blocks(n, [&](int64_t j, __mmask16 k) {
    const __m512 v = exp16(_mm512_sub_ps(load(x + j, k), vm));
    s = _mm512_mask_add_ps(s, k, s, v);
    if (e) store(e + j, v, k);
  });
  return _mm512_reduce_add_ps(s);
}

// x + c, all of the row, into y.
void add_const(const float* x, int64_t n, float c, float* y) {
  const __m512 vc = _mm512_set1_ps(c);
  blocks(n, [&](int64_t j, __mmask16 k) { store(y + j, _mm512_add_ps(load(x + j, k), vc), k); });
}

}  // namespace

void exp_run(int64_t n, const float* x, float* y) {
  blocks(n, [&](int64_t j, __mmask16 k) { store(y + j, exp16(load(x + j, k)), k); });
}

// tanh, Cephes tanhf: x + x^3 P(x^2) for |x| < 0.625, else 1 - 2 / (exp(2|x|) + 1) with x's
// sign (exp overflows to inf for large |x|, giving exactly 1; NaN stays NaN).
void tanh_run(int64_t n, const float* x, float* y) {
  const __m512 one = _mm512_set1_ps(1.0f), two = _mm512_set1_ps(2.0f);
  const __m512 sign = _mm512_set1_ps(-0.0f);
  blocks(n, [&](int64_t j, __mmask16 k) {
    const __m512 v = load(x + j, k);
    const __m512 a = _mm512_andnot_ps(sign, v);
    const __m512 big =
        _mm512_sub_ps(one, _mm512_div_ps(two, _mm512_add_ps(exp16(_mm512_add_ps(a, a)), one)));
    const __m512 s = _mm512_mul_ps(v, v);
    __m512 p = _mm512_set1_ps(-5.70498872745e-3f);
    p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(2.06390887954e-2f));
    p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(-5.37397155531e-2f));
    p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(1.33314422036e-1f));
    p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(-3.33332819422e-1f));
    const __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(p, s), v, v);
    const __mmask16 is_small = _mm512_cmp_ps_mask(a, _mm512_set1_ps(0.625f), _CMP_LT_OQ);
    const __m512 r = _mm512_or_ps(big, _mm512_and_ps(v, sign));
    store(y + j, _mm512_mask_mov_ps(r, is_small, small), k);
  });
}

// sigmoid = 1 / (1 + exp(-x)): exp(-x) overflows to inf for x < -89, giving 0.
void sigmoid_run(int64_t n, const float* x, float* y) {
  const __m512 one = _mm512_set1_ps(1.0f), sign = _mm512_set1_ps(-0.0f);
  blocks(n, [&](int64_t j, __mmask16 k) {
    const __m512 e = exp16(_mm512_xor_ps(load(x + j, k), sign));
    store(y + j, _mm512_div_ps(one, _mm512_add_ps(one, e)), k);
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
      const __m512 inv = _mm512_set1_ps(1.0f / s);
      blocks(n, [&](int64_t j, __mmask16 k) {
        store(yr + j, _mm512_mul_ps(load(yr + j, k), inv), k);
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
    __m512 acc = _mm512_setzero_ps();
    if (log_form) {  // dx = dy - exp(y) * sum(dy)
      blocks(n, [&](int64_t j, __mmask16 k) { acc = _mm512_add_ps(acc, load(gr + j, k)); });
      const __m512 s = _mm512_set1_ps(_mm512_reduce_add_ps(acc));
      blocks(n, [&](int64_t j, __mmask16 k) {
        store(dr + j, _mm512_fnmadd_ps(exp16(load(yr + j, k)), s, load(gr + j, k)), k);
      });
    } else {  // dx = y * (dy - sum(dy * y))
      blocks(n, [&](int64_t j, __mmask16 k) {
        acc = _mm512_fmadd_ps(load(gr + j, k), load(yr + j, k), acc);
      });
      const __m512 dot = _mm512_set1_ps(_mm512_reduce_add_ps(acc));
      blocks(n, [&](int64_t j, __mmask16 k) {
        store(dr + j, _mm512_mul_ps(load(yr + j, k), _mm512_sub_ps(load(gr + j, k), dot)), k);
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
  const __m512 vs = _mm512_set1_ps(scale);
  for (int64_t i = 0; i < rows; ++i) {
    const float* xr = x + i * n;
    float* dr = dx + i * n;
    const __m512 vl = _mm512_set1_ps(lse[i]);
    blocks(n, [&](int64_t j, __mmask16 k) {
      store(dr + j, _mm512_mul_ps(exp16(_mm512_sub_ps(load(xr + j, k), vl)), vs), k);
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
    // Two passes (mean, then the mean of squared deviations): no cancellation when |mean| >> std.
    __m512 acc = _mm512_setzero_ps();
    blocks(n, [&](int64_t j, __mmask16 k) { acc = _mm512_add_ps(acc, load(xr + j, k)); });
    const float mu = _mm512_reduce_add_ps(acc) * inv_n;
    const __m512 vmu = _mm512_set1_ps(mu);
    acc = _mm512_setzero_ps();
    blocks(n, [&](int64_t j, __mmask16 k) {
      const __m512 d = _mm512_maskz_sub_ps(k, load(xr + j, k), vmu);
      acc = _mm512_fmadd_ps(d, d, acc);
    });
    const float rs = 1.0f / std::sqrt(_mm512_reduce_add_ps(acc) * inv_n + eps);
    mean[i] = mu;
    rstd[i] = rs;
    const __m512 vr = _mm512_set1_ps(rs);
    blocks(n, [&](int64_t j, __mmask16 k) {
      const __m512 xh = _mm512_mul_ps(_mm512_sub_ps(load(xr + j, k), vmu), vr);
      store(yr + j, _mm512_fmadd_ps(xh, load(gamma + j, k), load(beta + j, k)), k);
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
    const __m512 vmu = _mm512_set1_ps(mean[i]), vr = _mm512_set1_ps(rstd[i]);
    __m512 s1 = _mm512_setzero_ps(), s2 = _mm512_setzero_ps();
    blocks(n, [&](int64_t j, __mmask16 k) {
      const __m512 xh = _mm512_mul_ps(_mm512_sub_ps(load(xr + j, k), vmu), vr);
      const __m512 d = load(gr + j, k);
      const __m512 g = _mm512_mul_ps(d, load(gamma + j, k));
      s1 = _mm512_add_ps(s1, g);
      s2 = _mm512_fmadd_ps(g, xh, s2);
      store(dgamma_acc + j, _mm512_fmadd_ps(d, xh, load(dgamma_acc + j, k)), k);
      store(dbeta_acc + j, _mm512_add_ps(d, load(dbeta_acc + j, k)), k);
    });
    const __m512 m1 = _mm512_set1_ps(_mm512_reduce_add_ps(s1) * inv_n);
    const __m512 m2 = _mm512_set1_ps(_mm512_reduce_add_ps(s2) * inv_n);
    blocks(n, [&](int64_t j, __mmask16 k) {
      const __m512 xh = _mm512_mul_ps(_mm512_sub_ps(load(xr + j, k), vmu), vr);
      const __m512 g = _mm512_mul_ps(load(gr + j, k), load(gamma + j, k));
      const __m512 t = _mm512_fnmadd_ps(xh, m2, _mm512_sub_ps(g, m1));
      store(dr + j, _mm512_mul_ps(t, vr), k);
    });
  }
}

namespace {
constexpr float kGeluC = 0.7978845608028654f;  // sqrt(2 / pi)
constexpr float kGeluA = 0.044715f;

// s = sigmoid(2u) = 1 / (1 + exp(-2u)); exp overflows to inf for large negative x, s -> 0.
__m512 gelu_sigmoid(__m512 x, __m512 x2) {
  const __m512 u = _mm512_mul_ps(_mm512_mul_ps(x, _mm512_set1_ps(-2.0f * kGeluC)),
                                 _mm512_fmadd_ps(x2, _mm512_set1_ps(kGeluA), _mm512_set1_ps(1.0f)));
  return _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_add_ps(_mm512_set1_ps(1.0f), exp16(u)));
}
}  // namespace

void gelu_forward_run(int64_t n, const float* x, float* y) {
  blocks(n, [&](int64_t j, __mmask16 k) {
    const __m512 v = load(x + j, k);
    store(y + j, _mm512_mul_ps(v, gelu_sigmoid(v, _mm512_mul_ps(v, v))), k);
  });
}

void gelu_backward_run(int64_t n, const float* x, const float* dy, float* dx) {
  const __m512 one = _mm512_set1_ps(1.0f);
  blocks(n, [&](int64_t j, __mmask16 k) {
    const __m512 v = load(x + j, k);
    const __m512 v2 = _mm512_mul_ps(v, v);
    const __m512 s = gelu_sigmoid(v, v2);
    // du/dx * 2 = 2c (1 + 3a x^2)
    const __m512 du2 =
        _mm512_fmadd_ps(v2, _mm512_set1_ps(6.0f * kGeluC * kGeluA), _mm512_set1_ps(2.0f * kGeluC));
    const __m512 t = _mm512_mul_ps(_mm512_mul_ps(v, s), _mm512_sub_ps(one, s));
    store(dx + j, _mm512_mul_ps(load(dy + j, k), _mm512_fmadd_ps(t, du2, s)), k);
  });
}

}  // namespace bstack::kernels::avx512
