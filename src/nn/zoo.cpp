#include "src/nn/zoo.h"

#include "src/ops.h"

#include <fmt/format.h>

namespace bstack::nn {

GPT::GPT(const GPTConfig& c, Generator& gen) : Module("GPT"), c_(c) {
  BSTACK_CHECK(c.vocab > 0, "GPT: vocabulary size must be positive");
  tok_ = register_module("tok", std::make_shared<Embedding>(c.vocab, c.dim, gen));
  {
    NoGradGuard ng;  // GPT-2 initialises token embeddings with std 0.02
    tok_->weight.copy_(tok_->weight * 0.02);
  }
  pos_ = register_module("pos", std::make_shared<PositionalEmbedding>(c.context, c.dim, gen));
  for (int64_t i = 0; i < c.layers; ++i)
    blocks_.push_back(register_module(fmt::format("block{}", i), std::make_shared<TransformerBlock>(c.dim, c.heads, gen)));
  ln_f_ = register_module("ln_f", std::make_shared<LayerNorm>(c.dim));
  head_ = register_module("head", std::make_shared<Linear>(c.dim, c.vocab, gen));
}

std::string GPT::repr() const {
  return fmt::format("GPT(vocab={}, context={}, dim={}, layers={}, heads={})", c_.vocab, c_.context, c_.dim,
                     c_.layers, c_.heads);
}

Tensor GPT::forward(const Tensor& ids) {
  BSTACK_CHECK(ids.dim() == 2 && ids.size(1) <= c_.context, "GPT: ids must be (B, T <= {}), got {}",
               c_.context, shape_str(ids.shape()));
  Tensor h = pos_->forward(tok_->forward(ids));
  for (auto& b : blocks_) h = b->forward(h);
  return head_->forward(ln_f_->forward(h));
}

Tensor GPT::logits_cached(const Tensor& ids, std::vector<KVCache>& caches) {
  Tensor h = pos_->forward(tok_->forward(ids), caches[0].length());
  for (size_t i = 0; i < blocks_.size(); ++i) h = blocks_[i]->forward_cached(h, caches[i]);
  return head_->forward(ln_f_->forward(h));
}

namespace {
int64_t sample(const Tensor& logits_row, double temperature, Generator& gen) {
  if (temperature <= 0) return static_cast<int64_t>(argmax(logits_row, 0).item());
  const std::vector<double> p = softmax(logits_row.to(DType::f64) / temperature, 0).to_vector();
  double u = gen.uniform(), acc = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    acc += p[i];
    if (u < acc) return static_cast<int64_t>(i);
  }
  return static_cast<int64_t>(p.size()) - 1;
}
}  // namespace

std::vector<int64_t> GPT::generate(const std::vector<int64_t>& prompt, int64_t n, double temperature,
                                   Generator& gen, bool use_cache) {
  BSTACK_CHECK(!prompt.empty(), "generate: the prompt is empty");
  NoGradGuard ng;
  std::vector<int64_t> out = prompt;
  std::vector<KVCache> caches(blocks_.size());
  for (int64_t step = 0; step < n; ++step) {
    Tensor last;
    const bool full_context = static_cast<int64_t>(out.size()) > c_.context;
    if (use_cache && !full_context) {
      // First step: the whole prompt; then only the newest token.
      const size_t from = step == 0 ? 0 : out.size() - 1;
      std::vector<int64_t> fresh(out.begin() + static_cast<int64_t>(from), out.end());
      Tensor logits = logits_cached(from_vector(fresh, {1, static_cast<int64_t>(fresh.size())}), caches);
      last = logits.select(1, -1).select(0, 0);
    } else {
      const size_t from = out.size() > static_cast<size_t>(c_.context) ? out.size() - c_.context : 0;
      std::vector<int64_t> window(out.begin() + static_cast<int64_t>(from), out.end());
      last = forward(from_vector(window, {1, static_cast<int64_t>(window.size())})).select(1, -1).select(0, 0);
    }
    out.push_back(sample(last, temperature, gen));
  }
  return out;
}

std::vector<std::string> zoo_names() { return {"perceptron", "mlp", "cnn", "gpt-tiny"}; }

std::shared_ptr<Module> make_model(const ModelSpec& s, Generator& gen) {
  if (s.name == "gpt-tiny") {
    GPTConfig c;
    c.vocab = s.vocab;
    return std::make_shared<GPT>(c, gen);
  }
  BSTACK_CHECK(s.name == "perceptron" || s.name == "mlp" || s.name == "cnn",
               "unknown model '{}' (choose one of perceptron, mlp, cnn, gpt-tiny)", s.name);
  BSTACK_CHECK(s.input.size() == 3 && s.classes > 1, "{}: needs (C, H, W) inputs and >1 classes", s.name);
  const int64_t C = s.input[0], H = s.input[1], W = s.input[2], in = C * H * W;
  auto m = std::make_shared<Sequential>();
  if (s.name == "perceptron") {
    m->push_back(std::make_shared<Flatten>());
    m->push_back(std::make_shared<Linear>(in, s.classes, gen));
  } else if (s.name == "mlp") {
    m->push_back(std::make_shared<Flatten>());
    m->push_back(std::make_shared<Linear>(in, 256, gen));
    m->push_back(std::make_shared<ReLU>());
    m->push_back(std::make_shared<Linear>(256, 128, gen));
    m->push_back(std::make_shared<ReLU>());
    m->push_back(std::make_shared<Linear>(128, s.classes, gen));
  } else {
    BSTACK_CHECK(H % 4 == 0 && W % 4 == 0, "cnn: image size {}x{} must be divisible by 4", H, W);
    m->push_back(std::make_shared<Conv2d>(Conv2dOptions(C, 16, 3).padding(1), gen));
    m->push_back(std::make_shared<ReLU>());
    m->push_back(std::make_shared<MaxPool2d>(2));
    m->push_back(std::make_shared<Conv2d>(Conv2dOptions(16, 32, 3).padding(1), gen));
    m->push_back(std::make_shared<ReLU>());
    m->push_back(std::make_shared<MaxPool2d>(2));
    m->push_back(std::make_shared<Flatten>());
    m->push_back(std::make_shared<Linear>(32 * (H / 4) * (W / 4), 64, gen));
    m->push_back(std::make_shared<ReLU>());
    m->push_back(std::make_shared<Linear>(64, s.classes, gen));
  }
  return m;
}

}  // namespace bstack::nn
