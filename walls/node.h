// Walls 1-7, the node domain: what one device (accelerator, CPU, MCU) can do in isolation.
//
//   1 Compute      T = OPs / (Peak x eta)
//   2 Memory       T = |W| / BW of the level the working set lives in (and whether it fits)
//   3 Software     eta = achieved / peak, and eta built up from kernel efficiency, occupancy and
//                  per-launch framework overhead
//   4 Serving      TTFT = OPs_prefill / (Peak x eta); ITL = |W| / BW
//   5 Batching     KV = 2 x L x H x D x ceil(S/p) x p x B x b   (paged KV cache)
//   6 Streaming    T_layer = max(|W| / BW_inject, 2 |W| B / (Peak x eta))
//   7 Tail latency M/M/c (Erlang C): P(wait), mean wait, and the p-quantile of response time
//
// The roofline (Williams, Waterman & Patterson 2009, "Roofline: an insightful visual performance
// model for multicore architectures", CACM 52(4)) joins walls 1 and 2: attainable FLOP/s =
// min(Peak, I x BW) at arithmetic intensity I (FLOP/B).
//
// Contract for every function here: an input outside the model's domain (negative sizes or
// times, zero or negative rates, efficiency outside (0, 1], NaN) gives NaN in every numeric
// result field (and false in flags) -- never a plausible wrong number. Queues at utilisation
// >= 1 are in the domain: their waits are +infinity (documented per function).
#pragma once

#include <vector>

#include "walls/units.h"

namespace bstack::walls {

// ---- wall 1: compute -------------------------------------------------------------------------
// Roofline's compute roof (Williams et al. 2009).
struct ComputeInput {
  double work_flop;           // OPs: operations the job performs
  double peak_flops_per_s;    // Peak: the device's peak for this precision
  double efficiency = 1.0;    // eta in (0, 1]: achieved / peak (wall 3)
};
struct ComputeResult {
  Seconds time;               // OPs / (Peak x eta)
  FlopPerSecond achieved;     // Peak x eta
};
ComputeResult compute_wall(const ComputeInput& in);

// ---- wall 2: memory --------------------------------------------------------------------------
// Roofline's memory roof (Williams et al. 2009). Capacity: the working set must fit the level
// whose bandwidth is used.
struct MemoryInput {
  double bytes_moved;              // |W|: bytes read + written at this level
  double bandwidth_bytes_per_s;    // BW of the level (calibrate: <level>_triad_bytes_per_s)
  double working_set_bytes = 0;    // resident footprint (0: not checked)
  double capacity_bytes = 0;       // capacity of the level (0 or inf: not checked)
};
struct MemoryResult {
  Seconds time;                    // |W| / BW
  bool fits = false;               // working set <= capacity
};
MemoryResult memory_wall(const MemoryInput& in);

// One level of a memory hierarchy, fastest first (L1, L2, L3, DRAM; or SRAM, PSRAM, flash).
struct MemoryLevel {
  double capacity_bytes;           // +inf for "unbounded" (the last level)
  double bandwidth_bytes_per_s;
};
// Index of the first (fastest) level that holds working_set_bytes, or -1 if none does (or the
// list is empty / the size invalid). Levels are taken in the given order.
int memory_level_for(double working_set_bytes, const std::vector<MemoryLevel>& levels);

struct RooflineInput {
  double intensity_flop_per_byte;  // I = OPs / |W|
  double peak_flops_per_s;
  double bandwidth_bytes_per_s;
};
struct RooflineResult {
  FlopPerSecond attainable;        // min(Peak, I x BW)
  FlopPerByte ridge;               // Peak / BW: the intensity where the roofs meet
  bool memory_bound = false;       // I < ridge
};
RooflineResult roofline(const RooflineInput& in);

// ---- wall 3: software ------------------------------------------------------------------------
// eta = achieved / peak: model FLOPs utilisation (Chowdhery et al. 2022, "PaLM: scaling language
// modeling with pathways", appendix B) when achieved counts model FLOPs only.
Ratio software_efficiency(double achieved_flops_per_s, double peak_flops_per_s);

// eta from its parts: the kernels run at kernel_efficiency x occupancy of peak, and every kernel
// launch costs dispatch_s of framework time that does no useful work (the "overhead" regime:
// He, "Making deep learning go brrrr from first principles", 2022; calibrate's dispatch_s).
//   T = OPs / (Peak x kernel_eff x occupancy) + launches x dispatch_s,  eta = OPs / (Peak x T)
struct SoftwareInput {
  double work_flop;
  double peak_flops_per_s;
  double kernel_efficiency = 1.0;   // (0, 1]: fraction of peak inside a kernel (GEMM efficiency)
  double occupancy = 1.0;           // (0, 1]: fraction of the device the kernels keep busy
  double launches = 0;              // kernel / operator launches
  double dispatch_s = 0;            // framework time per launch
};
struct SoftwareResult {
  Seconds time;
  Seconds overhead;                 // launches x dispatch_s
  Ratio efficiency;                 // eta
};
SoftwareResult software_wall(const SoftwareInput& in);

// ---- wall 4: serving -------------------------------------------------------------------------
// Autoregressive transformer inference (Pope et al. 2022, "Efficiently scaling transformer
// inference", arXiv:2211.05102, sec. 2): a forward pass costs ~2 x P FLOP per token (matmuls
// only; attention's S^2 term is left out). Prefill processes the prompt's tokens in parallel and
// is compute-bound; each decode step reads every weight (and the KV cache) once to produce one
// token per sequence and is memory-bound until the batch is large.
//   TTFT = 2 P S_prompt B / (Peak x eta)
//   ITL  = max((P b_w + KV) / BW,  2 P B / (Peak x eta))
struct ServingInput {
  double parameters;                // P
  double bytes_per_parameter;       // b_w (2 for bf16, 1 for int8)
  double prompt_tokens;             // S_prompt per sequence
  double batch = 1;                 // sequences decoded together
  double kv_cache_bytes = 0;        // KV cache read per decode step (wall 5)
  double peak_flops_per_s;
  double bandwidth_bytes_per_s;
  double efficiency = 1.0;          // eta for the compute terms
};
struct ServingResult {
  Seconds ttft;                     // time to first token (prefill)
  Seconds itl;                      // inter-token latency (one decode step)
  Seconds itl_memory;               // (P b_w + KV) / BW
  Seconds itl_compute;              // 2 P B / (Peak x eta)
  PerSecond tokens_per_s;           // B / ITL, all sequences together
  bool decode_memory_bound = false;
};
ServingResult serving_wall(const ServingInput& in);

// ---- wall 5: batching ------------------------------------------------------------------------
// PagedAttention (Kwon et al. 2023, "Efficient memory management for large language model
// serving with PagedAttention", SOSP): K and V for every layer, KV head and token, allocated in
// blocks of p tokens, so each sequence wastes less than one block; a static allocator reserves
// the maximum sequence length for every sequence instead.
//   KV_paged  = 2 L H D ceil(S/p) p B b
//   KV_static = 2 L H D S_max B b
struct BatchingInput {
  double layers;                    // L
  double kv_heads;                  // H (KV heads: fewer than query heads under GQA/MQA)
  double head_dim;                  // D
  double seq_tokens;                // S: tokens held per sequence now
  double page_tokens = 16;          // p: tokens per block (vLLM's default block size is 16)
  double batch = 1;                 // B
  double bytes_per_element = 2;     // b
  double max_seq_tokens = 0;        // S_max for the static allocator (0: = seq_tokens)
  double kv_capacity_bytes = 0;     // memory left for KV after weights (0: not computed)
};
struct BatchingResult {
  Bytes paged;                      // KV_paged
  Bytes exact;                      // 2 L H D S B b: no rounding at all
  Bytes static_alloc;               // KV_static
  Ratio paged_waste;                // (paged - exact) / paged: < one block per sequence
  Ratio static_waste;               // (static - exact) / static
  Ratio max_batch;                  // floor(kv_capacity / paged per sequence); NaN if no capacity
};
BatchingResult batching_wall(const BatchingInput& in);

// ---- wall 6: streaming -----------------------------------------------------------------------
// Weight streaming (Cerebras Systems, "Weight streaming execution", 2022/2024 white paper; the
// MLSys-im Streaming wall): weights live off-chip and stream in layer by layer over an injection
// link while activations stay on-chip; a layer takes the longer of streaming its weights and
// computing on them, and the two overlap.
//   T_layer = max(P_layer b / BW_inject, 2 P_layer B / (Peak x eta))
// The batch at which they balance: B* = Peak x eta x b / (2 BW_inject).
struct StreamingInput {
  double layer_parameters;          // P_layer
  double bytes_per_parameter;       // b
  double batch_tokens;              // B: tokens (samples) each streamed weight is used for
  double inject_bytes_per_s;        // BW_inject
  double peak_flops_per_s;
  double efficiency = 1.0;
};
struct StreamingResult {
  Seconds time;                     // T_layer
  Seconds stream;                   // P_layer b / BW_inject
  Seconds compute;                  // 2 P_layer B / (Peak x eta)
  Ratio balance_batch;              // B*
  bool stream_bound = false;
};
StreamingResult streaming_wall(const StreamingInput& in);

// ---- wall 7: tail latency --------------------------------------------------------------------
// M/M/c queue: Poisson arrivals at lambda, c servers each serving at mu (exponential service).
// Erlang C (Kleinrock 1975, "Queueing Systems, Volume 1: Theory", sec. 3.5, M/M/m, Erlang's C
// formula):
//   A = lambda/mu, rho = A/c,  C(c, A) = P(an arrival waits)
//   E[W_q] = C / (c mu - lambda)
// Response time T = W_q + S: W_q = 0 with probability 1 - C, else Exp(c mu - lambda); S ~ Exp(mu),
// so P(T > t) = (1 - C) e^{-mu t} + C (theta e^{-mu t} - mu e^{-theta t}) / (theta - mu),
// theta = c mu - lambda (the limit (1 + mu t) e^{-mu t} when theta = mu). The quantile is found by
// bisection on that exact tail. "The Tail at Scale" (Dean & Barroso 2013, CACM 56(2)) for why
// P99, not the mean, is what users feel.
// rho >= 1: no steady state; waits and latency quantiles are +inf, p_wait = 1.
struct TailLatencyInput {
  double arrival_per_s;             // lambda
  double service_per_s;             // mu, per server
  int servers = 1;                  // c >= 1
  double quantile = 0.99;           // in (0, 1)
};
struct TailLatencyResult {
  Ratio utilisation;                // rho
  Ratio p_wait;                     // Erlang C
  Seconds mean_wait;                // E[W_q]
  Seconds mean_latency;             // E[W_q] + 1/mu
  Seconds quantile_latency;         // t with P(T <= t) = quantile
};
TailLatencyResult tail_latency_wall(const TailLatencyInput& in);

// Erlang C alone, by the numerically stable Erlang B recursion
// B(0) = 1, B(k) = A B(k-1) / (k + A B(k-1)); C = B / (1 - rho (1 - B)). NaN outside the domain,
// 1 when rho >= 1.
double erlang_c(int servers, double offered_load);

}  // namespace bstack::walls
