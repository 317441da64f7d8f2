// Layers: Linear, Conv2d, pooling, BatchNorm2d, LayerNorm, Dropout, Embedding, learned
// positional embedding, activations and Sequential. Each has an Options struct with chained
// setters (libtorch style) where it has more than one knob, takes the Generator that seeds
// its initial weights, and prints itself as `Linear(in=64, out=10, bias=true)`.
//
// Initialisation follows PyTorch's defaults so results are comparable: Linear and Conv2d
// weights and biases ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)); Embedding ~ N(0, 1); norms start at
// weight 1, bias 0.
#pragma once

#include "src/nn/module.h"
#include "src/ops.h"
#include "src/random.h"

#include <initializer_list>

namespace bstack::nn {

#define BSTACK_OPTION(T, NAME)            \
  auto& NAME(T v) {                       \
    NAME##_ = v;                          \
    return *this;                         \
  }                                       \
  T NAME##_

struct LinearOptions {
  LinearOptions(int64_t in, int64_t out) : in_(in), out_(out) {}
  BSTACK_OPTION(int64_t, in);
  BSTACK_OPTION(int64_t, out);
  BSTACK_OPTION(bool, bias) = true;
};

// y = x W^T + b; x (..., in) -> (..., out); W (out, in).
class Linear : public Module {
 public:
  Linear(const LinearOptions& o, Generator& gen);
  Linear(int64_t in, int64_t out, Generator& gen) : Linear(LinearOptions(in, out), gen) {}
  Tensor forward(const Tensor& x) override;
  std::string repr() const override;
  Tensor weight, bias;

 private:
  LinearOptions o_;
};

struct Conv2dOptions {
  Conv2dOptions(int64_t in, int64_t out, int64_t k) : in_(in), out_(out), kernel_(k) {}
  BSTACK_OPTION(int64_t, in);
  BSTACK_OPTION(int64_t, out);
  BSTACK_OPTION(int64_t, kernel);
  BSTACK_OPTION(int64_t, stride) = 1;
  BSTACK_OPTION(int64_t, padding) = 0;
  BSTACK_OPTION(int64_t, dilation) = 1;
  BSTACK_OPTION(int64_t, groups) = 1;
  BSTACK_OPTION(bool, bias) = true;
};

// x (N, in, H, W) -> (N, out, OH, OW); W (out, in/groups, k, k). groups == in with out a
// multiple of in (a channel multiplier) is a depthwise convolution, which conv2d runs with its
// direct kernel instead of im2col + GEMM.
class Conv2d : public Module {
 public:
  Conv2d(const Conv2dOptions& o, Generator& gen);
  Conv2d(int64_t in, int64_t out, int64_t k, Generator& gen, int64_t groups = 1)
      : Conv2d(Conv2dOptions(in, out, k).groups(groups), gen) {}
  Tensor forward(const Tensor& x) override;
  std::string repr() const override;
  Tensor weight, bias;

 private:
  Conv2dOptions o_;
  Conv2dArgs args_;
};

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(int64_t k, int64_t stride = 0) : Module("MaxPool2d"), k_(k), s_(stride ? stride : k) {}
  Tensor forward(const Tensor& x) override { return max_pool2d(x, k_, s_); }
  std::string repr() const override;

 private:
  int64_t k_, s_;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(int64_t k, int64_t stride = 0) : Module("AvgPool2d"), k_(k), s_(stride ? stride : k) {}
  Tensor forward(const Tensor& x) override { return avg_pool2d(x, k_, s_); }
  std::string repr() const override;

 private:
  int64_t k_, s_;
};

// Batch normalisation over (N, H, W) per channel (Ioffe & Szegedy 2015). Training normalises
// with the batch's biased variance and updates running statistics with the unbiased one
// (momentum 0.1, as PyTorch); eval uses the running statistics.
class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(int64_t channels, double eps = 1e-5, double momentum = 0.1);
  Tensor forward(const Tensor& x) override;
  std::string repr() const override;
  Tensor weight, bias, running_mean, running_var;

 private:
  int64_t c_;
  double eps_, momentum_;
};

// Layer normalisation over the last dim (Ba et al. 2016), biased variance.
class LayerNorm : public Module {
 public:
  explicit LayerNorm(int64_t dim, double eps = 1e-5);
  Tensor forward(const Tensor& x) override;
  std::string repr() const override;
  Tensor weight, bias;

 private:
  int64_t dim_;
  double eps_;
};

// Inverted dropout: in training, zero each element with probability p and scale the rest by
// 1/(1-p); identity in eval. Its own seeded generator makes runs repeatable.
class Dropout : public Module {
 public:
  explicit Dropout(double p, uint64_t seed = 0);
  Tensor forward(const Tensor& x) override;
  std::string repr() const override;

 private:
  double p_;
  Generator gen_;
};

// ids (any shape, i32/i64) -> (..., dim).
class Embedding : public Module {
 public:
  Embedding(int64_t num, int64_t dim, Generator& gen);
  Tensor forward(const Tensor& ids) override;
  std::string repr() const override;
  Tensor weight;

 private:
  int64_t num_, dim_;
};

// Learned absolute positions: x (B, T, C) -> x + P[offset : offset + T]; T + offset <= max_len.
class PositionalEmbedding : public Module {
 public:
  PositionalEmbedding(int64_t max_len, int64_t dim, Generator& gen);
  Tensor forward(const Tensor& x) override { return forward(x, 0); }
  Tensor forward(const Tensor& x, int64_t offset);
  std::string repr() const override;
  Tensor weight;

 private:
  int64_t max_len_, dim_;
};

// Activations as modules (for Sequential).
class ReLU : public Module {
 public:
  ReLU() : Module("ReLU") {}
  Tensor forward(const Tensor& x) override { return relu(x); }
};
class GELU : public Module {
 public:
  GELU() : Module("GELU") {}
  Tensor forward(const Tensor& x) override { return gelu(x); }
};
class Sigmoid : public Module {
 public:
  Sigmoid() : Module("Sigmoid") {}
  Tensor forward(const Tensor& x) override { return sigmoid(x); }
};
class Tanh : public Module {
 public:
  Tanh() : Module("Tanh") {}
  Tensor forward(const Tensor& x) override { return tanh(x); }
};
class Softmax : public Module {
 public:
  explicit Softmax(int64_t axis = -1) : Module("Softmax"), axis_(axis) {}
  Tensor forward(const Tensor& x) override { return softmax(x, axis_); }
  std::string repr() const override;

 private:
  int64_t axis_;
};
class Flatten : public Module {  // (N, ...) -> (N, prod(...))
 public:
  Flatten() : Module("Flatten") {}
  Tensor forward(const Tensor& x) override { return x.reshape({x.size(0), -1}); }
};

class Sequential : public Module {
 public:
  Sequential() : Module("Sequential") {}
  Sequential(std::initializer_list<std::shared_ptr<Module>> mods);
  void push_back(std::shared_ptr<Module> m);
  Tensor forward(const Tensor& x) override;
  size_t size() const { return children().size(); }
};

#undef BSTACK_OPTION

}  // namespace bstack::nn
