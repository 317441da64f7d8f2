// Runs the op table (op_table.cpp) in its modes, plus targeted checks that a table can't
// express (error messages, integer dtypes, gradient accumulation, storage sharing of views).
//   Forward:  f32 and f64 (and i32 for integer-capable cases), contiguous and non-contiguous
//             inputs, vs the reference loop; tolerance = eps(dtype) * (8 + reduction length) *
//             (magnitude + |ref|); integers exactly. The result dtype is checked too.
//   Backward: f64, contiguous and non-contiguous leaves, loss = sum(op(x) * W) for a fixed
//             random W; analytic gradient vs central differences (h = 1e-6);
//             max |a - n| / max(1, |n|) <= 1e-6.
// A failing element prints the whole case: name, dtype, layout, input, index, both values.
#include "tests/src/op_table.h"
#include "tests/test_util.h"

#include "kernels/parallel.h"
#include "src/random.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <numeric>

using namespace bstack;
using namespace bstack::test;

namespace {

constexpr int kMaxReported = 10;  // mismatches printed per test before stopping

// Row-major values for every input of `oc`, from its domain; `integer`: small integers in
// [-9, 9] ([1, 9] for Domain::positive), exact in every dtype.
std::vector<std::vector<double>> draw_inputs(const OpCase& oc, Generator& gen, bool integer) {
  int64_t total = 0;
  for (const Shape& s : oc.shapes) total += shape_numel(s);
  // Domain::distinct: element k gets the rank[k]-th of `total` evenly spaced slots in
  // [-2, 2], jittered within its slot, so any two elements are at least 2 / total apart.
  std::vector<int64_t> rank(total);
  std::iota(rank.begin(), rank.end(), 0);
  for (int64_t i = total - 1; i > 0; --i)
    std::swap(rank[i], rank[gen.below(static_cast<uint64_t>(i) + 1)]);
  std::vector<std::vector<double>> out;
  int64_t k = 0;
  for (const Shape& s : oc.shapes) {
    std::vector<double> v(shape_numel(s));
    for (double& x : v) {
      const int64_t r = rank[k++];
      if (integer) {
        x = oc.domain == Domain::positive ? 1.0 + static_cast<double>(gen.below(9))
                                          : static_cast<double>(gen.below(19)) - 9.0;
        continue;
      }
      switch (oc.domain) {
        case Domain::any: x = -2.0 + 4.0 * gen.uniform(); break;
        case Domain::positive: x = 0.5 + 2.0 * gen.uniform(); break;
        case Domain::distinct:
          x = -2.0 + 4.0 * (static_cast<double>(r) + 0.25 + 0.5 * gen.uniform()) / static_cast<double>(total);
          break;
        case Domain::no_kinks:
          x = -2.0 + 4.0 * gen.uniform();
          for (double kink : oc.kinks) {  // push out of the margin, keeping the side
            const double d = x - kink;
            if (std::fabs(d) < 0.05) x = kink + (d < 0 ? -1.0 : 1.0) * (0.05 + std::fabs(d));
          }
          break;
      }
    }
    out.push_back(std::move(v));
  }
  return out;
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

// The inputs of one run, as bstack tensors and as the reference sees them (the values as
// stored: f32-rounded for f32).
struct Inputs {
  std::vector<Tensor> xs;
  std::vector<RefArray> refs;
};

Inputs make_inputs(const OpCase& oc, DType dtype, bool strided, uint64_t seed) {
  Generator gen(seed);
  const auto values = draw_inputs(oc, gen, !is_floating(dtype));
  Inputs in;
  for (size_t k = 0; k < oc.shapes.size(); ++k) {
    Tensor t = make_input(values[k], oc.shapes[k], dtype, strided);
    in.refs.push_back({t.shape(), t.to_vector()});
    in.xs.push_back(t);
  }
  return in;
}

std::string layout(bool strided) { return strided ? ", strided" : ""; }

std::string param_name(const ::testing::TestParamInfo<OpCase>& info) {
  std::string s = std::to_string(info.index) + "_";
  for (char ch : info.param.name) s += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
  return s;
}

class OpForward : public ::testing::TestWithParam<OpCase> {};
class OpForwardInt : public ::testing::TestWithParam<OpCase> {};
class OpBackward : public ::testing::TestWithParam<OpCase> {};

std::vector<OpCase> cases_where(bool (*keep)(const OpCase&)) {
  std::vector<OpCase> out;
  for (auto& c : all_op_cases())
    if (keep(c)) out.push_back(c);
  return out;
}

bool same_value(double got, double want, double tol) {
  if (std::isnan(want) || std::isnan(got)) return std::isnan(want) && std::isnan(got);
  if (std::isinf(want) || std::isinf(got)) return got == want;
  return std::fabs(got - want) <= tol;
}

void check_forward(const OpCase& oc, DType dtype, bool strided) {
  const Inputs in = make_inputs(oc, dtype, strided, 1234);
  for (size_t k = 0; k < in.xs.size(); ++k)
    if (strided && in.xs[k].numel() > 1) {
      ASSERT_FALSE(in.xs[k].is_contiguous()) << oc.name << ": input " << k << " " << shape_str(oc.shapes[k]);
    }
  const std::string what = fmt::format("{}({}{})", oc.name, dtype_name(dtype), layout(strided));
  const Tensor out = oc.fn(in.xs);
  const RefArray want = oc.ref(in.refs);
  ASSERT_EQ(out.shape(), want.shape) << what;
  EXPECT_EQ(dtype_name(out.dtype()), std::string(dtype_name(oc.out_dtype(dtype)))) << what;
  const std::vector<double> got = out.to_vector();
  const double eps = !is_floating(dtype)    ? 0.0
                     : dtype == DType::f32 ? std::numeric_limits<float>::epsilon()
                                           : std::numeric_limits<double>::epsilon();
  int bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double tol = eps * static_cast<double>(8 + oc.reduction_len) * (oc.magnitude + std::fabs(want.v[i]));
    if (same_value(got[i], want.v[i], tol)) continue;
    if (++bad > kMaxReported) continue;
    ADD_FAILURE() << what << " at " << shape_str(unravel(static_cast<int64_t>(i), want.shape))
                  << ": got " << fmt::format("{:.17g}", got[i]) << ", reference "
                  << fmt::format("{:.17g}", want.v[i]) << " (tol " << tol << ")";
  }
  if (bad > kMaxReported) ADD_FAILURE() << what << ": " << bad - kMaxReported << " more mismatches";
}

void check_backward(const OpCase& oc, bool strided) {
  const Inputs in = make_inputs(oc, DType::f64, strided, 99);
  const std::vector<Tensor>& xs = in.xs;
  for (const Tensor& x : xs) x.requires_grad_();
  Generator wgen(7);
  const Tensor w = randn(oc.fn(xs).shape(), wgen, DType::f64);
  auto loss_of = [&] { return sum(oc.fn(xs) * w); };
  loss_of().backward();

  const std::string what = fmt::format("{}(f64{})", oc.name, layout(strided));
  const double h = 1e-6;
  int bad = 0;
  double worst = 0;
  NoGradGuard ng;
  for (size_t k = 0; k < xs.size(); ++k) {
    const Tensor& x = xs[k];
    // An input the output does not depend on smoothly (e.g. only through a comparison) gets
    // no gradient: it must then be zero numerically too.
    const Tensor grad = x.grad().defined() ? x.grad() : zeros_like(x);
    ASSERT_EQ(grad.shape(), x.shape()) << what << " input " << k;
    ASSERT_EQ(grad.dtype(), DType::f64) << what << " input " << k;
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
      worst = std::max(worst, std::isnan(rel) ? std::numeric_limits<double>::infinity() : rel);
      if (rel <= 1e-6) continue;
      if (++bad > kMaxReported) continue;
      ADD_FAILURE() << what << " input " << k << " " << shape_str(idx)
                    << fmt::format(": analytic {:.12g} numeric {:.12g}, rel err {:.3g} > 1e-6",
                                   analytic, numeric, rel);
    }
  }
  if (bad > kMaxReported) ADD_FAILURE() << what << ": " << bad - kMaxReported << " more mismatches";
  ::testing::Test::RecordProperty("max_rel_err", std::to_string(worst));
}

}  // namespace

TEST_P(OpForward, F64) { check_forward(GetParam(), DType::f64, false); }
TEST_P(OpForward, F32) { check_forward(GetParam(), DType::f32, false); }
TEST_P(OpForward, F64Strided) { check_forward(GetParam(), DType::f64, true); }
TEST_P(OpForward, F32Strided) { check_forward(GetParam(), DType::f32, true); }
TEST_P(OpForwardInt, I32) { check_forward(GetParam(), DType::i32, false); }
TEST_P(OpForwardInt, I32Strided) { check_forward(GetParam(), DType::i32, true); }
TEST_P(OpBackward, F64) { check_backward(GetParam(), false); }
TEST_P(OpBackward, F64Strided) { check_backward(GetParam(), true); }

INSTANTIATE_TEST_SUITE_P(Ops, OpForward, ::testing::ValuesIn(all_op_cases()), param_name);
INSTANTIATE_TEST_SUITE_P(Ops, OpForwardInt,
                         ::testing::ValuesIn(cases_where([](const OpCase& c) { return c.integer; })),
                         param_name);
INSTANTIATE_TEST_SUITE_P(Ops, OpBackward,
                         ::testing::ValuesIn(cases_where([](const OpCase& c) { return c.differentiable; })),
                         param_name);

// ---- targeted checks ----------------------------------------------------------------------------

using bstack::test::error_of;

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

TEST(OpErrors, MoreShapeDtypeAndAxisErrors) {
  Tensor a = zeros({2, 3}), b = zeros({4, 3});
  EXPECT_EQ(error_of([&] { where(ones({2, 3}), a, zeros({3, 2})); }),
            "where: shapes [2, 3] and [3, 2] do not broadcast (dim 0: 2 vs 3)");
  EXPECT_EQ(error_of([&] { maximum(a, b); }),
            "maximum: shapes [2, 3] and [4, 3] do not broadcast (dim 0: 2 vs 4)");
  EXPECT_EQ(error_of([&] { div(a, zeros({3}, DType::f64)); }),
            "div: dtypes differ: f32[2, 3] vs f64[3] (convert with .to())");
  EXPECT_EQ(error_of([&] { matmul(a, zeros({3}, DType::f64)); }),
            "matmul: dtypes differ: f32[2, 3] vs f64[3] (convert with .to())");
  EXPECT_EQ(error_of([&] { div(zeros({2}, DType::i32), zeros({2}, DType::i32)); }),
            "div: needs a floating-point tensor (f32 or f64), got i32");
  EXPECT_EQ(error_of([&] { mean(a, {-3}); }), "mean: axis -3 out of range for a tensor with 2 dims");
  EXPECT_EQ(error_of([&] { var(a, {0, 5}); }), "var: axis 5 out of range for a tensor with 2 dims");
  EXPECT_EQ(error_of([&] { argmax(a, 2); }), "argmax: axis 2 out of range for a tensor with 2 dims");
  EXPECT_EQ(error_of([&] { log_softmax(a, 2); }),
            "log_softmax: axis 2 out of range for a tensor with 2 dims");
  EXPECT_EQ(error_of([&] { cat({a, a}, 2); }), "cat: axis 2 out of range for a tensor with 2 dims");
  EXPECT_EQ(error_of([&] { a.transpose(0, 2); }), "transpose: axis 2 out of range for a tensor with 2 dims");
  EXPECT_EQ(error_of([&] { a.select(1, 3); }), "select: index 3 out of range for dim 1 of size 3");
  EXPECT_EQ(error_of([&] { a.view({4, 2}); }),
            "view: cannot reshape [2, 3] (6 elements) into [4, 2] (8 elements)");
  EXPECT_EQ(error_of([&] { a.t().view({6}); }),
            "view: a tensor of shape [3, 2] with strides [1, 3] cannot be viewed as [6] without a "
            "copy; use reshape()");
  EXPECT_EQ(error_of([&] { a.expand({4, 3}); }), "expand: cannot expand shape [2, 3] to [4, 3] (dim 0: 2 vs 4)");
  EXPECT_EQ(error_of([&] { sum_to(a, {4}); }), "sum_to: shape [4] does not broadcast to [2, 3]");
  EXPECT_EQ(error_of([&] { stack({a, b}, 0); }), "stack: tensor 1 has shape [4, 3], tensor 0 has [2, 3]");
  EXPECT_EQ(error_of([&] { gather(a, 0, from_vector<int64_t>({0, 0, 0, 0}, {1, 4})); }),
            "gather: index shape [1, 4] exceeds input shape [2, 3] at dim 1");
  EXPECT_EQ(error_of([&] { zeros({2}, DType::i32).requires_grad_(); }),
            "requires_grad_: only f32/f64 tensors can require grad, got i32");
  Tensor x = ones({2}, DType::f64).requires_grad_();
  EXPECT_EQ(error_of([&] { (x * 2.0).backward(ones({3}, DType::f64)); }),
            "backward: gradient f64 [3] does not match tensor f64 [2]");
  EXPECT_EQ(error_of([&] { x.fill_(0); }),
            "fill_: in-place change of a tensor of shape [2] that requires grad; use NoGradGuard "
            "(e.g. for optimizer updates) or detach() first");
}

// 0-d tensors have no dim to slice, select or size; squeeze and transpose leave them as they are.
TEST(OpZeroDim, ViewsOfAScalar) {
  Tensor s = scalar_tensor(2.5, DType::f64);
  EXPECT_EQ(error_of([&] { s.slice(0, 0, 1); }), "slice: cannot slice a 0-d tensor");
  EXPECT_EQ(error_of([&] { s.select(0, 0); }), "select: cannot select from a 0-d tensor");
  EXPECT_EQ(error_of([&] { s.size(0); }), "size: a 0-d tensor has no dim 0");
  EXPECT_EQ(error_of([&] { s.squeeze(1); }), "squeeze: axis 1 out of range for a tensor with 0 dims");
  EXPECT_EQ(s.squeeze(0).shape(), Shape{});
  EXPECT_EQ(s.squeeze(-1).item(), 2.5);
  EXPECT_EQ(s.transpose(0, -1).item(), 2.5);
  EXPECT_EQ(gather(s, 0, scalar_tensor(0, DType::i64)).item(), 2.5);
  EXPECT_EQ(error_of([&] { gather(s, 0, scalar_tensor(1, DType::i64)); }),
            "gather: index 1 out of range for dim 0 of size 1");
  EXPECT_EQ(error_of([&] { cat({s, s}, 0); }), "cat: zero-dimensional tensors cannot be joined; use stack");
}

TEST(OpDtypes, ResultDtypes) {
  Tensor a = from_vector<float>({1, 2, 3}, {3}), b = from_vector<float>({3, 2, 1}, {3});
  for (Tensor m : {eq(a, b), ne(a, b), lt(a, b), le(a, b), gt(a, b), ge(a, b)}) EXPECT_EQ(m.dtype(), DType::i8);
  EXPECT_EQ(lt(a, b).to_vector(), (std::vector<double>{1, 0, 0}));
  EXPECT_EQ(ge(a, b).to_vector(), (std::vector<double>{0, 1, 1}));
  EXPECT_EQ(argmax(a, 0).dtype(), DType::i64);
  EXPECT_EQ(sum(a).dtype(), DType::f32);
  EXPECT_EQ(sum(from_vector<int8_t>({1}, {1})).dtype(), DType::i64);
  EXPECT_EQ(sum(from_vector<int64_t>({1}, {1})).dtype(), DType::i64);
  EXPECT_EQ(max(from_vector<int8_t>({1, -3}, {2})).dtype(), DType::i8);
  EXPECT_EQ(where(lt(a, b), a, b).dtype(), DType::f32);
  EXPECT_EQ((a.to(DType::f64) * 2.0).dtype(), DType::f64);
  // int64 arithmetic keeps all 64 bits
  Tensor big = from_vector<int64_t>({int64_t{1} << 40, 3}, {2});
  EXPECT_EQ((big * from_vector<int64_t>({4, 5}, {2})).to_vector_as<int64_t>(),
            (std::vector<int64_t>{int64_t{1} << 42, 15}));
  EXPECT_EQ(sum(big).to_vector_as<int64_t>(), (std::vector<int64_t>{(int64_t{1} << 40) + 3}));
}

TEST(OpGradients, AccumulateAcrossBackwardCalls) {
  Tensor x = from_vector<double>({1.0, -2.0, 0.5}, {3}).requires_grad_();
  sum(x * 2.0).backward();
  sum(x * x).backward();
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{2 + 2 * 1.0, 2 - 2 * 2.0, 2 + 2 * 0.5}));
  // The same graph twice, kept alive by retain_graph.
  x.zero_grad();
  Tensor y = sum(exp(x));
  y.backward(Tensor(), /*retain_graph=*/true);
  y.backward();
  for (int64_t i = 0; i < 3; ++i) EXPECT_DOUBLE_EQ(x.grad().get({i}), 2 * std::exp(x.get({i})));
  EXPECT_EQ(error_of([&] { y.backward(); }),
            "backward: the graph through 'sum' was already released by an earlier backward(); "
            "pass retain_graph=true to the first call");
  // A tensor used twice in one graph: both paths add up.
  x.zero_grad();
  sum(x * x * x).backward();
  for (int64_t i = 0; i < 3; ++i) EXPECT_DOUBLE_EQ(x.grad().get({i}), 3 * x.get({i}) * x.get({i}));
}

TEST(OpGradients, ExplicitGradientForANonScalar) {
  Tensor x = from_vector<double>({1, 2, 3, 4}, {2, 2}).requires_grad_();
  (x * x).backward(from_vector<double>({1, 0, 2, -1}, {2, 2}));
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{2, 0, 12, -8}));
}

TEST(OpGradients, BroadcastOperandsGetGradientsOfTheirOwnShape) {
  Generator gen(5);
  Tensor a = randn({2, 1, 3}, gen, DType::f64).requires_grad_();
  Tensor b = randn({4, 1}, gen, DType::f64).requires_grad_();
  Tensor s = scalar_tensor(1.5, DType::f64).requires_grad_();
  sum((a - b) * s).backward();  // out [2, 4, 3]
  ASSERT_EQ(a.grad().shape(), (Shape{2, 1, 3}));
  ASSERT_EQ(b.grad().shape(), (Shape{4, 1}));
  ASSERT_EQ(s.grad().shape(), Shape{});
  for (double g : a.grad().to_vector()) EXPECT_DOUBLE_EQ(g, 4 * 1.5);
  for (double g : b.grad().to_vector()) EXPECT_DOUBLE_EQ(g, -6 * 1.5);
  double want = 0;  // d/ds sum(a - b) over the broadcast shape
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 4; ++j)
      for (int64_t k = 0; k < 3; ++k) want += a.get({i, 0, k}) - b.get({j, 0});
  EXPECT_NEAR(s.grad().item(), want, 1e-12);
}

TEST(OpGradients, ConversionFromF32) {
  Tensor x = from_vector<float>({1.5f, -2.0f}, {2}).requires_grad_();
  sum(x.to(DType::f64) * 3.0).backward();
  EXPECT_EQ(x.grad().dtype(), DType::f32);
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{3, 3}));
}

TEST(OpViews, ShareStorageWithTheirBase) {
  Tensor base = arange(0, 12, 1, DType::f64).reshape({3, 4});
  EXPECT_EQ(base.storage(), base.view({4, 3}).storage());
  base.t().set({3, 1}, 100);  // base[1, 3]
  EXPECT_EQ(base.get({1, 3}), 100);
  base.permute({1, 0}).unsqueeze(0).set({0, 0, 2}, 101);  // base[2, 0]
  EXPECT_EQ(base.get({2, 0}), 101);
  base.slice(1, 1, 4, 2).fill_(-1);  // columns 1 and 3
  EXPECT_EQ(base.to_vector(), (std::vector<double>{0, -1, 2, -1, 4, -1, 6, -1, 101, -1, 10, -1}));
  base.select(0, 2).copy_(from_vector<double>({7, 8, 9, 10}, {4}));
  EXPECT_EQ(base.get({2, 2}), 9);
  base.reshape({12}).set({0}, 55);  // contiguous: reshape is a view
  EXPECT_EQ(base.get({0, 0}), 55);
  base.detach().set({0, 1}, 56);
  EXPECT_EQ(base.get({0, 1}), 56);
  Tensor col = base.slice(1, 0, 1);  // [3, 1]
  Tensor wide = col.expand({3, 5});  // stride 0: every column is the same element
  EXPECT_EQ(wide.strides()[1], 0);
  col.set({1, 0}, -7);
  EXPECT_EQ(wide.get({1, 4}), -7);
  EXPECT_EQ(base.squeeze(0).storage(), base.storage());
  // Copies do not share.
  Tensor c = base.clone();
  c.set({0, 0}, 1e9);
  EXPECT_EQ(base.get({0, 0}), 55);
  Tensor tc = base.t().contiguous();
  EXPECT_NE(tc.storage(), base.storage());
  EXPECT_EQ(base.contiguous().storage(), base.storage());  // already contiguous: itself
  // reshape of a non-contiguous tensor copies
  Tensor r = base.t().reshape({12});
  r.set({0}, -1e9);
  EXPECT_EQ(base.get({0, 0}), 55);
}
