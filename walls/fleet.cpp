// Walls 15-16 (sources beside each declaration in fleet.h).
#include "walls/fleet.h"

#include <cmath>
#include <limits>

#include "walls/check.h"

namespace bstack::walls {

using detail::kNaN;
using detail::nonneg;
using detail::positive;

FragilityResult fragility_wall(const FragilityInput& in) {
  if (!(in.nodes >= 1) || std::isinf(in.nodes) || !positive(in.node_mtbf_s) ||
      !nonneg(in.checkpoint_write_s) || std::isinf(in.checkpoint_write_s))
    return {{kNaN}, {kNaN}, {kNaN}, {kNaN}};
  const Seconds m = Seconds{in.node_mtbf_s} / Ratio{in.nodes};
  const Seconds delta{in.checkpoint_write_s};
  // sqrt of s^2 is s: the unit system has no sqrt, so square-root the value of delta x M and
  // check the dimension of the product it came from.
  const Quantity<Dim{.s = 2}> two_delta_m = 2.0 * delta * m;
  const Seconds young{std::sqrt(two_delta_m.value)};
  Seconds daly = m;
  if (delta < 2.0 * m) {
    const double x = (delta / (2.0 * m)).value;
    daly = young * (1.0 + std::sqrt(x) / 3.0 + x / 9.0) - delta;
  }
  const Ratio lost = young.value > 0 ? delta / young + young / (2.0 * m) : Ratio{0};
  return {m, young, daly, lost};
}

MultiTenantResult multi_tenant_wall(const MultiTenantInput& in) {
  if (!nonneg(in.arrival_per_s) || std::isinf(in.arrival_per_s) || !positive(in.service_per_s) ||
      !nonneg(in.service_scv) || std::isinf(in.service_scv))
    return {{kNaN}, {kNaN}, {kNaN}, {kNaN}};
  const PerSecond lambda{in.arrival_per_s}, mu{in.service_per_s};
  const Ratio rho = lambda / mu;
  constexpr double kInf = std::numeric_limits<double>::infinity();
  if (rho.value >= 1) return {rho, {kInf}, {kInf}, {kInf}};
  const Seconds wq = (rho * (1.0 + in.service_scv)) / (2.0 * mu * (Ratio{1.0} - rho));
  return {rho, wq, wq + Ratio{1.0} / mu, lambda * wq};
}

}  // namespace bstack::walls
