// Tensor operations with broadcasting and autograd. Every op checks its arguments and throws
// bstack::Error naming the op and the shapes/dtypes involved. Operands must share a dtype
// (no implicit promotion); a double scalar takes the tensor's dtype.
//
// Broadcasting follows NumPy: shapes are right-aligned; a dim of size 1 stretches.
// Axes may be negative (counted from the end). An empty axes list in a reduction means all.
#pragma once

#include "src/tensor.h"

#include <vector>

namespace bstack {

using Axes = std::vector<int64_t>;

// ---- elementwise, binary (broadcasting) ----------------------------------------------------
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);   // floating only
Tensor pow(const Tensor& a, const Tensor& b);   // floating only
Tensor pow(const Tensor& a, double exponent);
Tensor maximum(const Tensor& a, const Tensor& b);  // elementwise max; gradient to the larger
Tensor minimum(const Tensor& a, const Tensor& b);

// Comparisons return an i8 mask (0 or 1) of the broadcast shape; no gradient.
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);

// where(cond, a, b): a where cond != 0, else b; cond of any dtype, all three broadcast.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

// ---- elementwise, unary ---------------------------------------------------------------------
Tensor neg(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor exp(const Tensor& x);      // floating only (as are the ones below, unless noted)
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);     // any dtype
// GELU, tanh approximation (Hendrycks & Gimpel 2016, eq. as used by GPT-2):
//   0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
Tensor gelu(const Tensor& x);
Tensor clamp(const Tensor& x, double lo, double hi);  // any dtype; gradient 1 strictly inside

// ---- reductions -----------------------------------------------------------------------------
Tensor sum(const Tensor& x, const Axes& axes = {}, bool keepdim = false);  // ints sum to i64
Tensor mean(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
Tensor max(const Tensor& x, const Axes& axes = {}, bool keepdim = false);  // values
Tensor argmax(const Tensor& x, int64_t axis, bool keepdim = false);       // i64, first max
// var with Bessel's correction by default (correction = 1), as torch.var.
Tensor var(const Tensor& x, const Axes& axes = {}, bool keepdim = false, int64_t correction = 1);
// Sums a gradient of a broadcast shape back to `shape` (the adjoint of broadcasting).
Tensor sum_to(const Tensor& x, const Shape& shape);

// ---- linear algebra ------------------------------------------------------------------------
// matmul as numpy.matmul: 1-D operands are promoted and the added dim removed; leading
// (batch) dims broadcast. Inner dims must agree.
Tensor matmul(const Tensor& a, const Tensor& b);
// x (..., in) @ w^T + b with w (out, in) and b (out) or undefined: one GEMM with the bias in its
// epilogue; backward is two GEMMs and a column sum (the input's gradient only when needed).
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b);

// ---- normalisation along one axis (numerically stable: max subtracted) -----------------------
Tensor softmax(const Tensor& x, int64_t axis);
Tensor log_softmax(const Tensor& x, int64_t axis);

// ---- layer norm (ops_reduce.cpp; fused kernels in kernels/rowops.h) ---------------------------
// Over the last dim: (x - mean) / sqrt(var + eps) * weight + bias, var biased (as torch's
// layer_norm); weight and bias (C) or undefined. Saves the per-row mean and 1/std; gradients
// for x, weight and bias from one fused backward. No double backward.
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps = 1e-5);

// ---- joining and indexing --------------------------------------------------------------------
Tensor cat(const std::vector<Tensor>& xs, int64_t dim);
Tensor stack(const std::vector<Tensor>& xs, int64_t dim);
// index_select(x, dim, idx): idx is 1-D i32/i64; out.shape[dim] = idx.numel (embeddings).
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& idx);
// gather(x, dim, idx): out[i][j][k] = x[i][idx[i][j][k]][k] for dim = 1; idx i32/i64 with
// x's rank, and idx.shape[d] <= x.shape[d] for d != dim.
Tensor gather(const Tensor& x, int64_t dim, const Tensor& idx);

// ---- convolution and pooling (via im2col; ops_conv.cpp) -----------------------------------
struct Conv2dArgs {
  int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1;
  int64_t groups = 1;
};
// x (N, C, H, W) -> cols (N, C*kh*kw, OH*OW); zeros outside the image. Gradient: col2im.
Tensor unfold2d(const Tensor& x, int64_t kh, int64_t kw, const Conv2dArgs& args);
Shape conv2d_output_hw(const Shape& x, int64_t kh, int64_t kw, const Conv2dArgs& args);
// x (N, C, H, W), w (OC, C/groups, KH, KW), b (OC) or undefined -> (N, OC, OH, OW).
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dArgs& args);
// Square windows, no padding; stride defaults to the window (0 = k).
Tensor max_pool2d(const Tensor& x, int64_t k, int64_t stride = 0);
Tensor avg_pool2d(const Tensor& x, int64_t k, int64_t stride = 0);

// ---- attention (ops_attention.cpp; tiled kernels in kernels/attention.h) --------------------
// softmax(q k^T / sqrt(D), masked) v for q (B, H, Tq, D), k and v (B, H, Tk, D), f32 or f64.
// Causal: query i (at absolute position q_offset + i; keys at 0..Tk-1) sees keys
// j <= q_offset + i. Same values as matmul + where + softmax + matmul, but the (Tq, Tk) scores
// are never stored (FlashAttention-2, Dao 2023): forward and backward memory is linear in T.
// Profiler FLOPs per visible (query, key) pair: 4*D + 5 forward, 10*D + 3 backward (+ 2*D per
// query row). No double backward.
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    bool causal = true, int64_t q_offset = 0);
// The same over a fused projection qkv (B, T, 3*H*D) whose last dim holds q, k and v, each split
// into `heads` heads of D: self-attention (Tq = Tk = T, q_offset 0), output (B, H, T, D) as
// above. One autograd node with qkv as its input: its backward writes dq, dk and dv straight into
// one (B, T, 3*H*D) gradient, where slicing qkv into three inputs costs three zero-filled
// (B, T, 3*H*D) tensors, three strided copies and two sums (gpt-tiny batch 128: 8 of 85 ms a
// step). Profiled as scaled_dot_product_attention (same FLOPs and kernels).
Tensor scaled_dot_product_attention_qkv(const Tensor& qkv, int64_t heads, bool causal = true);

// ---- operators ----------------------------------------------------------------------------
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);

}  // namespace bstack
