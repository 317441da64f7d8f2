// Named analytic workloads: GPT-2 124M, Llama-3-8B and ResNet-50 as walls::Workload -- one
// training step (forward, backward, optimizer) or one inference pass, op by op, with each op's
// FLOPs and bytes from the layer shapes, and the memory the step holds at its peak. What "another
// machine would buy me" is asked with these: `bstack walls predict --workload gpt2-124m
// --hardware h100`.
//
// Architectures (the published shapes):
//   gpt2-124m  Radford et al. 2019, "Language models are unsupervised multitask learners" (the
//              smallest model: 12 layers, d 768, 12 heads, vocab 50257, context 1024; LayerNorm
//              and linear biases, learned positions, GeLU MLP of 4d, output tied to the token
//              embedding) -> 124,439,808 parameters.
//   llama3-8b  Meta 2024, "The Llama 3 herd of models" (Grattafiori et al., arXiv 2407.21783),
//              Table 3: 32 layers, d 4096, 32 query / 8 key-value heads (GQA), SwiGLU FFN 14336,
//              vocab 128256, RoPE, RMSNorm, no biases, untied output -> 8,030,261,248 parameters.
//              Context: 8192.
//   resnet50   He et al. 2016, "Deep residual learning for image recognition" (CVPR), Table 1,
//              as torchvision builds it (v1.5: the stride-2 on the 3x3 conv of a stage's first
//              bottleneck), 224x224x3 input, 1000 classes -> 25,557,032 parameters, 4.09 G
//              multiply-adds (8.18 GFLOP) per image forward (torchvision's model table lists
//              "GFLOPS 4.09", counting multiply-adds).
//
// FLOPs (a multiply-add is 2 FLOPs):
//   linear / conv (as GEMM M x N x K)      2 M N K
//   transformer forward per step           24 B s l h^2 (1 + s / (6h)) + 2 B s h V
//       (Narayanan et al. 2021, "Efficient large-scale language model training on GPU clusters
//       using Megatron-LM", SC21, sec. 5.1: per layer 24 B s h^2 in the four weight GEMMs of a
//       4h MLP and 4 B s^2 h in the attention score and value GEMMs; logit layer 2 B s h V. With
//       GQA and a SwiGLU FFN the weight GEMMs are counted from their own shapes.)
//   backward                                2x forward for every GEMM (the input gradient and the
//       weight gradient are each a GEMM of the forward's size; Kaplan et al. 2020, "Scaling laws
//       for neural language models", sec. 2.1: backward ~ 2x forward, so a training step ~ 6 P
//       per token, C = 6 P D), so a training step = 3x forward (Narayanan's 72 B s l h^2 (...)
//       without activation recomputation).
//   element-wise / normalisation / softmax  a few FLOPs per element (counted per op below); they
//       sit on the memory roof, so their bytes matter, not their FLOPs.
//   optimizer                               per parameter: Adam ~14 (torch.optim.Adam's update:
//       two moment updates, bias corrections, sqrt, divide, step), SGD with momentum 4.
//
// Bytes (|W|, what the memory roof prices): every tensor an op reads and writes once, at the
// precision's width (fp32 4, bf16 2): a GEMM reads A and B and writes C; a conv reads its input
// and weights and writes its output (direct convolution, not the im2col matrix); an element-wise
// op reads its inputs and writes its output; the backward of a GEMM moves 2x the forward's bytes
// (two GEMMs), of a unary element-wise op 3/2 (reads the upstream gradient and the saved tensor,
// writes one gradient), of a binary one the same as forward. Optimizer: 28 B per parameter for
// Adam (reads parameter, gradient, two moments; writes parameter and moments: 7 x 4 B in fp32;
// with bf16 the fp32 master copy, the bf16 gradient and the bf16 parameter copy come to the same
// 28 B), 20 B for SGD with momentum. Attention is the naive one bstack runs (scores materialised;
// FlashAttention, Dao et al. 2022, would remove the s^2 bytes -- not modelled).
//
// Memory at the peak (MemoryInventory, walls/workload.h):
//   model states (Rajbhandari et al. 2020, "ZeRO", sec. 3.1): parameters P e, gradients P e,
//     optimizer: Adam 2 x 4 B (fp32) or 3 x 4 B with bf16 (fp32 master + two moments: ZeRO's
//     K = 12, 16 B per parameter in all), SGD momentum 4 B (fp32) or 8 B (master + buffer).
//   activations of a transformer layer (Korthikanti et al. 2022, "Reducing activation
//     recomputation in large transformer models", sec. 4.1, eq. 1: s b h (34 + 5 a s / h) bytes
//     for GPT-like layers in 16-bit with dropout), generalised here to any element width e, GQA,
//     SwiGLU and no dropout by counting the tensors kept (see transformer_activation_bytes);
//     plus the final norm's input, the logits and their softmax (B s V each).
//   activations of ResNet-50: per conv + batch-norm, the conv's output (batch-norm's input) and
//     the batch-norm/ReLU output (the next conv's input), and the network input.
//   workspace: the largest gradient alive next to the activations in backward (the logits'
//     gradient, B s V e; ResNet: the largest activation's).
//   inference: parameters, the KV cache (2 l B s h_kv e: the keys and values of every layer),
//     and the largest live set of one layer (its input and output, the attention scores, the
//     logits).
//
// Left out on purpose: tensor/pipeline parallelism and ZeRO sharding (one device holds it all),
// activation recomputation, fused kernels (each op is launched on its own), the loss's scalar
// reductions and the data path (walls 8-9).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "walls/workload.h"

namespace bstack::walls {

// Bytes per element of a precision: fp64 8, fp32 and tf32 4 (tf32 is stored as fp32), fp16 and
// bf16 2, int8 1; NaN for anything else.
double bytes_per_element(std::string_view precision);

struct AnalyticOptions {
  int64_t batch = 32;            // sequences (LMs) or images per step, >= 1
  int64_t seq = 0;               // tokens per sequence (LMs); 0: the model's context length
  std::string precision = "fp32";// fp32 | tf32 | bf16 | fp16 (parameters, activations)
  bool training = true;          // forward + backward + optimizer; false: one forward pass
  std::string optimizer = "adam";// adam | adamw | sgd (momentum)
};

// A decoder-only transformer's shape and the choices that change its parameter count.
struct TransformerShape {
  std::string name;              // "gpt2-124m"
  std::string citation;          // "Radford et al. 2019"
  int64_t layers, d_model, heads, kv_heads, d_ff, vocab, context;
  bool gated_mlp;                // SwiGLU: gate, up and down (3 matrices); else up and down
  bool biases;                   // linear layers carry biases
  bool layernorm;                // LayerNorm (weight and bias) rather than RMSNorm (weight)
  bool learned_positions;        // a context x d position table (GPT-2); false: RoPE
  bool tied_embeddings;          // the logit layer reuses the token embedding
  bool dropout;                  // dropout masks kept for backward (1 B per element)
};
TransformerShape gpt2_124m_shape();
TransformerShape llama3_8b_shape();

// Parameters of a transformer (embeddings, layers, final norm, untied output).
double transformer_parameters(const TransformerShape& t);
// The parameters outside the embeddings and the output layer (Kaplan et al.'s N).
double transformer_nonembedding_parameters(const TransformerShape& t);
// Forward FLOPs of one step of `batch` sequences of `seq` tokens: the sum over the ops built
// below, which for GPT-2's shape is Narayanan et al.'s 24 B s l h^2 (1 + s / (6h)) + 2 B s h V
// plus the element-wise ops' few FLOPs per element.
double transformer_forward_gemm_flops(const TransformerShape& t, int64_t batch, int64_t seq);
// Bytes one layer keeps for backward at element width e (Korthikanti et al. 2022's count,
// generalised): e = 2 with GPT-2's choices gives s b h (34 + 5 a s / h).
double transformer_activation_bytes(const TransformerShape& t, int64_t batch, int64_t seq,
                                    double e);

Workload transformer_workload(const TransformerShape& t, const AnalyticOptions& o);
Workload resnet50_workload(const AnalyticOptions& o);

// The named workloads: "gpt2-124m", "llama3-8b", "resnet50" (aliases "gpt2", "llama3",
// "resnet-50"; case-insensitive).
std::vector<std::string> analytic_workload_names();
bool is_analytic_workload(std::string_view name);
// Throws std::invalid_argument naming the bad value (and listing the valid names) for an
// unknown workload, precision or optimizer, a batch < 1, or a sequence outside [1, context].
Workload analytic_workload(std::string_view name, const AnalyticOptions& o);
// Tokens per sample of a named workload (the sequence length for LMs, 0 for ResNet-50): what
// turns samples/s into tokens/s.
int64_t analytic_tokens_per_sample(std::string_view name, const AnalyticOptions& o);

}  // namespace bstack::walls
