// The autograd engine itself: accumulation, shared subgraphs, grad mode, detach, graph
// release, and its errors. Per-op gradients are checked by finite differences in test_ops.
#include "src/ops.h"
#include "src/random.h"
#include "src/tensor_impl.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace bstack;

namespace {
Tensor vec(std::vector<double> v) {
  const int64_t n = static_cast<int64_t>(v.size());
  return from_vector<double>(v, {n});
}
}  // namespace

TEST(Autograd, HandComputedGradients) {
  // f(x, y) = sum(x * y + exp(x)) ;  df/dx = y + exp(x), df/dy = x
  Tensor x = vec({0.5, -1.0, 2.0}).requires_grad_();
  Tensor y = vec({3.0, 4.0, -5.0}).requires_grad_();
  Tensor f = sum(x * y + exp(x));
  f.backward();
  for (int i = 0; i < 3; ++i) {
    EXPECT_DOUBLE_EQ(x.grad().get({i}), y.get({i}) + std::exp(x.get({i})));
    EXPECT_DOUBLE_EQ(y.grad().get({i}), x.get({i}));
  }
  EXPECT_TRUE(x.is_leaf());
  EXPECT_FALSE(f.is_leaf());
  EXPECT_EQ(f.grad_fn()->name, "sum");
}

TEST(Autograd, SharedSubgraphGradientsAdd) {
  // z = x*x used twice: f = sum(z + z) = 2 sum(x^2), df/dx = 4x (a diamond in the graph).
  Tensor x = vec({1.0, -2.0}).requires_grad_();
  Tensor z = x * x;
  sum(z + z).backward();
  EXPECT_DOUBLE_EQ(x.grad().get({0}), 4.0);
  EXPECT_DOUBLE_EQ(x.grad().get({1}), -8.0);
}

TEST(Autograd, GradientsAccumulateAcrossCalls) {
  Tensor x = vec({1.0, 2.0}).requires_grad_();
  sum(x * 3.0).backward();
  sum(x * 3.0).backward();
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{6, 6}));
  x.zero_grad();
  EXPECT_FALSE(x.grad().defined());
}

TEST(Autograd, ExplicitGradientForNonScalar) {
  Tensor x = vec({1.0, 2.0, 3.0}).requires_grad_();
  Tensor y = x * x;
  y.backward(vec({1.0, 0.0, -1.0}));
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{2, 0, -6}));
}

TEST(Autograd, NonScalarWithoutGradientIsAnError) {
  Tensor x = vec({1.0, 2.0}).requires_grad_();
  try {
    (x * 2.0).backward();
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("backward: tensor of shape [2] is not a scalar"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW((x * 2.0).backward(vec({1.0})), Error);  // wrong gradient shape
  EXPECT_THROW(vec({1.0}).backward(), Error);           // nothing requires grad
}

TEST(Autograd, NoGradAndDetachRecordNothing) {
  Tensor x = vec({1.0, 2.0}).requires_grad_();
  {
    NoGradGuard ng;
    EXPECT_FALSE(grad_enabled());
    Tensor y = x * 2.0;
    EXPECT_FALSE(y.requires_grad());
  }
  EXPECT_TRUE(grad_enabled());
  Tensor d = x.detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_EQ(d.storage(), x.storage());
  // Gradient flows only through the non-detached path: f = sum(x * detach(x)) -> df/dx = x.
  sum(x * x.detach()).backward();
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{1, 2}));
}

TEST(Autograd, GraphIsReleasedUnlessRetained) {
  Tensor x = vec({1.0, 2.0}).requires_grad_();
  Tensor f = sum(exp(x));
  f.backward(Tensor(), /*retain_graph=*/true);
  f.backward();
  for (int i = 0; i < 2; ++i) EXPECT_DOUBLE_EQ(x.grad().get({i}), 2 * std::exp(x.get({i})));
  try {
    f.backward();
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("already released"), std::string::npos) << e.what();
  }
}

TEST(Autograd, InPlaceOnGradTensorIsRefused) {
  Tensor x = vec({1.0, 2.0}).requires_grad_();
  EXPECT_THROW(x.fill_(0), Error);
  {
    NoGradGuard ng;  // optimizer-style update
    x.copy_(x.detach() * 0.5);
  }
  EXPECT_EQ(x.to_vector(), (std::vector<double>{0.5, 1.0}));
  EXPECT_THROW(from_vector<int64_t>({1}, {1}).requires_grad_(), Error);
  Tensor y = x * 2.0;
  EXPECT_THROW(y.requires_grad_(false), Error);  // not a leaf
}

TEST(Autograd, GradientThroughViewsReachesBase) {
  // f = sum over a transposed slice of x: only the sliced elements get gradient 1.
  Tensor x = arange(0, 12, 1, DType::f64).reshape({3, 4}).detach();
  x.requires_grad_();
  Tensor v = x.t().slice(0, 1, 4, 2);  // columns 1 and 3 of x
  sum(v * v).backward();
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 4; ++j)
      EXPECT_DOUBLE_EQ(x.grad().get({i, j}), (j == 1 || j == 3) ? 2 * x.get({i, j}) : 0.0);
}

TEST(Autograd, DeepChainDoesNotOverflowTheStack) {
  // The topological sort is iterative: a 20k-op chain must work.
  Tensor x = vec({1.0}).requires_grad_();
  Tensor y = x;
  for (int i = 0; i < 20000; ++i) y = y + 0.0;
  sum(y).backward();
  EXPECT_EQ(x.grad().get({0}), 1.0);
}

TEST(Autograd, LogisticRegressionStepMatchesClosedForm) {
  // Mean binary cross-entropy of sigmoid(Xw): grad = X^T (sigmoid(Xw) - y) / n.
  Generator g(5);
  Tensor X = randn({8, 3}, g, DType::f64);
  Tensor y = from_vector<double>({0, 1, 1, 0, 1, 0, 0, 1}, {8, 1});
  Tensor w = randn({3, 1}, g, DType::f64).requires_grad_();
  Tensor p = sigmoid(matmul(X, w));
  Tensor loss = mean(-(y * log(p) + (1.0 - y) * log(1.0 - p)));
  loss.backward();
  Tensor expect = matmul(X.t(), p.detach() - y) / 8.0;
  for (int64_t i = 0; i < 3; ++i) EXPECT_NEAR(w.grad().get({i, 0}), expect.get({i, 0}), 1e-12);
}
