// Runs the op table (op_table.cpp) in its modes, plus targeted checks that a table can't
// express (error messages, integer dtypes, gradient accumulation through broadcasting).
//   Forward:  f32 and f64, contiguous and non-contiguous inputs, vs the reference loop;
//             tolerance = eps(dtype) * (8 + reduction length) * (1 + |ref|).
//   Backward: f64, loss = sum(op(x) * W) for a fixed random W; analytic gradient vs central
//             differences (h = 1e-6); max |a - n| / max(1, |n|) <= 1e-6.
#include "tests/src/op_table.h"

#include "kernels/parallel.h"
#include "src/random.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

using namespace bstack;
using namespace bstack::test;

namespace {

std::vector<double> draw_values(const OpCase& oc, const Shape& shape, Generator& gen) {
  std::vector<double> v(shape_numel(shape));
  for (double& x : v) {
    if (oc.domain == Domain::positive) {
      x = 0.5 + 2.0 * gen.uniform();
      continue;
    }
    x = -2.0 + 4.0 * gen.uniform();
    if (oc.domain == Domain::no_kinks)
      for (double k : oc.kinks)
        if (std::fabs(x - k) < 0.05) x = k + (x < k ? -0.05 : 0.05) - (x - k);
  }
  return v;
}

// A tensor holding `values` (row-major) in `shape`; when `strided`, a non-contiguous view of
// a larger buffer: the transpose of a reversed-shape tensor when two or more dims exceed 1,
// otherwise every other element along each dim.
Tensor make_input(const std::vector<double>& values, const Shape& shape, DType dtype, bool strided) {
  Tensor src = from_vector(values, shape).to(dtype);
  if (!strided || shape.empty()) return src.clone();
  Tensor view;
  if (std::count_if(shape.begin(), shape.end(), [](int64_t d) { return d > 1; }) >= 2) {
    Shape rev(shape.rbegin(), shape.rend());
    std::vector<int64_t> perm(shape.size());
    for (size_t i = 0; i < shape.size(); ++i) perm[i] = static_cast<int64_t>(shape.size() - 1 - i);
    view = empty(rev, dtype).permute(perm);
  } else {
    Shape twice = shape;
    for (int64_t& d : twice) d *= 2;
    view = empty(twice, dtype);
    for (size_t d = 0; d < shape.size(); ++d) view = view.slice(static_cast<int64_t>(d), 0, twice[d], 2);
  }
  view.copy_(src);
  return view;
}

RefArray to_ref(const Tensor& t) { return {t.shape(), t.to_vector()}; }

std::string param_name(const ::testing::TestParamInfo<OpCase>& info) {
  std::string s = std::to_string(info.index) + "_";
  for (char ch : info.param.name) s += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
  return s;
}

class OpForward : public ::testing::TestWithParam<OpCase> {};
class OpBackward : public ::testing::TestWithParam<OpCase> {};

std::vector<OpCase> differentiable_cases() {
  std::vector<OpCase> out;
  for (auto& c : all_op_cases())
    if (c.differentiable) out.push_back(c);
  return out;
}

void check_forward(const OpCase& oc, DType dtype, bool strided) {
  Generator gen(1234);
  std::vector<Tensor> xs;
  std::vector<RefArray> refs;
  for (const Shape& s : oc.shapes) {
    Tensor t = make_input(draw_values(oc, s, gen), s, dtype, strided);
    if (strided && shape_numel(s) > 1) {
      ASSERT_FALSE(t.is_contiguous()) << shape_str(s);
    }
    refs.push_back(to_ref(t));  // the values as stored (f32-rounded for f32)
    xs.push_back(t);
  }
  Tensor out = oc.fn(xs);
  RefArray want = oc.ref(refs);
  const std::string what = fmt::format("{}({}{})", oc.name, dtype_name(dtype), strided ? ", strided" : "");
  ASSERT_EQ(out.shape(), want.shape) << what;
  const std::vector<double> got = out.to_vector();
  const double eps = dtype == DType::f32 ? std::numeric_limits<float>::epsilon()
                                         : std::numeric_limits<double>::epsilon();
  int bad = 0;
  for (size_t i = 0; i < got.size() && bad < 10; ++i) {
    const double tol = eps * (8 + oc.reduction_len) * (oc.magnitude + std::fabs(want.v[i]));
    if (!(std::fabs(got[i] - want.v[i]) <= tol)) {
      ADD_FAILURE() << what << " at " << shape_str(unravel(static_cast<int64_t>(i), want.shape))
                    << ": got " << got[i] << ", reference " << want.v[i] << " (tol " << tol << ")";
      ++bad;
    }
  }
}

}  // namespace

TEST_P(OpForward, F64) { check_forward(GetParam(), DType::f64, false); }
TEST_P(OpForward, F32) { check_forward(GetParam(), DType::f32, false); }
TEST_P(OpForward, F64Strided) { check_forward(GetParam(), DType::f64, true); }
TEST_P(OpForward, F32Strided) { check_forward(GetParam(), DType::f32, true); }

TEST_P(OpBackward, MatchesFiniteDifferencesF64) {
  const OpCase& oc = GetParam();
  Generator gen(99);
  std::vector<Tensor> xs;
  for (const Shape& s : oc.shapes) {
    Tensor t = make_input(draw_values(oc, s, gen), s, DType::f64, false);
    t.requires_grad_();
    xs.push_back(t);
  }
  Tensor out0 = oc.fn(xs);
  const Tensor w = randn(out0.shape(), gen, DType::f64);
  auto loss_of = [&] { return sum(oc.fn(xs) * w); };
  loss_of().backward();

  const double h = 1e-6;
  int bad = 0;
  double worst = 0;
  NoGradGuard ng;
  for (size_t k = 0; k < xs.size(); ++k) {
    const Tensor& x = xs[k];
    // An input the output does not depend on smoothly (e.g. only through a comparison) gets
    // no gradient: it must then be zero numerically too.
    const Tensor grad = x.grad().defined() ? x.grad() : zeros_like(x);
    for (int64_t i = 0; i < x.numel(); ++i) {
      const Shape idx = unravel(i, x.shape());
      const double v = x.get(idx);
      x.set(idx, v + h);
      const double fp = loss_of().item();
      x.set(idx, v - h);
      const double fm = loss_of().item();
      x.set(idx, v);
      const double numeric = (fp - fm) / (2 * h);
      const double analytic = grad.get(idx);
      const double rel = std::fabs(analytic - numeric) / std::max(1.0, std::fabs(numeric));
      worst = std::max(worst, rel);
      if (!(rel <= 1e-6) && bad++ < 10)
        ADD_FAILURE() << oc.name << "(f64) input " << k << " " << shape_str(idx) << ": analytic "
                      << analytic << " numeric " << numeric << ", rel err " << rel;
    }
  }
  RecordProperty("max_rel_err", std::to_string(worst));
}

INSTANTIATE_TEST_SUITE_P(Ops, OpForward, ::testing::ValuesIn(all_op_cases()), param_name);
INSTANTIATE_TEST_SUITE_P(Ops, OpBackward, ::testing::ValuesIn(differentiable_cases()), param_name);

// ---- targeted checks ----------------------------------------------------------------------------

namespace {
template <class F>
std::string error_of(F fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}
}  // namespace

TEST(OpErrors, NameTheOpAndTheShapes) {
  Tensor a = zeros({2, 3}), b = zeros({4, 3}), c = zeros({3, 5}, DType::f64);
  EXPECT_EQ(error_of([&] { add(a, b); }),
            "add: shapes [2, 3] and [4, 3] do not broadcast (dim 0: 2 vs 4)");
  EXPECT_EQ(error_of([&] { matmul(a, b); }),
            "matmul: inner dimensions differ: A[2, 3] @ B[4, 3] (3 != 4)");
  EXPECT_EQ(error_of([&] { mul(a, c); }),
            "mul: dtypes differ: f32[2, 3] vs f64[3, 5] (convert with .to())");
  EXPECT_EQ(error_of([&] { sum(a, {2}); }), "sum: axis 2 out of range for a tensor with 2 dims");
  EXPECT_EQ(error_of([&] { softmax(a, -3); }),
            "softmax: axis -3 out of range for a tensor with 2 dims");
  EXPECT_EQ(error_of([&] { exp(zeros({2}, DType::i32)); }),
            "exp: needs a floating-point tensor (f32 or f64), got i32");
  EXPECT_EQ(error_of([&] { index_select(a, 0, from_vector<int64_t>({0, 2}, {2})); }),
            "index_select: index 2 out of range for dim 0 of size 2");
  EXPECT_EQ(error_of([&] { gather(a, 1, from_vector<float>({0}, {1, 1})); }),
            "gather: index tensor must be i32 or i64, got f32");
  EXPECT_EQ(error_of([&] { cat({a, c}, 0); }),
            "cat: dtypes differ: f32[2, 3] vs f64[3, 5] (convert with .to())");
  EXPECT_EQ(error_of([&] { cat({a, zeros({2, 4})}, 0); }),
            "cat: tensor 1 has shape [2, 4], tensor 0 has [2, 3] (only dim 0 may differ)");
  EXPECT_EQ(error_of([&] { max(zeros({0, 3}), {0}); }),
            "max: reduction over an empty dimension of shape [0, 3]");
  Tensor x = zeros({2}).requires_grad_();
  EXPECT_EQ(error_of([&] { (x * 2.0).backward(); }),
            "backward: tensor of shape [2] is not a scalar; pass a gradient of the same shape "
            "(backward(grad))");
}

TEST(OpIntegers, ArithmeticAndReductions) {
  Tensor a = from_vector<int32_t>({1, -2, 3, 4, 5, -6}, {2, 3});
  Tensor b = from_vector<int32_t>({10, 20, 30}, {3});
  EXPECT_EQ((a + b).to_vector(), (std::vector<double>{11, 18, 33, 14, 25, 24}));
  EXPECT_EQ((a * b).dtype(), DType::i32);
  EXPECT_EQ(relu(a).to_vector(), (std::vector<double>{1, 0, 3, 4, 5, 0}));
  EXPECT_EQ(abs(a).to_vector(), (std::vector<double>{1, 2, 3, 4, 5, 6}));
  Tensor s = sum(a, {1});
  EXPECT_EQ(s.dtype(), DType::i64);
  EXPECT_EQ(s.to_vector(), (std::vector<double>{2, 3}));
  EXPECT_EQ(max(a, {0}).to_vector(), (std::vector<double>{4, 5, 3}));
  EXPECT_EQ(argmax(a, 1).to_vector(), (std::vector<double>{2, 1}));
  Tensor i8 = from_vector<int8_t>({100, 100, -100}, {3});
  EXPECT_EQ(sum(i8).item(), 100);  // accumulates in i64, no wrap-around
  EXPECT_EQ(clamp(i8, -50, 50).to_vector(), (std::vector<double>{50, 50, -50}));
  EXPECT_EQ(where(gt(a, scalar_tensor(0, DType::i32)), a, b).to_vector(),
            (std::vector<double>{1, 20, 3, 4, 5, 30}));
}

TEST(OpGradients, ConversionPassesGradientThrough) {
  Tensor x = from_vector<double>({1.5, -2.0}, {2}).requires_grad_();
  sum(x.to(DType::f32) * 3.0).backward();
  EXPECT_EQ(x.grad().dtype(), DType::f64);
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{3, 3}));
}

TEST(OpGradients, BroadcastGradientIsSummedToTheInputShape) {
  Tensor a = ones({3, 1}, DType::f64).requires_grad_();
  Tensor b = ones({4}, DType::f64).requires_grad_();
  sum(a * b).backward();
  EXPECT_EQ(a.grad().shape(), (Shape{3, 1}));
  EXPECT_EQ(a.grad().to_vector(), (std::vector<double>{4, 4, 4}));
  EXPECT_EQ(b.grad().to_vector(), (std::vector<double>{3, 3, 3, 3}));
}

TEST(OpGradients, MaxSplitsTiesEvenly) {
  Tensor x = from_vector<double>({2, 5, 5, 1}, {4}).requires_grad_();
  max(x).backward();
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{0, 0.5, 0.5, 0}));
}

TEST(OpThreads, ResultsDoNotDependOnTheThreadCount) {
  Generator gen(3);
  Tensor a = randn({300, 200}, gen), b = randn({200, 150}, gen), c = randn({150}, gen);
  auto run = [&] { return softmax(matmul(a, b) + c, 1).to_vector(); };
  kernels::set_num_threads(1);
  const auto one = run();
  kernels::set_num_threads(2);
  const auto two = run();
  kernels::set_num_threads(0);
  EXPECT_EQ(one, two);
}
