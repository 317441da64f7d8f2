// Reference loops and the table of op cases. The references never call bstack ops: each is a
// plain loop over multi-indices in double precision.
#include "tests/src/op_table.h"

#include "src/random.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <limits>
#include <numeric>
#include <tuple>

namespace bstack::test {

int64_t ravel(const Shape& idx, const Shape& shape) {
  int64_t i = 0;
  for (size_t d = 0; d < shape.size(); ++d) i = i * shape[d] + idx[d];
  return i;
}

double RefArray::at(const Shape& idx) const { return v[ravel(idx, shape)]; }

namespace {

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;
using Ref = std::function<RefArray(const std::vector<RefArray>&)>;

RefArray make(const Shape& shape) { return {shape, std::vector<double>(shape_numel(shape), 0.0)}; }

// ---- references -------------------------------------------------------------------------------

// Broadcast shape computed independently: right-align, stretch size-1 dims.
Shape ref_broadcast_shape(const std::vector<RefArray>& xs) {
  size_t n = 0;
  for (const auto& x : xs) n = std::max(n, x.shape.size());
  Shape out(n, 1);
  for (const auto& x : xs)
    for (size_t i = 0; i < x.shape.size(); ++i) {
      int64_t& o = out[n - x.shape.size() + i];
      if (x.shape[i] != 1) o = x.shape[i];
    }
  return out;
}

// The element of x that broadcasts to output index `out_idx`.
double bcast_at(const RefArray& x, const Shape& out_idx) {
  Shape idx(x.shape.size());
  const size_t lead = out_idx.size() - x.shape.size();
  for (size_t i = 0; i < x.shape.size(); ++i) idx[i] = x.shape[i] == 1 ? 0 : out_idx[lead + i];
  return x.at(idx);
}

Ref elementwise(std::function<double(const std::vector<double>&)> f) {
  return [f](const std::vector<RefArray>& xs) {
    RefArray out = make(ref_broadcast_shape(xs));
    std::vector<double> args(xs.size());
    for (int64_t i = 0; i < out.numel(); ++i) {
      const Shape idx = unravel(i, out.shape);
      for (size_t k = 0; k < xs.size(); ++k) args[k] = bcast_at(xs[k], idx);
      out.v[i] = f(args);
    }
    return out;
  };
}

Ref unary(std::function<double(double)> f) {
  return elementwise([f](const std::vector<double>& a) { return f(a[0]); });
}
Ref binary(std::function<double(double, double)> f) {
  return elementwise([f](const std::vector<double>& a) { return f(a[0], a[1]); });
}

enum class Red { sum, mean, max, var, argmax };

// Groups the elements of x by their index with `axes` removed, then finalises each group.
RefArray ref_reduce(const RefArray& x, std::vector<int64_t> axes, bool keepdim, Red kind,
                    int64_t correction = 1) {
  const int64_t nd = static_cast<int64_t>(x.shape.size());
  for (auto& a : axes) a = a < 0 ? a + nd : a;
  if (axes.empty())
    for (int64_t d = 0; d < nd; ++d) axes.push_back(d);
  auto reduced = [&](int64_t d) { return std::find(axes.begin(), axes.end(), d) != axes.end(); };
  Shape keep(nd), out_shape;
  for (int64_t d = 0; d < nd; ++d) {
    keep[d] = reduced(d) ? 1 : x.shape[d];
    if (!reduced(d) || keepdim) out_shape.push_back(keep[d]);
  }
  std::vector<std::vector<double>> groups(shape_numel(keep));
  for (int64_t i = 0; i < x.numel(); ++i) {
    Shape idx = unravel(i, x.shape);
    for (int64_t d = 0; d < nd; ++d)
      if (reduced(d)) idx[d] = 0;
    groups[ravel(idx, keep)].push_back(x.v[i]);
  }
  RefArray out = make(out_shape);
  for (size_t g = 0; g < groups.size(); ++g) {
    const auto& e = groups[g];
    const double s = std::accumulate(e.begin(), e.end(), 0.0);
    const double n = static_cast<double>(e.size());
    switch (kind) {
      case Red::sum: out.v[g] = s; break;
      case Red::mean: out.v[g] = s / n; break;
      case Red::max: out.v[g] = *std::max_element(e.begin(), e.end()); break;
      case Red::argmax: out.v[g] = static_cast<double>(std::max_element(e.begin(), e.end()) - e.begin()); break;
      case Red::var: {
        double ss = 0;
        for (double v : e) ss += (v - s / n) * (v - s / n);
        out.v[g] = ss / (n - correction);
        break;
      }
    }
  }
  return out;
}

RefArray ref_matmul(RefArray a, RefArray b) {
  const bool a1 = a.shape.size() == 1, b1 = b.shape.size() == 1;
  if (a1) a.shape.insert(a.shape.begin(), 1);
  if (b1) b.shape.push_back(1);
  const int64_t M = a.shape[a.shape.size() - 2], K = a.shape.back(), N = b.shape.back();
  RefArray ab{Shape(a.shape.begin(), a.shape.end() - 2), {}}, bb{Shape(b.shape.begin(), b.shape.end() - 2), {}};
  Shape batch = ref_broadcast_shape({ab, bb});
  Shape out_shape = batch;
  out_shape.push_back(M);
  out_shape.push_back(N);
  RefArray out = make(out_shape);
  for (int64_t i = 0; i < out.numel(); ++i) {
    const Shape idx = unravel(i, out_shape);
    const Shape bi(idx.begin(), idx.end() - 2);
    const int64_t m = idx[idx.size() - 2], n = idx.back();
    double s = 0;
    for (int64_t k = 0; k < K; ++k) {
      Shape ia = bi, ib = bi;
      ia.push_back(m);
      ia.push_back(k);
      ib.push_back(k);
      ib.push_back(n);
      s += bcast_at(a, ia) * bcast_at(b, ib);
    }
    out.v[i] = s;
  }
  if (a1) out_shape.erase(out_shape.end() - 2);
  if (b1) out_shape.pop_back();
  out.shape = out_shape;
  return out;
}

RefArray ref_softmax(const RefArray& x, int64_t axis, bool log_form) {
  const int64_t nd = static_cast<int64_t>(x.shape.size());
  if (nd == 0) return {{}, {log_form ? 0.0 : 1.0}};  // one element along the (only) axis
  if (axis < 0) axis += nd;
  RefArray out = make(x.shape);
  for (int64_t i = 0; i < x.numel(); ++i) {
    Shape idx = unravel(i, x.shape);
    double m = -std::numeric_limits<double>::infinity(), s = 0;
    Shape j = idx;
    for (j[axis] = 0; j[axis] < x.shape[axis]; ++j[axis]) m = std::max(m, x.at(j));
    for (j[axis] = 0; j[axis] < x.shape[axis]; ++j[axis]) s += std::exp(x.at(j) - m);
    out.v[i] = log_form ? x.v[i] - m - std::log(s) : std::exp(x.v[i] - m) / s;
  }
  return out;
}

// out[idx] = x[source(idx)] for an out shape: every view and indexing op is one of these.
RefArray ref_gather_by(const RefArray& x, const Shape& out_shape,
                       std::function<Shape(const Shape&)> source) {
  RefArray out = make(out_shape);
  for (int64_t i = 0; i < out.numel(); ++i) out.v[i] = x.at(source(unravel(i, out_shape)));
  return out;
}

RefArray ref_permute(const RefArray& x, const std::vector<int64_t>& perm) {
  Shape out_shape(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) out_shape[i] = x.shape[perm[i]];
  return ref_gather_by(x, out_shape, [&](const Shape& o) {
    Shape in(perm.size());
    for (size_t i = 0; i < perm.size(); ++i) in[perm[i]] = o[i];
    return in;
  });
}

// y + b with b broadcast along y's last dimension (a bias).
RefArray ref_add(RefArray y, const RefArray& b) {
  const int64_t n = b.numel();
  for (int64_t i = 0; i < y.numel(); ++i) y.v[i] += b.v[i % n];
  return y;
}

RefArray ref_slice(const RefArray& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  Shape out_shape = x.shape;
  out_shape[dim] = (end - start + step - 1) / step;
  return ref_gather_by(x, out_shape, [=](const Shape& o) {
    Shape in = o;
    in[dim] = start + o[dim] * step;
    return in;
  });
}

RefArray ref_cat(const std::vector<RefArray>& xs, int64_t dim) {
  Shape out_shape = xs[0].shape;
  out_shape[dim] = 0;
  for (const auto& x : xs) out_shape[dim] += x.shape[dim];
  RefArray out = make(out_shape);
  for (int64_t i = 0; i < out.numel(); ++i) {
    Shape idx = unravel(i, out_shape);
    size_t k = 0;
    while (idx[dim] >= xs[k].shape[dim]) idx[dim] -= xs[k++].shape[dim];
    out.v[i] = xs[k].at(idx);
  }
  return out;
}

// out[j] = sum of x[i] over every i that broadcasting `out_shape` to x.shape maps onto j.
RefArray ref_sum_to(const RefArray& x, const Shape& out_shape) {
  RefArray out = make(out_shape);
  const size_t lead = x.shape.size() - out_shape.size();
  for (int64_t i = 0; i < x.numel(); ++i) {
    const Shape idx = unravel(i, x.shape);
    Shape o(out_shape.size());
    for (size_t d = 0; d < out_shape.size(); ++d) o[d] = out_shape[d] == 1 ? 0 : idx[lead + d];
    out.v[ravel(o, out_shape)] += x.v[i];
  }
  return out;
}

DType mask_dtype(DType) { return DType::i8; }
DType index_dtype(DType) { return DType::i64; }
DType sum_dtype(DType in) { return is_floating(in) ? in : DType::i64; }

RefArray reshaped(RefArray x, const Shape& shape) {
  x.shape = shape;
  return x;
}

// Direct convolution: out[n,o,y,x] = b[o] + sum_{c in group, i, j} w[o,c,i,j] * xpad[...].
RefArray ref_conv2d(const RefArray& x, const RefArray& w, const RefArray* b, const Conv2dArgs& a) {
  const int64_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3];
  const int64_t OC = w.shape[0], CG = w.shape[1], KH = w.shape[2], KW = w.shape[3];
  const int64_t OH = (H + 2 * a.pad_h - a.dilation_h * (KH - 1) - 1) / a.stride_h + 1;
  const int64_t OW = (W + 2 * a.pad_w - a.dilation_w * (KW - 1) - 1) / a.stride_w + 1;
  const int64_t per_group_out = OC / a.groups;
  (void)C;
  RefArray out = make({N, OC, OH, OW});
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < OC; ++o)
      for (int64_t y = 0; y < OH; ++y)
        for (int64_t xo = 0; xo < OW; ++xo) {
          double s = b ? b->v[o] : 0.0;
          const int64_t g = o / per_group_out;
          for (int64_t c = 0; c < CG; ++c)
            for (int64_t i = 0; i < KH; ++i)
              for (int64_t j = 0; j < KW; ++j) {
                const int64_t h = y * a.stride_h - a.pad_h + i * a.dilation_h;
                const int64_t ww = xo * a.stride_w - a.pad_w + j * a.dilation_w;
                if (h < 0 || h >= H || ww < 0 || ww >= W) continue;
                s += w.at({o, c, i, j}) * x.at({n, g * CG + c, h, ww});
              }
          out.v[ravel({n, o, y, xo}, out.shape)] = s;
        }
  return out;
}

RefArray ref_pool2d(const RefArray& x, int64_t k, int64_t stride, bool is_max) {
  const int64_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3];
  const int64_t OH = (H - k) / stride + 1, OW = (W - k) / stride + 1;
  RefArray out = make({N, C, OH, OW});
  for (int64_t i = 0; i < out.numel(); ++i) {
    const Shape o = unravel(i, out.shape);
    double acc = is_max ? -std::numeric_limits<double>::infinity() : 0.0;
    for (int64_t a = 0; a < k; ++a)
      for (int64_t b = 0; b < k; ++b) {
        const double v = x.at({o[0], o[1], o[2] * stride + a, o[3] * stride + b});
        acc = is_max ? std::max(acc, v) : acc + v / (k * k);
      }
    out.v[i] = acc;
  }
  return out;
}

Tensor idx_tensor(const std::vector<int64_t>& v, const Shape& shape) { return from_vector(v, shape); }

std::string sh(const Shape& s) { return shape_str(s); }

}  // namespace

std::vector<OpCase> all_op_cases() {
  std::vector<OpCase> c;
  auto add_case = [&](OpCase oc) { c.push_back(std::move(oc)); };

  // ---- elementwise binary, over a set of broadcasting shape pairs ----
  const std::vector<std::pair<Shape, Shape>> pairs = {
      {{3, 4}, {3, 4}}, {{3, 1, 4}, {2, 1}}, {{5}, {}}, {{}, {2, 3}}, {{1}, {4, 1}},
      {{2, 3, 1}, {1, 3, 5}}, {{}, {}}, {{0, 1, 3}, {2, 1}}, {{4, 1}, {1, 3}}};
  struct Bin {
    const char* name;
    Tensor (*fn)(const Tensor&, const Tensor&);
    std::function<double(double, double)> ref;
    Domain domain;
    bool integer;
  };
  const std::vector<Bin> bins = {
      {"add", add, [](double a, double b) { return a + b; }, Domain::any, true},
      {"sub", sub, [](double a, double b) { return a - b; }, Domain::any, true},
      {"mul", mul, [](double a, double b) { return a * b; }, Domain::any, true},
      {"div", div, [](double a, double b) { return a / b; }, Domain::positive, false},
      {"pow", static_cast<Tensor (*)(const Tensor&, const Tensor&)>(pow),
       [](double a, double b) { return std::pow(a, b); }, Domain::positive, false},
      {"maximum", maximum, [](double a, double b) { return std::max(a, b); }, Domain::distinct, true},
      {"minimum", minimum, [](double a, double b) { return std::min(a, b); }, Domain::distinct, true},
  };
  // Plus random broadcasting pairs (seeded): rank 0-4, dims 0-3, each dim of one operand
  // possibly 1 or missing so the pair still broadcasts.
  Generator shape_gen(2026);
  auto random_pair = [&] {
    const int64_t rank = static_cast<int64_t>(shape_gen.below(5));
    Shape full(rank);
    for (auto& d : full) d = static_cast<int64_t>(shape_gen.below(4));  // may be 0
    Shape sa = full, sb = full;
    for (int64_t d = 0; d < rank; ++d) {
      if (shape_gen.below(3) == 0) sa[d] = 1;
      else if (shape_gen.below(3) == 0) sb[d] = 1;
    }
    const int64_t drop = static_cast<int64_t>(shape_gen.below(static_cast<uint64_t>(rank) + 1));
    sb.erase(sb.begin(), sb.begin() + drop);  // b has fewer leading dims
    return shape_gen.below(2) ? std::make_pair(sa, sb) : std::make_pair(sb, sa);
  };
  for (const auto& b : bins) {
    auto shape_pairs = pairs;
    for (int k = 0; k < 3; ++k) shape_pairs.push_back(random_pair());
    for (const auto& [sa, sb] : shape_pairs) {
      OpCase oc{fmt::format("{} {} {}", b.name, sh(sa), sh(sb)), {sa, sb},
                [f = b.fn](const std::vector<Tensor>& x) { return f(x[0], x[1]); }, binary(b.ref),
                b.domain};
      oc.integer = b.integer;
      add_case(oc);
    }
  }
  // Scalar exponents; integral ones also on negative bases.
  for (const auto& [p, dom] : std::vector<std::pair<double, Domain>>{
           {2.5, Domain::positive}, {-1.5, Domain::positive}, {0.5, Domain::positive},
           {2.0, Domain::any}, {3.0, Domain::any}, {0.0, Domain::any}})
    add_case({fmt::format("pow scalar {} [4, 3]", p), {{4, 3}},
              [p](const std::vector<Tensor>& x) { return pow(x[0], p); },
              unary([p](double a) { return std::pow(a, p); }), dom});
  add_case({"pow exponent from an op [3, 2] [2]", {{3, 2}, {2}},
            [](const std::vector<Tensor>& x) { return pow(x[0], x[1] * 2.0 - 1.0); },
            binary([](double a, double b) { return std::pow(a, 2 * b - 1); }), Domain::positive});
  add_case({"operators a*2-1/b+3 [3, 2] [2]", {{3, 2}, {2}},
            [](const std::vector<Tensor>& x) { return x[0] * 2.0 - 1.0 / x[1] + 3.0; },
            binary([](double a, double b) { return a * 2 - 1 / b + 3; }), Domain::positive});
  add_case({"add size-0 [0, 3] [3]", {{0, 3}, {3}},
            [](const std::vector<Tensor>& x) { return add(x[0], x[1]); },
            binary([](double a, double b) { return a + b; })});
  add_case({"mul size-0 broadcast [2, 0] []", {{2, 0}, {}},
            [](const std::vector<Tensor>& x) { return mul(x[0], x[1]); },
            binary([](double a, double b) { return a * b; })});

  // ---- comparisons (forward only) ----
  struct Cmp {
    const char* name;
    Tensor (*fn)(const Tensor&, const Tensor&);
    std::function<bool(double, double)> ref;
  };
  for (const auto& k : std::vector<Cmp>{
           {"eq", eq, [](double a, double b) { return a == b; }},
           {"ne", ne, [](double a, double b) { return a != b; }},
           {"lt", lt, [](double a, double b) { return a < b; }},
           {"le", le, [](double a, double b) { return a <= b; }},
           {"gt", gt, [](double a, double b) { return a > b; }},
           {"ge", ge, [](double a, double b) { return a >= b; }}}) {
    OpCase oc{fmt::format("{} [3, 1, 4] [2, 1]", k.name), {{3, 1, 4}, {2, 1}},
              [f = k.fn](const std::vector<Tensor>& x) { return f(x[0], x[1]); },
              binary([r = k.ref](double a, double b) { return r(a, b) ? 1.0 : 0.0; })};
    oc.differentiable = false;
    oc.integer = true;
    oc.out_dtype = mask_dtype;
    add_case(oc);
    OpCase z{fmt::format("{} 0-d vs [0, 2], [2] vs 0-d", k.name), {{}, {0, 2}, {2}},
             [f = k.fn](const std::vector<Tensor>& x) {
               return cat({f(x[0], x[1]), f(x[2], x[0]).unsqueeze(0)}, 0);
             },
             [r = k.ref](const std::vector<RefArray>& x) {
               RefArray out = make({1, 2});
               for (int64_t j = 0; j < 2; ++j) out.v[j] = r(x[2].v[j], x[0].v[0]) ? 1.0 : 0.0;
               return out;
             }};
    z.differentiable = false;
    z.integer = true;
    z.out_dtype = mask_dtype;
    add_case(z);
    // Equal elements: compare x with itself through a broadcast row.
    OpCase self{fmt::format("{} self [4, 3]", k.name), {{4, 3}},
                [f = k.fn](const std::vector<Tensor>& x) { return f(x[0], x[0].slice(0, 1, 2)); },
                [r = k.ref](const std::vector<RefArray>& x) {
                  RefArray out = make(x[0].shape);
                  for (int64_t i = 0; i < out.numel(); ++i) {
                    Shape idx = unravel(i, x[0].shape), row = idx;
                    row[0] = 1;
                    out.v[i] = r(x[0].v[i], x[0].at(row)) ? 1.0 : 0.0;
                  }
                  return out;
                }};
    self.differentiable = false;
    self.integer = true;
    self.out_dtype = mask_dtype;
    add_case(self);
  }

  // ---- where ----
  {
    OpCase oc{"where [3, 4] [4] []", {{3, 4}, {4}, {}},
              [](const std::vector<Tensor>& x) { return where(gt(x[0], x[1]), x[0], x[2]); },
              elementwise([](const std::vector<double>& a) { return a[0] > a[1] ? a[0] : a[2]; }),
              Domain::distinct};
    oc.integer = true;
    add_case(oc);
  }
  {
    // A constant i8 condition [3, 1] broadcast against a [2, 1, 4] and b [4].
    const std::vector<int8_t> cv = {1, 0, 1};
    OpCase oc{"where const i8 cond [3, 1] [2, 1, 4] [4]", {{2, 1, 4}, {4}},
              [cv](const std::vector<Tensor>& x) { return where(from_vector(cv, {3, 1}), x[0], x[1]); },
              [cv](const std::vector<RefArray>& x) {
                RefArray out = make({2, 3, 4});
                for (int64_t i = 0; i < out.numel(); ++i) {
                  const Shape o = unravel(i, out.shape);
                  out.v[i] = cv[o[1]] ? x[0].at({o[0], 0, o[2]}) : x[1].at({o[2]});
                }
                return out;
              }};
    oc.integer = true;
    add_case(oc);
    OpCase f{"where f64 0-d cond [3] [2, 3]", {{3}, {2, 3}},
             [](const std::vector<Tensor>& x) { return where(scalar_tensor(0.0, DType::f64), x[0], x[1]); },
             [](const std::vector<RefArray>& x) { return x[1]; }};
    f.integer = true;
    add_case(f);
  }

  // ---- unary ----
  struct Un {
    const char* name;
    Tensor (*fn)(const Tensor&);
    std::function<double(double)> ref;
    Domain domain;
    std::vector<double> kinks;
    bool integer = false;
  };
  const double gc = std::sqrt(2.0 / M_PI);
  const std::vector<Un> uns = {
      {"neg", neg, [](double a) { return -a; }, Domain::any, {}, true},
      {"abs", abs, [](double a) { return std::fabs(a); }, Domain::no_kinks, {0.0}, true},
      {"exp", exp, [](double a) { return std::exp(a); }, Domain::any, {}},
      {"log", log, [](double a) { return std::log(a); }, Domain::positive, {}},
      {"sqrt", sqrt, [](double a) { return std::sqrt(a); }, Domain::positive, {}},
      {"tanh", tanh, [](double a) { return std::tanh(a); }, Domain::any, {}},
      {"sigmoid", sigmoid, [](double a) { return 1 / (1 + std::exp(-a)); }, Domain::any, {}},
      {"relu", relu, [](double a) { return a > 0 ? a : 0.0; }, Domain::no_kinks, {0.0}, true},
      {"gelu", gelu,
       [gc](double a) { return 0.5 * a * (1 + std::tanh(gc * (a + 0.044715 * a * a * a))); },
       Domain::any, {}},
  };
  for (const auto& u : uns)
    for (const Shape& s : std::vector<Shape>{{3, 5}, {}, {2, 1, 3}, {0, 4}}) {
      OpCase oc{fmt::format("{} {}", u.name, sh(s)), {s},
                [f = u.fn](const std::vector<Tensor>& x) { return f(x[0]); }, unary(u.ref), u.domain,
                u.kinks};
      oc.integer = u.integer;
      add_case(oc);
    }
  for (const auto& [lo, hi, s] : std::vector<std::tuple<double, double, Shape>>{
           {-0.5, 0.7, {4, 5}}, {0.0, 1.0, {2, 1, 3}}, {-1.0, -1.0, {3}}, {-3.0, 3.0, {}}}) {
    OpCase oc{fmt::format("clamp [{}, {}] {}", lo, hi, sh(s)), {s},
              [lo, hi](const std::vector<Tensor>& x) { return clamp(x[0], lo, hi); },
              unary([lo, hi](double a) { return std::min(std::max(a, lo), hi); }), Domain::no_kinks,
              {lo, hi}};
    // Integral bounds only: an integer tensor clamps to the bounds converted to its dtype.
    oc.integer = lo == std::floor(lo) && hi == std::floor(hi);
    add_case(oc);
  }
  add_case({"sigmoid extreme", {{6}},
            [](const std::vector<Tensor>& x) { return sigmoid(x[0] * 400.0); },
            unary([](double a) { return 1 / (1 + std::exp(-400 * a)); }), Domain::no_kinks, {0.0}});

  // ---- reductions ----
  struct R {
    Shape shape;
    std::vector<int64_t> axes;
    bool keepdim;
  };
  const std::vector<R> reds = {{{3, 4, 5}, {}, false},   {{3, 4, 5}, {1}, false},
                               {{3, 4, 5}, {0, 2}, true},  {{3, 4, 5}, {-1}, true},
                               {{2, 1, 3}, {1}, false},   {{7}, {0}, false},
                               {{}, {}, false},           {{4, 6}, {0, 1}, true},
                               {{2, 3, 4}, {-3, -1}, false}, {{2, 3, 4}, {2, 0}, true},
                               {{2, 3, 4}, {}, true},     {{5, 1}, {-1}, false},
                               {{}, {0}, true},           {{0, 3}, {1}, false},
                               {{0, 3}, {}, false},       {{2, 0, 3}, {1}, true}};
  for (const auto& r : reds) {
    const std::string tail = fmt::format("{} axes={} keepdim={}", sh(r.shape), sh(r.axes), r.keepdim);
    int64_t len = 1;
    for (int64_t d = 0; d < static_cast<int64_t>(r.shape.size()); ++d)
      if (r.axes.empty() || std::count(r.axes.begin(), r.axes.end(), d) ||
          std::count(r.axes.begin(), r.axes.end(), d - static_cast<int64_t>(r.shape.size())))
        len *= r.shape[d];
    auto entry = [&](const char* name, Red kind, Fn fn, Domain domain, bool integer, OutDType od) {
      OpCase oc{fmt::format("{} {}", name, tail), {r.shape}, std::move(fn),
                [r, kind](const std::vector<RefArray>& x) {
                  return ref_reduce(x[0], r.axes, r.keepdim, kind);
                },
                domain};
      oc.reduction_len = len;
      oc.integer = integer;
      oc.out_dtype = od;
      add_case(oc);
    };
    entry("sum", Red::sum, [r](const std::vector<Tensor>& x) { return sum(x[0], r.axes, r.keepdim); },
          Domain::any, true, sum_dtype);
    // mean over an empty axis is 0/0 = NaN, as in NumPy; the reference agrees.
    entry("mean", Red::mean, [r](const std::vector<Tensor>& x) { return mean(x[0], r.axes, r.keepdim); },
          Domain::any, false, same_dtype);
    if (len > 0)  // max over an empty axis is an error (OpErrors)
      entry("max", Red::max, [r](const std::vector<Tensor>& x) { return max(x[0], r.axes, r.keepdim); },
            Domain::distinct, true, same_dtype);
    if (len > 1)
      entry("var", Red::var, [r](const std::vector<Tensor>& x) { return var(x[0], r.axes, r.keepdim); },
            Domain::any, false, same_dtype);
  }
  {
    OpCase oc{"var correction=0 [5, 6] axes=[1]", {{5, 6}},
              [](const std::vector<Tensor>& x) { return var(x[0], {1}, false, 0); },
              [](const std::vector<RefArray>& x) { return ref_reduce(x[0], {1}, false, Red::var, 0); }};
    oc.reduction_len = 6;
    add_case(oc);
  }
  {
    OpCase oc{"var correction=0 keepdim [2, 3, 4] axes=[-1, 0]", {{2, 3, 4}},
              [](const std::vector<Tensor>& x) { return var(x[0], {-1, 0}, true, 0); },
              [](const std::vector<RefArray>& x) { return ref_reduce(x[0], {2, 0}, true, Red::var, 0); }};
    oc.reduction_len = 8;
    add_case(oc);
  }
  {
    OpCase oc{"sum size-0 [0, 3] axes=[0]", {{0, 3}},
              [](const std::vector<Tensor>& x) { return sum(x[0], {0}); },
              [](const std::vector<RefArray>& x) { return ref_reduce(x[0], {0}, false, Red::sum); }};
    oc.integer = true;
    oc.out_dtype = sum_dtype;
    add_case(oc);
  }
  for (const auto& [s, axis, keepdim] : std::vector<std::tuple<Shape, int64_t, bool>>{
           {{4, 5}, 0, false}, {{4, 5}, 1, true}, {{4, 5}, -1, false}, {{2, 3, 4}, -2, false},
           {{2, 3, 4}, 0, true}, {{6}, 0, false}, {{}, 0, false}, {{1, 3}, 0, false},
           {{0, 3}, 1, false}}) {
    OpCase oc{fmt::format("argmax {} axis={} keepdim={}", sh(s), axis, keepdim), {s},
              [axis, keepdim](const std::vector<Tensor>& x) { return argmax(x[0], axis, keepdim); },
              [axis, keepdim](const std::vector<RefArray>& x) {
                return ref_reduce(x[0], {axis}, keepdim, Red::argmax);
              },
              Domain::distinct};
    oc.differentiable = false;
    oc.integer = true;  // ties among small integers: the first maximum wins in both
    oc.out_dtype = index_dtype;
    add_case(oc);
  }
  for (const auto& [from, to] : std::vector<std::pair<Shape, Shape>>{
           {{2, 3, 4}, {3, 1}}, {{2, 3, 4}, {4}}, {{2, 3, 4}, {}}, {{2, 3, 4}, {1, 3, 1}},
           {{2, 3, 4}, {2, 3, 4}}, {{3, 1}, {1}}, {{0, 3}, {3}}, {{2, 0}, {1, 1}}}) {
    OpCase oc{fmt::format("sum_to {} -> {}", sh(from), sh(to)), {from},
              [to](const std::vector<Tensor>& x) { return sum_to(x[0], to); },
              [to](const std::vector<RefArray>& x) { return ref_sum_to(x[0], to); }};
    oc.reduction_len = std::max<int64_t>(1, shape_numel(from) / std::max<int64_t>(1, shape_numel(to)));
    add_case(oc);
  }

  // ---- matmul ----
  const std::vector<std::pair<Shape, Shape>> mm = {
      {{3, 4}, {4, 5}}, {{4}, {4, 2}},      {{3, 4}, {4}},         {{4}, {4}},
      {{2, 3, 4}, {4, 5}}, {{2, 1, 3, 4}, {3, 4, 2}}, {{1, 5}, {5, 1}}, {{3, 0}, {0, 2}},
      {{0, 3}, {3, 2}}, {{4}, {2, 4, 3}}, {{2, 3, 4}, {4}}, {{2, 2, 3}, {2, 3, 2}},
      {{1, 3, 4}, {2, 4, 2}}, {{0, 3, 4}, {4, 2}}, {{0}, {0}}, {{3}, {3, 0}}};
  for (const auto& [sa, sb] : mm) {
    OpCase oc{fmt::format("matmul {} {}", sh(sa), sh(sb)), {sa, sb},
              [](const std::vector<Tensor>& x) { return matmul(x[0], x[1]); },
              [](const std::vector<RefArray>& x) { return ref_matmul(x[0], x[1]); }};
    oc.reduction_len = std::max<int64_t>(1, sa.back());
    add_case(oc);
  }
  {
    OpCase oc{"matmul transposed operands [4, 3]^T [5, 4]^T", {{4, 3}, {5, 4}},
              [](const std::vector<Tensor>& x) { return matmul(x[0].t(), x[1].t()); },
              [](const std::vector<RefArray>& x) {
                return ref_matmul(ref_permute(x[0], {1, 0}), ref_permute(x[1], {1, 0}));
              }};
    oc.reduction_len = 4;
    add_case(oc);
    OpCase bt{"matmul batched transposed A [2, 4, 3]^T [4, 5]", {{2, 4, 3}, {4, 5}},
              [](const std::vector<Tensor>& x) { return matmul(x[0].transpose(-1, -2), x[1]); },
              [](const std::vector<RefArray>& x) { return ref_matmul(ref_permute(x[0], {0, 2, 1}), x[1]); }};
    bt.reduction_len = 4;
    add_case(bt);
    OpCase sl{"matmul sliced B [3, 4] [2, 4, 10][..., ::2]", {{3, 4}, {2, 4, 10}},
              [](const std::vector<Tensor>& x) { return matmul(x[0], x[1].slice(2, 0, 10, 2)); },
              [](const std::vector<RefArray>& x) { return ref_matmul(x[0], ref_slice(x[1], 2, 0, 10, 2)); }};
    sl.reduction_len = 4;
    add_case(sl);
  }
  // ---- linear: x @ w^T + b (one GEMM with the bias in its epilogue) ----
  for (const auto& [sx, out] : std::vector<std::pair<Shape, int64_t>>{
           {{3, 4}, 5}, {{2, 3, 4}, 5}, {{4}, 3}, {{1, 7}, 1}, {{2, 1, 3, 6}, 9}, {{0, 4}, 2}}) {
    const int64_t in = sx.back();
    OpCase oc{fmt::format("linear {} out {}", sh(sx), out), {sx, {out, in}, {out}},
              [](const std::vector<Tensor>& x) { return linear(x[0], x[1], x[2]); },
              [](const std::vector<RefArray>& x) {
                return ref_add(ref_matmul(x[0], ref_permute(x[1], {1, 0})), x[2]);
              }};
    oc.reduction_len = in;
    add_case(oc);
    OpCase nb{fmt::format("linear {} out {} no bias", sh(sx), out), {sx, {out, in}},
              [](const std::vector<Tensor>& x) { return linear(x[0], x[1], Tensor()); },
              [](const std::vector<RefArray>& x) { return ref_matmul(x[0], ref_permute(x[1], {1, 0})); }};
    nb.reduction_len = in;
    add_case(nb);
  }
  {
    // A non-mergeable view as input (permuted leading dims) and a transposed weight view.
    OpCase oc{"linear permuted x [3, 2, 4]^(1,0,2) w [4, 5]^T", {{3, 2, 4}, {4, 5}, {5}},
              [](const std::vector<Tensor>& x) { return linear(x[0].permute({1, 0, 2}), x[1].t(), x[2]); },
              [](const std::vector<RefArray>& x) {
                return ref_add(ref_matmul(ref_permute(x[0], {1, 0, 2}), x[1]), x[2]);
              }};
    oc.reduction_len = 4;
    add_case(oc);
  }

  // ---- softmax / log_softmax ----
  for (const auto& [s, axis] : std::vector<std::pair<Shape, int64_t>>{
           {{3, 5}, 1}, {{3, 5}, 0}, {{2, 3, 4}, 1}, {{2, 3, 4}, -1}, {{2, 3, 4}, -3}, {{6}, 0},
           {{4, 1}, 1}, {{}, 0}, {{0, 3}, 1}, {{2, 0}, 1}}) {
    for (bool lg : {false, true}) {
      OpCase oc{fmt::format("{} {} axis={}", lg ? "log_softmax" : "softmax", sh(s), axis), {s},
                [axis, lg](const std::vector<Tensor>& x) {
                  return lg ? log_softmax(x[0], axis) : softmax(x[0], axis);
                },
                [axis, lg](const std::vector<RefArray>& x) { return ref_softmax(x[0], axis, lg); }};
      oc.reduction_len = s.empty() ? 1 : s[axis < 0 ? axis + static_cast<int64_t>(s.size()) : axis];
      add_case(oc);
    }
  }
  {
    OpCase oc{"log_softmax large logits [2, 3]", {{2, 3}},
              [](const std::vector<Tensor>& x) { return log_softmax(x[0] * 300.0, 1); },
              [](const std::vector<RefArray>& x) {
                RefArray y = x[0];
                for (double& v : y.v) v *= 300;
                return ref_softmax(y, 1, true);
              }};
    oc.magnitude = 600;  // logits up to 600: results carry an absolute error ~ eps * 600
    add_case(oc);
  }

  // ---- joining and indexing (index tensors are constants inside fn, never perturbed) ----
  auto join = [&](OpCase oc) {
    oc.integer = true;
    add_case(std::move(oc));
  };
  join({"cat dim=1 [2, 3] [2, 1] [2, 0]", {{2, 3}, {2, 1}, {2, 0}},
        [](const std::vector<Tensor>& x) { return cat(x, 1); },
        [](const std::vector<RefArray>& x) { return ref_cat(x, 1); }});
  join({"cat dim=-2 [1, 4] [3, 4]", {{1, 4}, {3, 4}},
        [](const std::vector<Tensor>& x) { return cat(x, -2); },
        [](const std::vector<RefArray>& x) { return ref_cat(x, 0); }});
  join({"cat dim=-1 [2, 2, 1] [2, 2, 3]", {{2, 2, 1}, {2, 2, 3}},
        [](const std::vector<Tensor>& x) { return cat(x, -1); },
        [](const std::vector<RefArray>& x) { return ref_cat(x, 2); }});
  join({"cat one tensor [3, 2]", {{3, 2}},
        [](const std::vector<Tensor>& x) { return cat(x, 0); },
        [](const std::vector<RefArray>& x) { return x[0]; }});
  join({"cat size-0 rows [0, 2] [0, 3]", {{0, 2}, {0, 3}},
        [](const std::vector<Tensor>& x) { return cat(x, 1); },
        [](const std::vector<RefArray>& x) { return ref_cat(x, 1); }});
  join({"cat same input twice [2, 3]", {{2, 3}},
        [](const std::vector<Tensor>& x) { return cat({x[0], x[0]}, 0); },
        [](const std::vector<RefArray>& x) { return ref_cat({x[0], x[0]}, 0); }});
  join({"stack dim=1 [2, 3] x3", {{2, 3}, {2, 3}, {2, 3}},
        [](const std::vector<Tensor>& x) { return stack(x, 1); },
        [](const std::vector<RefArray>& x) {
          std::vector<RefArray> u;
          for (const auto& a : x) u.push_back(reshaped(a, {2, 1, 3}));
          return ref_cat(u, 1);
        }});
  join({"stack dim=-1 [2, 3] x2", {{2, 3}, {2, 3}},
        [](const std::vector<Tensor>& x) { return stack(x, -1); },
        [](const std::vector<RefArray>& x) {
          std::vector<RefArray> u;
          for (const auto& a : x) u.push_back(reshaped(a, {2, 3, 1}));
          return ref_cat(u, 2);
        }});
  join({"stack 0-d x3", {{}, {}, {}},
        [](const std::vector<Tensor>& x) { return stack(x, 0); },
        [](const std::vector<RefArray>& x) {
          std::vector<RefArray> u;
          for (const auto& a : x) u.push_back(reshaped(a, {1}));
          return ref_cat(u, 0);
        }});
  {
    const std::vector<int64_t> ids = {2, 0, 2, 4, 1};  // repeats: gradients must add
    join({"index_select dim=0 [5, 3] ids=[2,0,2,4,1]", {{5, 3}},
          [ids](const std::vector<Tensor>& x) { return index_select(x[0], 0, idx_tensor(ids, {5})); },
          [ids](const std::vector<RefArray>& x) {
            return ref_gather_by(x[0], {5, 3}, [&](const Shape& o) { return Shape{ids[o[0]], o[1]}; });
          }});
    const std::vector<int64_t> ids2 = {3, 3, 0};
    join({"index_select dim=1 i32 [2, 4, 2] ids=[3,3,0]", {{2, 4, 2}},
          [](const std::vector<Tensor>& x) {
            return index_select(x[0], 1, from_vector(std::vector<int32_t>{3, 3, 0}, {3}));
          },
          [ids2](const std::vector<RefArray>& x) {
            return ref_gather_by(x[0], {2, 3, 2},
                                 [&](const Shape& o) { return Shape{o[0], ids2[o[1]], o[2]}; });
          }});
    const std::vector<int64_t> ids3 = {1, 1};
    join({"index_select dim=-1 [3, 2] ids=[1,1]", {{3, 2}},
          [ids3](const std::vector<Tensor>& x) { return index_select(x[0], -1, idx_tensor(ids3, {2})); },
          [ids3](const std::vector<RefArray>& x) {
            return ref_gather_by(x[0], {3, 2}, [&](const Shape& o) { return Shape{o[0], ids3[o[1]]}; });
          }});
    join({"index_select empty ids [4, 3]", {{4, 3}},
          [](const std::vector<Tensor>& x) { return index_select(x[0], 0, idx_tensor({}, {0})); },
          [](const std::vector<RefArray>&) { return make({0, 3}); }});
  }
  {
    const std::vector<int64_t> g = {1, 0, 3, 3, 2, 0};  // shape [3, 2]
    join({"gather dim=1 [3, 4] idx[3, 2]", {{3, 4}},
          [g](const std::vector<Tensor>& x) { return gather(x[0], 1, idx_tensor(g, {3, 2})); },
          [g](const std::vector<RefArray>& x) {
            return ref_gather_by(x[0], {3, 2},
                                 [&](const Shape& o) { return Shape{o[0], g[o[0] * 2 + o[1]]}; });
          }});
    const std::vector<int64_t> g0 = {2, 0, 1, 1};  // shape [2, 2] into [3, 2]
    join({"gather dim=0 [3, 2] idx[2, 2]", {{3, 2}},
          [g0](const std::vector<Tensor>& x) { return gather(x[0], 0, idx_tensor(g0, {2, 2})); },
          [g0](const std::vector<RefArray>& x) {
            return ref_gather_by(x[0], {2, 2},
                                 [&](const Shape& o) { return Shape{g0[o[0] * 2 + o[1]], o[1]}; });
          }});
    // idx smaller than x in the other dims ([2, 2] of [3, 4]), negative dim, i32 indices.
    const std::vector<int32_t> g1 = {3, 3, 0, 2};
    join({"gather dim=-1 i32 [3, 4] idx[2, 2]", {{3, 4}},
          [g1](const std::vector<Tensor>& x) { return gather(x[0], -1, from_vector(g1, {2, 2})); },
          [g1](const std::vector<RefArray>& x) {
            return ref_gather_by(x[0], {2, 2},
                                 [&](const Shape& o) { return Shape{o[0], g1[o[0] * 2 + o[1]]}; });
          }});
    const std::vector<int64_t> g3 = {0, 1, 1, 0, 1, 1, 0, 0};  // shape [2, 2, 2] into [2, 2, 3]
    join({"gather dim=1 [2, 2, 3] idx[2, 2, 2]", {{2, 2, 3}},
          [g3](const std::vector<Tensor>& x) { return gather(x[0], 1, idx_tensor(g3, {2, 2, 2})); },
          [g3](const std::vector<RefArray>& x) {
            return ref_gather_by(x[0], {2, 2, 2}, [&](const Shape& o) {
              return Shape{o[0], g3[ravel(o, {2, 2, 2})], o[2]};
            });
          }});
    join({"gather 0-d", {{}},
          [](const std::vector<Tensor>& x) { return gather(x[0], 0, scalar_tensor(0, DType::i64)); },
          [](const std::vector<RefArray>& x) { return x[0]; }});
  }

  // ---- differentiable views and copies ----
  auto view_case = [&](OpCase oc) {
    oc.integer = true;
    add_case(std::move(oc));
  };
  view_case({"reshape [2, 3, 4] -> [4, -1]", {{2, 3, 4}},
             [](const std::vector<Tensor>& x) { return x[0].reshape({4, -1}); },
             [](const std::vector<RefArray>& x) { return reshaped(x[0], {4, 6}); }});
  view_case({"reshape of a transpose (copies) [3, 4] -> [12]", {{3, 4}},
             [](const std::vector<Tensor>& x) { return x[0].t().reshape({12}); },
             [](const std::vector<RefArray>& x) { return reshaped(ref_permute(x[0], {1, 0}), {12}); }});
  view_case({"reshape 0-d -> [1, 1] -> []", {{}},
             [](const std::vector<Tensor>& x) { return x[0].reshape({1, 1}).reshape({}) * 1.0; },
             [](const std::vector<RefArray>& x) { return x[0]; }});
  view_case({"reshape size-0 [0, 3] -> [3, 0, 2]", {{0, 3}},
             [](const std::vector<Tensor>& x) { return x[0].reshape({3, 0, 2}); },
             [](const std::vector<RefArray>&) { return make({3, 0, 2}); }});
  view_case({"view of contiguous [6, 2] -> [3, 4]", {{6, 2}},
             [](const std::vector<Tensor>& x) { return x[0].contiguous().view({3, 4}); },
             [](const std::vector<RefArray>& x) { return reshaped(x[0], {3, 4}); }});
  view_case({"view of a row slice [4, 6][1:3] -> [2, 2, 3]", {{4, 6}},
             [](const std::vector<Tensor>& x) { return x[0].contiguous().slice(0, 1, 3).view({2, 2, 3}); },
             [](const std::vector<RefArray>& x) { return reshaped(ref_slice(x[0], 0, 1, 3, 1), {2, 2, 3}); }});
  view_case({"view of a column slice (strided, no copy) [4, 6][:, ::2] -> [2, 2, 3]", {{4, 6}},
             [](const std::vector<Tensor>& x) {
               return x[0].contiguous().slice(1, 0, 6, 2).view({2, 2, 3});
             },
             [](const std::vector<RefArray>& x) { return reshaped(ref_slice(x[0], 1, 0, 6, 2), {2, 2, 3}); }});
  view_case({"flatten [2, 3, 2]", {{2, 3, 2}},
             [](const std::vector<Tensor>& x) { return x[0].flatten(); },
             [](const std::vector<RefArray>& x) { return reshaped(x[0], {12}); }});
  view_case({"transpose [2, 3, 4] (0, 2)", {{2, 3, 4}},
             [](const std::vector<Tensor>& x) { return x[0].transpose(0, 2); },
             [](const std::vector<RefArray>& x) { return ref_permute(x[0], {2, 1, 0}); }});
  view_case({"transpose [2, 3, 4] (-1, -2)", {{2, 3, 4}},
             [](const std::vector<Tensor>& x) { return x[0].transpose(-1, -2); },
             [](const std::vector<RefArray>& x) { return ref_permute(x[0], {0, 2, 1}); }});
  view_case({"t [3, 5]", {{3, 5}},
             [](const std::vector<Tensor>& x) { return x[0].t(); },
             [](const std::vector<RefArray>& x) { return ref_permute(x[0], {1, 0}); }});
  view_case({"permute [2, 3, 4] (1, 2, 0)", {{2, 3, 4}},
             [](const std::vector<Tensor>& x) { return x[0].permute({1, 2, 0}); },
             [](const std::vector<RefArray>& x) { return ref_permute(x[0], {1, 2, 0}); }});
  view_case({"permute [2, 1, 3, 2] (-1, 0, 2, 1)", {{2, 1, 3, 2}},
             [](const std::vector<Tensor>& x) { return x[0].permute({-1, 0, 2, 1}); },
             [](const std::vector<RefArray>& x) { return ref_permute(x[0], {3, 0, 2, 1}); }});
  view_case({"slice [5, 6] dim=1 1:6:2", {{5, 6}},
             [](const std::vector<Tensor>& x) { return x[0].slice(1, 1, 6, 2); },
             [](const std::vector<RefArray>& x) { return ref_slice(x[0], 1, 1, 6, 2); }});
  view_case({"slice [5, 6] dim=0 -3:", {{5, 6}},
             [](const std::vector<Tensor>& x) { return x[0].slice(0, -3, 5); },
             [](const std::vector<RefArray>& x) { return ref_slice(x[0], 0, 2, 5, 1); }});
  view_case({"slice [7, 2] dim=-2 1:-1:3", {{7, 2}},
             [](const std::vector<Tensor>& x) { return x[0].slice(-2, 1, -1, 3); },
             [](const std::vector<RefArray>& x) { return ref_slice(x[0], 0, 1, 6, 3); }});
  view_case({"slice [4, 3] dim=0 past the end 2:100", {{4, 3}},
             [](const std::vector<Tensor>& x) { return x[0].slice(0, 2, 100); },
             [](const std::vector<RefArray>& x) { return ref_slice(x[0], 0, 2, 4, 1); }});
  view_case({"slice [4, 3] dim=0 empty 3:1", {{4, 3}},
             [](const std::vector<Tensor>& x) { return x[0].slice(0, 3, 1); },
             [](const std::vector<RefArray>&) { return make({0, 3}); }});
  view_case({"slice of slice [8, 3] 1::2 then 1::2", {{8, 3}},
             [](const std::vector<Tensor>& x) { return x[0].slice(0, 1, 8, 2).slice(0, 1, 4, 2); },
             [](const std::vector<RefArray>& x) { return ref_slice(x[0], 0, 3, 8, 4); }});
  view_case({"select [3, 4] dim=1 index=-1", {{3, 4}},
             [](const std::vector<Tensor>& x) { return x[0].select(1, -1); },
             [](const std::vector<RefArray>& x) {
               return ref_gather_by(x[0], {3}, [](const Shape& o) { return Shape{o[0], 3}; });
             }});
  view_case({"select [2, 3, 2] dim=0 index=1", {{2, 3, 2}},
             [](const std::vector<Tensor>& x) { return x[0].select(0, 1); },
             [](const std::vector<RefArray>& x) {
               return ref_gather_by(x[0], {3, 2}, [](const Shape& o) { return Shape{1, o[0], o[1]}; });
             }});
  view_case({"select [4] -> 0-d", {{4}},
             [](const std::vector<Tensor>& x) { return x[0].select(0, 2); },
             [](const std::vector<RefArray>& x) { return RefArray{{}, {x[0].v[2]}}; }});
  view_case({"expand [3, 1] -> [2, 3, 4]", {{3, 1}},
             [](const std::vector<Tensor>& x) { return x[0].expand({2, 3, 4}); },
             [](const std::vector<RefArray>& x) {
               return ref_gather_by(x[0], {2, 3, 4}, [](const Shape& o) { return Shape{o[1], 0}; });
             }});
  view_case({"expand [1, 3] -> [4, -1]", {{1, 3}},
             [](const std::vector<Tensor>& x) { return x[0].expand({4, -1}); },
             [](const std::vector<RefArray>& x) {
               return ref_gather_by(x[0], {4, 3}, [](const Shape& o) { return Shape{0, o[1]}; });
             }});
  view_case({"expand 0-d -> [2, 3]", {{}},
             [](const std::vector<Tensor>& x) { return x[0].expand({2, 3}); },
             [](const std::vector<RefArray>& x) {
               return ref_gather_by(x[0], {2, 3}, [](const Shape&) { return Shape{}; });
             }});
  view_case({"expand [2, 1] -> [2, 0]", {{2, 1}},
             [](const std::vector<Tensor>& x) { return x[0].expand({2, 0}); },
             [](const std::vector<RefArray>&) { return make({2, 0}); }});
  view_case({"unsqueeze+squeeze [3, 4]", {{3, 4}},
             [](const std::vector<Tensor>& x) { return x[0].unsqueeze(1).unsqueeze(0).squeeze(2) * 1.0; },
             [](const std::vector<RefArray>& x) { return reshaped(x[0], {1, 3, 4}); }});
  view_case({"unsqueeze -1 [3, 2]", {{3, 2}},
             [](const std::vector<Tensor>& x) { return x[0].unsqueeze(-1); },
             [](const std::vector<RefArray>& x) { return reshaped(x[0], {3, 2, 1}); }});
  view_case({"unsqueeze 0-d", {{}},
             [](const std::vector<Tensor>& x) { return x[0].unsqueeze(0); },
             [](const std::vector<RefArray>& x) { return reshaped(x[0], {1}); }});
  view_case({"squeeze -1 [3, 1]", {{3, 1}},
             [](const std::vector<Tensor>& x) { return x[0].squeeze(-1); },
             [](const std::vector<RefArray>& x) { return reshaped(x[0], {3}); }});
  view_case({"squeeze of a non-1 dim is a no-op [3, 2]", {{3, 2}},
             [](const std::vector<Tensor>& x) { return x[0].squeeze(0); },
             [](const std::vector<RefArray>& x) { return x[0]; }});
  view_case({"squeeze and transpose of 0-d", {{}},
             [](const std::vector<Tensor>& x) { return x[0].squeeze(0).transpose(0, -1) * 1.0; },
             [](const std::vector<RefArray>& x) { return x[0]; }});
  view_case({"contiguous of transpose [3, 4]", {{3, 4}},
             [](const std::vector<Tensor>& x) { return x[0].t().contiguous(); },
             [](const std::vector<RefArray>& x) { return ref_permute(x[0], {1, 0}); }});
  view_case({"contiguous [2, 3]", {{2, 3}},
             [](const std::vector<Tensor>& x) { return x[0].contiguous(); },
             [](const std::vector<RefArray>& x) { return x[0]; }});
  view_case({"clone [2, 3]", {{2, 3}}, [](const std::vector<Tensor>& x) { return x[0].clone(); },
             [](const std::vector<RefArray>& x) { return x[0]; }});
  view_case({"clone of expand [3] -> [2, 3]", {{3}},
             [](const std::vector<Tensor>& x) { return x[0].expand({2, 3}).clone(); },
             [](const std::vector<RefArray>& x) {
               return ref_gather_by(x[0], {2, 3}, [](const Shape& o) { return Shape{o[1]}; });
             }});
  view_case({"to f32 and back [2, 3]", {{2, 3}},
             [](const std::vector<Tensor>& x) {
               const DType other = x[0].dtype() == DType::f32 ? DType::f64 : DType::f32;
               return x[0].to(other).to(x[0].dtype());
             },
             [](const std::vector<RefArray>& x) {
               RefArray y = x[0];
               for (double& v : y.v) v = static_cast<double>(static_cast<float>(v));
               return y;
             },
             Domain::any, {}, /*differentiable=*/false});  // f32 rounding defeats finite differences
  {
    // f32 -> f64 is exact, so its gradient is checked too (in f64 mode to(f64) is the identity;
    // OpGradients.Conversion* check the gradient through a real f32 <-> f64 conversion).
    OpCase oc{"to f64 [3, 2]", {{3, 2}},
              [](const std::vector<Tensor>& x) { return x[0].to(DType::f64); },
              [](const std::vector<RefArray>& x) { return x[0]; }};
    oc.integer = true;
    oc.out_dtype = [](DType) { return DType::f64; };
    add_case(oc);
  }

  // ---- convolution and pooling ----
  struct Cv {
    Shape x, w;
    Conv2dArgs a;
    bool bias;
  };
  auto args = [](int64_t s, int64_t p, int64_t d, int64_t g) {
    Conv2dArgs a;
    a.stride_h = a.stride_w = s;
    a.pad_h = a.pad_w = p;
    a.dilation_h = a.dilation_w = d;
    a.groups = g;
    return a;
  };
  Conv2dArgs asym = args(2, 1, 1, 1);
  asym.stride_w = 1;
  asym.pad_h = 0;
  for (const Cv& cv : std::vector<Cv>{
           {{2, 3, 5, 5}, {4, 3, 3, 3}, args(1, 0, 1, 1), true},   // plain
           {{1, 2, 6, 7}, {3, 2, 3, 2}, args(2, 1, 1, 1), true},   // stride + padding
           {{1, 2, 7, 7}, {2, 2, 3, 3}, args(1, 2, 2, 1), false},  // dilation
           {{2, 4, 4, 4}, {6, 2, 2, 2}, args(1, 0, 1, 2), true},   // groups
           {{1, 3, 5, 5}, {3, 1, 3, 3}, args(1, 1, 1, 3), true},   // depthwise
           {{1, 1, 5, 4}, {2, 1, 2, 3}, asym, true}}) {             // per-axis stride/padding
    std::vector<Shape> shapes = {cv.x, cv.w};
    if (cv.bias) shapes.push_back({cv.w[0]});
    OpCase oc{fmt::format("conv2d x{} w{} stride {}x{} pad {}x{} dil {} groups {}", sh(cv.x),
                          sh(cv.w), cv.a.stride_h, cv.a.stride_w, cv.a.pad_h, cv.a.pad_w,
                          cv.a.dilation_h, cv.a.groups),
              shapes,
              [a = cv.a](const std::vector<Tensor>& x) {
                return conv2d(x[0], x[1], x.size() > 2 ? x[2] : Tensor(), a);
              },
              [a = cv.a](const std::vector<RefArray>& x) {
                return ref_conv2d(x[0], x[1], x.size() > 2 ? &x[2] : nullptr, a);
              }};
    oc.reduction_len = cv.w[1] * cv.w[2] * cv.w[3];
    add_case(oc);
  }
  add_case({"max_pool2d k=2 [2, 3, 4, 6]", {{2, 3, 4, 6}},
            [](const std::vector<Tensor>& x) { return max_pool2d(x[0], 2); },
            [](const std::vector<RefArray>& x) { return ref_pool2d(x[0], 2, 2, true); },
            Domain::distinct});
  add_case({"max_pool2d k=3 stride 1 [1, 2, 5, 5]", {{1, 2, 5, 5}},
            [](const std::vector<Tensor>& x) { return max_pool2d(x[0], 3, 1); },
            [](const std::vector<RefArray>& x) { return ref_pool2d(x[0], 3, 1, true); },
            Domain::distinct});
  add_case({"avg_pool2d k=2 [2, 2, 4, 5]", {{2, 2, 4, 5}},
            [](const std::vector<Tensor>& x) { return avg_pool2d(x[0], 2); },
            [](const std::vector<RefArray>& x) { return ref_pool2d(x[0], 2, 2, false); }});

  // ---- a composite: a tiny attention head, to exercise ops together ----
  {
    OpCase oc{"attention softmax(q k^T / 2) v [2, 3, 4]", {{2, 3, 4}, {2, 3, 4}, {2, 3, 4}},
              [](const std::vector<Tensor>& x) {
                return matmul(softmax(matmul(x[0], x[1].transpose(-1, -2)) / 2.0, -1), x[2]);
              },
              [](const std::vector<RefArray>& x) {
                RefArray s = ref_matmul(x[0], ref_permute(x[1], {0, 2, 1}));
                for (double& v : s.v) v /= 2;
                return ref_matmul(ref_softmax(s, -1, false), x[2]);
              }};
    oc.reduction_len = 4;
    add_case(oc);
  }
  return c;
}

}  // namespace bstack::test
