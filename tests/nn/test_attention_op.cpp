// scaled_dot_product_attention (src/ops_attention.cpp): the same values and gradients as the
// formulation it replaces in CausalSelfAttention (matmul + causal where + softmax + matmul,
// built from primitive ops) in f64 (1e-12) and f32 (1e-5 of the largest value); gradients
// against central finite differences in f64 (max |a - n| / max(1, |n|) <= 1e-6); strided head
// slices of a fused qkv tensor; the KV-cache offset; argument errors; the profiler record.
#include "src/ops.h"
#include "src/profile/profiler.h"
#include "src/random.h"
#include "tests/test_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using namespace bstack;

namespace {

// The old CausalSelfAttention::attend, generalised to the non-causal case.
Tensor naive_attention(const Tensor& q, const Tensor& k, const Tensor& v, bool causal,
                       int64_t q_offset) {
  const int64_t Tq = q.size(2), Tk = k.size(2), D = q.size(3);
  Tensor scores = matmul(q, k.transpose(-1, -2)) / std::sqrt(static_cast<double>(D));
  if (causal) {
    Tensor qi = arange(static_cast<double>(q_offset), static_cast<double>(q_offset + Tq), 1,
                       DType::i64).reshape({Tq, 1});
    Tensor kj = arange(0, static_cast<double>(Tk), 1, DType::i64).reshape({1, Tk});
    scores = where(le(kj, qi), scores,
                   scalar_tensor(-std::numeric_limits<double>::infinity(), scores.dtype()));
  }
  return matmul(softmax(scores, -1), v);
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (double x : t.to_vector()) m = std::max(m, std::fabs(x));
  return m;
}

// max |a - b| / max(1, max |b|)
double rel_err(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  const auto x = a.to_vector(), y = b.to_vector();
  double e = 0;
  for (size_t i = 0; i < x.size(); ++i) e = std::max(e, std::fabs(x[i] - y[i]));
  return e / std::max(1.0, max_abs(b));
}

struct Shapes {
  int64_t B, H, Tq, Tk, D;
  bool causal;
  int64_t q_offset;
  std::string str() const {
    return fmt::format("B={} H={} Tq={} Tk={} D={} causal={} q_offset={}", B, H, Tq, Tk, D,
                       causal, q_offset);
  }
};

const Shapes kCases[] = {
    {1, 1, 1, 1, 1, true, 0},    {2, 3, 7, 7, 8, true, 0},     {1, 2, 65, 65, 65, true, 0},
    {2, 2, 63, 63, 16, false, 0}, {1, 2, 7, 130, 64, true, 123}, {2, 1, 5, 20, 7, true, 3},
    {1, 4, 130, 130, 33, true, 0}, {1, 1, 9, 4, 3, false, 0},
};

// Forward values and the gradients of sum(out * w) from both formulations.
void compare_with_naive(const Shapes& s, DType dt, double tol) {
  Generator g(11);
  const Tensor q0 = randn({s.B, s.H, s.Tq, s.D}, g, dt), k0 = randn({s.B, s.H, s.Tk, s.D}, g, dt),
               v0 = randn({s.B, s.H, s.Tk, s.D}, g, dt), w = randn({s.B, s.H, s.Tq, s.D}, g, dt);
  Tensor outs[2], grads[2][3];
  for (int which = 0; which < 2; ++which) {
    Tensor q = q0.clone().requires_grad_(), k = k0.clone().requires_grad_(),
           v = v0.clone().requires_grad_();
    outs[which] = which == 0 ? scaled_dot_product_attention(q, k, v, s.causal, s.q_offset)
                             : naive_attention(q, k, v, s.causal, s.q_offset);
    sum(outs[which] * w).backward();
    grads[which][0] = q.grad(), grads[which][1] = k.grad(), grads[which][2] = v.grad();
  }
  EXPECT_LE(rel_err(outs[0], outs[1]), tol) << "out " << dtype_name(dt) << " " << s.str();
  const char* names[] = {"dq", "dk", "dv"};
  for (int i = 0; i < 3; ++i)
    EXPECT_LE(rel_err(grads[0][i], grads[1][i]), tol)
        << names[i] << " " << dtype_name(dt) << " " << s.str();
}

// d sum(f(q, k, v) * w) / d{q, k, v} against central differences, all in f64.
void gradcheck(const Shapes& s, bool fused) {
  Generator g(12);
  Tensor q, k, v, leaf;
  const int64_t C = s.H * s.D;
  if (fused) {  // head slices of one (B, T, 3C) tensor, as CausalSelfAttention splits qkv
    ASSERT_EQ(s.Tq, s.Tk);
    leaf = randn({s.B, s.Tq, 3 * C}, g, DType::f64).requires_grad_();
  }
  const Tensor w = randn({s.B, s.H, s.Tq, s.D}, g, DType::f64);
  auto make = [&](int i, int64_t T) {
    if (fused)
      return leaf.slice(2, i * C, (i + 1) * C).reshape({s.B, T, s.H, s.D}).transpose(1, 2);
    return randn({s.B, s.H, T, s.D}, g, DType::f64).requires_grad_();
  };
  q = make(0, s.Tq), k = make(1, s.Tk), v = make(2, s.Tk);
  auto f = [&] { return sum(scaled_dot_product_attention(q, k, v, s.causal, s.q_offset) * w); };
  f().backward();
  std::vector<std::pair<std::string, Tensor>> targets;
  if (fused) {
    targets = {{"qkv", leaf}};
  } else {
    targets = {{"q", q}, {"k", k}, {"v", v}};
  }
  NoGradGuard ng;
  const double h = 1e-6;
  for (auto& [name, t] : targets) {
    ASSERT_TRUE(t.grad().defined()) << name;
    int bad = 0;
    for (int64_t i = 0; i < t.numel() && bad < 5; ++i) {
      const Shape idx = test::unravel(i, t.shape());
      const double x = t.get(idx);
      t.set(idx, x + h);
      const double fp = f().item();
      t.set(idx, x - h);
      const double fm = f().item();
      t.set(idx, x);
      const double num = (fp - fm) / (2 * h), ana = t.grad().get(idx);
      const double rel = std::fabs(ana - num) / std::max(1.0, std::fabs(num));
      if (!(rel <= 1e-6)) {
        ADD_FAILURE() << s.str() << (fused ? " fused" : "") << " d/d" << name << shape_str(idx)
                      << ": analytic " << ana << " numeric " << num << " rel err " << rel;
        ++bad;
      }
    }
  }
}

}  // namespace

TEST(AttentionOp, MatchesNaiveFormulationF64) {
  for (const auto& s : kCases) compare_with_naive(s, DType::f64, 1e-12);
}

TEST(AttentionOp, MatchesNaiveFormulationF32) {
  for (const auto& s : kCases) compare_with_naive(s, DType::f32, 1e-5);
}

TEST(AttentionOp, GradientsMatchFiniteDifferences) {
  gradcheck({2, 2, 5, 5, 3, true, 0}, false);
  gradcheck({1, 2, 4, 9, 2, true, 5}, false);   // KV-cache step: queries at positions 5..8
  gradcheck({1, 1, 6, 3, 4, false, 0}, false);
  gradcheck({2, 2, 5, 5, 3, true, 0}, true);    // strided slices of one qkv tensor
}

TEST(AttentionOp, StridedSlicesNeedNoCopyAndOutputMergesAsView) {
  Generator g(13);
  const int64_t B = 2, T = 9, H = 3, D = 5, C = H * D;
  const Tensor qkv = randn({B, T, 3 * C}, g);
  Tensor h[3];
  for (int i = 0; i < 3; ++i)
    h[i] = qkv.slice(2, i * C, (i + 1) * C).reshape({B, T, H, D}).transpose(1, 2);
  ASSERT_FALSE(h[0].is_contiguous());
  const Tensor y = scaled_dot_product_attention(h[0], h[1], h[2]);
  const Tensor ref =
      naive_attention(h[0].contiguous(), h[1].contiguous(), h[2].contiguous(), true, 0);
  EXPECT_LE(rel_err(y, ref), 1e-5);
  EXPECT_TRUE(y.transpose(1, 2).is_contiguous());  // merging heads is a view
  // A transposed last dim (not unit-stride) is copied, and still correct.
  const Tensor kt = h[1].contiguous().transpose(2, 3).contiguous().transpose(2, 3);
  EXPECT_LE(rel_err(scaled_dot_product_attention(h[0], kt, h[2]), ref), 1e-5);
}

TEST(AttentionOp, NoGraphWithoutGradAndProfilerCounts) {
  Generator g(14);
  const int64_t B = 2, H = 2, T = 5, D = 4;
  Tensor q = randn({B, H, T, D}, g).requires_grad_();
  Profiler p;
  {
    ProfileScope scope(p);
    NoGradGuard ng;
    Tensor y = scaled_dot_product_attention(q, q, q);
    EXPECT_FALSE(y.requires_grad());
  }
  ASSERT_EQ(p.ops.size(), 1u);
  EXPECT_EQ(p.ops[0].name, "scaled_dot_product_attention");
  const double pairs = B * H * T * (T + 1) / 2.0;
  EXPECT_EQ(p.ops[0].flops, pairs * (4.0 * D + 5));
  Tensor y = scaled_dot_product_attention(q, q, q);
  EXPECT_TRUE(y.requires_grad());
}

TEST(AttentionOp, ArgumentErrors) {
  Generator g(15);
  const Tensor q = randn({1, 2, 3, 4}, g), k = randn({1, 2, 5, 4}, g);
  auto msg = [](auto fn) { return test::error_of(fn); };
  EXPECT_NE(msg([&] { scaled_dot_product_attention(q.reshape({2, 3, 4}), k, k); })
                .find("must be (B, H, T, D)"),
            std::string::npos);
  EXPECT_NE(msg([&] { scaled_dot_product_attention(q, randn({1, 2, 5, 3}, g), k); })
                .find("needs k and v"),
            std::string::npos);
  EXPECT_NE(msg([&] { scaled_dot_product_attention(q, k, k.to(DType::f64)); })
                .find("dtypes differ"),
            std::string::npos);
  EXPECT_NE(msg([&] { scaled_dot_product_attention(q, k, k, true, -1); }).find("q_offset"),
            std::string::npos);
  EXPECT_NE(msg([&] {
              const Tensor i = zeros({1, 1, 2, 2}, DType::i32);
              scaled_dot_product_attention(i, i, i);
            }).find("f32 or f64"),
            std::string::npos);
}

// The fused-qkv form: the same output as the three head slices through the q, k, v op, and the
// same qkv gradient (f64, 1e-12), which the slice path builds from three zero-filled copies and
// their sum; one profiler record each way, the backward's writing one (B, T, 3C) gradient.
TEST(AttentionOp, PackedQkvMatchesThreeSlices) {
  Generator g(16);
  const int64_t B = 2, T = 7, H = 3, D = 4, C = H * D;
  const Tensor base = randn({B, T, 3 * C}, g, DType::f64);
  const Tensor up = randn({B, H, T, D}, g, DType::f64);  // a fixed upstream gradient
  Tensor a = base.clone().requires_grad_(), b = base.clone().requires_grad_();
  Tensor h[3];
  for (int i = 0; i < 3; ++i)
    h[i] = a.slice(2, i * C, (i + 1) * C).reshape({B, T, H, D}).transpose(1, 2);
  const Tensor ys = scaled_dot_product_attention(h[0], h[1], h[2]);
  Profiler p;
  Tensor yp;
  {
    ProfileScope scope(p);
    yp = scaled_dot_product_attention_qkv(b, H);
    sum(yp * up).backward();
  }
  sum(ys * up).backward();
  EXPECT_LE(rel_err(yp, ys), 1e-12);
  ASSERT_TRUE(a.grad().defined() && b.grad().defined());
  EXPECT_LE(rel_err(b.grad(), a.grad()), 1e-12);
  int fwd = 0, bwd = 0;
  for (const OpRecord& r : p.ops) {
    fwd += r.name == "scaled_dot_product_attention";
    bwd += r.name == "scaled_dot_product_attention_backward";
    EXPECT_NE(r.name, "slice_backward");
  }
  EXPECT_EQ(fwd, 1);
  EXPECT_EQ(bwd, 1);
  // Non-causal too, and the argument errors.
  const Tensor nc = scaled_dot_product_attention_qkv(base, H, false);
  Tensor q3[3];
  for (int i = 0; i < 3; ++i)
    q3[i] = base.slice(2, i * C, (i + 1) * C).reshape({B, T, H, D}).transpose(1, 2);
  EXPECT_LE(rel_err(nc, naive_attention(q3[0].contiguous(), q3[1].contiguous(), q3[2].contiguous(), false, 0)), 1e-12);
  EXPECT_NE(test::error_of([&] { scaled_dot_product_attention_qkv(base, 5); }).find("3 x 5 heads"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { scaled_dot_product_attention_qkv(up, H); }).find("(B, T, 3*H*D)"),
            std::string::npos);
}
