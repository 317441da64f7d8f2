// libtorch versions of the bench_train models, written as a PyTorch user would (torch::nn
// modules, torch::optim::Adam), so the ratio compares bstack with the framework at its best.
#include "bench/torch_peer.h"

#include <torch/torch.h>

#include <cmath>

namespace bstack::bench {

namespace {

struct Mlp : torch::nn::Module {
  torch::nn::Linear l1{nullptr}, l2{nullptr}, l3{nullptr};
  Mlp() {
    l1 = register_module("l1", torch::nn::Linear(784, 256));
    l2 = register_module("l2", torch::nn::Linear(256, 128));
    l3 = register_module("l3", torch::nn::Linear(128, 10));
  }
  torch::Tensor forward(torch::Tensor x) {
    x = x.view({x.size(0), -1});
    return l3(torch::relu(l2(torch::relu(l1(x)))));
  }
};

struct Cnn : torch::nn::Module {
  torch::nn::Conv2d c1{nullptr}, c2{nullptr};
  torch::nn::Linear f1{nullptr}, f2{nullptr};
  Cnn() {
    c1 = register_module("c1", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 16, 3).padding(1)));
    c2 = register_module("c2", torch::nn::Conv2d(torch::nn::Conv2dOptions(16, 32, 3).padding(1)));
    f1 = register_module("f1", torch::nn::Linear(32 * 7 * 7, 64));
    f2 = register_module("f2", torch::nn::Linear(64, 10));
  }
  torch::Tensor forward(torch::Tensor x) {
    x = torch::max_pool2d(torch::relu(c1(x)), 2);
    x = torch::max_pool2d(torch::relu(c2(x)), 2);
    return f2(torch::relu(f1(x.view({x.size(0), -1}))));
  }
};

struct Block : torch::nn::Module {
  torch::nn::LayerNorm ln1{nullptr}, ln2{nullptr};
  torch::nn::Linear qkv{nullptr}, proj{nullptr}, fc{nullptr}, out{nullptr};
  int64_t heads;
  Block(int64_t dim, int64_t h) : heads(h) {
    ln1 = register_module("ln1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
    ln2 = register_module("ln2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
    qkv = register_module("qkv", torch::nn::Linear(dim, 3 * dim));
    proj = register_module("proj", torch::nn::Linear(dim, dim));
    fc = register_module("fc", torch::nn::Linear(dim, 4 * dim));
    out = register_module("out", torch::nn::Linear(4 * dim, dim));
  }
  torch::Tensor forward(torch::Tensor x) {
    const int64_t B = x.size(0), T = x.size(1), C = x.size(2), D = C / heads;
    auto parts = qkv(ln1(x)).split(C, 2);
    auto q = parts[0].view({B, T, heads, D}).transpose(1, 2);
    auto k = parts[1].view({B, T, heads, D}).transpose(1, 2);
    auto v = parts[2].view({B, T, heads, D}).transpose(1, 2);
    auto att = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(D));
    auto mask = torch::ones({T, T}, torch::kBool).tril();
    att = att.masked_fill(mask.logical_not(), -INFINITY).softmax(-1);
    auto y = torch::matmul(att, v).transpose(1, 2).contiguous().view({B, T, C});
    x = x + proj(y);
    return x + out(torch::gelu(fc(ln2(x)), "tanh"));
  }
};

struct Gpt : torch::nn::Module {
  torch::nn::Embedding tok{nullptr}, pos{nullptr};
  std::shared_ptr<Block> b1, b2;
  torch::nn::LayerNorm lnf{nullptr};
  torch::nn::Linear head{nullptr};
  Gpt(int64_t vocab, int64_t ctx, int64_t dim, int64_t heads) {
    tok = register_module("tok", torch::nn::Embedding(vocab, dim));
    pos = register_module("pos", torch::nn::Embedding(ctx, dim));
    b1 = register_module("b1", std::make_shared<Block>(dim, heads));
    b2 = register_module("b2", std::make_shared<Block>(dim, heads));
    lnf = register_module("lnf", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
    head = register_module("head", torch::nn::Linear(dim, vocab));
  }
  torch::Tensor forward(torch::Tensor ids) {
    auto x = tok(ids) + pos(torch::arange(ids.size(1), torch::kLong));
    return head(lnf(b2->forward(b1->forward(x))));
  }
};

template <class Model>
class Step : public PeerStep {
 public:
  Step(std::shared_ptr<Model> m, torch::Tensor x, torch::Tensor y)
      : m_(std::move(m)), opt_(m_->parameters(), torch::optim::AdamOptions(1e-3)), x_(x), y_(y) {}
  void step() override {
    opt_.zero_grad();
    auto logits = m_->forward(x_);
    auto loss = torch::nn::functional::cross_entropy(logits.view({-1, logits.size(-1)}), y_.view({-1}));
    loss.backward();
    opt_.step();
  }

 private:
  std::shared_ptr<Model> m_;
  torch::optim::Adam opt_;
  torch::Tensor x_, y_;
};

}  // namespace

std::unique_ptr<PeerStep> make_torch_step(const std::string& model, int threads) {
  torch::set_num_threads(threads);
  torch::manual_seed(0);
  if (model == "mlp")
    return std::make_unique<Step<Mlp>>(std::make_shared<Mlp>(), torch::randn({64, 1, 28, 28}),
                                       torch::randint(0, 10, {64}, torch::kLong));
  if (model == "cnn")
    return std::make_unique<Step<Cnn>>(std::make_shared<Cnn>(), torch::randn({64, 1, 28, 28}),
                                       torch::randint(0, 10, {64}, torch::kLong));
  return std::make_unique<Step<Gpt>>(std::make_shared<Gpt>(65, 64, 64, 4), torch::randint(0, 65, {16, 64}, torch::kLong),
                                     torch::randint(0, 65, {16, 64}, torch::kLong));
}

}  // namespace bstack::bench
