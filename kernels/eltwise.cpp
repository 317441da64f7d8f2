// Elementwise kernels and sums (kernels/eltwise.h): the portable loops (the scalar path and
// every double), the choice of the float path from kernels::isa(), and the thread split.
#include "kernels/eltwise.h"

#include "kernels/cpu.h"
#include "kernels/parallel.h"
#include "kernels/rowops.h"

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

namespace bstack::kernels {

namespace {

// ---- portable runs --------------------------------------------------------------------------

// One loop per operand kind, each simple enough for the compiler to vectorise.
template <class T, class F>
void binary_loop(int64_t n, const T* a, int64_t ai, const T* b, int64_t bi, T* out, F f) {
  if (ai && bi) {
    for (int64_t j = 0; j < n; ++j) out[j] = f(a[j], b[j]);
  } else if (ai) {
    const T vb = *b;
    for (int64_t j = 0; j < n; ++j) out[j] = f(a[j], vb);
  } else if (bi) {
    const T va = *a;
    for (int64_t j = 0; j < n; ++j) out[j] = f(va, b[j]);
  } else {
    const T v = f(*a, *b);
    for (int64_t j = 0; j < n; ++j) out[j] = v;
  }
}

template <class T>
void binary_run_ref(BinaryOp op, int64_t n, const T* a, int64_t ai, const T* b, int64_t bi,
                    T* out) {
  switch (op) {
    case BinaryOp::add: return binary_loop(n, a, ai, b, bi, out, [](T x, T y) { return x + y; });
    case BinaryOp::sub: return binary_loop(n, a, ai, b, bi, out, [](T x, T y) { return x - y; });
    case BinaryOp::mul: return binary_loop(n, a, ai, b, bi, out, [](T x, T y) { return x * y; });
    case BinaryOp::div: return binary_loop(n, a, ai, b, bi, out, [](T x, T y) { return x / y; });
  }
}

// The formulas of src/ops_elementwise.cpp's strided loops, so both paths agree.
template <class T>
void unary_run_ref(UnaryOp op, int64_t n, const T* x, T* y) {
  switch (op) {
    case UnaryOp::relu:
      for (int64_t j = 0; j < n; ++j) y[j] = x[j] > 0 ? x[j] : T(0);
      return;
    case UnaryOp::neg:
      for (int64_t j = 0; j < n; ++j) y[j] = -x[j];
      return;
    case UnaryOp::exp:
      for (int64_t j = 0; j < n; ++j) y[j] = std::exp(x[j]);
      return;
    case UnaryOp::tanh:
      for (int64_t j = 0; j < n; ++j) y[j] = std::tanh(x[j]);
      return;
    case UnaryOp::sigmoid:  // stable in both tails: exp never overflows
      for (int64_t j = 0; j < n; ++j) {
        const T v = x[j];
        y[j] = v >= 0 ? T(1) / (T(1) + std::exp(-v)) : std::exp(v) / (T(1) + std::exp(v));
      }
      return;
    case UnaryOp::sqrt:
      for (int64_t j = 0; j < n; ++j) y[j] = std::sqrt(x[j]);
      return;
  }
}

template <class T>
void unary_backward_run_ref(UnaryOp op, int64_t n, const T* x, const T* y, const T* dy, T* dx) {
  switch (op) {
    case UnaryOp::relu:
      for (int64_t j = 0; j < n; ++j) dx[j] = x[j] > 0 ? dy[j] : T(0);
      return;
    case UnaryOp::neg:
      for (int64_t j = 0; j < n; ++j) dx[j] = -dy[j];
      return;
    case UnaryOp::exp:
      for (int64_t j = 0; j < n; ++j) dx[j] = dy[j] * y[j];
      return;
    case UnaryOp::tanh:
      for (int64_t j = 0; j < n; ++j) dx[j] = dy[j] * (T(1) - y[j] * y[j]);
      return;
    case UnaryOp::sigmoid:
      for (int64_t j = 0; j < n; ++j) dx[j] = dy[j] * y[j] * (T(1) - y[j]);
      return;
    case UnaryOp::sqrt:
      for (int64_t j = 0; j < n; ++j) dx[j] = dy[j] * T(0.5) / y[j];
      return;
  }
}

template <class T>
void axpy_run_ref(int64_t n, T alpha, const T* x, T* y) {
  for (int64_t j = 0; j < n; ++j) y[j] += alpha * x[j];
}

template <class T>
double sum_run_ref(int64_t n, const T* x) {
  double s = 0;
  for (int64_t j = 0; j < n; ++j) s += x[j];
  return s;
}

template <class T>
void col_acc_run_ref(int64_t rows, int64_t cols, const T* x, int64_t ld, double* acc) {
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) acc[j] += x[i * ld + j];
}

// ---- the path ---------------------------------------------------------------------------------

template <class T>
struct EltKernels {
  void (*binary)(BinaryOp, int64_t, const T*, int64_t, const T*, int64_t, T*);
  void (*unary)(UnaryOp, int64_t, const T*, T*);
  void (*unary_backward)(UnaryOp, int64_t, const T*, const T*, const T*, T*);
  void (*axpy)(int64_t, T, const T*, T*);
  double (*sum)(int64_t, const T*);
  void (*col_acc)(int64_t, int64_t, const T*, int64_t, double*);
};

template <class T>
constexpr EltKernels<T> kRefKernels = {
    binary_run_ref<T>, unary_run_ref<T>, unary_backward_run_ref<T>,
    axpy_run_ref<T>,   sum_run_ref<T>,   col_acc_run_ref<T>};

template <class T>
const EltKernels<T>& elt_kernels() {
  if constexpr (std::is_same_v<T, float>) {
    static const EltKernels<float> k = [] {
      switch (isa()) {
        case Isa::avx512:
          return EltKernels<float>{
              avx512::binary_run, avx512::unary_run, avx512::unary_backward_run,
              avx512::axpy_run,   avx512::sum_run,   avx512::col_acc_run};
        case Isa::avx2:
          return EltKernels<float>{avx2::binary_run, avx2::unary_run, avx2::unary_backward_run,
                                   avx2::axpy_run,   avx2::sum_run,   avx2::col_acc_run};
        case Isa::scalar: break;
      }
      return kRefKernels<float>;
    }();
    return k;
  } else {
    return kRefKernels<T>;
  }
}

// Element-operations per element, for parallel_for's serial threshold.
int64_t unary_cost(UnaryOp op) {
  return op == UnaryOp::relu || op == UnaryOp::neg || op == UnaryOp::sqrt ? 1 : 4;
}

// Row sums longer than this split into pieces of this length, summed on any thread and
// combined in order: long sums use every core and still give the same bits for any thread count.
constexpr int64_t kSumPiece = 16384;
// Columns per accumulator block of col_sum (4 KiB of doubles, stays in L1).
constexpr int64_t kColBlock = 512;

}  // namespace

template <class T>
void binary(BinaryOp op, int64_t rows, int64_t cols, const T* a, int64_t a_rs, int64_t a_cs,
            const T* b, int64_t b_rs, int64_t b_cs, T* out) {
  if (rows <= 0 || cols <= 0) return;
  const auto& k = elt_kernels<T>();
  // Split the flat index range; a chunk may start or end inside a row.
  parallel_for(rows * cols, 1, [&](int64_t e0, int64_t e1) {
    int64_t i = e0 / cols, j = e0 % cols;
    while (e0 < e1) {
      const int64_t len = std::min(cols - j, e1 - e0);
      k.binary(op, len, a + i * a_rs + j * a_cs, a_cs, b + i * b_rs + j * b_cs, b_cs,
               out + i * cols + j);
      e0 += len;
      ++i;
      j = 0;
    }
  });
}

template <class T>
void unary(UnaryOp op, int64_t n, const T* x, T* y) {
  const auto& k = elt_kernels<T>();
  parallel_for(n, unary_cost(op), [&](int64_t b, int64_t e) { k.unary(op, e - b, x + b, y + b); });
}

template <class T>
void unary_backward(UnaryOp op, int64_t n, const T* x, const T* y, const T* dy, T* dx) {
  const auto& k = elt_kernels<T>();
  parallel_for(n, 1, [&](int64_t b, int64_t e) {
    k.unary_backward(op, e - b, x ? x + b : nullptr, y ? y + b : nullptr, dy + b, dx + b);
  });
}

template <class T>
void axpy(int64_t n, T alpha, const T* x, T* y) {
  const auto& k = elt_kernels<T>();
  parallel_for(n, 1, [&](int64_t b, int64_t e) { k.axpy(e - b, alpha, x + b, y + b); });
}

template <class T>
void row_sum(int64_t rows, int64_t cols, const T* x, T* out) {
  if (rows <= 0) return;
  const auto& k = elt_kernels<T>();
  if (cols <= kSumPiece) {
    parallel_for(rows, std::max<int64_t>(cols, 1), [&](int64_t r0, int64_t r1) {
      for (int64_t i = r0; i < r1; ++i) out[i] = static_cast<T>(k.sum(cols, x + i * cols));
    });
    return;
  }
  const int64_t per_row = (cols + kSumPiece - 1) / kSumPiece;
  std::vector<double> part(static_cast<size_t>(rows * per_row));
  parallel_for(rows * per_row, kSumPiece, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t i = p / per_row, j0 = (p % per_row) * kSumPiece;
      part[p] = k.sum(std::min(kSumPiece, cols - j0), x + i * cols + j0);
    }
  });
  for (int64_t i = 0; i < rows; ++i) {
    double s = 0;
    for (int64_t p = 0; p < per_row; ++p) s += part[i * per_row + p];
    out[i] = static_cast<T>(s);
  }
}

template <class T>
void col_sum(int64_t rows, int64_t cols, const T* x, T* out) {
  if (cols <= 0) return;
  const auto& k = elt_kernels<T>();
  // Each column is summed down the rows in order by one thread, whatever the split.
  constexpr int64_t kGroup = 16;
  const int64_t groups = (cols + kGroup - 1) / kGroup;
  parallel_for(groups, std::max<int64_t>(rows, 1) * kGroup, [&](int64_t g0, int64_t g1) {
    double acc[kColBlock];
    const int64_t c1 = std::min(cols, g1 * kGroup);
    for (int64_t c = g0 * kGroup; c < c1; c += kColBlock) {
      const int64_t w = std::min(kColBlock, c1 - c);
      std::fill(acc, acc + w, 0.0);
      k.col_acc(rows, w, x + c, cols, acc);
      for (int64_t j = 0; j < w; ++j) out[c + j] = static_cast<T>(acc[j]);
    }
  });
}

#define BSTACK_ELTWISE_INSTANTIATE(T)                                                       \
  template void binary<T>(BinaryOp, int64_t, int64_t, const T*, int64_t, int64_t, const T*, \
                          int64_t, int64_t, T*);                                            \
  template void unary<T>(UnaryOp, int64_t, const T*, T*);                                   \
  template void unary_backward<T>(UnaryOp, int64_t, const T*, const T*, const T*, T*);      \
  template void axpy<T>(int64_t, T, const T*, T*);                                          \
  template void row_sum<T>(int64_t, int64_t, const T*, T*);                                 \
  template void col_sum<T>(int64_t, int64_t, const T*, T*);
BSTACK_ELTWISE_INSTANTIATE(float)
BSTACK_ELTWISE_INSTANTIATE(double)
#undef BSTACK_ELTWISE_INSTANTIATE

}  // namespace bstack::kernels
