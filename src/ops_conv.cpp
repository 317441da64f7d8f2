// unfold2d (im2col) and its adjoint fold2d (col2im): the one primitive under convolution and
// pooling. conv2d = unfold + batched matmul; pooling = unfold + max/mean over the window.
// (Chellapilla et al. 2006, "High performance convolutional neural networks for document
// processing", lowering convolution to GEMM.)
//
// x: (N, C, H, W) contiguous-read; cols: (N, C*KH*KW, OH*OW), row c*KH*KW + i*KW + j holds
// x[n, c, oh*SH - PH + i*DH, ow*SW - PW + j*DW] (0 outside the image).
#include "src/ops.h"
#include "src/ops_internal.h"
#include "src/profile/profiler.h"

namespace bstack {

namespace {

struct Geometry {
  int64_t N, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW;
};

Geometry geometry(const char* op, const Shape& x, const Conv2dArgs& a, int64_t kh, int64_t kw) {
  BSTACK_CHECK(x.size() == 4, "{}: input must be (N, C, H, W), got {}", op, shape_str(x));
  BSTACK_CHECK(kh > 0 && kw > 0 && a.stride_h > 0 && a.stride_w > 0 && a.dilation_h > 0 &&
                   a.dilation_w > 0 && a.pad_h >= 0 && a.pad_w >= 0,
               "{}: kernel {}x{}, stride {}x{}, dilation {}x{} must be positive and padding {}x{} "
               "non-negative", op, kh, kw, a.stride_h, a.stride_w, a.dilation_h, a.dilation_w,
               a.pad_h, a.pad_w);
  Geometry g{x[0], x[1], x[2], x[3], kh, kw, a.stride_h, a.stride_w, a.pad_h, a.pad_w,
             a.dilation_h, a.dilation_w, 0, 0};
  const int64_t eh = g.DH * (g.KH - 1) + 1, ew = g.DW * (g.KW - 1) + 1;  // effective kernel
  BSTACK_CHECK(g.H + 2 * g.PH >= eh && g.W + 2 * g.PW >= ew,
               "{}: kernel {}x{} (dilated {}x{}) is larger than the padded input {}x{} of {}", op,
               kh, kw, eh, ew, g.H + 2 * g.PH, g.W + 2 * g.PW, shape_str(x));
  g.OH = (g.H + 2 * g.PH - eh) / g.SH + 1;
  g.OW = (g.W + 2 * g.PW - ew) / g.SW + 1;
  return g;
}

// fold = true: x[...] += cols[...] (col2im); false: cols[...] = x[...] (im2col).
template <class T>
void im2col(const Geometry& g, T* x, T* cols, bool fold) {
  const int64_t K = g.C * g.KH * g.KW, L = g.OH * g.OW;
  kernels::parallel_for(g.N * g.C, g.KH * g.KW * L, [&](int64_t b0, int64_t b1) {
    for (int64_t nc = b0; nc < b1; ++nc) {
      const int64_t n = nc / g.C, c = nc % g.C;
      T* img = x + nc * g.H * g.W;
      for (int64_t i = 0; i < g.KH; ++i)
        for (int64_t j = 0; j < g.KW; ++j) {
          T* row = cols + (n * K + (c * g.KH + i) * g.KW + j) * L;
          for (int64_t oh = 0; oh < g.OH; ++oh) {
            const int64_t h = oh * g.SH - g.PH + i * g.DH;
            T* r = row + oh * g.OW;
            if (h < 0 || h >= g.H) {
              if (!fold)
                for (int64_t ow = 0; ow < g.OW; ++ow) r[ow] = T(0);
              continue;
            }
            for (int64_t ow = 0; ow < g.OW; ++ow) {
              const int64_t w = ow * g.SW - g.PW + j * g.DW;
              if (w < 0 || w >= g.W) {
                if (!fold) r[ow] = T(0);
              } else if (fold) {
                img[h * g.W + w] += r[ow];
              } else {
                r[ow] = img[h * g.W + w];
              }
            }
          }
        }
    }
  });
}

}  // namespace

Shape conv2d_output_hw(const Shape& x, int64_t kh, int64_t kw, const Conv2dArgs& a) {
  const Geometry g = geometry("conv2d", x, a, kh, kw);
  return {g.OH, g.OW};
}

Tensor unfold2d(const Tensor& x, int64_t kh, int64_t kw, const Conv2dArgs& a) {
  detail::check_defined("unfold2d", x);
  const Geometry g = geometry("unfold2d", x.shape(), a, kh, kw);
  const Tensor xc = x.detach().contiguous();
  detail::OpTimer timer("unfold2d", {&x});
  Tensor cols = empty({g.N, g.C * g.KH * g.KW, g.OH * g.OW}, x.dtype());
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    im2col<T>(g, static_cast<T*>(xc.data_ptr()), static_cast<T*>(cols.data_ptr()), false);
  });
  timer.done(cols, 0);
  return record(cols, "unfold2d", {x}, [g](const Tensor& gcols) {
    Tensor gx = zeros({g.N, g.C, g.H, g.W}, gcols.dtype());
    const Tensor gc = gcols.contiguous();
    visit_floating(gc.dtype(), "unfold2d_backward", [&](auto tag) {
      using T = typename decltype(tag)::type;
      im2col<T>(g, static_cast<T*>(gx.data_ptr()), static_cast<T*>(gc.data_ptr()), true);
    });
    return std::vector<Tensor>{gx};
  });
}

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dArgs& a) {
  detail::check_defined("conv2d", x);
  detail::check_defined("conv2d", w);
  BSTACK_CHECK(w.dim() == 4, "conv2d: weight must be (OC, C/groups, KH, KW), got {}",
               shape_str(w.shape()));
  BSTACK_CHECK(x.dim() == 4, "conv2d: input must be (N, C, H, W), got {}", shape_str(x.shape()));
  const int64_t G = a.groups, N = x.size(0), C = x.size(1), OC = w.size(0);
  BSTACK_CHECK(G >= 1 && C % G == 0 && OC % G == 0,
               "conv2d: groups {} must divide input channels {} and output channels {}", G, C, OC);
  BSTACK_CHECK(w.size(1) == C / G,
               "conv2d: weight {} expects {} input channels per group, input {} has {} / {} = {}",
               shape_str(w.shape()), w.size(1), shape_str(x.shape()), C, G, C / G);
  const int64_t KH = w.size(2), KW = w.size(3);
  const Shape hw = conv2d_output_hw(x.shape(), KH, KW, a);
  const int64_t L = hw[0] * hw[1], K = C / G * KH * KW;
  // cols (N, G, K, L); weights (G, OC/G, K): one batched GEMM, broadcast over N.
  Tensor cols = unfold2d(x, KH, KW, a).view({N, G, K, L});
  Tensor out = matmul(w.reshape({G, OC / G, K}), cols).reshape({N, OC, hw[0], hw[1]});
  if (b.defined()) {
    BSTACK_CHECK(b.dim() == 1 && b.size(0) == OC, "conv2d: bias must be ({}), got {}", OC,
                 shape_str(b.shape()));
    out = out + b.view({1, OC, 1, 1});
  }
  return out;
}

namespace {
// Pooling = a per-channel window reduction: every channel's k x k windows as the rows of
// (N*C, k*k, L) columns, reduced over dim 1, reshaped back to (N, C, OH, OW).
template <class Reduce>
Tensor pool2d(const char* op, const Tensor& x, int64_t k, int64_t stride, Reduce reduce) {
  BSTACK_CHECK(x.dim() == 4, "{}: input must be (N, C, H, W), got {}", op, shape_str(x.shape()));
  const int64_t N = x.size(0), C = x.size(1);
  Conv2dArgs a;
  a.stride_h = a.stride_w = stride > 0 ? stride : k;
  const Shape hw = conv2d_output_hw(x.shape(), k, k, a);
  Tensor cols = unfold2d(x.reshape({N * C, 1, x.size(2), x.size(3)}), k, k, a);
  return reduce(cols).reshape({N, C, hw[0], hw[1]});
}
}  // namespace

Tensor max_pool2d(const Tensor& x, int64_t k, int64_t stride) {
  return pool2d("max_pool2d", x, k, stride, [](const Tensor& c) { return max(c, {1}); });
}

Tensor avg_pool2d(const Tensor& x, int64_t k, int64_t stride) {
  return pool2d("avg_pool2d", x, k, stride, [](const Tensor& c) { return mean(c, {1}); });
}

}  // namespace bstack
