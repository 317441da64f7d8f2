// Fused row kernels: softmax, log-softmax, cross-entropy (log-softmax + NLL), layer norm, each
// forward and backward in one or two passes over a row, plus GELU and a vector exp. These are
// the ops whose composite forms (max, subtract, exp, sum, divide, ...) make several passes and
// temporaries per training step; fused, each row is read while it is still in L1.
//
// Layout, for every row kernel: x, y, dx, dy are (rows, n), contiguous, row-major. Row i is
// handled by one thread from start to end, so results do not depend on the thread count.
// T is float or double. The float paths run AVX-512 or AVX2+FMA code when kernels::isa() says
// so (kernels/rowops_avx512.cpp, rowops_avx2.cpp); double, and float on the scalar path, run
// portable C++ with std::exp (the reference every SIMD path is tested against).
//
// Leaves out on purpose: strided rows (callers make rows contiguous first), masks and
// ignore_index in cross-entropy, label smoothing.
//
// This header only declares (no inline definitions), so the ISA files may include it safely.
#pragma once

#include <cstdint>

namespace bstack::kernels {

// ---- softmax and log-softmax (max subtracted, so any magnitude is safe) -----------------------
// y = exp(x - max) / sum exp(x - max)
template <class T>
void softmax_forward(int64_t rows, int64_t n, const T* x, T* y);
// y = x - max - log(sum exp(x - max))
template <class T>
void log_softmax_forward(int64_t rows, int64_t n, const T* x, T* y);
// From the forward's output y: dx = y * (dy - sum_j dy_j y_j).
template <class T>
void softmax_backward(int64_t rows, int64_t n, const T* y, const T* dy, T* dx);
// From the forward's output y: dx = dy - exp(y) * sum_j dy_j.
template <class T>
void log_softmax_backward(int64_t rows, int64_t n, const T* y, const T* dy, T* dx);

// ---- cross-entropy = NLL of log-softmax, per row ---------------------------------------------
// logits (rows, n), target (rows) in [0, n) (the caller checks): loss[i] = lse_i - x[i, t_i]
// with lse_i = log sum_j exp(x_ij); lse (rows) is kept for the backward.
template <class T>
void cross_entropy_forward(int64_t rows, int64_t n, const T* logits, const int64_t* target, T* loss,
                           T* lse);
// dlogits[i, j] = scale * (exp(x_ij - lse_i) - [j == t_i]) (softmax minus one-hot; a mean over
// the batch passes scale = grad / rows).
template <class T>
void cross_entropy_backward(int64_t rows, int64_t n, const T* logits, const int64_t* target,
                            const T* lse, T scale, T* dlogits);

// ---- layer norm over the last dim (Ba, Kiros & Hinton 2016) -----------------------------------
// y = (x - mean) * rstd * gamma + beta, rstd = 1 / sqrt(var + eps), var biased (divides by n).
// gamma, beta: (n) or nullptr (1 and 0). mean, rstd: (rows), saved for the backward.
template <class T>
void layernorm_forward(int64_t rows, int64_t n, const T* x, const T* gamma, const T* beta, T eps,
                       T* y, T* mean, T* rstd);
// With xhat = (x - mean) * rstd and g = dy * gamma (llm.c's layernorm_backward):
//   dx = rstd * (g - mean_j(g) - xhat * mean_j(g * xhat)),
//   dgamma = sum_rows dy * xhat, dbeta = sum_rows dy (overwritten; either may be nullptr).
template <class T>
void layernorm_backward(int64_t rows, int64_t n, const T* x, const T* gamma, const T* mean,
                        const T* rstd, const T* dy, T* dx, T* dgamma, T* dbeta);

// ---- GELU, tanh approximation (Hendrycks & Gimpel 2016; GPT-2) --------------------------------
// y = 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), computed as x * sigmoid(2u)
// (0.5 (1 + tanh u) = sigmoid(2u)), which has no cancellation for large negative x.
template <class T>
void gelu_forward(int64_t n, const T* x, T* y);
// dx = dy * (s + 2 x s (1 - s) u'(x)), s = sigmoid(2u), u' = sqrt(2/pi) (1 + 3 * 0.044715 x^2).
template <class T>
void gelu_backward(int64_t n, const T* x, const T* dy, T* dx);

// ---- vector exp --------------------------------------------------------------------------------
// y = exp(x), float. SIMD paths: Cephes expf's range reduction and polynomial (Moshier,
// "Methods and Programs for Mathematical Functions", 1989; cephes/single/expf.c): x = n ln2 + r,
// |r| <= ln2 / 2, exp(r) by a degree-6 polynomial, then scaled by 2^n. Relative error below
// 3 ulp for normal results; overflows to +inf above 88.72, gives 0 below -104, keeps NaN.
void exp_f32(int64_t n, const float* x, float* y);

// ---- per-ISA row entry points (used by rowops.cpp only) -----------------------------------------
// Each runs serially over the rows it is given; rowops.cpp splits rows across threads. The
// exp-based elementwise runs (exp, tanh, sigmoid) live here beside exp and serve eltwise.cpp.
// dgamma_acc / dbeta_acc are accumulated into (+=), one buffer per thread.
#define BSTACK_ROWOPS_ISA_DECLS                                                                    \
  void softmax_rows(int64_t rows, int64_t n, const float* x, float* y, bool log_form);             \
  void softmax_backward_rows(int64_t rows, int64_t n, const float* y, const float* dy, float* dx,  \
                             bool log_form);                                                       \
  void cross_entropy_forward_rows(int64_t rows, int64_t n, const float* x, const int64_t* target,  \
                                  float* loss, float* lse);                                        \
  void cross_entropy_backward_rows(int64_t rows, int64_t n, const float* x, const int64_t* target, \
                                   const float* lse, float scale, float* dx);                      \
  void layernorm_forward_rows(int64_t rows, int64_t n, const float* x, const float* gamma,         \
                              const float* beta, float eps, float* y, float* mean, float* rstd);   \
  void layernorm_backward_rows(int64_t rows, int64_t n, const float* x, const float* gamma,        \
                               const float* mean, const float* rstd, const float* dy, float* dx,   \
                               float* dgamma_acc, float* dbeta_acc);                               \
  void gelu_forward_run(int64_t n, const float* x, float* y);                                      \
  void gelu_backward_run(int64_t n, const float* x, const float* dy, float* dx);                   \
  void exp_run(int64_t n, const float* x, float* y);                                               \
  void tanh_run(int64_t n, const float* x, float* y);                                              \
  void sigmoid_run(int64_t n, const float* x, float* y);

namespace avx2 {
BSTACK_ROWOPS_ISA_DECLS
}
namespace avx512 {
BSTACK_ROWOPS_ISA_DECLS
}
#undef BSTACK_ROWOPS_ISA_DECLS

}  // namespace bstack::kernels
