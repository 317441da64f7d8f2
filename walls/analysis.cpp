// Walls 21-22 (sources beside each declaration in analysis.h).
#include "walls/analysis.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "walls/check.h"

namespace bstack::walls {

using detail::fraction;
using detail::kNaN;
using detail::nonneg;
using detail::positive;

SensitivityResult sensitivity(const TimeModel& model, const std::vector<std::string>& names,
                              const std::vector<double>& values, double relative_step) {
  if (!model) throw std::invalid_argument("walls::sensitivity: empty time model");
  if (names.size() != values.size())
    throw std::invalid_argument("walls::sensitivity: " + std::to_string(names.size()) +
                                " names but " + std::to_string(values.size()) + " values");
  if (!(relative_step > 0 && relative_step < 1))
    throw std::invalid_argument("walls::sensitivity: relative_step " +
                                std::to_string(relative_step) + " is outside (0, 1)");
  SensitivityResult r;
  r.time = model(values);
  const bool base_ok = std::isfinite(r.time) && r.time != 0;
  std::vector<double> x = values;
  for (size_t i = 0; i < values.size(); ++i) {
    Sensitivity s{names[i], values[i], kNaN, kNaN, kNaN, kNaN};
    if (values[i] != 0 && std::isfinite(values[i])) {
      x[i] = values[i] * (1 + relative_step);
      s.time_up = model(x);
      x[i] = values[i] * (1 - relative_step);
      s.time_down = model(x);
      x[i] = values[i];
      if (std::isfinite(s.time_up) && std::isfinite(s.time_down)) {
        const double diff = s.time_up - s.time_down;
        s.derivative = diff / (2 * relative_step * values[i]);
        if (base_ok) s.elasticity = diff / (2 * relative_step * r.time);
      }
    }
    r.ranked.push_back(s);
  }
  // Largest |elasticity| first; NaN after every number; ties keep the caller's order.
  std::stable_sort(r.ranked.begin(), r.ranked.end(), [](const Sensitivity& a, const Sensitivity& b) {
    const bool an = std::isnan(a.elasticity), bn = std::isnan(b.elasticity);
    if (an || bn) return !an && bn;
    return std::abs(a.elasticity) > std::abs(b.elasticity);
  });
  if (!r.ranked.empty() && std::isfinite(r.ranked[0].elasticity) && r.ranked[0].elasticity != 0)
    r.binding = r.ranked[0].name;
  return r;
}

SynthesisResult synthesis_wall(const SynthesisInput& in) {
  if (!nonneg(in.work_flop) || !nonneg(in.bytes_moved) || !positive(in.target_s) ||
      !fraction(in.compute_efficiency) || !fraction(in.memory_efficiency))
    return {{kNaN}, {kNaN}, {kNaN}};
  const Seconds t{in.target_s};
  const BytesPerSecond bw = Bytes{in.bytes_moved} / (t * Ratio{in.memory_efficiency});
  const FlopPerSecond peak = Flop{in.work_flop} / (t * Ratio{in.compute_efficiency});
  const FlopPerByte intensity =
      in.bytes_moved > 0 ? Flop{in.work_flop} / Bytes{in.bytes_moved} : FlopPerByte{kNaN};
  return {bw, peak, intensity};
}

bool meets(const SynthesisResult& need, double peak_flops_per_s, double bandwidth_bytes_per_s) {
  return peak_flops_per_s >= need.peak.value && bandwidth_bytes_per_s >= need.bandwidth.value;
}

}  // namespace bstack::walls
