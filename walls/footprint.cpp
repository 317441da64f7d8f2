#include "walls/footprint.h"

#include <cmath>
#include <limits>
#include <stdexcept>

namespace bstack::walls {
namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool ok(double x) { return std::isfinite(x) && x >= 0; }

MemoryInventory nan_inventory() { return {kNaN, kNaN, kNaN, kNaN, kNaN}; }
}  // namespace

double optimizer_states_per_parameter(const std::string& optimizer) {
  if (optimizer == "adam" || optimizer == "adamw") return 2;  // m and v (Kingma & Ba 2015)
  if (optimizer == "sgd") return 1;                           // the momentum buffer
  if (optimizer == "sgd-plain" || optimizer == "none") return 0;
  throw std::invalid_argument("optimizer_states_per_parameter: unknown optimizer '" + optimizer +
                              "' (adam, adamw, sgd, sgd-plain, none)");
}

MemoryInventory model_states(double parameters, double bytes_per_element, double optimizer_states,
                             bool training) {
  if (!ok(parameters) || !ok(bytes_per_element) || !ok(optimizer_states)) return nan_inventory();
  MemoryInventory m;
  m.parameter_bytes = parameters * bytes_per_element;
  if (training) {
    m.gradient_bytes = parameters * bytes_per_element;
    m.optimizer_bytes = optimizer_states * parameters * bytes_per_element;
  }
  return m;
}

MemoryInventory extrapolate(const MemoryInventory& a, double b1, const MemoryInventory& b, double b2,
                            double batch) {
  if (b1 == b2) throw std::invalid_argument("extrapolate: the two batch sizes are equal");
  if (!std::isfinite(b1) || !std::isfinite(b2) || !std::isfinite(batch) || batch < 0) return nan_inventory();
  const double t = (batch - b1) / (b2 - b1);
  auto part = [&](double x1, double x2) {
    if (!ok(x1) || !ok(x2)) return kNaN;
    const double v = x1 + (x2 - x1) * t;
    // Rounding may leave -1e-9 where the part is 0 at every batch; a truly negative part is not.
    if (v < 0) return v > -1e-6 * std::max(x1, x2) - 1e-9 ? 0.0 : kNaN;
    return v;
  };
  return {part(a.parameter_bytes, b.parameter_bytes), part(a.gradient_bytes, b.gradient_bytes),
          part(a.optimizer_bytes, b.optimizer_bytes), part(a.activation_bytes, b.activation_bytes),
          part(a.workspace_bytes, b.workspace_bytes)};
}

PeakMemory peak_at_batch(const std::vector<MemoryInventory>& at_b1, double b1,
                         const std::vector<MemoryInventory>& at_b2, double b2, double batch) {
  if (at_b1.size() != at_b2.size())
    throw std::invalid_argument("peak_at_batch: the two batch sizes have different numbers of moments");
  PeakMemory best;
  best.memory = nan_inventory();
  double top = -1;
  for (size_t i = 0; i < at_b1.size(); ++i) {
    const MemoryInventory m = extrapolate(at_b1[i], b1, at_b2[i], b2, batch);
    const double t = m.total();
    if (std::isnan(t)) return {nan_inventory(), -1};  // one unknown moment: the peak is unknown
    if (t > top) {
      top = t;
      best = {m, static_cast<int>(i)};
    }
  }
  return best;
}

MemoryFit memory_fit(double required, double capacity) {
  MemoryFit f;
  f.required_bytes = required;
  f.capacity_bytes = capacity;
  if (!ok(required) || std::isnan(capacity) || capacity <= 0) {
    f.headroom_bytes = f.times = kNaN;
    f.fits = false;
    return f;
  }
  f.fits = required <= capacity;
  f.headroom_bytes = capacity - required;  // +inf for an unbounded capacity
  f.times = std::isinf(capacity) ? 0 : required / capacity;
  return f;
}

}  // namespace bstack::walls
