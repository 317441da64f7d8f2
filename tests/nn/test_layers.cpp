// Layers: forward against reference loops, parameters and input gradients against central
// finite differences in f64 (max |a - n| / max(1, |n|) <= 1e-6), modes, checkpoints, printing.
#include "src/io/h5.h"
#include "src/nn/layers.h"
#include "src/nn/loss.h"
#include "src/nn/transformer.h"
#include "src/nn/zoo.h"
#include "tests/test_util.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

using namespace bstack;
using namespace bstack::nn;

namespace {

// Checks d sum(f(x) * W) / d{x, parameters} against central differences, all in f64.
void gradcheck(Module& m, const Tensor& x_in, std::function<Tensor(const Tensor&)> f = nullptr,
               bool check_input = true) {
  m.to(DType::f64);
  if (!f) f = [&](const Tensor& x) { return m.forward(x); };
  Tensor x = is_floating(x_in.dtype()) ? x_in.to(DType::f64).clone().detach() : x_in;
  if (check_input && is_floating(x.dtype())) x.requires_grad_();
  Generator gen(77);
  const Tensor w = randn(f(x).shape(), gen, DType::f64);
  m.zero_grad();
  sum(f(x) * w).backward();
  std::vector<std::pair<std::string, Tensor>> targets = m.named_parameters();
  if (check_input && is_floating(x.dtype())) targets.emplace_back("input", x);
  NoGradGuard ng;
  const double h = 1e-6;
  for (auto& [name, t] : targets) {
    ASSERT_TRUE(t.grad().defined()) << m.repr() << ": no gradient for " << name;
    int bad = 0;
    for (int64_t i = 0; i < t.numel() && bad < 5; ++i) {
      const Shape idx = test::unravel(i, t.shape());
      const double v = t.get(idx);
      t.set(idx, v + h);
      const double fp = sum(f(x) * w).item();
      t.set(idx, v - h);
      const double fm = sum(f(x) * w).item();
      t.set(idx, v);
      const double num = (fp - fm) / (2 * h), ana = t.grad().get(idx);
      const double rel = std::fabs(ana - num) / std::max(1.0, std::fabs(num));
      if (!(rel <= 1e-6)) {
        ADD_FAILURE() << m.repr() << " d/d " << name << shape_str(idx) << ": analytic " << ana
                      << " numeric " << num << " rel err " << rel;
        ++bad;
      }
    }
  }
}

}  // namespace

TEST(Linear, ForwardMatchesLoopAndGradients) {
  Generator g(1);
  Linear lin(LinearOptions(5, 3), g);
  Tensor x = randn({4, 5}, g);
  Tensor y = lin(x);
  ASSERT_EQ(y.shape(), (Shape{4, 3}));
  for (int64_t n = 0; n < 4; ++n)
    for (int64_t o = 0; o < 3; ++o) {
      double s = lin.bias.get({o});
      for (int64_t i = 0; i < 5; ++i) s += x.get({n, i}) * lin.weight.get({o, i});
      EXPECT_NEAR(y.get({n, o}), s, 1e-5);
    }
  // PyTorch's default init bound: 1/sqrt(fan_in)
  for (double v : lin.weight.to_vector()) EXPECT_LE(std::fabs(v), 1 / std::sqrt(5.0));
  EXPECT_EQ(lin.repr(), "Linear(in=5, out=3, bias=true)");
  EXPECT_EQ(lin.num_parameters(), 18);
  gradcheck(lin, randn({2, 3, 5}, g));  // batched leading dims
  Linear nob(LinearOptions(4, 2).bias(false), g);
  EXPECT_EQ(nob.named_parameters().size(), 1u);
  EXPECT_THROW(lin(randn({2, 4}, g)), Error);
}

TEST(Conv2d, GradientsIncludingGroupsAndDepthwise) {
  Generator g(2);
  Conv2d c(Conv2dOptions(2, 4, 3).padding(1).stride(2), g);
  EXPECT_EQ(c.repr(), "Conv2d(in=2, out=4, kernel=3, stride=2, padding=1, dilation=1, groups=1, bias=true)");
  EXPECT_EQ(c(randn({1, 2, 7, 7}, g)).shape(), (Shape{1, 4, 4, 4}));
  gradcheck(c, randn({2, 2, 5, 5}, g));
  Conv2d grouped(Conv2dOptions(4, 2, 2).groups(2).dilation(2), g);
  gradcheck(grouped, randn({1, 4, 5, 5}, g));
  Conv2d depthwise(Conv2dOptions(3, 3, 3).groups(3).padding(1).bias(false), g);
  gradcheck(depthwise, randn({2, 3, 4, 4}, g));
  EXPECT_THROW(Conv2d(Conv2dOptions(3, 4, 3).groups(2), g), Error);
}

TEST(Pooling, ShapesAndGradients) {
  Generator g(3);
  MaxPool2d mp(2);
  AvgPool2d ap(2, 1);
  EXPECT_EQ(mp(randn({2, 3, 6, 4}, g)).shape(), (Shape{2, 3, 3, 2}));
  EXPECT_EQ(ap(randn({2, 3, 6, 4}, g)).shape(), (Shape{2, 3, 5, 3}));
  EXPECT_EQ(mp.repr(), "MaxPool2d(kernel=2, stride=2)");
  gradcheck(mp, randn({1, 2, 4, 4}, g));
  gradcheck(ap, randn({1, 2, 4, 4}, g));
}

TEST(BatchNorm2d, TrainNormalisesAndTracksRunningStats) {
  Generator g(4);
  BatchNorm2d bn(3);
  Tensor x = randn({4, 3, 2, 2}, g) * 3.0 + 1.0;
  Tensor y = bn(x);
  // Reference: per channel, (x - mean) / sqrt(biased var + eps).
  for (int64_t c = 0; c < 3; ++c) {
    std::vector<double> vals;
    for (int64_t n = 0; n < 4; ++n)
      for (int64_t i = 0; i < 2; ++i)
        for (int64_t j = 0; j < 2; ++j) vals.push_back(x.get({n, c, i, j}));
    double m = 0, v = 0;
    for (double a : vals) m += a / vals.size();
    for (double a : vals) v += (a - m) * (a - m) / vals.size();
    EXPECT_NEAR(y.get({1, c, 1, 0}), (x.get({1, c, 1, 0}) - m) / std::sqrt(v + 1e-5), 1e-4);
    EXPECT_NEAR(bn.running_mean.get({c}), 0.1 * m, 1e-5);
    EXPECT_NEAR(bn.running_var.get({c}), 0.9 + 0.1 * v * vals.size() / (vals.size() - 1), 1e-4);
  }
  EXPECT_EQ(bn.named_buffers().size(), 2u);
  bn.eval();
  Tensor ye = bn(x);
  EXPECT_NEAR(ye.get({0, 0, 0, 0}),
              (x.get({0, 0, 0, 0}) - bn.running_mean.get({0})) / std::sqrt(bn.running_var.get({0}) + 1e-5), 1e-5);
  BatchNorm2d fresh(2);
  gradcheck(fresh, randn({3, 2, 2, 2}, g));
}

TEST(LayerNorm, ForwardAndGradients) {
  Generator g(5);
  LayerNorm ln(6);
  Tensor x = randn({2, 3, 6}, g);
  Tensor y = ln(x);
  double m = 0, v = 0;
  for (int64_t i = 0; i < 6; ++i) m += x.get({1, 2, i}) / 6;
  for (int64_t i = 0; i < 6; ++i) v += (x.get({1, 2, i}) - m) * (x.get({1, 2, i}) - m) / 6;
  EXPECT_NEAR(y.get({1, 2, 4}), (x.get({1, 2, 4}) - m) / std::sqrt(v + 1e-5), 1e-5);
  LayerNorm l2(4);
  {
    NoGradGuard ng;
    l2.weight.copy_(randn({4}, g));
    l2.bias.copy_(randn({4}, g));
  }
  gradcheck(l2, randn({3, 4}, g));
}

TEST(Dropout, DropsAtRateAndScalesInTrainingOnly) {
  Dropout d(0.25, 7);
  Tensor x = ones({100000});
  Tensor y = d(x);
  int64_t zeros_n = 0;
  for (double v : y.to_vector()) {
    if (v == 0) ++zeros_n;
    else EXPECT_NEAR(v, 1 / 0.75, 1e-6);
  }
  // Binomial(1e5, 0.25): sd = 137; 5 sd.
  EXPECT_NEAR(static_cast<double>(zeros_n), 25000, 5 * 137);
  d.eval();
  EXPECT_EQ(d(x).to_vector(), x.to_vector());
  EXPECT_THROW(Dropout(1.0), Error);
}

TEST(Embedding, LooksUpRowsAndAccumulatesGradients) {
  Generator g(6);
  Embedding e(10, 4, g);
  Tensor ids = from_vector<int64_t>({3, 7, 3, 0, 9, 3}, {2, 3});
  Tensor y = e(ids);
  ASSERT_EQ(y.shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(y.get({1, 1, 2}), e.weight.get({9, 2}));
  sum(y).backward();
  EXPECT_EQ(e.weight.grad().get({3, 1}), 3.0);  // id 3 used three times
  EXPECT_EQ(e.weight.grad().get({5, 1}), 0.0);
  EXPECT_THROW(e(from_vector<int64_t>({10}, {1})), Error);
  gradcheck(e, ids, nullptr, /*check_input=*/false);
  PositionalEmbedding pe(8, 4, g);
  gradcheck(pe, randn({2, 5, 4}, g));
  EXPECT_THROW(pe.forward(randn({1, 6, 4}, g), 3), Error);
}

TEST(Attention, MatchesReferenceLoopAndIsCausal) {
  Generator g(8);
  CausalSelfAttention att(4, 2, g);
  att.to(DType::f64);
  Tensor x = randn({1, 5, 4}, g, DType::f64);
  Tensor y = att(x);
  // Reference: explicit loops over heads, queries and keys j <= i.
  const auto params = att.named_parameters();
  Tensor wqkv = params[0].second, bqkv = params[1].second, wp = params[2].second, bp = params[3].second;
  Tensor qkv = matmul(x, wqkv.t()) + bqkv;  // (1, 5, 12)
  std::vector<double> heads_out(5 * 4, 0.0);
  for (int64_t h = 0; h < 2; ++h)
    for (int64_t i = 0; i < 5; ++i) {
      std::vector<double> s(i + 1);
      double mx = -1e300, z = 0;
      for (int64_t j = 0; j <= i; ++j) {
        double dot = 0;
        for (int64_t d = 0; d < 2; ++d) dot += qkv.get({0, i, h * 2 + d}) * qkv.get({0, j, 4 + h * 2 + d});
        s[j] = dot / std::sqrt(2.0);
        mx = std::max(mx, s[j]);
      }
      for (auto& v : s) z += std::exp(v - mx);
      for (int64_t d = 0; d < 2; ++d) {
        double acc = 0;
        for (int64_t j = 0; j <= i; ++j) acc += std::exp(s[j] - mx) / z * qkv.get({0, j, 8 + h * 2 + d});
        heads_out[i * 4 + h * 2 + d] = acc;
      }
    }
  for (int64_t i = 0; i < 5; ++i)
    for (int64_t o = 0; o < 4; ++o) {
      double acc = bp.get({o});
      for (int64_t c = 0; c < 4; ++c) acc += heads_out[i * 4 + c] * wp.get({o, c});
      EXPECT_NEAR(y.get({0, i, o}), acc, 1e-12);
    }
  // Causality: changing the last token leaves earlier outputs unchanged.
  Tensor x2 = x.clone();
  x2.set({0, 4, 1}, 10.0);
  Tensor y2 = att(x2);
  for (int64_t i = 0; i < 4; ++i) EXPECT_EQ(y2.get({0, i, 2}), y.get({0, i, 2}));
  gradcheck(att, randn({2, 3, 4}, g));
}

TEST(TransformerBlock, GradientsAndKVCacheEqualsFullRecompute) {
  Generator g(9);
  TransformerBlock blk(8, 2, g);
  gradcheck(blk, randn({1, 4, 8}, g));
  Tensor x = randn({2, 6, 8}, g, DType::f64);
  Tensor full = blk(x);
  KVCache cache;
  std::vector<Tensor> steps;
  steps.push_back(blk.forward_cached(x.slice(1, 0, 3), cache));  // a 3-token prefix, then 1 by 1
  for (int64_t t = 3; t < 6; ++t) steps.push_back(blk.forward_cached(x.slice(1, t, t + 1), cache));
  EXPECT_EQ(cache.length(), 6);
  Tensor cached = cat(steps, 1);
  const auto a = full.to_vector(), b = cached.to_vector();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-12);
}

TEST(Sequential, TreeModesAndCheckpoints) {
  Generator g(10);
  auto mlp = std::make_shared<Sequential>();
  mlp->push_back(std::make_shared<Linear>(4, 8, g));
  mlp->push_back(std::make_shared<ReLU>());
  mlp->push_back(std::make_shared<Dropout>(0.5));
  mlp->push_back(std::make_shared<Linear>(8, 3, g));
  EXPECT_EQ(mlp->str(),
            "Sequential(\n  (0): Linear(in=4, out=8, bias=true)\n  (1): ReLU()\n  (2): Dropout(p=0.5)\n"
            "  (3): Linear(in=8, out=3, bias=true)\n)");
  std::vector<std::string> names;
  for (auto& [n, t] : mlp->named_parameters()) names.push_back(n);
  EXPECT_EQ(names, (std::vector<std::string>{"0.weight", "0.bias", "3.weight", "3.bias"}));
  mlp->eval();
  Tensor x = randn({5, 4}, g);
  Tensor y = (*mlp)(x);

  const auto path = (std::filesystem::temp_directory_path() /
                     ("bstack-ckpt-" + std::to_string(::getpid()) + ".h5")).string();
  save_checkpoint(*mlp, path);
  Generator other(11);
  auto copy = std::make_shared<Sequential>();
  copy->push_back(std::make_shared<Linear>(4, 8, other));
  copy->push_back(std::make_shared<ReLU>());
  copy->push_back(std::make_shared<Dropout>(0.5));
  copy->push_back(std::make_shared<Linear>(8, 3, other));
  copy->eval();
  EXPECT_NE((*copy)(x).to_vector(), y.to_vector());
  load_checkpoint(*copy, path);
  EXPECT_EQ((*copy)(x).to_vector(), y.to_vector());

  auto wrong = std::make_shared<Sequential>();
  wrong->push_back(std::make_shared<Linear>(4, 9, other));
  try {
    load_checkpoint(*wrong, path);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'0.weight' is f32 [8, 4], the model expects f32 [9, 4]"),
              std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
}

TEST(Losses, MatchReferencesAndGradients) {
  Generator g(12);
  Tensor logits = randn({4, 5}, g, DType::f64).requires_grad_();
  Tensor target = from_vector<int64_t>({1, 0, 4, 4}, {4});
  Tensor loss = cross_entropy(logits, target);
  double ref = 0;
  for (int64_t n = 0; n < 4; ++n) {
    double z = 0;
    for (int64_t c = 0; c < 5; ++c) z += std::exp(logits.get({n, c}));
    ref += -(logits.get({n, static_cast<int64_t>(target.get({n}))}) - std::log(z)) / 4;
  }
  EXPECT_NEAR(loss.item(), ref, 1e-12);
  loss.backward();
  // d CE / d logits = (softmax - onehot) / N
  double z0 = 0;
  for (int64_t c = 0; c < 5; ++c) z0 += std::exp(logits.get({0, c}));
  EXPECT_NEAR(logits.grad().get({0, 1}), (std::exp(logits.get({0, 1})) / z0 - 1) / 4, 1e-12);
  EXPECT_NEAR(cross_entropy(from_vector<double>({1000, 0}, {1, 2}), from_vector<int64_t>({1}, {1})).item(),
              1000.0, 1e-9);  // stable for large logits
  Tensor p = from_vector<double>({0.2, 0.9}, {2}), y = from_vector<double>({0, 1}, {2});
  EXPECT_NEAR(binary_cross_entropy(p, y).item(), -(std::log(0.8) + std::log(0.9)) / 2, 1e-12);
  Tensor z = from_vector<double>({-1.3862943611198906, 2.1972245773362196}, {2});  // logit(0.2), logit(0.9)
  EXPECT_NEAR(binary_cross_entropy_with_logits(z, y).item(), binary_cross_entropy(p, y).item(), 1e-12);
  EXPECT_NEAR(mse_loss(p, y).item(), (0.04 + 0.01) / 2, 1e-12);
  EXPECT_THROW(cross_entropy(randn({4, 5}, g), from_vector<int64_t>({1, 2}, {2})), Error);
}

TEST(GPT, GenerationWithKVCacheEqualsWithout) {
  Generator g(13);
  nn::GPTConfig c;
  c.vocab = 7;
  c.context = 16;
  c.dim = 8;
  c.layers = 2;
  c.heads = 2;
  nn::GPT gpt(c, g);
  EXPECT_EQ(gpt.forward(from_vector<int64_t>({1, 2, 3}, {1, 3})).shape(), (Shape{1, 3, 7}));
  for (double temperature : {0.0, 1.0}) {
    Generator a(5), b(5);
    // 3 + 20 tokens crosses the 16-token context, where both paths slide the window.
    const auto with = gpt.generate({1, 2, 3}, 20, temperature, a, true);
    const auto without = gpt.generate({1, 2, 3}, 20, temperature, b, false);
    EXPECT_EQ(with, without) << "temperature " << temperature;
    EXPECT_EQ(with.size(), 23u);
    for (int64_t t : with) EXPECT_TRUE(t >= 0 && t < 7);
  }
  EXPECT_THROW(gpt.forward(from_vector<int64_t>(std::vector<int64_t>(17, 0), {1, 17})), Error);
}
