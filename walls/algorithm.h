// Walls 11-13, the algorithm domain: how much computation (and how many bytes) the model needs.
//
//   11 Complexity  C = 6 P D; compute-optimal P* = sqrt(C / 120), D* = 20 P*
//   12 Reasoning   T = K x T_step
//   13 Fidelity    r = 32 / b (quantisation), r = 1 / (1 - s) (pruning)
//
// Contract: an input outside the model's domain (negative counts, bits outside (0, 32],
// sparsity outside [0, 1), NaN) gives NaN in every numeric result field.
#pragma once

#include "walls/units.h"

namespace bstack::walls {

// ---- wall 11: complexity ---------------------------------------------------------------------
// Training a dense transformer of P parameters on D tokens costs C ~ 6 P D FLOP: 2 P per token
// forward, 4 P backward (Kaplan et al. 2020, "Scaling laws for neural language models",
// arXiv:2001.08361, sec. 2.1). Chinchilla (Hoffmann et al. 2022, "Training compute-optimal large
// language models", arXiv:2203.15556): compute-optimal training uses ~20 tokens per parameter,
// so C = 6 P (20 P) = 120 P^2 and P* = sqrt(C / 120), D* = 20 P*.
struct ComplexityInput {
  double parameters;                // P
  double tokens;                    // D
};
struct ComplexityResult {
  Flop training;                    // 6 P D
  Ratio tokens_per_parameter;       // D / P (Chinchilla-optimal: 20)
};
ComplexityResult complexity_wall(const ComplexityInput& in);

struct ComputeOptimal {
  Ratio parameters;                 // P* = sqrt(C / 120)
  Ratio tokens;                     // D* = 20 P*
};
ComputeOptimal compute_optimal(double budget_flop);

// ---- wall 12: reasoning ----------------------------------------------------------------------
// Inference-time compute (Wei et al. 2022, "Chain-of-thought prompting elicits reasoning in
// large language models", NeurIPS; Snell et al. 2024, "Scaling LLM test-time compute optimally
// can be more effective than scaling model parameters", arXiv:2408.03314): K sequential reasoning
// steps of T_step each; a step of n generated tokens costs n x ITL (wall 4) when it is decoded.
struct ReasoningInput {
  double steps;                     // K
  double step_s;                    // T_step
};
struct ReasoningResult {
  Seconds time;                     // K x T_step
};
ReasoningResult reasoning_wall(const ReasoningInput& in);
// T_step for a step that decodes `tokens` tokens at inter-token latency itl_s.
Seconds reasoning_step_seconds(double tokens, double itl_s);

// ---- wall 13: fidelity -----------------------------------------------------------------------
// Compression ratios (Han, Mao & Dally 2016, "Deep compression", ICLR; Gholami et al. 2021,
// "A survey of quantization methods for efficient neural network inference", arXiv:2103.13630):
// b-bit weights against fp32 give r = 32 / b; pruning a fraction s of the weights gives
// r = 1 / (1 - s) if the survivors are stored without index overhead (an upper bound: sparse
// formats add indices). The two compose multiplicatively. What they cost in accuracy is
// measured, not modelled: no closed form here claims it.
struct FidelityInput {
  double bits = 32;                 // b in (0, 32]
  double sparsity = 0;              // s in [0, 1)
  double model_bytes = 0;           // fp32 size to compress (0: not computed)
};
struct FidelityResult {
  Ratio quantisation;               // 32 / b
  Ratio pruning;                    // 1 / (1 - s)
  Ratio total;                      // product
  Bytes compressed;                 // model_bytes / total
};
FidelityResult fidelity_wall(const FidelityInput& in);

}  // namespace bstack::walls
