// Optimizers against hand-computed updates (the formulas in optim.h, written out per step
// with plain doubles), clipping and schedules at known points.
#include "src/ops.h"
#include "src/optim/optim.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace bstack;
using namespace bstack::optim;

namespace {
// One scalar parameter p0 with gradient sequence gs: runs `opt` and returns p after each step.
template <class MakeOpt>
std::vector<double> run(double p0, const std::vector<double>& gs, MakeOpt make) {
  Tensor p = from_vector<double>({p0}, {1}).requires_grad_();
  auto opt = make(std::vector<Tensor>{p});
  std::vector<double> out;
  for (double g : gs) {
    p.set_grad(from_vector<double>({g}, {1}));
    opt.step();
    out.push_back(p.get({0}));
  }
  return out;
}
const std::vector<double> kGrads = {0.5, -1.0, 2.0};
}  // namespace

TEST(SGD, PlainMomentumNesterovWeightDecay) {
  // plain: p -= lr g
  auto plain = run(1.0, kGrads, [](auto ps) { return SGD(ps, {.lr = 0.1}); });
  EXPECT_DOUBLE_EQ(plain[2], 1.0 - 0.1 * (0.5 - 1.0 + 2.0));
  // momentum 0.9, wd 0.01, by hand:
  double p = 1.0, b = 0;
  std::vector<double> want;
  for (size_t t = 0; t < kGrads.size(); ++t) {
    const double g = kGrads[t] + 0.01 * p;
    b = t == 0 ? g : 0.9 * b + g;
    p -= 0.1 * b;
    want.push_back(p);
  }
  auto mom = run(1.0, kGrads, [](auto ps) { return SGD(ps, {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01}); });
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(mom[i], want[i], 1e-15);
  // Nesterov: p -= lr (g + mu b)
  p = 1.0, b = 0, want.clear();
  for (size_t t = 0; t < kGrads.size(); ++t) {
    const double g = kGrads[t];
    b = t == 0 ? g : 0.9 * b + g;
    p -= 0.1 * (g + 0.9 * b);
    want.push_back(p);
  }
  auto nes = run(1.0, kGrads, [](auto ps) { return SGD(ps, {.lr = 0.1, .momentum = 0.9, .nesterov = true}); });
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(nes[i], want[i], 1e-15);
  EXPECT_THROW(run(1.0, kGrads, [](auto ps) { return SGD(ps, {.lr = 0.1, .nesterov = true}); }), Error);
}

TEST(Adam, MatchesTheAlgorithmByHand) {
  for (bool decoupled : {false, true}) {
    const double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.1;
    double p = 1.0, m = 0, v = 0;
    std::vector<double> want;
    for (size_t t = 1; t <= kGrads.size(); ++t) {
      double g = kGrads[t - 1];
      if (decoupled) p *= 1 - lr * wd;
      else g += wd * p;
      m = b1 * m + (1 - b1) * g;
      v = b2 * v + (1 - b2) * g * g;
      const double mh = m / (1 - std::pow(b1, t)), vh = v / (1 - std::pow(b2, t));
      p -= lr * mh / (std::sqrt(vh) + eps);
      want.push_back(p);
    }
    auto got = run(1.0, kGrads, [&](auto ps) {
      AdamOptions o{.lr = lr, .weight_decay = wd};
      return decoupled ? AdamW(ps, o) : Adam(ps, o);
    });
    for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-14) << "decoupled " << decoupled;
  }
}

TEST(Optimizer, SkipsParamsWithoutGradAndRejectsNonLeaves) {
  Tensor a = ones({2}, DType::f64).requires_grad_(), b = ones({2}, DType::f64).requires_grad_();
  SGD opt({a, b}, {.lr = 1.0});
  a.set_grad(ones({2}, DType::f64));
  opt.step();
  EXPECT_EQ(a.to_vector(), (std::vector<double>{0, 0}));
  EXPECT_EQ(b.to_vector(), (std::vector<double>{1, 1}));
  opt.zero_grad();
  EXPECT_FALSE(a.grad().defined());
  EXPECT_THROW(SGD({a * 2.0}, {}), Error);
  EXPECT_THROW(SGD({ones({1})}, {}), Error);
}

TEST(ClipGradNorm, ScalesToMaxNorm) {
  Tensor a = zeros({2}, DType::f64).requires_grad_(), b = zeros({1}, DType::f64).requires_grad_();
  a.set_grad(from_vector<double>({3, 0}, {2}));
  b.set_grad(from_vector<double>({4}, {1}));
  EXPECT_DOUBLE_EQ(clip_grad_norm({a, b}, 10.0), 5.0);  // below the limit: unchanged
  EXPECT_EQ(a.grad().get({0}), 3.0);
  EXPECT_DOUBLE_EQ(clip_grad_norm({a, b}, 1.0), 5.0);
  EXPECT_NEAR(a.grad().get({0}), 0.6, 1e-6);
  EXPECT_NEAR(b.grad().get({0}), 0.8, 1e-6);
}

TEST(Schedules, KnownPoints) {
  EXPECT_DOUBLE_EQ(step_lr(0.1, 0, 10, 0.5), 0.1);
  EXPECT_DOUBLE_EQ(step_lr(0.1, 19, 10, 0.5), 0.05);
  EXPECT_DOUBLE_EQ(step_lr(0.1, 20, 10, 0.5), 0.025);
  EXPECT_DOUBLE_EQ(cosine_with_warmup(1.0, 0, 4, 14), 0.25);
  EXPECT_DOUBLE_EQ(cosine_with_warmup(1.0, 3, 4, 14), 1.0);
  EXPECT_DOUBLE_EQ(cosine_with_warmup(1.0, 4, 4, 14), 1.0);
  EXPECT_NEAR(cosine_with_warmup(1.0, 9, 4, 14, 0.1), 0.55, 1e-12);  // halfway: (1 + 0.1) / 2
  EXPECT_NEAR(cosine_with_warmup(1.0, 14, 4, 14, 0.1), 0.1, 1e-12);
  EXPECT_THROW(cosine_with_warmup(1.0, 0, 5, 5), Error);
}
