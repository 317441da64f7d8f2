// Named analytic workloads (formulas and sources in workloads.h).
#include "walls/workloads.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace bstack::walls {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string lower(std::string_view s) {
  std::string out;
  for (char c : s) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The canonical name of a workload ("" when unknown).
std::string canonical(std::string_view name) {
  const std::string n = lower(name);
  if (n == "gpt2-124m" || n == "gpt2" || n == "gpt-2" || n == "gpt2_124m") return "gpt2-124m";
  if (n == "llama3-8b" || n == "llama3" || n == "llama-3-8b" || n == "llama3_8b") return "llama3-8b";
  if (n == "resnet50" || n == "resnet-50") return "resnet50";
  return "";
}

// ---- op builders -----------------------------------------------------------------------------
// A GEMM of `groups` independent M x N x K products: 2 G M N K FLOPs; reads A (M x K) and B
// (K x N), writes C (M x N) once each.
OpCost gemm(std::string name, double groups, double m, double n, double k, double e) {
  OpCost o;
  o.name = std::move(name);
  o.flops = 2 * groups * m * n * k;
  o.bytes = e * groups * (m * k + k * n + m * n);
  o.is_gemm = true;
  return o;
}

// An element-wise (or row-wise: norm, softmax) op over `elements`, `flops_per` FLOPs each,
// touching `tensors` tensors of that size (inputs read + outputs written) plus `extra_bytes`.
OpCost elementwise(std::string name, double elements, double flops_per, double tensors, double e,
                   double extra_bytes = 0) {
  OpCost o;
  o.name = std::move(name);
  o.flops = flops_per * elements;
  o.bytes = e * tensors * elements + extra_bytes;
  return o;
}

// The backward call of a forward op (workloads.h, "backward" and "Bytes"): a GEMM 2x FLOPs and
// 2x bytes; a unary element-wise op 2x FLOPs and 3/2 bytes; a binary one 2x FLOPs, same bytes.
OpCost backward_of(const OpCost& f, double byte_factor) {
  OpCost b = f;
  b.backward = true;
  b.flops = 2 * f.flops;
  b.bytes = byte_factor * f.bytes;
  return b;
}
constexpr double kGemmBwd = 2.0, kUnaryBwd = 1.5, kBinaryBwd = 1.0;

// A forward op and the byte factor of its backward, kept in execution order.
struct Step {
  std::vector<OpCost> fwd;
  std::vector<double> bwd_bytes;
  void add(OpCost o, double bwd) {
    fwd.push_back(std::move(o));
    bwd_bytes.push_back(bwd);
  }
  // forward, then backward in reverse order when training.
  std::vector<OpCost> ops(bool training) const {
    std::vector<OpCost> out = fwd;
    if (training)
      for (size_t i = fwd.size(); i-- > 0;) out.push_back(backward_of(fwd[i], bwd_bytes[i]));
    return out;
  }
};

// Optimizer FLOPs and bytes per parameter (workloads.h): Adam ~14 FLOPs, 28 B; SGD with momentum
// 4 FLOPs, 20 B. Optimizer state bytes per parameter (ZeRO sec. 3.1): Adam 8 (fp32) or 12 (with a
// 16-bit model: fp32 master + two moments); SGD momentum 4 or 8 (master + buffer).
struct OptimizerCost {
  double flops_per, bytes_per, state_per;
};
OptimizerCost optimizer_cost(const std::string& opt, double e) {
  const bool mixed = e < 4;  // a 16-bit model keeps an fp32 master copy in the optimizer
  if (opt == "adam" || opt == "adamw") return {opt == "adamw" ? 15.0 : 14.0, 28, mixed ? 12.0 : 8.0};
  if (opt == "sgd") return {4, 20, mixed ? 8.0 : 4.0};
  throw std::invalid_argument("walls::analytic_workload: unknown optimizer '" + opt +
                              "' (adam, adamw or sgd)");
}

OpCost optimizer_op(const std::string& opt, double params, double e) {
  const OptimizerCost c = optimizer_cost(opt, e);
  OpCost o;
  o.name = opt;
  o.flops = c.flops_per * params;
  o.bytes = c.bytes_per * params;
  return o;
}

double check_precision(const std::string& p) {
  const double e = bytes_per_element(p);
  if (std::isnan(e) || p == "fp64" || p == "int8")
    throw std::invalid_argument("walls::analytic_workload: precision '" + p +
                                "' is not one a model trains in (fp32, tf32, bf16 or fp16)");
  return e;
}

void check_batch(int64_t batch) {
  if (batch < 1)
    throw std::invalid_argument("walls::analytic_workload: batch " + std::to_string(batch) +
                                " must be >= 1");
}

std::string fmt_count(double v) {
  char buf[32];
  if (v >= 1e9) std::snprintf(buf, sizeof buf, "%.2fB", v / 1e9);
  else std::snprintf(buf, sizeof buf, "%.1fM", v / 1e6);
  return buf;
}

}  // namespace

double bytes_per_element(std::string_view precision) {
  const std::string p = lower(precision);
  if (p == "fp64") return 8;
  if (p == "fp32" || p == "tf32") return 4;
  if (p == "fp16" || p == "bf16") return 2;
  if (p == "int8") return 1;
  return kNaN;
}

// ---- transformers ----------------------------------------------------------------------------

TransformerShape gpt2_124m_shape() {
  // Radford et al. 2019, Table 2 (smallest model) and the released config (n_layer 12, n_embd
  // 768, n_head 12, n_ctx 1024, vocab 50257).
  return {"gpt2-124m", "Radford et al. 2019", 12, 768, 12, 12, 3072, 50257, 1024,
          false, true, true, true, true, true};
}

TransformerShape llama3_8b_shape() {
  // Grattafiori et al. 2024 (Meta), "The Llama 3 herd of models", Table 3: 8B -- 32 layers,
  // model dimension 4096, FFN dimension 14336, 32 attention heads, 8 key/value heads, vocabulary
  // 128,000 (the released tokenizer: 128256), RoPE; context 8192 (the released config).
  return {"llama3-8b", "Meta 2024", 32, 4096, 32, 8, 14336, 128256, 8192,
          true, false, false, false, false, false};
}

double transformer_nonembedding_parameters(const TransformerShape& t) {
  const double h = double(t.d_model), f = double(t.d_ff);
  const double kv = double(t.kv_heads) * (h / double(t.heads));
  const double norm = t.layernorm ? 2 * h : h;              // weight (+ bias)
  const double qkv = h * (h + 2 * kv) + (t.biases ? h + 2 * kv : 0);
  const double proj = h * h + (t.biases ? h : 0);
  const double mlp = t.gated_mlp ? 3 * h * f + (t.biases ? 2 * f + h : 0)
                                 : 2 * h * f + (t.biases ? f + h : 0);
  return double(t.layers) * (2 * norm + qkv + proj + mlp);
}

double transformer_parameters(const TransformerShape& t) {
  const double h = double(t.d_model);
  double p = transformer_nonembedding_parameters(t);
  p += double(t.vocab) * h;                                  // token embedding
  if (t.learned_positions) p += double(t.context) * h;       // position embedding
  p += t.layernorm ? 2 * h : h;                              // final norm
  if (!t.tied_embeddings) p += double(t.vocab) * h;          // output layer
  return p;
}

double transformer_forward_gemm_flops(const TransformerShape& t, int64_t batch, int64_t seq) {
  const double T = double(batch) * double(seq), s = double(seq), h = double(t.d_model);
  const double kv = double(t.kv_heads) * (h / double(t.heads)), f = double(t.d_ff);
  const double weights = 2 * T * h * (h + 2 * kv) + 2 * T * h * h +
                         (t.gated_mlp ? 3 : 2) * 2 * T * h * f;
  const double attention = 2 * 2 * double(batch) * s * s * h;  // scores + values: 4 B s^2 h
  return double(t.layers) * (weights + attention) + 2 * T * h * double(t.vocab);
}

double transformer_activation_bytes(const TransformerShape& t, int64_t batch, int64_t seq,
                                    double e) {
  // Tensors one layer keeps for backward (Korthikanti et al. 2022, sec. 4.1, counted per tensor):
  //   two norm inputs, the QKV GEMM's input, Q, K, V, the output projection's input, the MLP's
  //   input: 6 h + 2 h_kv elements per token;
  //   MLP: GeLU's input and output (2 f), or SwiGLU's gate, up, SiLU output and product (4 f);
  //   attention: the softmax output (a s^2 per sequence), and with dropout its mask (1 B) and
  //   the dropped-out copy; with dropout, a 1 B mask after attention and after the MLP.
  // GPT-2's choices at e = 2: s b h (2 (8 + 8) + 2) + a s^2 b (2 + 1 + 2) = s b h (34 + 5 a s / h).
  const double T = double(batch) * double(seq), s = double(seq), h = double(t.d_model);
  const double kv = double(t.kv_heads) * (h / double(t.heads)), f = double(t.d_ff);
  const double per_token = (6 * h + 2 * kv + (t.gated_mlp ? 4 : 2) * f) * e +
                           (t.dropout ? 2 * h : 0);  // masks: 1 B per element
  const double scores = double(batch) * double(t.heads) * s * s * (t.dropout ? 2 * e + 1 : e);
  return T * per_token + scores;
}

Workload transformer_workload(const TransformerShape& t, const AnalyticOptions& o) {
  check_batch(o.batch);
  const int64_t seq = o.seq == 0 ? t.context : o.seq;
  if (seq < 1 || seq > t.context)
    throw std::invalid_argument("walls::analytic_workload: sequence length " +
                                std::to_string(seq) + " is outside 1.." +
                                std::to_string(t.context) + " (" + t.name + "'s context)");
  const double e = check_precision(o.precision);
  const bool train = o.training;
  const bool drop = t.dropout && train;  // dropout runs only in training
  const double B = double(o.batch), s = double(seq), T = B * s;
  const double h = double(t.d_model), a = double(t.heads), dh = h / a, f = double(t.d_ff);
  const double kv = double(t.kv_heads) * dh, V = double(t.vocab);
  const double P = transformer_parameters(t);
  const std::string norm = t.layernorm ? "layernorm" : "rmsnorm";
  // LayerNorm: mean, variance, normalise, scale, shift ~ 8 FLOPs per element; RMSNorm ~ 5.
  const double norm_flops = t.layernorm ? 8 : 5;
  const double norm_params = (t.layernorm ? 2 : 1) * h * e;

  Step st;
  auto linear = [&](double n, double k) {
    OpCost g = gemm("linear", 1, T, n, k, e);
    if (t.biases) g.flops += T * n, g.bytes += n * e;  // the bias add, fused
    return g;
  };
  auto dropout = [&](double elements) {  // reads x, writes y and a 1 B mask
    st.add(elementwise("dropout", elements, 1, 2, e, elements), kUnaryBwd);
  };

  // Embedding: gather T rows of the table (read + write T h), positions added (GPT-2).
  st.add(elementwise("embedding", T, 0, 2 * h, e), kUnaryBwd);
  if (t.learned_positions) st.add(elementwise("add", T * h, 1, 3, e), kBinaryBwd);
  if (drop) dropout(T * h);
  for (int64_t l = 0; l < t.layers; ++l) {
    st.add(elementwise(norm, T * h, norm_flops, 2, e, norm_params), kUnaryBwd);
    st.add(linear(h + 2 * kv, h), kGemmBwd);                                 // Q, K, V
    if (!t.learned_positions)                                                // RoPE on Q and K
      st.add(elementwise("rope", T * (h + kv), 3, 2, e), kUnaryBwd);
    st.add(gemm("attn_scores", B * a, s, s, dh, e), kGemmBwd);               // Q K^T
    // Softmax with the 1/sqrt(dh) scale and the causal mask folded in: ~7 FLOPs per score.
    st.add(elementwise("softmax", B * a * s * s, 7, 2, e), kUnaryBwd);
    if (drop) dropout(B * a * s * s);
    st.add(gemm("attn_values", B * a, s, dh, s, e), kGemmBwd);               // P V
    st.add(linear(h, h), kGemmBwd);                                          // output projection
    if (drop) dropout(T * h);
    st.add(elementwise("add", T * h, 1, 3, e), kBinaryBwd);                  // residual
    st.add(elementwise(norm, T * h, norm_flops, 2, e, norm_params), kUnaryBwd);
    if (t.gated_mlp) {
      st.add(linear(f, h), kGemmBwd);                                        // gate
      st.add(linear(f, h), kGemmBwd);                                        // up
      st.add(elementwise("silu", T * f, 4, 2, e), kUnaryBwd);
      st.add(elementwise("mul", T * f, 1, 3, e), 5.0 / 3.0);  // backward: reads 3, writes 2
    } else {
      st.add(linear(f, h), kGemmBwd);
      // GeLU, tanh approximation (Hendrycks & Gimpel 2016): ~8 FLOPs per element.
      st.add(elementwise("gelu", T * f, 8, 2, e), kUnaryBwd);
    }
    st.add(linear(h, f), kGemmBwd);                                          // down
    if (drop) dropout(T * h);
    st.add(elementwise("add", T * h, 1, 3, e), kBinaryBwd);                  // residual
  }
  st.add(elementwise(norm, T * h, norm_flops, 2, e, norm_params), kUnaryBwd);
  st.add(gemm("linear", 1, T, V, h, e), kGemmBwd);                           // logits
  // Cross-entropy over the vocabulary: max, subtract, exp, sum, log ~ 5 FLOPs per logit.
  if (train) st.add(elementwise("cross_entropy", T * V, 5, 1, e), 2.0);  // bwd: read + write

  Workload w;
  w.name = t.name;
  w.training = train;
  w.batch = o.batch;
  w.parameters = P;
  w.bytes_per_element = e;
  w.ops = st.ops(train);
  // The embedding's backward writes the whole (dense) table gradient: V h more bytes.
  if (train)
    for (auto& op : w.ops)
      if (op.backward && op.name == "embedding") op.bytes += V * h * e;

  const double layer_params = transformer_nonembedding_parameters(t) / double(t.layers);
  MemoryInventory& m = w.memory;
  m.parameter_bytes = P * e;
  if (train) {
    // One optimizer op per layer and one for the embeddings, final norm and output layer (a
    // per-block multi-tensor update).
    for (int64_t l = 0; l < t.layers; ++l) w.ops.push_back(optimizer_op(o.optimizer, layer_params, e));
    w.ops.push_back(optimizer_op(o.optimizer, P - layer_params * double(t.layers), e));
    const OptimizerCost oc = optimizer_cost(o.optimizer, e);
    m.gradient_bytes = P * e;
    m.optimizer_bytes = P * oc.state_per;
    // Layers, then outside them: the final norm's input and output (the logit layer's input),
    // the logits and their softmax kept by the cross-entropy, the embedding's dropout mask.
    m.activation_bytes = double(t.layers) * transformer_activation_bytes(t, o.batch, seq, e) +
                         2 * T * h * e + 2 * T * V * e + (drop ? T * h : 0);
    m.workspace_bytes = T * V * e;  // the logits' gradient
    w.gradient_bytes = P * e;
  } else {
    // KV cache of every layer, plus one layer's largest live set: scores and their softmax,
    // the MLP's widest tensors, the layer's input and output, and the logits.
    const double kv_cache = 2 * double(t.layers) * T * kv * e;
    const double live = 2 * B * a * s * s * e + T * f * (t.gated_mlp ? 2 : 1) * e + 2 * T * h * e +
                        T * V * e;
    m.activation_bytes = kv_cache + live;
  }
  w.description = t.name + " (" + t.citation + "): " + std::to_string(t.layers) + " layers, d " +
                  std::to_string(t.d_model) + ", " + std::to_string(t.heads) + "/" +
                  std::to_string(t.kv_heads) + " heads, vocab " + std::to_string(t.vocab) + ", " +
                  fmt_count(P) + " parameters; " + (train ? "training step" : "inference") +
                  ", batch " + std::to_string(o.batch) + " x " + std::to_string(seq) +
                  " tokens, " + lower(o.precision) + (train ? ", " + o.optimizer : "");
  return w;
}

// ---- ResNet-50 -------------------------------------------------------------------------------

Workload resnet50_workload(const AnalyticOptions& o) {
  check_batch(o.batch);
  const double e = check_precision(o.precision);
  const bool train = o.training;
  const double B = double(o.batch);
  Step st;
  double params = 0, activations = B * 3 * 224 * 224 * e, largest = 0, inference_live = 0;

  // conv k x k, stride, "same" padding (k / 2), no bias; then batch-norm (+ ReLU unless the
  // block's last conv, whose ReLU follows the residual add). Returns the output size.
  auto conv_bn = [&](int64_t cin, int64_t cout, int64_t k, int64_t stride, int64_t hw, bool relu,
                     double block_in) {
    const int64_t ho = (hw + 2 * (k / 2) - k) / stride + 1;
    const double in = B * double(cin * hw * hw), out = B * double(cout * ho * ho);
    OpCost c = gemm("conv2d", 1, B * double(ho * ho), double(cout), double(cin * k * k), e);
    c.bytes = e * (in + double(cout * cin * k * k) + out);  // direct conv: input, weights, output
    st.add(c, kGemmBwd);
    // Batch-norm: training reads the input twice (statistics, then normalise) and writes once,
    // ~8 FLOPs per element; inference folds into a scale and shift (2 FLOPs, read + write).
    if (train) st.add(elementwise("batchnorm", out, 8, 3, e), kUnaryBwd);
    else st.add(elementwise("batchnorm", out, 2, 2, e), kUnaryBwd);
    if (relu) st.add(elementwise("relu", out, 1, 2, e), kUnaryBwd);
    params += double(cout * cin * k * k) + 2 * double(cout);
    activations += 2 * out * e;  // the conv's output and batch-norm's (or ReLU's)
    largest = std::max(largest, out * e);
    inference_live = std::max(inference_live, (in + out) * e + block_in * e);
    return ho;
  };

  int64_t hw = conv_bn(3, 64, 7, 2, 224, true, 0);  // 112
  {
    const int64_t ho = (hw + 2 - 3) / 2 + 1;  // max-pool 3x3 stride 2, padding 1: 56
    const double in = B * 64 * double(hw * hw), out = B * 64 * double(ho * ho);
    st.add(elementwise("maxpool", out, 9, 0, e, e * (in + out)), kUnaryBwd);
    activations += out * e;
    hw = ho;
  }
  int64_t cin = 64;
  const int64_t widths[4] = {64, 128, 256, 512}, blocks[4] = {3, 4, 6, 3};
  for (int stage = 0; stage < 4; ++stage) {
    const int64_t w = widths[stage];
    for (int64_t i = 0; i < blocks[stage]; ++i) {
      const int64_t stride = (stage > 0 && i == 0) ? 2 : 1;
      const double block_in = B * double(cin * hw * hw);
      conv_bn(cin, w, 1, 1, hw, true, block_in);
      const int64_t ho = conv_bn(w, w, 3, stride, hw, true, block_in);
      conv_bn(w, 4 * w, 1, 1, ho, false, block_in);
      if (i == 0) conv_bn(cin, 4 * w, 1, stride, hw, false, block_in);  // projection shortcut
      const double out = B * double(4 * w * ho * ho);
      st.add(elementwise("add", out, 1, 3, e), kBinaryBwd);
      st.add(elementwise("relu", out, 1, 2, e), kUnaryBwd);
      activations += out * e;
      cin = 4 * w;
      hw = ho;
    }
  }
  // Global average pool (7x7 -> 1), the 2048 x 1000 classifier, the loss.
  st.add(elementwise("avgpool", B * 2048 * double(hw * hw), 1, 0, e,
                     e * B * 2048 * (double(hw * hw) + 1)), kUnaryBwd);
  OpCost fc = gemm("linear", 1, B, 1000, 2048, e);
  fc.flops += B * 1000, fc.bytes += 1000 * e;  // bias
  st.add(fc, kGemmBwd);
  params += 2048 * 1000 + 1000;
  if (train) st.add(elementwise("cross_entropy", B * 1000, 5, 1, e), 2.0);
  activations += B * 2048 * e + 2 * B * 1000 * e;

  Workload w;
  w.name = "resnet50";
  w.training = train;
  w.batch = o.batch;
  w.parameters = params;
  w.bytes_per_element = e;
  w.ops = st.ops(train);
  MemoryInventory& m = w.memory;
  m.parameter_bytes = params * e;
  if (train) {
    // One optimizer op per stage's parameters would be closer to a multi-tensor update; the
    // parameters are few (25.6M), so one op.
    w.ops.push_back(optimizer_op(o.optimizer, params, e));
    const OptimizerCost oc = optimizer_cost(o.optimizer, e);
    m.gradient_bytes = params * e;
    m.optimizer_bytes = params * oc.state_per;
    m.activation_bytes = activations;
    m.workspace_bytes = largest;  // the largest activation's gradient
    w.gradient_bytes = params * e;
  } else {
    m.activation_bytes = inference_live;
  }
  w.description = "resnet50 (He et al. 2016): 224x224 images, 1000 classes, " +
                  fmt_count(params) + " parameters; " + (train ? "training step" : "inference") +
                  ", batch " + std::to_string(o.batch) + ", " + lower(o.precision) +
                  (train ? ", " + o.optimizer : "");
  return w;
}

// ---- the named workloads ---------------------------------------------------------------------

std::vector<std::string> analytic_workload_names() { return {"gpt2-124m", "llama3-8b", "resnet50"}; }

bool is_analytic_workload(std::string_view name) { return !canonical(name).empty(); }

Workload analytic_workload(std::string_view name, const AnalyticOptions& o) {
  const std::string c = canonical(name);
  AnalyticOptions opts = o;
  opts.precision = lower(o.precision);
  opts.optimizer = lower(o.optimizer);
  if (c == "gpt2-124m") return transformer_workload(gpt2_124m_shape(), opts);
  if (c == "llama3-8b") return transformer_workload(llama3_8b_shape(), opts);
  if (c == "resnet50") return resnet50_workload(opts);
  throw std::invalid_argument("walls::analytic_workload: unknown workload '" + std::string(name) +
                              "' (gpt2-124m, llama3-8b or resnet50)");
}

int64_t analytic_tokens_per_sample(std::string_view name, const AnalyticOptions& o) {
  const std::string c = canonical(name);
  if (c == "gpt2-124m") return o.seq == 0 ? gpt2_124m_shape().context : o.seq;
  if (c == "llama3-8b") return o.seq == 0 ? llama3_8b_shape().context : o.seq;
  return 0;
}

}  // namespace bstack::walls
