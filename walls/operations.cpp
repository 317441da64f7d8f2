// Walls 17-20 (sources beside each declaration in operations.h).
#include "walls/operations.h"

#include <cmath>

#include "walls/check.h"

namespace bstack::walls {

using detail::kNaN;
using detail::nonneg;
using detail::positive;

CapitalResult capital_wall(const CapitalInput& in) {
  if (!nonneg(in.units) || !nonneg(in.unit_cost_usd) || !nonneg(in.power_w) || !(in.pue >= 1) ||
      !nonneg(in.lifetime_s) || !nonneg(in.electricity_usd_per_j) ||
      !nonneg(in.other_opex_usd_per_s))
    return {{kNaN}, {kNaN}, {kNaN}, {kNaN}, {kNaN}};
  const Seconds life{in.lifetime_s};
  const Usd capex = Ratio{in.units} * Usd{in.unit_cost_usd};
  const Joules energy = Ratio{in.units * in.pue} * Watts{in.power_w} * life;
  const Usd opex = energy * UsdPerJoule{in.electricity_usd_per_j} +
                   UsdPerSecond{in.other_opex_usd_per_s} * life;
  const Usd tco = capex + opex;
  const Quantity<Dim{.s = 1}> unit_seconds = Ratio{in.units} * life;
  const UsdPerSecond per = unit_seconds.value > 0 ? tco / unit_seconds : UsdPerSecond{kNaN};
  return {capex, energy, opex, tco, per};
}

SustainabilityResult sustainability_wall(const SustainabilityInput& in) {
  if (!nonneg(in.energy_j) || !(in.pue >= 1) || !nonneg(in.carbon_intensity_kg_per_j) ||
      !nonneg(in.embodied_kg))
    return {{kNaN}, {kNaN}, {kNaN}};
  const Joules facility = Joules{in.energy_j} * Ratio{in.pue};
  const KgCo2 operational = facility * KgCo2PerJoule{in.carbon_intensity_kg_per_j};
  return {facility, operational, operational + KgCo2{in.embodied_kg}};
}

Joules energy_from_power(double power_w, double seconds) {
  if (!nonneg(power_w) || !nonneg(seconds)) return {kNaN};
  return Watts{power_w} * Seconds{seconds};
}

CheckpointResult checkpoint_wall(const CheckpointInput& in) {
  if (!nonneg(in.parameters) || !nonneg(in.bytes_per_parameter) ||
      !positive(in.write_bytes_per_s) || !positive(in.interval_s))
    return {{kNaN}, {kNaN}, {kNaN}};
  const Bytes size = Ratio{in.parameters} * Bytes{in.bytes_per_parameter};
  const Seconds write = size / BytesPerSecond{in.write_bytes_per_s};
  return {size, write, write / Seconds{in.interval_s}};
}

SafetyResult safety_wall(const SafetyInput& in) {
  if (!positive(in.epsilon) || !(in.delta > 0 && in.delta < 1) ||
      !(in.sampling_rate > 0 && in.sampling_rate <= 1) || !nonneg(in.steps) ||
      std::isinf(in.steps) || !(in.lot_size >= 1) || !positive(in.clip_norm) ||
      !nonneg(in.step_s) || !(in.slowdown >= 1) || std::isinf(in.slowdown))
    return {{kNaN}, {kNaN}, {kNaN}, {kNaN}};
  // Abadi et al. 2016, Theorem 1, with c2 = 1.
  const double sigma = in.sampling_rate * std::sqrt(in.steps * std::log(1.0 / in.delta)) / in.epsilon;
  const Seconds base = Ratio{in.steps} * Seconds{in.step_s};
  return {{sigma}, {sigma * in.clip_norm / in.lot_size}, base * Ratio{in.slowdown},
          base * Ratio{in.slowdown - 1.0}};
}

}  // namespace bstack::walls
