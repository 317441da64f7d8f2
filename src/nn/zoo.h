// The model zoo, selectable by name from the command line. Sizes (for digits: 1x8x8 inputs,
// 10 classes; other inputs scale the first layer):
//   perceptron  Flatten -> Linear(C*H*W, classes)                          (Rosenblatt 1958)
//   mlp         Flatten -> Linear(C*H*W, 256) ReLU Linear(256, 128) ReLU Linear(128, classes)
//   cnn         LeNet-style (LeCun et al. 1998): Conv(C,16,3,pad 1) ReLU MaxPool(2)
//               Conv(16,32,3,pad 1) ReLU MaxPool(2) Flatten Linear(32*H/4*W/4, 64) ReLU
//               Linear(64, classes)
//   gpt-tiny    char-level GPT: token + learned position embeddings (context 64), 2 pre-norm
//               blocks of 4-head causal attention and a 4x GELU MLP at width 64, final
//               LayerNorm, Linear(64, vocab)                               (Radford et al. 2019)
#pragma once

#include "src/nn/transformer.h"

#include <string>
#include <vector>

namespace bstack::nn {

struct GPTConfig {
  int64_t vocab = 0, context = 64, dim = 64, layers = 2, heads = 4;
};

class GPT : public Module {
 public:
  GPT(const GPTConfig& c, Generator& gen);
  Tensor forward(const Tensor& ids) override;  // (B, T) i64 -> logits (B, T, vocab)
  // Samples `n` tokens after `prompt` (temperature > 0; 0 = greedy argmax). With use_cache the
  // prompt is run once and each new token attends to cached keys/values; without, the whole
  // window is recomputed each step. Both give the same tokens for the same generator seed.
  std::vector<int64_t> generate(const std::vector<int64_t>& prompt, int64_t n, double temperature,
                                Generator& gen, bool use_cache = true);
  const GPTConfig& config() const { return c_; }
  std::string repr() const override;

 private:
  Tensor logits_cached(const Tensor& ids, std::vector<KVCache>& caches);
  GPTConfig c_;
  std::shared_ptr<Embedding> tok_;
  std::shared_ptr<PositionalEmbedding> pos_;
  std::vector<std::shared_ptr<TransformerBlock>> blocks_;
  std::shared_ptr<LayerNorm> ln_f_;
  std::shared_ptr<Linear> head_;
};

struct ModelSpec {
  std::string name;
  Shape input;          // (C, H, W) for image models
  int64_t classes = 0;  // image models
  int64_t vocab = 0;    // gpt-tiny
};

std::vector<std::string> zoo_names();
std::shared_ptr<Module> make_model(const ModelSpec& spec, Generator& gen);

}  // namespace bstack::nn
