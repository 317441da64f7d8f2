#include "src/nn/layers.h"

#include <cmath>
#include <fmt/format.h>

namespace bstack::nn {

namespace {
Tensor fan_in_uniform(const Shape& shape, int64_t fan_in, Generator& gen) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  return uniform(shape, -bound, bound, gen);
}
}  // namespace

Linear::Linear(const LinearOptions& o, Generator& gen) : Module("Linear"), o_(o) {
  BSTACK_CHECK(o.in_ > 0 && o.out_ > 0, "Linear: sizes must be positive, got in={} out={}", o.in_, o.out_);
  weight = fan_in_uniform({o.out_, o.in_}, o.in_, gen);
  register_parameter("weight", &weight);
  if (o.bias_) {
    bias = fan_in_uniform({o.out_}, o.in_, gen);
    register_parameter("bias", &bias);
  }
}

Tensor Linear::forward(const Tensor& x) {
  BSTACK_CHECK(x.dim() >= 1 && x.size(-1) == o_.in_, "Linear(in={}): input {} has last dim {}",
               o_.in_, shape_str(x.shape()), x.dim() ? x.size(-1) : 0);
  return linear(x, weight, bias);
}

std::string Linear::repr() const {
  return fmt::format("Linear(in={}, out={}, bias={})", o_.in_, o_.out_, o_.bias_);
}

Conv2d::Conv2d(const Conv2dOptions& o, Generator& gen) : Module("Conv2d"), o_(o) {
  BSTACK_CHECK(o.in_ > 0 && o.out_ > 0 && o.kernel_ > 0 && o.groups_ > 0 && o.in_ % o.groups_ == 0 &&
                   o.out_ % o.groups_ == 0,
               "Conv2d: in={} out={} kernel={} groups={}: sizes must be positive and groups must "
               "divide in and out", o.in_, o.out_, o.kernel_, o.groups_);
  const int64_t fan_in = o.in_ / o.groups_ * o.kernel_ * o.kernel_;
  weight = fan_in_uniform({o.out_, o.in_ / o.groups_, o.kernel_, o.kernel_}, fan_in, gen);
  register_parameter("weight", &weight);
  if (o.bias_) {
    bias = fan_in_uniform({o.out_}, fan_in, gen);
    register_parameter("bias", &bias);
  }
  args_.stride_h = args_.stride_w = o.stride_;
  args_.pad_h = args_.pad_w = o.padding_;
  args_.dilation_h = args_.dilation_w = o.dilation_;
  args_.groups = o.groups_;
}

Tensor Conv2d::forward(const Tensor& x) { return conv2d(x, weight, bias, args_); }

std::string Conv2d::repr() const {
  return fmt::format("Conv2d(in={}, out={}, kernel={}, stride={}, padding={}, dilation={}, groups={}, bias={})",
                     o_.in_, o_.out_, o_.kernel_, o_.stride_, o_.padding_, o_.dilation_, o_.groups_, o_.bias_);
}

std::string MaxPool2d::repr() const { return fmt::format("MaxPool2d(kernel={}, stride={})", k_, s_); }
std::string AvgPool2d::repr() const { return fmt::format("AvgPool2d(kernel={}, stride={})", k_, s_); }

BatchNorm2d::BatchNorm2d(int64_t channels, double eps, double momentum)
    : Module("BatchNorm2d"), c_(channels), eps_(eps), momentum_(momentum) {
  weight = ones({channels});
  bias = zeros({channels});
  running_mean = zeros({channels});
  running_var = ones({channels});
  register_parameter("weight", &weight);
  register_parameter("bias", &bias);
  register_buffer("running_mean", &running_mean);
  register_buffer("running_var", &running_var);
}

Tensor BatchNorm2d::forward(const Tensor& x) {
  BSTACK_CHECK(x.dim() == 4 && x.size(1) == c_, "BatchNorm2d({}): input must be (N, {}, H, W), got {}",
               c_, c_, shape_str(x.shape()));
  const Shape bc = {1, c_, 1, 1};
  Tensor m, v;
  if (is_training()) {
    const int64_t n = x.size(0) * x.size(2) * x.size(3);
    BSTACK_CHECK(n > 1, "BatchNorm2d: training needs more than one value per channel, got {}",
                 shape_str(x.shape()));
    m = mean(x, {0, 2, 3}, true);
    v = var(x, {0, 2, 3}, true, 0);
    NoGradGuard ng;
    running_mean.copy_(running_mean * (1 - momentum_) + m.detach().reshape({c_}) * momentum_);
    running_var.copy_(running_var * (1 - momentum_) +
                      v.detach().reshape({c_}) * (momentum_ * n / (n - 1)));
  } else {
    m = running_mean.reshape(bc);
    v = running_var.reshape(bc);
  }
  return (x - m) / sqrt(v + eps_) * weight.reshape(bc) + bias.reshape(bc);
}

std::string BatchNorm2d::repr() const {
  return fmt::format("BatchNorm2d(channels={}, eps={}, momentum={})", c_, eps_, momentum_);
}

LayerNorm::LayerNorm(int64_t dim, double eps) : Module("LayerNorm"), dim_(dim), eps_(eps) {
  weight = ones({dim});
  bias = zeros({dim});
  register_parameter("weight", &weight);
  register_parameter("bias", &bias);
}

Tensor LayerNorm::forward(const Tensor& x) {
  BSTACK_CHECK(x.dim() >= 1 && x.size(-1) == dim_, "LayerNorm({}): input {} has last dim {}", dim_,
               shape_str(x.shape()), x.dim() ? x.size(-1) : 0);
  return layer_norm(x, weight, bias, eps_);
}

std::string LayerNorm::repr() const { return fmt::format("LayerNorm(dim={}, eps={})", dim_, eps_); }

Dropout::Dropout(double p, uint64_t seed) : Module("Dropout"), p_(p), gen_(seed) {
  BSTACK_CHECK(p >= 0 && p < 1, "Dropout: p must be in [0, 1), got {}", p);
}

Tensor Dropout::forward(const Tensor& x) {
  if (!is_training() || p_ == 0) return x;
  Tensor keep = gt(rand(x.shape(), gen_, x.dtype()), scalar_tensor(p_, x.dtype())).to(x.dtype());
  return x * (keep / (1 - p_));
}

std::string Dropout::repr() const { return fmt::format("Dropout(p={})", p_); }

Embedding::Embedding(int64_t num, int64_t dim, Generator& gen) : Module("Embedding"), num_(num), dim_(dim) {
  weight = randn({num, dim}, gen);
  register_parameter("weight", &weight);
}

Tensor Embedding::forward(const Tensor& ids) {
  Shape out = ids.shape();
  out.push_back(dim_);
  return index_select(weight, 0, ids.reshape({-1})).reshape(out);
}

std::string Embedding::repr() const { return fmt::format("Embedding(num={}, dim={})", num_, dim_); }

PositionalEmbedding::PositionalEmbedding(int64_t max_len, int64_t dim, Generator& gen)
    : Module("PositionalEmbedding"), max_len_(max_len), dim_(dim) {
  weight = randn({max_len, dim}, gen) * 0.02;  // GPT-2's initialisation scale
  weight = weight.detach();
  register_parameter("weight", &weight);
}

Tensor PositionalEmbedding::forward(const Tensor& x, int64_t offset) {
  BSTACK_CHECK(x.dim() == 3 && x.size(2) == dim_, "PositionalEmbedding: input must be (B, T, {}), got {}",
               dim_, shape_str(x.shape()));
  BSTACK_CHECK(offset + x.size(1) <= max_len_, "PositionalEmbedding: positions {}..{} exceed the "
               "maximum length {}", offset, offset + x.size(1) - 1, max_len_);
  return x + weight.slice(0, offset, offset + x.size(1));
}

std::string PositionalEmbedding::repr() const {
  return fmt::format("PositionalEmbedding(max_len={}, dim={})", max_len_, dim_);
}

std::string Softmax::repr() const { return fmt::format("Softmax(axis={})", axis_); }

Sequential::Sequential(std::initializer_list<std::shared_ptr<Module>> mods) : Sequential() {
  for (auto& m : mods) push_back(m);
}

void Sequential::push_back(std::shared_ptr<Module> m) {
  register_module(std::to_string(children().size()), std::move(m));
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  for (auto& [n, m] : children()) y = m->forward(y);
  return y;
}

}  // namespace bstack::nn
