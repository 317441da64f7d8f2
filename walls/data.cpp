// Walls 8-10 (sources beside each declaration in data.h).
#include "walls/data.h"

#include "walls/check.h"

namespace bstack::walls {

using detail::fraction;
using detail::kNaN;
using detail::nonneg;
using detail::positive;

IngestionResult ingestion_wall(const IngestionInput& in) {
  if (!nonneg(in.device_samples_per_s) || !nonneg(in.bytes_per_sample) ||
      !positive(in.storage_bytes_per_s))
    return {{kNaN}, {kNaN}, {kNaN}, {kNaN}, false};
  const PerSecond device{in.device_samples_per_s};
  const BytesPerSecond supply{in.storage_bytes_per_s};
  const BytesPerSecond demand = device * Bytes{in.bytes_per_sample};
  const Ratio rho = demand / supply;
  const Ratio stall = rho.value > 1 ? Ratio{1.0} - Ratio{1.0} / rho : Ratio{0};
  // Samples carry no bytes: storage never limits.
  const PerSecond fed = in.bytes_per_sample > 0 ? supply / Bytes{in.bytes_per_sample} : device;
  return {demand, rho, stall, fed < device ? fed : device, rho.value > 1};
}

TransformationResult transformation_wall(const TransformationInput& in) {
  if (!nonneg(in.batch_samples) || !nonneg(in.units_per_sample) ||
      !positive(in.throughput_units_per_s) || !positive(in.workers) || !nonneg(in.device_step_s))
    return {{kNaN}, {kNaN}, false};
  const Seconds t =
      Ratio{in.batch_samples * in.units_per_sample} / PerSecond{in.throughput_units_per_s * in.workers};
  const Seconds device{in.device_step_s};
  return {t, t < device ? device : t, t > device};
}

LocalityResult locality_wall(const LocalityInput& in) {
  if (!nonneg(in.link_bytes_per_s) || !fraction(in.bisection_fraction) ||
      !(in.oversubscription >= 1) || std::isinf(in.oversubscription))
    return {{kNaN}};
  return {BytesPerSecond{in.link_bytes_per_s} * Ratio{in.bisection_fraction} /
          Ratio{in.oversubscription}};
}

}  // namespace bstack::walls
