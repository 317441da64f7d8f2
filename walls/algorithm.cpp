// Walls 11-13 (sources beside each declaration in algorithm.h).
#include "walls/algorithm.h"

#include <cmath>

#include "walls/check.h"

namespace bstack::walls {

using detail::kNaN;
using detail::nonneg;

// Kaplan et al. 2020 sec. 2.1: forward 2 P, backward 4 P FLOP per token.
constexpr double kFlopPerParamToken = 6.0;
// Hoffmann et al. 2022: ~20 tokens per parameter at the compute optimum.
constexpr double kChinchillaTokensPerParam = 20.0;

ComplexityResult complexity_wall(const ComplexityInput& in) {
  if (!nonneg(in.parameters) || !nonneg(in.tokens)) return {{kNaN}, {kNaN}};
  const Ratio per_param = in.parameters > 0 ? Ratio{in.tokens / in.parameters} : Ratio{kNaN};
  return {Flop{kFlopPerParamToken * in.parameters * in.tokens}, per_param};
}

ComputeOptimal compute_optimal(double budget_flop) {
  if (!nonneg(budget_flop)) return {{kNaN}, {kNaN}};
  // C = 6 P (20 P) = 120 P^2.
  const double p = std::sqrt(budget_flop / (kFlopPerParamToken * kChinchillaTokensPerParam));
  return {{p}, {kChinchillaTokensPerParam * p}};
}

ReasoningResult reasoning_wall(const ReasoningInput& in) {
  if (!nonneg(in.steps) || !nonneg(in.step_s)) return {{kNaN}};
  return {Ratio{in.steps} * Seconds{in.step_s}};
}

Seconds reasoning_step_seconds(double tokens, double itl_s) {
  if (!nonneg(tokens) || !nonneg(itl_s)) return {kNaN};
  return Ratio{tokens} * Seconds{itl_s};
}

FidelityResult fidelity_wall(const FidelityInput& in) {
  if (!(in.bits > 0 && in.bits <= 32) || !(in.sparsity >= 0 && in.sparsity < 1) ||
      !nonneg(in.model_bytes))
    return {{kNaN}, {kNaN}, {kNaN}, {kNaN}};
  const Ratio q{32.0 / in.bits};
  const Ratio p{1.0 / (1.0 - in.sparsity)};
  const Ratio total = q * p;
  return {q, p, total, Bytes{in.model_bytes} / total};
}

}  // namespace bstack::walls
