// Multi-head causal self-attention and the GPT-2-style pre-norm transformer block
// (Vaswani et al. 2017; Radford et al. 2019): x + attn(ln1(x)), then x + mlp(ln2(x)) with a
// 4x GELU MLP. Attention runs on the tiled (FlashAttention-2-style) kernel through
// scaled_dot_product_attention: the (T, T) scores are never materialised, memory is linear in T.
//
// KV cache: forward_cached(x, cache) appends this step's keys and values to `cache` and
// attends over everything cached so far, so generation feeds one token at a time and gets
// the same outputs as re-running the whole prefix (tested).
#pragma once

#include "src/nn/layers.h"

namespace bstack::nn {

struct KVCache {
  Tensor k, v;  // (B, H, T_cached, D), undefined when empty
  int64_t length() const { return k.defined() ? k.size(2) : 0; }
  void clear() { k = v = Tensor(); }
};

class CausalSelfAttention : public Module {
 public:
  CausalSelfAttention(int64_t dim, int64_t heads, Generator& gen);
  Tensor forward(const Tensor& x) override;  // x (B, T, C) -> (B, T, C)
  Tensor forward_cached(const Tensor& x, KVCache& cache);
  std::string repr() const override;

 private:
  Tensor attend(const Tensor& q, const Tensor& k, const Tensor& v, int64_t q_offset);
  int64_t dim_, heads_;
  std::shared_ptr<Linear> qkv_, proj_;
};

class TransformerBlock : public Module {
 public:
  TransformerBlock(int64_t dim, int64_t heads, Generator& gen);
  Tensor forward(const Tensor& x) override;
  Tensor forward_cached(const Tensor& x, KVCache& cache);

 private:
  std::shared_ptr<LayerNorm> ln1_, ln2_;
  std::shared_ptr<CausalSelfAttention> attn_;
  std::shared_ptr<Sequential> mlp_;
};

}  // namespace bstack::nn
