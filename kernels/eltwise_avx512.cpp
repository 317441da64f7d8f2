// AVX-512 float elementwise runs and sums (contracts in kernels/eltwise.h): 16 lanes, one
// masked load/store for the tail. exp, tanh and sigmoid are in rowops_avx512.cpp beside the
// vector exp they share. Sums widen to double (two 8-lane halves per 16 floats).
// Compiled with -mavx512f/bw/vl/dq -mfma; every helper has internal linkage (see the note in
// kernels/CMakeLists.txt).
#include "kernels/eltwise.h"
#include "kernels/rowops.h"

// GCC 12 warns that the undefined source of some AVX-512 intrinsics is uninitialised (GCC bug
// 105593, fixed in GCC 13); the value is never used.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

namespace bstack::kernels::avx512 {
namespace {

constexpr int64_t W = 16;
constexpr __mmask16 kFull = 0xFFFF;

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

template <class F>
void blocks(int64_t n, F&& f) {
  int64_t j = 0;
  for (; j + W <= n; j += W) f(j, kFull);
  if (j < n) f(j, static_cast<__mmask16>((1u << (n - j)) - 1u));
}

struct Add {
  static __m512 f(__m512 a, __m512 b) { return _mm512_add_ps(a, b); }
};
struct Sub {
  static __m512 f(__m512 a, __m512 b) { return _mm512_sub_ps(a, b); }
};
struct Mul {
  static __m512 f(__m512 a, __m512 b) { return _mm512_mul_ps(a, b); }
};
struct Div {
  static __m512 f(__m512 a, __m512 b) { return _mm512_div_ps(a, b); }
};

// One loop per operand kind, so a broadcast operand stays in a register.
template <class Op>
void binary_op(int64_t n, const float* a, int64_t ai, const float* b, int64_t bi, float* out) {
  if (ai && bi) {
    blocks(n, [&](int64_t j, __mmask16 k) {
      store(out + j, Op::f(load(a + j, k), load(b + j, k)), k);
    });
  } else if (ai) {
    const __m512 vb = _mm512_set1_ps(*b);
    blocks(n, [&](int64_t j, __mmask16 k) { store(out + j, Op::f(load(a + j, k), vb), k); });
  } else if (bi) {
    const __m512 va = _mm512_set1_ps(*a);
    blocks(n, [&](int64_t j, __mmask16 k) { store(out + j, Op::f(va, load(b + j, k)), k); });
  } else {
    const __m512 v = Op::f(_mm512_set1_ps(*a), _mm512_set1_ps(*b));
    blocks(n, [&](int64_t j, __mmask16 k) { store(out + j, v, k); });
  }
}

}  // namespace

void binary_run(BinaryOp op, int64_t n, const float* a, int64_t a_inc, const float* b,
                int64_t b_inc, float* out) {
  switch (op) {
    case BinaryOp::add: return binary_op<Add>(n, a, a_inc, b, b_inc, out);
    case BinaryOp::sub: return binary_op<Sub>(n, a, a_inc, b, b_inc, out);
    case BinaryOp::mul: return binary_op<Mul>(n, a, a_inc, b, b_inc, out);
    case BinaryOp::div: return binary_op<Div>(n, a, a_inc, b, b_inc, out);
  }
}

void unary_run(UnaryOp op, int64_t n, const float* x, float* y) {
  switch (op) {
    case UnaryOp::relu: {
      // vmaxps returns its second operand when either is NaN: relu(NaN) = 0, as src's loop.
      const __m512 z = _mm512_setzero_ps();
      blocks(n, [&](int64_t j, __mmask16 k) { store(y + j, _mm512_max_ps(load(x + j, k), z), k); });
      return;
    }
    case UnaryOp::neg: {
      const __m512 s = _mm512_set1_ps(-0.0f);
      blocks(n, [&](int64_t j, __mmask16 k) { store(y + j, _mm512_xor_ps(load(x + j, k), s), k); });
      return;
    }
    case UnaryOp::exp: return exp_run(n, x, y);
    case UnaryOp::tanh: return tanh_run(n, x, y);
    case UnaryOp::sigmoid: return sigmoid_run(n, x, y);
    case UnaryOp::sqrt:
      blocks(n, [&](int64_t j, __mmask16 k) { store(y + j, _mm512_sqrt_ps(load(x + j, k)), k); });
      return;
  }
}

void unary_backward_run(UnaryOp op, int64_t n, const float* x, const float* y, const float* dy,
                        float* dx) {
  const __m512 one = _mm512_set1_ps(1.0f);
  switch (op) {
    case UnaryOp::relu: {
      const __m512 z = _mm512_setzero_ps();
      blocks(n, [&](int64_t j, __mmask16 k) {
        const __mmask16 pos = _mm512_cmp_ps_mask(load(x + j, k), z, _CMP_GT_OQ);
        store(dx + j, _mm512_maskz_mov_ps(pos, load(dy + j, k)), k);
      });
      return;
    }
    case UnaryOp::neg: {
      const __m512 s = _mm512_set1_ps(-0.0f);
      blocks(n,
             [&](int64_t j, __mmask16 k) { store(dx + j, _mm512_xor_ps(load(dy + j, k), s), k); });
      return;
    }
    case UnaryOp::exp:
      blocks(n, [&](int64_t j, __mmask16 k) {
        store(dx + j, _mm512_mul_ps(load(dy + j, k), load(y + j, k)), k);
      });
      return;
    case UnaryOp::tanh:
      blocks(n, [&](int64_t j, __mmask16 k) {
        const __m512 v = load(y + j, k);
        store(dx + j, _mm512_mul_ps(load(dy + j, k), _mm512_fnmadd_ps(v, v, one)), k);
      });
      return;
    case UnaryOp::sigmoid:
      blocks(n, [&](int64_t j, __mmask16 k) {
        const __m512 v = load(y + j, k);
        store(dx + j, _mm512_mul_ps(_mm512_mul_ps(load(dy + j, k), v), _mm512_sub_ps(one, v)), k);
      });
      return;
    case UnaryOp::sqrt: {
      const __m512 half = _mm512_set1_ps(0.5f);
      blocks(n, [&](int64_t j, __mmask16 k) {
        store(dx + j, _mm512_div_ps(_mm512_mul_ps(load(dy + j, k), half), load(y + j, k)), k);
      });
      return;
    }
  }
}

void axpy_run(int64_t n, float alpha, const float* x, float* y) {
  const __m512 va = _mm512_set1_ps(alpha);
  blocks(n, [&](int64_t j, __mmask16 k) {
    store(y + j, _mm512_fmadd_ps(va, load(x + j, k), load(y + j, k)), k);
  });
}

namespace {
__m512d lo_pd(__m512 v) { return _mm512_cvtps_pd(_mm512_castps512_ps256(v)); }
__m512d hi_pd(__m512 v) {
  return _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
}
}  // namespace

double sum_run(int64_t n, const float* x) {
  // Four double accumulators hide the add latency; the masked tail loads zeros.
  __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
  __m512d s2 = _mm512_setzero_pd(), s3 = _mm512_setzero_pd();
  int64_t j = 0;
  for (; j + 2 * W <= n; j += 2 * W) {
    const __m512 v = _mm512_loadu_ps(x + j), u = _mm512_loadu_ps(x + j + W);
    s0 = _mm512_add_pd(s0, lo_pd(v));
    s1 = _mm512_add_pd(s1, hi_pd(v));
    s2 = _mm512_add_pd(s2, lo_pd(u));
    s3 = _mm512_add_pd(s3, hi_pd(u));
  }
  blocks(n - j, [&](int64_t jj, __mmask16 k) {
    const __m512 v = load(x + j + jj, k);
    s0 = _mm512_add_pd(s0, lo_pd(v));
    s1 = _mm512_add_pd(s1, hi_pd(v));
  });
  return _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(s0, s1), _mm512_add_pd(s2, s3)));
}

void col_acc_run(int64_t rows, int64_t cols, const float* x, int64_t ld, double* acc) {
  // Strips of 32 columns: four double accumulators stay in registers down all the rows.
  int64_t j = 0;
  for (; j + 2 * W <= cols; j += 2 * W) {
    __m512d a0 = _mm512_setzero_pd(), a1 = _mm512_setzero_pd();
    __m512d a2 = _mm512_setzero_pd(), a3 = _mm512_setzero_pd();
    for (int64_t i = 0; i < rows; ++i) {
      const __m512 v = _mm512_loadu_ps(x + i * ld + j), u = _mm512_loadu_ps(x + i * ld + j + W);
      a0 = _mm512_add_pd(a0, lo_pd(v));
      a1 = _mm512_add_pd(a1, hi_pd(v));
      a2 = _mm512_add_pd(a2, lo_pd(u));
      a3 = _mm512_add_pd(a3, hi_pd(u));
    }
    _mm512_storeu_pd(acc + j, _mm512_add_pd(_mm512_loadu_pd(acc + j), a0));
    _mm512_storeu_pd(acc + j + 8, _mm512_add_pd(_mm512_loadu_pd(acc + j + 8), a1));
    _mm512_storeu_pd(acc + j + 16, _mm512_add_pd(_mm512_loadu_pd(acc + j + 16), a2));
    _mm512_storeu_pd(acc + j + 24, _mm512_add_pd(_mm512_loadu_pd(acc + j + 24), a3));
  }
  for (; j < cols; j += W) {  // at most two 16-column (masked) strips left
    const int64_t w = cols - j < W ? cols - j : W;
    const __mmask16 k = static_cast<__mmask16>((1u << w) - 1u);
    const __mmask8 klo = static_cast<__mmask8>(k), khi = static_cast<__mmask8>(k >> 8);
    __m512d a0 = _mm512_setzero_pd(), a1 = _mm512_setzero_pd();
    for (int64_t i = 0; i < rows; ++i) {
      const __m512 v = _mm512_maskz_loadu_ps(k, x + i * ld + j);
      a0 = _mm512_add_pd(a0, lo_pd(v));
      a1 = _mm512_add_pd(a1, hi_pd(v));
    }
    _mm512_mask_storeu_pd(acc + j, klo, _mm512_add_pd(_mm512_maskz_loadu_pd(klo, acc + j), a0));
    _mm512_mask_storeu_pd(acc + j + 8, khi,
                          _mm512_add_pd(_mm512_maskz_loadu_pd(khi, acc + j + 8), a1));
  }
}

}  // namespace bstack::kernels::avx512
