// 2-D convolution and pooling on NCHW tensors, forward and backward: raw pointers and sizes.
//
// Convolution lowers to GEMM through im2col (Chellapilla, Puri & Simard 2006, "High performance
// convolutional neural networks for document processing"): per image, the receptive fields are
// copied into a (C*KH*KW, OH*OW) matrix `cols` that stays in L2, and one GEMM per group makes
// the output; the backward reuses the same lowering (dW += dY @ cols^T, dcols = W^T @ dY, then
// col2im). Depthwise convolutions (groups == C, any channel multiplier; C == 1 included) have a
// direct kernel instead: each output plane is a k x k stencil over one input plane, memory-bound,
// where im2col would copy k*k times the input to do a GEMM with K = k*k. See conv.cpp for the
// threading and the measurements behind these choices.
//
// Layouts (all contiguous, row-major):
//   x  (N, C, H, W)            w  (OC, C/groups, KH, KW)     bias (OC) or nullptr
//   y  (N, OC, OH, OW)         OH = (H + 2 PH - DH (KH - 1) - 1) / SH + 1, likewise OW
// Output channel o belongs to group o / (OC/groups) and reads input channels
// [g C/groups, (g+1) C/groups). T is float or double; float depthwise and pooling loops run
// AVX-512 or AVX2 code when kernels::isa() says so (conv_avx512.cpp, conv_avx2.cpp), double
// and the scalar path run the portable loops here.
//
// Results do not depend on the thread count: every sum over the batch is made in one order.
// Leaves out on purpose: channels-last layouts, transposed convolution, pooling with padding
// or ceil_mode, Winograd/FFT methods.
//
// This header only declares (no inline definitions), so the ISA files may include it safely.
#pragma once

#include <cstdint>

namespace bstack::kernels {

struct Conv2dShape {
  int64_t N = 1, C = 1, H = 1, W = 1;  // input
  int64_t OC = 1, KH = 1, KW = 1;      // weight (OC, C/groups, KH, KW)
  int64_t SH = 1, SW = 1, PH = 0, PW = 0, DH = 1, DW = 1;
  int64_t groups = 1;
  int64_t OH() const;
  int64_t OW() const;
  bool valid() const;      // sizes positive, groups divide C and OC, kernel fits the padded input
  bool depthwise() const;  // groups == C and OC a multiple of C: the direct kernel's case
};

// One image: x_img (C, H, W) -> cols (C*KH*KW, OH*OW), row (c*KH + i)*KW + j holding
// x[c, oh*SH - PH + i*DH, ow*SW - PW + j*DW] (0 outside the image). col2im is its adjoint and
// accumulates: x_img += fold(cols). im2col also takes int8_t, int32_t and int64_t.
template <class T>
void im2col(const Conv2dShape& s, const T* x_img, T* cols);
template <class T>
void col2im(const Conv2dShape& s, const T* cols, T* x_img);

// y = conv(x, w) + bias. Threads: over images when the batch has at least as many as there
// are threads (each image's GEMM then single-threaded), else inside each image's GEMM.
template <class T>
void conv2d_forward(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y);

// Gradients from dy (N, OC, OH, OW); each output may be nullptr when not wanted and is
// overwritten (not accumulated): dx (N, C, H, W), dw (OC, C/groups, KH, KW), dbias (OC).
template <class T>
void conv2d_backward(const Conv2dShape& s, const T* x, const T* w, const T* dy, T* dx, T* dw,
                     T* dbias);

// The direct depthwise kernels (s.depthwise() must hold); conv2d_* call them for that case.
template <class T>
void depthwise_conv2d_forward(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y);
template <class T>
void depthwise_conv2d_backward(const Conv2dShape& s, const T* x, const T* w, const T* dy, T* dx,
                               T* dw, T* dbias);

// The naive 7-loop definition (and its adjoint), for tests and as the readable specification.
template <class T>
void conv2d_forward_ref(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y);
template <class T>
void conv2d_backward_ref(const Conv2dShape& s, const T* x, const T* w, const T* dy, T* dx, T* dw,
                         T* dbias);

// ---- pooling: `planes` independent (H, W) planes (N*C of them), windows KH x KW, no padding ----
struct Pool2dShape {
  int64_t planes = 1, H = 1, W = 1, KH = 1, KW = 1, SH = 1, SW = 1;
  int64_t OH() const;  // (H - KH) / SH + 1
  int64_t OW() const;
  bool valid() const;
};

// y = max over each window; argmax (planes, OH, OW), or nullptr, gets the winner's index
// h*W + w in its plane (the first one on ties, as torch), which the backward scatters to.
// Any of float, double, int8_t, int32_t, int64_t.
template <class T>
void max_pool2d_forward(const Pool2dShape& s, const T* x, T* y, int32_t* argmax);
// dx (planes, H, W) = 0, then dx[argmax] += dy.
template <class T>
void max_pool2d_backward(const Pool2dShape& s, const T* dy, const int32_t* argmax, T* dx);
// y = mean over each window (float, double).
template <class T>
void avg_pool2d_forward(const Pool2dShape& s, const T* x, T* y);
// dx = 0, then every window's elements += dy / (KH*KW).
template <class T>
void avg_pool2d_backward(const Pool2dShape& s, const T* dy, T* dx);

// ---- private: the float depthwise plane kernels of the ISA files (conv_avx2/avx512.cpp) -------
// For s.SW == 1 and s.KW <= kDepthwiseMaxKW (conv.cpp falls back to portable loops otherwise).
//   forward:        the m planes y (m*OH*OW) = b[q] (0 when b is nullptr) + stencil of one x
//                   (H, W) plane with the m filters w (m*KH*KW)
//   backward_input: dx (H, W) = sum over the m dy planes (m*OH*OW, contiguous) and their m
//                   filters (m*KH*KW) of the transposed stencil (overwritten)
//   backward_weight: the m filters dw (m*KH*KW) += correlation of the m dy planes (m*OH*OW)
//                   with one x plane
// and the float max-pool plane kernel for s.SW == 1 or 2 and s.KW <= kDepthwiseMaxKW
// (max_pool2d_forward's contract, one plane; argmax may be nullptr), and a float transpose
// dst[j*ldd + i] = src[i*lds + j] of a rows x cols matrix (cols -> cols^T for the dW GEMM).
constexpr int64_t kDepthwiseMaxKW = 32;
#define BSTACK_CONV_ISA_DECLS                                                                     \
  void depthwise_forward_planes(const Conv2dShape& s, int64_t m, const float* x, const float* w,  \
                                const float* b, float* y);                                        \
  void depthwise_backward_input_plane(const Conv2dShape& s, int64_t m, const float* dy,           \
                                      const float* w, float* dx);                                 \
  void depthwise_backward_weight_planes(const Conv2dShape& s, int64_t m, const float* x,         \
                                        const float* dy, float* dw);                              \
  void max_pool_plane(const Pool2dShape& s, const float* x, float* y, int32_t* argmax);         \
  void transpose(int64_t rows, int64_t cols, const float* src, int64_t lds, float* dst,         \
                 int64_t ldd);
namespace avx2 {
BSTACK_CONV_ISA_DECLS
}
namespace avx512 {
BSTACK_CONV_ISA_DECLS
}
#undef BSTACK_CONV_ISA_DECLS

}  // namespace bstack::kernels
