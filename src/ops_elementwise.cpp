// Elementwise ops: binary with broadcasting, comparisons, where, unary math; each forward
// beside its gradient. Gradients of broadcast operands are summed back with sum_to.
//
// f32/f64 operands that fit a (rows, cols) grid (same shape, a scalar, a bias row, a column,
// sliced rows) take the vectorised kernels of kernels/eltwise.h, as do contiguous unary ops
// and their gradients (one fused pass for g * f'(x)); everything else takes the strided loop.
#include "kernels/eltwise.h"
#include "kernels/rowops.h"
#include "src/ops.h"
#include "src/ops_internal.h"
#include "src/profile/profiler.h"

#include <cmath>
#include <optional>


namespace bstack {

using detail::broadcast_shapes;
using detail::broadcast_strides;
using detail::check_defined;
using detail::check_same_dtype;
using detail::for_each_strided;

namespace {

enum class Types { all, floating };

// ---- the kernels' grid ----------------------------------------------------------------------
// A binary op over `shape` read as the (rows, cols) grid kernels::binary takes: size-1 dims
// dropped and neighbours merged where out, a and b are all contiguous across them (as
// for_each_run does). It fits when at most two dims remain and each operand's inner stride is
// 0 (broadcast) or 1; row strides may be anything. out is contiguous, so its strides are
// (cols, 1).
struct Grid {
  int64_t rows = 1, cols = 1, a_rs = 0, a_cs = 0, b_rs = 0, b_cs = 0;
};

bool as_grid(const Shape& shape, const Shape& so, const Shape& sa, const Shape& sb, Grid& g) {
  const std::array<const Shape*, 3> in = {&so, &sa, &sb};
  Shape sz;
  std::array<Shape, 3> st;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = !sz.empty();
    for (size_t k = 0; k < 3 && merge; ++k) merge = st[k].back() == (*in[k])[d] * shape[d];
    if (merge) {
      sz.back() *= shape[d];
      for (size_t k = 0; k < 3; ++k) st[k].back() = (*in[k])[d];
    } else {
      if (sz.size() == 2) return false;
      sz.push_back(shape[d]);
      for (size_t k = 0; k < 3; ++k) st[k].push_back((*in[k])[d]);
    }
  }
  while (sz.size() < 2) {  // (n) -> (1, n); one element -> (1, 1)
    sz.insert(sz.begin(), 1);
    for (size_t k = 0; k < 3; ++k) st[k].insert(st[k].begin(), 0);
  }
  g = Grid{sz[0], sz[1], st[1][0], st[1][1], st[2][0], st[2][1]};
  if (g.cols == 1) g.a_cs = g.b_cs = 0;  // a single column: the inner stride is never used
  return (g.a_cs == 0 || g.a_cs == 1) && (g.b_cs == 0 || g.b_cs == 1);
}

// out[i] = f(a[i], b[i]) over the broadcast shape; out has a's dtype, or i8 when kMask
// (comparisons). No autograd: the public ops record their own gradients.
// `fast`: the kernels::binary op that computes the same thing, tried first for f32/f64.
template <bool kMask = false, class F>
Tensor binary_map(const char* op, const Tensor& a, const Tensor& b, Types types, F f,
                  int64_t cost = 1, std::optional<kernels::BinaryOp> fast = std::nullopt) {
  check_defined(op, a);
  check_defined(op, b);
  check_same_dtype(op, a, b);
  detail::OpTimer timer(op, {&a, &b});
  const Shape shape = broadcast_shapes(op, a.shape(), b.shape());
  Tensor out = empty(shape, kMask ? DType::i8 : a.dtype());
  const Shape so = out.strides(), sa = broadcast_strides(a, shape), sb = broadcast_strides(b, shape);
  Grid g;
  if (fast && !kMask && is_floating(a.dtype()) && out.numel() > 0 &&
      as_grid(shape, so, sa, sb, g)) {
    visit_floating(a.dtype(), op, [&](auto tag) {
      using T = typename decltype(tag)::type;
      kernels::binary<T>(*fast, g.rows, g.cols, static_cast<const T*>(a.data_ptr()), g.a_rs, g.a_cs,
                         static_cast<const T*>(b.data_ptr()), g.b_rs, g.b_cs,
                         static_cast<T*>(out.data_ptr()));
    });
    timer.done(out, static_cast<double>(out.numel()));
    return out;
  }
  auto body = [&](auto tag) {
    using T = typename decltype(tag)::type;
    using O = std::conditional_t<kMask, int8_t, T>;
    O* po = static_cast<O*>(out.data_ptr());
    const T* pa = static_cast<const T*>(a.data_ptr());
    const T* pb = static_cast<const T*>(b.data_ptr());
    for_each_strided<3>(shape, {&so, &sa, &sb},
                        [&](const std::array<int64_t, 3>& off, int64_t n,
                            const std::array<int64_t, 3>& inc) {
                          O* o = po + off[0];
                          const T* x = pa + off[1];
                          const T* y = pb + off[2];
                          for (int64_t k = 0; k < n; ++k)
                            o[k * inc[0]] = static_cast<O>(f(x[k * inc[1]], y[k * inc[2]]));
                        },
                        cost);
  };
  if (types == Types::floating) {
    visit_floating(a.dtype(), op, body);
  } else {
    visit_dtype(a.dtype(), body);
  }
  timer.done(out, static_cast<double>(out.numel()));
  return out;
}

// out[i] = f(x[i]); same dtype as x. `fast`: the kernels::unary op computing the same thing,
// used for contiguous f32/f64 x.
template <class F>
Tensor unary_map(const char* op, const Tensor& x, Types types, F f, int64_t cost = 1,
                 std::optional<kernels::UnaryOp> fast = std::nullopt) {
  check_defined(op, x);
  detail::OpTimer timer(op, {&x});
  Tensor out = empty(x.shape(), x.dtype());
  if (fast && is_floating(x.dtype()) && x.is_contiguous()) {
    visit_floating(x.dtype(), op, [&](auto tag) {
      using T = typename decltype(tag)::type;
      kernels::unary<T>(*fast, x.numel(), static_cast<const T*>(x.data_ptr()),
                        static_cast<T*>(out.data_ptr()));
    });
    timer.done(out, static_cast<double>(out.numel()));
    return out;
  }
  const Shape so = out.strides(), sx = x.strides();
  auto body = [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* po = static_cast<T*>(out.data_ptr());
    const T* px = static_cast<const T*>(x.data_ptr());
    for_each_strided<2>(x.shape(), {&so, &sx},
                        [&](const std::array<int64_t, 2>& off, int64_t n,
                            const std::array<int64_t, 2>& inc) {
                          T* o = po + off[0];
                          const T* v = px + off[1];
                          for (int64_t k = 0; k < n; ++k) o[k * inc[0]] = static_cast<T>(f(v[k * inc[1]]));
                        },
                        cost);
  };
  if (types == Types::floating) {
    visit_floating(x.dtype(), op, body);
  } else {
    visit_dtype(x.dtype(), body);
  }
  timer.done(out, static_cast<double>(out.numel()));
  return out;
}

Tensor scalar_like(double v, const Tensor& t) { return scalar_tensor(v, t.dtype()); }

// True when g, x and y can go to a fused gradient kernel: one floating dtype, one shape, all
// contiguous (x or y may be undefined when the gradient does not read it).
bool fusable_grad(const Tensor& g, const Tensor& x, const Tensor& y) {
  if (!is_floating(g.dtype()) || !g.is_contiguous()) return false;
  for (const Tensor* t : {&x, &y})
    if (t->defined() && (t->dtype() != g.dtype() || t->shape() != g.shape() || !t->is_contiguous()))
      return false;
  return true;
}

// g * f'(x) in one pass (kernels::unary_backward) when fusable; undefined otherwise (the caller
// then takes the two-pass strided path). FLOPs: 2 per element (f' and the product).
Tensor unary_grad_fused(const char* op, std::optional<kernels::UnaryOp> kop, const Tensor& x,
                        const Tensor& y, const Tensor& g) {
  if (!kop || !fusable_grad(g, x, y)) return Tensor();
  detail::OpTimer timer(op, {&x, &g});
  Tensor dx = empty(g.shape(), g.dtype());
  visit_floating(g.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::unary_backward<T>(*kop, g.numel(), static_cast<const T*>(x.data_ptr()),
                               static_cast<const T*>(y.data_ptr()),
                               static_cast<const T*>(g.data_ptr()), static_cast<T*>(dx.data_ptr()));
  });
  timer.done(dx, 2.0 * static_cast<double>(dx.numel()));
  return dx;
}

}  // namespace

// ---- binary ---------------------------------------------------------------------------------

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = binary_map("add", a, b, Types::all, [](auto x, auto y) { return x + y; }, 1,
                          kernels::BinaryOp::add);
  const Shape sa = a.shape(), sb = b.shape();
  return record(out, "add", {a, b}, [sa, sb](const Tensor& g) {
    return std::vector<Tensor>{sum_to(g, sa), sum_to(g, sb)};
  });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = binary_map("sub", a, b, Types::all, [](auto x, auto y) { return x - y; }, 1,
                          kernels::BinaryOp::sub);
  const Shape sa = a.shape(), sb = b.shape();
  return record(out, "sub", {a, b}, [sa, sb](const Tensor& g) {
    return std::vector<Tensor>{sum_to(g, sa), sum_to(neg(g), sb)};
  });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = binary_map("mul", a, b, Types::all, [](auto x, auto y) { return x * y; }, 1,
                          kernels::BinaryOp::mul);
  const Tensor da = a.detach(), db = b.detach();
  return record(out, "mul", {a, b}, [da, db](const Tensor& g) {
    return std::vector<Tensor>{sum_to(g * db, da.shape()), sum_to(g * da, db.shape())};
  });
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = binary_map("div", a, b, Types::floating, [](auto x, auto y) { return x / y; }, 1,
                          kernels::BinaryOp::div);
  const Tensor da = a.detach(), db = b.detach();
  return record(out, "div", {a, b}, [da, db](const Tensor& g) {
    return std::vector<Tensor>{sum_to(g / db, da.shape()),
                               sum_to(neg(g * da / (db * db)), db.shape())};
  });
}

Tensor pow(const Tensor& a, const Tensor& b) {
  Tensor out = binary_map("pow", a, b, Types::floating,
                          [](auto x, auto y) { return std::pow(x, y); });
  const Tensor da = a.detach(), db = b.detach(), dout = out.detach();
  const bool need_b = b.requires_grad();
  return record(out, "pow", {a, b}, [da, db, dout, need_b](const Tensor& g) {
    // d/da a^b = b a^(b-1); d/db a^b = a^b ln a (only when b needs it: ln a is NaN for a < 0)
    Tensor ga = sum_to(g * db * pow(da, db - 1.0), da.shape());
    Tensor gb = need_b ? sum_to(g * dout * log(da), db.shape()) : Tensor();
    return std::vector<Tensor>{ga, gb};
  });
}

Tensor pow(const Tensor& a, double exponent) { return pow(a, scalar_like(exponent, a)); }

Tensor maximum(const Tensor& a, const Tensor& b) {
  Tensor out = binary_map("maximum", a, b, Types::all, [](auto x, auto y) { return x >= y ? x : y; });
  const Tensor da = a.detach(), db = b.detach();
  return record(out, "maximum", {a, b}, [da, db](const Tensor& g) {
    const Tensor z = scalar_like(0, g);
    return std::vector<Tensor>{sum_to(where(ge(da, db), g, z), da.shape()),
                               sum_to(where(lt(da, db), g, z), db.shape())};
  });
}

Tensor minimum(const Tensor& a, const Tensor& b) {
  Tensor out = binary_map("minimum", a, b, Types::all, [](auto x, auto y) { return x <= y ? x : y; });
  const Tensor da = a.detach(), db = b.detach();
  return record(out, "minimum", {a, b}, [da, db](const Tensor& g) {
    const Tensor z = scalar_like(0, g);
    return std::vector<Tensor>{sum_to(where(le(da, db), g, z), da.shape()),
                               sum_to(where(gt(da, db), g, z), db.shape())};
  });
}

// ---- comparisons (i8 masks, no gradient) -----------------------------------------------------

#define BSTACK_COMPARE(NAME, EXPR)                                                      \
  Tensor NAME(const Tensor& a, const Tensor& b) {                                       \
    return binary_map<true>(#NAME, a, b, Types::all,                                    \
                            [](auto x, auto y) { return (EXPR) ? 1 : 0; });             \
  }
BSTACK_COMPARE(eq, x == y)
BSTACK_COMPARE(ne, x != y)
BSTACK_COMPARE(lt, x < y)
BSTACK_COMPARE(le, x <= y)
BSTACK_COMPARE(gt, x > y)
BSTACK_COMPARE(ge, x >= y)
#undef BSTACK_COMPARE

// ---- where ----------------------------------------------------------------------------------

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  check_defined("where", cond);
  check_defined("where", a);
  check_defined("where", b);
  check_same_dtype("where", a, b);
  detail::OpTimer timer("where", {&cond, &a, &b});
  const Shape shape = broadcast_shapes("where", cond.shape(), broadcast_shapes("where", a.shape(), b.shape()));
  Tensor out = empty(shape, a.dtype());
  const Shape so = out.strides(), sc = broadcast_strides(cond, shape),
              sa = broadcast_strides(a, shape), sb = broadcast_strides(b, shape);
  visit_dtype(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    visit_dtype(cond.dtype(), [&](auto ctag) {
      using C = typename decltype(ctag)::type;
      T* po = static_cast<T*>(out.data_ptr());
      const C* pc = static_cast<const C*>(cond.data_ptr());
      const T* pa = static_cast<const T*>(a.data_ptr());
      const T* pb = static_cast<const T*>(b.data_ptr());
      for_each_strided<4>(shape, {&so, &sc, &sa, &sb},
                          [&](const std::array<int64_t, 4>& off, int64_t n,
                              const std::array<int64_t, 4>& inc) {
                            for (int64_t k = 0; k < n; ++k)
                              po[off[0] + k * inc[0]] = pc[off[1] + k * inc[1]] != C(0)
                                                            ? pa[off[2] + k * inc[2]]
                                                            : pb[off[3] + k * inc[3]];
                          });
    });
  });
  timer.done(out, static_cast<double>(out.numel()));
  const Tensor dc = cond.detach();
  const Shape sha = a.shape(), shb = b.shape();
  return record(out, "where", {a, b}, [dc, sha, shb](const Tensor& g) {
    const Tensor z = scalar_like(0, g);
    return std::vector<Tensor>{sum_to(where(dc, g, z), sha), sum_to(where(dc, z, g), shb)};
  });
}

// ---- unary ----------------------------------------------------------------------------------

Tensor neg(const Tensor& x) {
  Tensor out = unary_map("neg", x, Types::all, [](auto v) { return -v; }, 1, kernels::UnaryOp::neg);
  return record(out, "neg", {x}, [](const Tensor& g) { return std::vector<Tensor>{neg(g)}; });
}

// Unary ops whose gradient is g * f'(x, y) with y = f(x): `dfdx(x, y)` computes f'. KOP: the
// kernels::UnaryOp with fused kernels for the forward and the gradient, or std::nullopt.
#define BSTACK_UNARY(NAME, TYPES, KOP, FWD, DFDX)                                               \
  Tensor NAME(const Tensor& x) {                                                                \
    Tensor out = unary_map(#NAME, x, TYPES, [](auto v) { return FWD; }, 1, KOP);               \
    const Tensor dx = x.detach(), dy = out.detach();                                           \
    return record(out, #NAME, {x}, [dx, dy](const Tensor& g) {                                 \
      if (Tensor fused = unary_grad_fused(#NAME "_backward", KOP, dx, dy, g); fused.defined()) \
        return std::vector<Tensor>{fused};                                                     \
      Tensor gx = binary_map(#NAME "_backward", dx, dy, Types::floating, [](auto v, auto y) {  \
        (void)v; (void)y; return DFDX; });                                                     \
      return std::vector<Tensor>{g * gx};                                                      \
    });                                                                                         \
  }

constexpr double kGeluC = 0.7978845608028654;  // sqrt(2 / pi)
constexpr double kGeluA = 0.044715;
constexpr std::optional<kernels::UnaryOp> kNoKernel = std::nullopt;

BSTACK_UNARY(abs, Types::all, kNoKernel, (v < 0 ? -v : v), (v > 0 ? 1.0 : (v < 0 ? -1.0 : 0.0)))
BSTACK_UNARY(exp, Types::floating, kernels::UnaryOp::exp, std::exp(v), y)
BSTACK_UNARY(log, Types::floating, kNoKernel, std::log(v), 1.0 / v)
BSTACK_UNARY(sqrt, Types::floating, kernels::UnaryOp::sqrt, std::sqrt(v), 0.5 / y)
BSTACK_UNARY(tanh, Types::floating, kernels::UnaryOp::tanh, std::tanh(v), 1.0 - y * y)
// Stable in both tails: exp never overflows.
BSTACK_UNARY(sigmoid, Types::floating, kernels::UnaryOp::sigmoid,
             (v >= 0 ? 1 / (1 + std::exp(-v)) : std::exp(v) / (1 + std::exp(v))), y * (1.0 - y))
BSTACK_UNARY(relu, Types::all, kernels::UnaryOp::relu, (v > 0 ? v : decltype(v)(0)),
             (v > 0 ? 1.0 : 0.0))
#undef BSTACK_UNARY

// GELU: the fused kernels (kernels/rowops.h: x * sigmoid(2u), no cancellation in the tails) for
// contiguous x and gradients; the tanh formula on the strided path.
Tensor gelu(const Tensor& x) {
  check_defined("gelu", x);
  auto fwd = [](auto v) { return 0.5 * v * (1 + std::tanh(kGeluC * (v + kGeluA * v * v * v))); };
  Tensor out;
  if (is_floating(x.dtype()) && x.is_contiguous()) {
    detail::OpTimer timer("gelu", {&x});
    out = empty(x.shape(), x.dtype());
    visit_floating(x.dtype(), "gelu", [&](auto tag) {
      using T = typename decltype(tag)::type;
      kernels::gelu_forward<T>(x.numel(), static_cast<const T*>(x.data_ptr()),
                               static_cast<T*>(out.data_ptr()));
    });
    timer.done(out, static_cast<double>(out.numel()));
  } else {
    out = unary_map("gelu", x, Types::floating, fwd);
  }
  const Tensor dx = x.detach();
  return record(out, "gelu", {x}, [dx](const Tensor& g) {
    if (fusable_grad(g, dx, Tensor())) {
      detail::OpTimer timer("gelu_backward", {&dx, &g});
      Tensor gx = empty(g.shape(), g.dtype());
      visit_floating(g.dtype(), "gelu_backward", [&](auto tag) {
        using T = typename decltype(tag)::type;
        kernels::gelu_backward<T>(g.numel(), static_cast<const T*>(dx.data_ptr()),
                                  static_cast<const T*>(g.data_ptr()),
                                  static_cast<T*>(gx.data_ptr()));
      });
      timer.done(gx, 2.0 * static_cast<double>(gx.numel()));
      return std::vector<Tensor>{gx};
    }
    Tensor d = binary_map("gelu_backward", dx, dx, Types::floating, [](auto v, auto) {
      const double t = std::tanh(kGeluC * (v + kGeluA * v * v * v));
      return 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * kGeluC * (1 + 3 * kGeluA * v * v);
    });
    return std::vector<Tensor>{g * d};
  });
}

Tensor clamp(const Tensor& x, double lo, double hi) {
  BSTACK_CHECK(lo <= hi, "clamp: lower bound {} is above upper bound {}", lo, hi);
  Tensor out = unary_map("clamp", x, Types::all, [lo, hi](auto v) {
    using T = decltype(v);
    return v < lo ? static_cast<T>(lo) : (v > hi ? static_cast<T>(hi) : v);
  });
  const Tensor dx = x.detach();
  return record(out, "clamp", {x}, [dx, lo, hi](const Tensor& g) {
    Tensor mask = binary_map("clamp_backward", dx, dx, Types::floating,
                             [lo, hi](auto v, auto) { return (v > lo && v < hi) ? 1.0 : 0.0; });
    return std::vector<Tensor>{g * mask};
  });
}

// ---- operators ------------------------------------------------------------------------------

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& a) { return neg(a); }
Tensor operator+(const Tensor& a, double b) { return add(a, scalar_like(b, a)); }
Tensor operator-(const Tensor& a, double b) { return sub(a, scalar_like(b, a)); }
Tensor operator*(const Tensor& a, double b) { return mul(a, scalar_like(b, a)); }
Tensor operator/(const Tensor& a, double b) { return div(a, scalar_like(b, a)); }
Tensor operator+(double a, const Tensor& b) { return add(scalar_like(a, b), b); }
Tensor operator-(double a, const Tensor& b) { return sub(scalar_like(a, b), b); }
Tensor operator*(double a, const Tensor& b) { return mul(scalar_like(a, b), b); }
Tensor operator/(double a, const Tensor& b) { return div(scalar_like(a, b), b); }

}  // namespace bstack
