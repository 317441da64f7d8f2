// AVX2+FMA float elementwise runs and sums (contracts in kernels/eltwise.h): 8 lanes, the tail
// read and written with vmaskmovps (masked-off lanes never touched). exp, tanh and sigmoid are
// in rowops_avx2.cpp beside the vector exp they share. Sums widen to double.
// Compiled with -mavx2 -mfma; every helper has internal linkage (see the note in
// kernels/CMakeLists.txt).
#include "kernels/eltwise.h"
#include "kernels/rowops.h"

#include <immintrin.h>

namespace bstack::kernels::avx2 {
namespace {

constexpr int64_t W = 8;

struct Mask {
  bool full;
  __m256i m;
};

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

template <class F>
void blocks(int64_t n, F&& f) {
  alignas(32) static const int32_t table[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                                0,  0,  0,  0,  0,  0,  0,  0};
  int64_t j = 0;
  const Mask full{true, _mm256_set1_epi32(-1)};
  for (; j + W <= n; j += W) f(j, full);
  if (j < n)
    f(j, Mask{false, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(table + 8 - (n - j)))});
}

struct Add {
  static __m256 f(__m256 a, __m256 b) { return _mm256_add_ps(a, b); }
};
struct Sub {
  static __m256 f(__m256 a, __m256 b) { return _mm256_sub_ps(a, b); }
};
struct Mul {
  static __m256 f(__m256 a, __m256 b) { return _mm256_mul_ps(a, b); }
};
struct Div {
  static __m256 f(__m256 a, __m256 b) { return _mm256_div_ps(a, b); }
};

template <class Op>
void binary_op(int64_t n, const float* a, int64_t ai, const float* b, int64_t bi, float* out) {
  if (ai && bi) {
    blocks(n, [&](int64_t j, const Mask& k) {
      store(out + j, Op::f(load(a + j, k), load(b + j, k)), k);
    });
  } else if (ai) {
    const __m256 vb = _mm256_set1_ps(*b);
    blocks(n, [&](int64_t j, const Mask& k) { store(out + j, Op::f(load(a + j, k), vb), k); });
  } else if (bi) {
    const __m256 va = _mm256_set1_ps(*a);
    blocks(n, [&](int64_t j, const Mask& k) { store(out + j, Op::f(va, load(b + j, k)), k); });
  } else {
    const __m256 v = Op::f(_mm256_set1_ps(*a), _mm256_set1_ps(*b));
    blocks(n, [&](int64_t j, const Mask& k) { store(out + j, v, k); });
  }
}

__m256d lo_pd(__m256 v) { return _mm256_cvtps_pd(_mm256_castps256_ps128(v)); }
__m256d hi_pd(__m256 v) { return _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)); }

double hsum_pd(__m256d v) {
  __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
  return _mm_cvtsd_f64(s);
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
      const __m256 z = _mm256_setzero_ps();
      blocks(n,
             [&](int64_t j, const Mask& k) { store(y + j, _mm256_max_ps(load(x + j, k), z), k); });
      return;
    }
    case UnaryOp::neg: {
      const __m256 s = _mm256_set1_ps(-0.0f);
      blocks(n,
             [&](int64_t j, const Mask& k) { store(y + j, _mm256_xor_ps(load(x + j, k), s), k); });
      return;
    }
    case UnaryOp::exp: return exp_run(n, x, y);
    case UnaryOp::tanh: return tanh_run(n, x, y);
    case UnaryOp::sigmoid: return sigmoid_run(n, x, y);
    case UnaryOp::sqrt:
      blocks(n, [&](int64_t j, const Mask& k) { store(y + j, _mm256_sqrt_ps(load(x + j, k)), k); });
      return;
  }
}

void unary_backward_run(UnaryOp op, int64_t n, const float* x, const float* y, const float* dy,
                        float* dx) {
  const __m256 one = _mm256_set1_ps(1.0f);
  switch (op) {
    case UnaryOp::relu: {
      const __m256 z = _mm256_setzero_ps();
      blocks(n, [&](int64_t j, const Mask& k) {
        const __m256 pos = _mm256_cmp_ps(load(x + j, k), z, _CMP_GT_OQ);
        store(dx + j, _mm256_and_ps(pos, load(dy + j, k)), k);
      });
      return;
    }
    case UnaryOp::neg: {
      const __m256 s = _mm256_set1_ps(-0.0f);
      blocks(n, [&](int64_t j, const Mask& k) {
        store(dx + j, _mm256_xor_ps(load(dy + j, k), s), k);
      });
      return;
    }
    case UnaryOp::exp:
      blocks(n, [&](int64_t j, const Mask& k) {
        store(dx + j, _mm256_mul_ps(load(dy + j, k), load(y + j, k)), k);
      });
      return;
    case UnaryOp::tanh:
      blocks(n, [&](int64_t j, const Mask& k) {
        const __m256 v = load(y + j, k);
        store(dx + j, _mm256_mul_ps(load(dy + j, k), _mm256_fnmadd_ps(v, v, one)), k);
      });
      return;
    case UnaryOp::sigmoid:
      blocks(n, [&](int64_t j, const Mask& k) {
        const __m256 v = load(y + j, k);
        store(dx + j, _mm256_mul_ps(_mm256_mul_ps(load(dy + j, k), v), _mm256_sub_ps(one, v)), k);
      });
      return;
    case UnaryOp::sqrt: {
      const __m256 half = _mm256_set1_ps(0.5f);
      blocks(n, [&](int64_t j, const Mask& k) {
        store(dx + j, _mm256_div_ps(_mm256_mul_ps(load(dy + j, k), half), load(y + j, k)), k);
      });
      return;
    }
  }
}

void axpy_run(int64_t n, float alpha, const float* x, float* y) {
  const __m256 va = _mm256_set1_ps(alpha);
  blocks(n, [&](int64_t j, const Mask& k) {
    store(y + j, _mm256_fmadd_ps(va, load(x + j, k), load(y + j, k)), k);
  });
}

double sum_run(int64_t n, const float* x) {
  __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
  __m256d s2 = _mm256_setzero_pd(), s3 = _mm256_setzero_pd();
  int64_t j = 0;
  for (; j + 2 * W <= n; j += 2 * W) {
    const __m256 v = _mm256_loadu_ps(x + j), u = _mm256_loadu_ps(x + j + W);
    s0 = _mm256_add_pd(s0, lo_pd(v));
    s1 = _mm256_add_pd(s1, hi_pd(v));
    s2 = _mm256_add_pd(s2, lo_pd(u));
    s3 = _mm256_add_pd(s3, hi_pd(u));
  }
  double s = hsum_pd(_mm256_add_pd(_mm256_add_pd(s0, s1), _mm256_add_pd(s2, s3)));
  for (; j < n; ++j) s += x[j];
  return s;
}

void col_acc_run(int64_t rows, int64_t cols, const float* x, int64_t ld, double* acc) {
  // Strips of 16 columns: four double accumulators stay in registers down all the rows.
  int64_t j = 0;
  for (; j + 2 * W <= cols; j += 2 * W) {
    __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
    __m256d a2 = _mm256_setzero_pd(), a3 = _mm256_setzero_pd();
    for (int64_t i = 0; i < rows; ++i) {
      const __m256 v = _mm256_loadu_ps(x + i * ld + j), u = _mm256_loadu_ps(x + i * ld + j + W);
      a0 = _mm256_add_pd(a0, lo_pd(v));
      a1 = _mm256_add_pd(a1, hi_pd(v));
      a2 = _mm256_add_pd(a2, lo_pd(u));
      a3 = _mm256_add_pd(a3, hi_pd(u));
    }
    _mm256_storeu_pd(acc + j, _mm256_add_pd(_mm256_loadu_pd(acc + j), a0));
    _mm256_storeu_pd(acc + j + 4, _mm256_add_pd(_mm256_loadu_pd(acc + j + 4), a1));
    _mm256_storeu_pd(acc + j + 8, _mm256_add_pd(_mm256_loadu_pd(acc + j + 8), a2));
    _mm256_storeu_pd(acc + j + 12, _mm256_add_pd(_mm256_loadu_pd(acc + j + 12), a3));
  }
  if (j + W <= cols) {
    __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
    for (int64_t i = 0; i < rows; ++i) {
      const __m256 v = _mm256_loadu_ps(x + i * ld + j);
      a0 = _mm256_add_pd(a0, lo_pd(v));
      a1 = _mm256_add_pd(a1, hi_pd(v));
    }
    _mm256_storeu_pd(acc + j, _mm256_add_pd(_mm256_loadu_pd(acc + j), a0));
    _mm256_storeu_pd(acc + j + 4, _mm256_add_pd(_mm256_loadu_pd(acc + j + 4), a1));
    j += W;
  }
  for (; j < cols; ++j) {  // fewer than 8 columns left
    double s = 0;
    for (int64_t i = 0; i < rows; ++i) s += x[i * ld + j];
    acc[j] += s;
  }
}

}  // namespace bstack::kernels::avx2
