// Convolution and pooling ops over kernels/conv.h: shape checks, dtype dispatch, autograd and
// profiling. conv2d is one primitive with its own backward (im2col + GEMM per image, or the
// direct depthwise kernel when groups == C; see kernels/conv.cpp), not a composition of
// unfold2d and matmul: the composite materialised the whole batch's columns, ran a batched
// matmul and a separate bias add, and its backward a second set of matmuls plus col2im.
// unfold2d (im2col) and its adjoint stay available as an op of their own.
//
// x: (N, C, H, W); cols: (N, C*KH*KW, OH*OW), row c*KH*KW + i*KW + j holds
// x[n, c, oh*SH - PH + i*DH, ow*SW - PW + j*DW] (0 outside the image).
#include "kernels/conv.h"
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

kernels::Conv2dShape conv_shape(const Geometry& g, int64_t OC, int64_t groups) {
  kernels::Conv2dShape s;
  s.N = g.N, s.C = g.C, s.H = g.H, s.W = g.W;
  s.OC = OC, s.KH = g.KH, s.KW = g.KW;
  s.SH = g.SH, s.SW = g.SW, s.PH = g.PH, s.PW = g.PW, s.DH = g.DH, s.DW = g.DW;
  s.groups = groups;
  return s;
}

template <class T>
T* ptr(const Tensor& t) {
  return t.defined() ? static_cast<T*>(t.data_ptr()) : nullptr;
}

}  // namespace

namespace {

// What conv2d's backward needs: the shape, x (for dW) and w (for dx) when those are wanted.
struct Conv2dSaved {
  kernels::Conv2dShape s;
  Tensor x, w;  // detached, contiguous; undefined when not needed
  bool need_x, need_w, need_b, has_b;
  double outputs, macs;  // N*OC*OH*OW and outputs * C/groups*KH*KW, for the profiler
};

double bytes_of(const Tensor& t) {
  return t.defined() ? static_cast<double>(t.numel()) * dtype_size(t.dtype()) : 0.0;
}

std::vector<Tensor> conv2d_grads(const Conv2dSaved& c, const Tensor& gy) {
  const kernels::Conv2dShape& s = c.s;
  const Tensor gyc = gy.contiguous();
  detail::OpTimer timer("conv2d_backward", {&gyc});
  Tensor gx = c.need_x ? empty({s.N, s.C, s.H, s.W}, gy.dtype()) : Tensor();
  Tensor gw = c.need_w ? empty({s.OC, s.C / s.groups, s.KH, s.KW}, gy.dtype()) : Tensor();
  Tensor gb = c.need_b ? empty({s.OC}, gy.dtype()) : Tensor();
  visit_floating(gy.dtype(), "conv2d_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::conv2d_backward<T>(s, ptr<T>(c.x), ptr<T>(c.w), ptr<T>(gyc), ptr<T>(gx), ptr<T>(gw),
                                ptr<T>(gb));
  });
  // FLOPs: 2 per multiply-add of dx and of dW, 1 per dY element summed into dbias.
  const double flops =
      2 * c.macs * ((c.need_x ? 1 : 0) + (c.need_w ? 1 : 0)) + (c.need_b ? c.outputs : 0);
  // Bytes: dY, the saved x and w read once, every gradient written once.
  const Tensor& out = gx.defined() ? gx : gw.defined() ? gw : gb.defined() ? gb : gyc;
  timer.done(out, flops,
             bytes_of(c.x) + bytes_of(c.w) + bytes_of(gx) + bytes_of(gw) + bytes_of(gb) -
                 bytes_of(out));
  std::vector<Tensor> grads = {gx, gw};
  if (c.has_b) grads.push_back(gb);
  return grads;
}

}  // namespace

Shape conv2d_output_hw(const Shape& x, int64_t kh, int64_t kw, const Conv2dArgs& a) {
  const Geometry g = geometry("conv2d", x, a, kh, kw);
  return {g.OH, g.OW};
}

Tensor unfold2d(const Tensor& x, int64_t kh, int64_t kw, const Conv2dArgs& a) {
  detail::check_defined("unfold2d", x);
  const Geometry g = geometry("unfold2d", x.shape(), a, kh, kw);
  const kernels::Conv2dShape s = conv_shape(g, 1, 1);
  const Tensor xc = x.detach().contiguous();
  detail::OpTimer timer("unfold2d", {&x});
  const int64_t K = g.C * g.KH * g.KW, L = g.OH * g.OW, img = g.C * g.H * g.W;
  Tensor cols = empty({g.N, K, L}, x.dtype());
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = ptr<T>(xc);
    T* pc = ptr<T>(cols);
    kernels::parallel_for(g.N, K * L, [&](int64_t n0, int64_t n1) {
      for (int64_t n = n0; n < n1; ++n) kernels::im2col<T>(s, px + n * img, pc + n * K * L);
    });
  });
  timer.done(cols, 0);
  return record(cols, "unfold2d", {x}, [s, K, L, img](const Tensor& gcols) {
    Tensor gx = zeros({s.N, s.C, s.H, s.W}, gcols.dtype());
    const Tensor gc = gcols.contiguous();
    visit_floating(gc.dtype(), "unfold2d_backward", [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* pc = ptr<T>(gc);
      T* px = ptr<T>(gx);
      kernels::parallel_for(s.N, K * L, [&](int64_t n0, int64_t n1) {
        for (int64_t n = n0; n < n1; ++n) kernels::col2im<T>(s, pc + n * K * L, px + n * img);
      });
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
  detail::check_same_dtype("conv2d", x, w);
  const int64_t G = a.groups, C = x.size(1), OC = w.size(0);
  BSTACK_CHECK(G >= 1 && C % G == 0 && OC % G == 0,
               "conv2d: groups {} must divide input channels {} and output channels {}", G, C, OC);
  BSTACK_CHECK(w.size(1) == C / G,
               "conv2d: weight {} expects {} input channels per group, input {} has {} / {} = {}",
               shape_str(w.shape()), w.size(1), shape_str(x.shape()), C, G, C / G);
  if (b.defined()) {
    BSTACK_CHECK(b.dim() == 1 && b.size(0) == OC, "conv2d: bias must be ({}), got {}", OC,
                 shape_str(b.shape()));
    detail::check_same_dtype("conv2d", x, b);
  }
  const Geometry g = geometry("conv2d", x.shape(), a, w.size(2), w.size(3));
  const kernels::Conv2dShape s = conv_shape(g, OC, G);
  const Tensor xc = x.detach().contiguous(), wc = w.detach().contiguous();
  const Tensor bc = b.defined() ? b.detach().contiguous() : Tensor();
  detail::OpTimer timer =
      b.defined() ? detail::OpTimer("conv2d", {&x, &w, &b}) : detail::OpTimer("conv2d", {&x, &w});
  Tensor y = empty({g.N, OC, g.OH, g.OW}, x.dtype());
  visit_floating(x.dtype(), "conv2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::conv2d_forward<T>(s, ptr<T>(xc), ptr<T>(wc), ptr<T>(bc), ptr<T>(y));
  });
  // FLOPs: a multiply-add per weight tap per output (2 * N*OC*OH*OW * C/groups*KH*KW), plus
  // the bias add (1 per output), as the matmul + add it replaces counted them.
  const double outputs = static_cast<double>(g.N) * OC * g.OH * g.OW;
  const double macs = outputs * (C / G) * g.KH * g.KW;
  timer.done(y, 2 * macs + (b.defined() ? outputs : 0));

  // Saved for the backward only what it reads: x for dW, w for dx.
  Conv2dSaved saved{s, Tensor(), Tensor(), x.requires_grad(), w.requires_grad(),
                    b.defined() && b.requires_grad(), b.defined(), outputs, macs};
  if (saved.need_w) saved.x = xc;
  if (saved.need_x) saved.w = wc;
  std::vector<Tensor> inputs = {x, w};
  if (b.defined()) inputs.push_back(b);
  return record(y, "conv2d", std::move(inputs),
                [saved](const Tensor& gy) { return conv2d_grads(saved, gy); });
}

namespace {
kernels::Pool2dShape pool_shape(const char* op, const Tensor& x, int64_t k, int64_t stride) {
  detail::check_defined(op, x);
  BSTACK_CHECK(x.dim() == 4, "{}: input must be (N, C, H, W), got {}", op, shape_str(x.shape()));
  BSTACK_CHECK(k > 0 && stride >= 0, "{}: window {} must be positive and stride {} non-negative",
               op, k, stride);
  Conv2dArgs a;
  a.stride_h = a.stride_w = stride > 0 ? stride : k;
  geometry(op, x.shape(), a, k, k);  // checks the window fits
  kernels::Pool2dShape s;
  s.planes = x.size(0) * x.size(1);
  s.H = x.size(2), s.W = x.size(3);
  s.KH = s.KW = k;
  s.SH = s.SW = a.stride_h;
  return s;
}
}  // namespace

Tensor max_pool2d(const Tensor& x, int64_t k, int64_t stride) {
  const kernels::Pool2dShape s = pool_shape("max_pool2d", x, k, stride);
  const Tensor xc = x.detach().contiguous();
  detail::OpTimer timer("max_pool2d", {&x});
  const Shape out_shape = {x.size(0), x.size(1), s.OH(), s.OW()};
  Tensor y = empty(out_shape, x.dtype());
  // The winners' positions, kept only when a backward will scatter to them.
  Tensor argmax = grad_enabled() && x.requires_grad() ? empty(out_shape, DType::i32) : Tensor();
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::max_pool2d_forward<T>(s, ptr<T>(xc), ptr<T>(y), ptr<int32_t>(argmax));
  });
  timer.done(y, static_cast<double>(y.numel()) * s.KH * s.KW);  // a compare per window element
  return record(y, "max_pool2d", {x}, [s, argmax, in_shape = x.shape()](const Tensor& gy) {
    const Tensor gyc = gy.contiguous();
    detail::OpTimer timer("max_pool2d_backward", {&gyc, &argmax});
    Tensor gx = empty(in_shape, gy.dtype());
    visit_floating(gy.dtype(), "max_pool2d_backward", [&](auto tag) {
      using T = typename decltype(tag)::type;
      kernels::max_pool2d_backward<T>(s, ptr<T>(gyc), ptr<int32_t>(argmax), ptr<T>(gx));
    });
    timer.done(gx, static_cast<double>(gy.numel()));  // an add per window
    return std::vector<Tensor>{gx};
  });
}

Tensor avg_pool2d(const Tensor& x, int64_t k, int64_t stride) {
  const kernels::Pool2dShape s = pool_shape("avg_pool2d", x, k, stride);
  BSTACK_CHECK(is_floating(x.dtype()),
               "avg_pool2d: needs a floating-point tensor (f32 or f64), got {}",
               dtype_name(x.dtype()));
  const Tensor xc = x.detach().contiguous();
  detail::OpTimer timer("avg_pool2d", {&x});
  Tensor y = empty({x.size(0), x.size(1), s.OH(), s.OW()}, x.dtype());
  visit_floating(x.dtype(), "avg_pool2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::avg_pool2d_forward<T>(s, ptr<T>(xc), ptr<T>(y));
  });
  const double window = static_cast<double>(s.KH * s.KW);
  timer.done(y, static_cast<double>(y.numel()) * window);  // an add per element, the scale
  return record(y, "avg_pool2d", {x}, [s, window, in_shape = x.shape()](const Tensor& gy) {
    const Tensor gyc = gy.contiguous();
    detail::OpTimer timer("avg_pool2d_backward", {&gyc});
    Tensor gx = empty(in_shape, gy.dtype());
    visit_floating(gy.dtype(), "avg_pool2d_backward", [&](auto tag) {
      using T = typename decltype(tag)::type;
      kernels::avg_pool2d_backward<T>(s, ptr<T>(gyc), ptr<T>(gx));
    });
    timer.done(gx, static_cast<double>(gy.numel()) * window);
    return std::vector<Tensor>{gx};
  });
}

}  // namespace bstack
