// Contiguous elementwise kernels and the two sums that training needs most: binary ops over a
// (rows, cols) grid whose operands are each a matrix, a row broadcast down the rows, a column
// broadcast across them, or a scalar; unary math and its gradient; axpy; row sums and column
// sums (the bias gradient: a (rows, cols) gradient summed over rows).
//
// T is float or double. float takes the AVX-512 or AVX2 path when kernels::isa() says so
// (kernels/eltwise_avx512.cpp, eltwise_avx2.cpp); double, and float on the scalar path, run
// portable loops that the compiler vectorises for the baseline ISA. Threads split the work by
// size (kernels/parallel.h): tensors below the grain never start a thread. Sums accumulate in
// double and split the same way for every thread count, so they are reproducible.
//
// Leaves out on purpose: arbitrary strides and general broadcasting (src/ keeps a strided loop
// for those), integer dtypes, type promotion.
//
// This header only declares (no inline definitions), so the ISA files may include it safely.
#pragma once

#include <cstdint>

namespace bstack::kernels {

enum class BinaryOp : int { add = 0, sub = 1, mul = 2, div = 3 };
// Gradients: relu (x > 0), neg (-1), exp (y), tanh (1 - y^2), sigmoid (y (1 - y)), sqrt (0.5 / y).
enum class UnaryOp : int { relu = 0, neg = 1, exp = 2, tanh = 3, sigmoid = 4, sqrt = 5 };

// out[i*cols + j] = a[i*a_rs + j*a_cs] op b[i*b_rs + j*b_cs] for i < rows, j < cols.
// a_cs and b_cs are 0 (the value repeats along the row) or 1 (contiguous); row strides are any
// (0 repeats a row). out is contiguous and may alias a or b when that operand has
// rs == cols and cs == 1.
template <class T>
void binary(BinaryOp op, int64_t rows, int64_t cols, const T* a, int64_t a_rs, int64_t a_cs,
            const T* b, int64_t b_rs, int64_t b_cs, T* out);

// y = f(x), contiguous; relu(NaN) = 0 as src's strided relu (x > 0 ? x : 0). y may alias x.
template <class T>
void unary(UnaryOp op, int64_t n, const T* x, T* y);

// dx = dy * f'(x) with f' written through x or y = f(x) as in UnaryOp's comment; the operand
// the gradient does not use may be nullptr. dx may alias dy.
template <class T>
void unary_backward(UnaryOp op, int64_t n, const T* x, const T* y, const T* dy, T* dx);

// y += alpha * x
template <class T>
void axpy(int64_t n, T alpha, const T* x, T* y);

// x (rows, cols), contiguous. row_sum: out[i] = sum_j x[i, j] (rows). col_sum: out[j] =
// sum_i x[i, j] (cols). Accumulated in double.
template <class T>
void row_sum(int64_t rows, int64_t cols, const T* x, T* out);
template <class T>
void col_sum(int64_t rows, int64_t cols, const T* x, T* out);

// ---- per-ISA entry points (used by eltwise.cpp only)
// --------------------------------------------- Serial; eltwise.cpp splits the work across threads.
// a_inc / b_inc are 0 or 1. sum_run returns sum_j x[j]; col_acc_run adds rows of x (row stride ld)
// into acc[0..cols).
#define BSTACK_ELTWISE_ISA_DECLS                                                                  \
  void binary_run(BinaryOp op, int64_t n, const float* a, int64_t a_inc, const float* b,          \
                  int64_t b_inc, float* out);                                                     \
  void unary_run(UnaryOp op, int64_t n, const float* x, float* y);                                \
  void unary_backward_run(UnaryOp op, int64_t n, const float* x, const float* y, const float* dy, \
                          float* dx);                                                             \
  void axpy_run(int64_t n, float alpha, const float* x, float* y);                                \
  double sum_run(int64_t n, const float* x);                                                      \
  void col_acc_run(int64_t rows, int64_t cols, const float* x, int64_t ld, double* acc);

namespace avx2 {
BSTACK_ELTWISE_ISA_DECLS
}
namespace avx512 {
BSTACK_ELTWISE_ISA_DECLS
}
#undef BSTACK_ELTWISE_ISA_DECLS

}  // namespace bstack::kernels
