// The ops that run fused or vectorised kernels (kernels/rowops.h, kernels/eltwise.h): their
// gradients by central finite differences in f64 (loss = sum(op(x) * W) for a fixed random W,
// h = 1e-6, max |a - n| / max(1, |n|) <= 1e-6), on contiguous inputs (the fused path) and on
// transposed views (the strided path) of the same values; their f32 forward against the f64
// result; and their errors. Covers softmax / log_softmax along the last axis, layer_norm with
// and without weight and bias, cross_entropy (i64 and i32 targets), gelu / relu / tanh /
// sigmoid / exp / neg / sqrt, binary ops on every grid the kernels take (same shape, scalar, bias
// row, column, leading broadcast, sliced rows) and sum over row, column, (K, R, K) and (R, K, R)
// patterns.
#include "src/nn/layers.h"
#include "src/nn/loss.h"
#include "src/ops.h"
#include "src/random.h"
#include "tests/test_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

using namespace bstack;

namespace {

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

// Analytic gradients of sum(f(xs) * W) for every input against central differences.
void gradcheck(const std::string& what, const Fn& f, std::vector<Tensor> xs) {
  for (Tensor& x : xs) x = x.to(DType::f64).detach().requires_grad_();
  Generator gen(91);
  const Tensor w = randn(f(xs).shape(), gen, DType::f64);
  sum(f(xs) * w).backward();
  NoGradGuard ng;
  const double h = 1e-6;
  for (size_t k = 0; k < xs.size(); ++k) {
    const Tensor& x = xs[k];
    ASSERT_TRUE(x.grad().defined()) << what << ": no gradient for input " << k;
    int bad = 0;
    for (int64_t i = 0; i < x.numel() && bad < 5; ++i) {
      const Shape idx = test::unravel(i, x.shape());
      const double v = x.get(idx);
      x.set(idx, v + h);
      const double fp = sum(f(xs) * w).item();
      x.set(idx, v - h);
      const double fm = sum(f(xs) * w).item();
      x.set(idx, v);
      const double num = (fp - fm) / (2 * h), ana = x.grad().get(idx);
      if (std::fabs(ana - num) > 1e-6 * std::max(1.0, std::fabs(num))) {
        ++bad;
        ADD_FAILURE() << what << ": d/d input " << k << " at " << shape_str(idx) << ": analytic "
                      << ana << ", numeric " << num;
      }
    }
  }
}

// The same values as a non-contiguous view (the transpose of a transposed copy), so the
// strided path runs on them.
Tensor strided(const Tensor& x) {
  if (x.dim() < 2) return x;
  return x.transpose(0, x.dim() - 1).contiguous().transpose(0, x.dim() - 1);
}

// Checks f on contiguous inputs and on strided views of them, f64 gradients, and the f32
// forward against the f64 one (|f32 - f64| <= tol * (1 + |f64|)).
void check(const std::string& what, const Fn& f, const std::vector<Tensor>& xs, double tol = 2e-6) {
  gradcheck(what + " (contiguous)", f, xs);
  std::vector<Tensor> sv;
  for (const Tensor& x : xs) sv.push_back(strided(x));
  gradcheck(what + " (strided)", f, sv);
  std::vector<Tensor> x32, x64;
  for (const Tensor& x : xs) {
    x32.push_back(is_floating(x.dtype()) ? x.to(DType::f32) : x);
    x64.push_back(is_floating(x.dtype()) ? x.to(DType::f64) : x);
  }
  const std::vector<double> a = f(x32).to_vector(), b = f(x64).to_vector();
  ASSERT_EQ(a.size(), b.size());
  int bad = 0;
  for (size_t i = 0; i < a.size() && bad < 5; ++i)
    if (!(std::fabs(a[i] - b[i]) <= tol * (1 + std::fabs(b[i])))) {
      ++bad;
      ADD_FAILURE() << what << ": f32 element " << i << " = " << a[i] << ", f64 " << b[i];
    }
}

Tensor rn(const Shape& s, uint64_t seed, double scale = 1) {
  Generator g(seed);
  return randn(s, g, DType::f64) * scale;
}

// Values at least 0.05 away from 0 (relu's kink), sign random.
Tensor away_from_zero(const Shape& s, uint64_t seed) {
  Tensor x = rn(s, seed);
  return where(ge(x, scalar_tensor(0, DType::f64)), x + 0.05, x - 0.05);
}

}  // namespace

TEST(FusedOps, SoftmaxAndLogSoftmaxLastAxis) {
  for (const Shape& s : {Shape{7}, Shape{3, 7}, Shape{2, 3, 17}, Shape{2, 65}}) {
    check("softmax " + shape_str(s), [](const auto& x) { return softmax(x[0], -1); },
          {rn(s, 1, 2)});
    check("log_softmax " + shape_str(s), [](const auto& x) { return log_softmax(x[0], -1); },
          {rn(s, 2, 2)});
  }
  // Not the last axis: the composite backward.
  check("softmax axis 0", [](const auto& x) { return softmax(x[0], 0); }, {rn({4, 3}, 3)});
  // A gradient that is not contiguous reaches the fused backward.
  Tensor x = rn({3, 5}, 4).requires_grad_();
  Tensor g = rn({5, 3}, 5).t();
  softmax(x, 1).backward(g);
  Tensor y = softmax(x.detach(), 1);
  const Tensor want = y * (g - sum(g * y, {1}, true));
  for (int64_t i = 0; i < 15; ++i) EXPECT_NEAR(x.grad().to_vector()[i], want.to_vector()[i], 1e-12);
}

TEST(FusedOps, LayerNorm) {
  for (const Shape& s : {Shape{4, 7}, Shape{2, 3, 17}, Shape{1, 1}}) {
    const int64_t n = s.back();
    check(
        "layer_norm " + shape_str(s),
        [](const auto& x) { return layer_norm(x[0], x[1], x[2], 1e-5); },
        {rn(s, 6, 2) + 3.0, rn({n}, 7), rn({n}, 8)}, 1e-5);
    check(
        "layer_norm no affine " + shape_str(s),
        [](const auto& x) { return layer_norm(x[0], Tensor(), Tensor(), 1e-5); }, {rn(s, 9)}, 1e-5);
  }
  // The module is the op, with the same values as the composite formula.
  nn::LayerNorm ln(6);
  Tensor x = rn({5, 6}, 10).to(DType::f32);
  Tensor m = mean(x, {-1}, true), v = var(x, {-1}, true, 0);
  const std::vector<double> want = ((x - m) / sqrt(v + 1e-5)).to_vector(), got = ln(x).to_vector();
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5);
  EXPECT_THROW(layer_norm(x, ones({5}), Tensor()), Error);
  EXPECT_NE(
      test::error_of([&] { layer_norm(x, ones({6}, DType::f64), Tensor()); }).find("layer_norm"),
      std::string::npos);
}

TEST(FusedOps, CrossEntropy) {
  for (DType td : {DType::i64, DType::i32}) {
    const Tensor t = from_vector<int64_t>({1, 0, 6, 6, 3}, {5}).to(td);
    check("cross_entropy", [t](const auto& x) { return nn::cross_entropy(x[0], t); },
          {rn({5, 7}, 11, 3)});
  }
  const Tensor t1 = from_vector<int64_t>({0}, {1});
  check("cross_entropy one class", [t1](const auto& x) { return nn::cross_entropy(x[0], t1); },
        {rn({1, 1}, 12)});
  // Gradient scaling by the incoming gradient (loss * 3).
  Tensor x = rn({4, 5}, 13).requires_grad_();
  const Tensor t = from_vector<int64_t>({4, 0, 2, 2}, {4});
  (nn::cross_entropy(x, t) * 3.0).backward();
  const Tensor p = softmax(x.detach(), 1);
  EXPECT_NEAR(x.grad().get({2, 2}), 3.0 * (p.get({2, 2}) - 1) / 4, 1e-12);
  EXPECT_NEAR(x.grad().get({2, 1}), 3.0 * p.get({2, 1}) / 4, 1e-12);
  EXPECT_NE(test::error_of([&] {
              nn::cross_entropy(x, from_vector<int64_t>({4, 0, 5, 2}, {4}));
            }).find("target[2] = 5"),
            std::string::npos);
  EXPECT_THROW(nn::cross_entropy(x, from_vector<int64_t>({-1, 0, 1, 2}, {4})), Error);
  EXPECT_THROW(nn::cross_entropy(x, from_vector<double>({0, 0, 1, 2}, {4})), Error);
}

TEST(FusedOps, UnaryOps) {
  const Shape s{3, 19};
  check("gelu", [](const auto& x) { return gelu(x[0]); }, {rn(s, 20, 3)});
  check("relu", [](const auto& x) { return relu(x[0]); }, {away_from_zero(s, 21)});
  check("tanh", [](const auto& x) { return tanh(x[0]); }, {rn(s, 22, 2)});
  check("sigmoid", [](const auto& x) { return sigmoid(x[0]); }, {rn(s, 23, 4)});
  check("exp", [](const auto& x) { return exp(x[0]); }, {rn(s, 24)});
  check("neg", [](const auto& x) { return -x[0]; }, {rn(s, 25)});
  check("sqrt", [](const auto& x) { return sqrt(x[0]); }, {abs(rn(s, 26)) + 0.1});
}

TEST(FusedOps, BinaryGrids) {
  struct Case {
    const char* name;
    Shape a, b;
  };
  const Case cases[] = {{"same shape", {4, 5}, {4, 5}}, {"bias row", {6, 5}, {5}},
                        {"column", {6, 5}, {6, 1}},     {"scalar", {6, 5}, {}},
                        {"row first", {5}, {6, 5}},     {"leading", {2, 3, 4}, {3, 4}},
                        {"1-elem", {1}, {3, 1, 4}},     {"outer", {3, 1}, {1, 4}}};
  for (const Case& c : cases) {
    check(std::string("add ") + c.name, [](const auto& x) { return x[0] + x[1]; },
          {rn(c.a, 30), rn(c.b, 31)});
    check(std::string("sub ") + c.name, [](const auto& x) { return x[0] - x[1]; },
          {rn(c.a, 32), rn(c.b, 33)});
    check(std::string("mul ") + c.name, [](const auto& x) { return x[0] * x[1]; },
          {rn(c.a, 34), rn(c.b, 35)});
    check(std::string("div ") + c.name, [](const auto& x) { return x[0] / x[1]; },
          {rn(c.a, 36), rn(c.b, 37) * 0.1 + 2.0});
  }
  // Sliced rows (row stride wider than the row) plus a bias: the kernel's row stride; results
  // equal the strided loop's bit for bit (IEEE add).
  Generator g(38);
  Tensor big = randn({5, 9}, g), bias = randn({4}, g);
  Tensor view = big.slice(1, 2, 6);
  ASSERT_FALSE(view.is_contiguous());
  const std::vector<double> got = (view + bias).to_vector();
  for (int64_t i = 0; i < 5; ++i)
    for (int64_t j = 0; j < 4; ++j)
      EXPECT_EQ(got[i * 4 + j], static_cast<double>(static_cast<float>(big.get({i, j + 2})) +
                                                    static_cast<float>(bias.get({j}))));
}

TEST(FusedOps, SumPatterns) {
  struct Case {
    Shape s;
    Axes axes;
  };
  const Case cases[] = {{{4, 5}, {0}},
                        {{4, 5}, {1}},
                        {{4, 5}, {}},
                        {{2, 3, 4}, {1}},
                        {{2, 3, 4, 5}, {0, 2, 3}},
                        {{2, 1, 3}, {0}},
                        {{3, 4, 5}, {0, 2}},
                        {{2, 3, 4}, {0, 1}}};
  for (const Case& c : cases)
    for (bool keep : {false, true}) {
      check("sum " + shape_str(c.s) + " axes " + std::to_string(c.axes.size()) +
                (keep ? " keepdim" : ""),
            [&](const auto& x) { return sum(x[0], c.axes, keep); }, {rn(c.s, 40)});
      // mean is sum then a scalar division: both fast paths.
      check("mean " + shape_str(c.s), [&](const auto& x) { return mean(x[0], c.axes, keep); },
            {rn(c.s, 41)});
    }
  // Against a plain loop in f32 (double accumulation in both).
  Generator g(42);
  Tensor x = randn({7, 33}, g);
  const std::vector<double> cs = sum(x, {0}).to_vector(), rs = sum(x, {1}).to_vector();
  for (int64_t j = 0; j < 33; ++j) {
    double s = 0;
    for (int64_t i = 0; i < 7; ++i) s += static_cast<float>(x.get({i, j}));
    EXPECT_EQ(cs[j], static_cast<double>(static_cast<float>(s)));
  }
  for (int64_t i = 0; i < 7; ++i) {
    double s = 0;
    for (int64_t j = 0; j < 33; ++j) s += static_cast<float>(x.get({i, j}));
    EXPECT_NEAR(rs[i], s, 1e-6);
  }
}
