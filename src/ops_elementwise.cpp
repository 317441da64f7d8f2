// Elementwise ops: binary with broadcasting, comparisons, where, unary math; each forward
// beside its gradient. Gradients of broadcast operands are summed back with sum_to.
#include "src/ops.h"
#include "src/ops_internal.h"
#include "src/profile/profiler.h"

#include <cmath>


namespace bstack {

using detail::broadcast_shapes;
using detail::broadcast_strides;
using detail::check_defined;
using detail::check_same_dtype;
using detail::for_each_strided;

namespace {

enum class Types { all, floating };

// out[i] = f(a[i], b[i]) over the broadcast shape; out has a's dtype, or i8 when kMask
// (comparisons). No autograd: the public ops record their own gradients.
template <bool kMask = false, class F>
Tensor binary_map(const char* op, const Tensor& a, const Tensor& b, Types types, F f,
                  int64_t cost = 1) {
  check_defined(op, a);
  check_defined(op, b);
  check_same_dtype(op, a, b);
  detail::OpTimer timer(op, {&a, &b});
  const Shape shape = broadcast_shapes(op, a.shape(), b.shape());
  Tensor out = empty(shape, kMask ? DType::i8 : a.dtype());
  const Shape so = out.strides(), sa = broadcast_strides(a, shape), sb = broadcast_strides(b, shape);
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

// out[i] = f(x[i]); same dtype as x.
template <class F>
Tensor unary_map(const char* op, const Tensor& x, Types types, F f, int64_t cost = 1) {
  check_defined(op, x);
  detail::OpTimer timer(op, {&x});
  Tensor out = empty(x.shape(), x.dtype());
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

}  // namespace

// ---- binary ---------------------------------------------------------------------------------

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = binary_map("add", a, b, Types::all, [](auto x, auto y) { return x + y; });
  const Shape sa = a.shape(), sb = b.shape();
  return record(out, "add", {a, b}, [sa, sb](const Tensor& g) {
    return std::vector<Tensor>{sum_to(g, sa), sum_to(g, sb)};
  });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = binary_map("sub", a, b, Types::all, [](auto x, auto y) { return x - y; });
  const Shape sa = a.shape(), sb = b.shape();
  return record(out, "sub", {a, b}, [sa, sb](const Tensor& g) {
    return std::vector<Tensor>{sum_to(g, sa), sum_to(neg(g), sb)};
  });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = binary_map("mul", a, b, Types::all, [](auto x, auto y) { return x * y; });
  const Tensor da = a.detach(), db = b.detach();
  return record(out, "mul", {a, b}, [da, db](const Tensor& g) {
    return std::vector<Tensor>{sum_to(g * db, da.shape()), sum_to(g * da, db.shape())};
  });
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = binary_map("div", a, b, Types::floating, [](auto x, auto y) { return x / y; });
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
  Tensor out = unary_map("neg", x, Types::all, [](auto v) { return -v; });
  return record(out, "neg", {x}, [](const Tensor& g) { return std::vector<Tensor>{neg(g)}; });
}

// Unary ops whose gradient is g * f'(x, y) with y = f(x): `dfdx(x, y)` computes f'.
#define BSTACK_UNARY(NAME, TYPES, FWD, DFDX)                                                    \
  Tensor NAME(const Tensor& x) {                                                                \
    Tensor out = unary_map(#NAME, x, TYPES, [](auto v) { return FWD; });                       \
    const Tensor dx = x.detach(), dy = out.detach();                                           \
    return record(out, #NAME, {x}, [dx, dy](const Tensor& g) {                                 \
      Tensor gx = binary_map(#NAME "_backward", dx, dy, Types::floating, [](auto v, auto y) {  \
        (void)v; (void)y; return DFDX; });                                                     \
      return std::vector<Tensor>{g * gx};                                                      \
    });                                                                                         \
  }

constexpr double kGeluC = 0.7978845608028654;  // sqrt(2 / pi)
constexpr double kGeluA = 0.044715;

BSTACK_UNARY(abs, Types::all, (v < 0 ? -v : v), (v > 0 ? 1.0 : (v < 0 ? -1.0 : 0.0)))
BSTACK_UNARY(exp, Types::floating, std::exp(v), y)
BSTACK_UNARY(log, Types::floating, std::log(v), 1.0 / v)
BSTACK_UNARY(sqrt, Types::floating, std::sqrt(v), 0.5 / y)
BSTACK_UNARY(tanh, Types::floating, std::tanh(v), 1.0 - y * y)
// Stable in both tails: exp never overflows.
BSTACK_UNARY(sigmoid, Types::floating,
             (v >= 0 ? 1 / (1 + std::exp(-v)) : std::exp(v) / (1 + std::exp(v))), y * (1.0 - y))
BSTACK_UNARY(relu, Types::all, (v > 0 ? v : decltype(v)(0)), (v > 0 ? 1.0 : 0.0))
BSTACK_UNARY(gelu, Types::floating,
             (0.5 * v * (1 + std::tanh(kGeluC * (v + kGeluA * v * v * v)))),
             ([&] {
               const double t = std::tanh(kGeluC * (v + kGeluA * v * v * v));
               return 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * kGeluC * (1 + 3 * kGeluA * v * v);
             }()))
#undef BSTACK_UNARY

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
