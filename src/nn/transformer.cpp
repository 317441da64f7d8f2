#include "src/nn/transformer.h"

#include <array>
#include <fmt/format.h>

namespace bstack::nn {

CausalSelfAttention::CausalSelfAttention(int64_t dim, int64_t heads, Generator& gen)
    : Module("CausalSelfAttention"), dim_(dim), heads_(heads) {
  BSTACK_CHECK(heads > 0 && dim % heads == 0, "CausalSelfAttention: {} heads must divide dim {}",
               heads, dim);
  qkv_ = register_module("qkv", std::make_shared<Linear>(dim, 3 * dim, gen));
  proj_ = register_module("proj", std::make_shared<Linear>(dim, dim, gen));
}

std::string CausalSelfAttention::repr() const {
  return fmt::format("CausalSelfAttention(dim={}, heads={})", dim_, heads_);
}

// q (B, H, Tq, D) at absolute positions q_offset..; k, v (B, H, Tk, D) at positions 0..Tk-1.
// Query i may see keys j <= q_offset + i. The tiled op reads q, k, v as strided head slices of
// the qkv projection (no copy) and never stores the (Tq, Tk) scores; its output is laid out
// (B, T, H, D) in memory, so merging the heads below is a view.
Tensor CausalSelfAttention::attend(const Tensor& q, const Tensor& k, const Tensor& v, int64_t q_offset) {
  return scaled_dot_product_attention(q, k, v, /*causal=*/true, q_offset);
}

namespace {
// (B, T, C) -> three (B, H, T, D)
std::array<Tensor, 3> split_heads(const Tensor& qkv, int64_t heads) {
  const int64_t B = qkv.size(0), T = qkv.size(1), C = qkv.size(2) / 3, D = C / heads;
  std::array<Tensor, 3> out;
  for (int i = 0; i < 3; ++i)
    out[i] = qkv.slice(2, i * C, (i + 1) * C).reshape({B, T, heads, D}).transpose(1, 2);
  return out;
}
}  // namespace

Tensor CausalSelfAttention::forward(const Tensor& x) {
  BSTACK_CHECK(x.dim() == 3 && x.size(2) == dim_, "CausalSelfAttention: input must be (B, T, {}), got {}",
               dim_, shape_str(x.shape()));
  // One op over the fused projection: its backward fills one qkv gradient (ops.h).
  Tensor y = scaled_dot_product_attention_qkv(qkv_->forward(x), heads_, /*causal=*/true);  // (B, H, T, D)
  return proj_->forward(y.transpose(1, 2).reshape({x.size(0), x.size(1), dim_}));
}

Tensor CausalSelfAttention::forward_cached(const Tensor& x, KVCache& cache) {
  BSTACK_CHECK(x.dim() == 3 && x.size(2) == dim_, "CausalSelfAttention: input must be (B, T, {}), got {}",
               dim_, shape_str(x.shape()));
  auto [q, k, v] = split_heads(qkv_->forward(x), heads_);
  const int64_t offset = cache.length();
  cache.k = cache.k.defined() ? cat({cache.k, k}, 2) : k.contiguous();
  cache.v = cache.v.defined() ? cat({cache.v, v}, 2) : v.contiguous();
  Tensor y = attend(q, cache.k, cache.v, offset);
  return proj_->forward(y.transpose(1, 2).reshape({x.size(0), x.size(1), dim_}));
}

TransformerBlock::TransformerBlock(int64_t dim, int64_t heads, Generator& gen) : Module("TransformerBlock") {
  ln1_ = register_module("ln1", std::make_shared<LayerNorm>(dim));
  attn_ = register_module("attn", std::make_shared<CausalSelfAttention>(dim, heads, gen));
  ln2_ = register_module("ln2", std::make_shared<LayerNorm>(dim));
  mlp_ = register_module("mlp", std::make_shared<Sequential>());
  mlp_->push_back(std::make_shared<Linear>(dim, 4 * dim, gen));
  mlp_->push_back(std::make_shared<GELU>());
  mlp_->push_back(std::make_shared<Linear>(4 * dim, dim, gen));
}

Tensor TransformerBlock::forward(const Tensor& x) {
  Tensor h = x + attn_->forward(ln1_->forward(x));
  return h + mlp_->forward(ln2_->forward(h));
}

Tensor TransformerBlock::forward_cached(const Tensor& x, KVCache& cache) {
  Tensor h = x + attn_->forward_cached(ln1_->forward(x), cache);
  return h + mlp_->forward(ln2_->forward(h));
}

}  // namespace bstack::nn
