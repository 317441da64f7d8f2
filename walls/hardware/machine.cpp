// A registry device as a predictor Machine (assumptions and sources in machine.h).
#include "walls/hardware/machine.h"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace bstack::walls {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool positive_finite(double x) { return x > 0 && std::isfinite(x); }

bool contains(std::string_view s, std::string_view what) {
  return s.find(what) != std::string_view::npos;
}

}  // namespace

Machine machine_from_hardware(const Hardware& h, std::string_view precision,
                              const HardwareAssumptions& a) {
  const std::string dev(h.name);
  if (!(a.gemm_efficiency > 0 && a.gemm_efficiency <= 1))
    throw std::invalid_argument("walls::machine_from_hardware: GEMM efficiency " +
                                std::to_string(a.gemm_efficiency) + " is outside (0, 1]");
  if (!(a.dispatch_s >= 0 && std::isfinite(a.dispatch_s)))
    throw std::invalid_argument("walls::machine_from_hardware: dispatch " +
                                std::to_string(a.dispatch_s) + " s is not a time");
  const Figure* peak = peak_for(h, precision);
  if (!peak)
    throw std::invalid_argument("walls::machine_from_hardware: unknown precision '" +
                                std::string(precision) +
                                "' (fp64, fp32, tf32, fp16, bf16 or int8)");
  if (!positive_finite(peak->value)) {
    std::string have;
    for (const char* p : {"fp64", "fp32", "tf32", "fp16", "bf16", "int8"})
      if (positive_finite(peak_for(h, p)->value)) have += (have.empty() ? "" : ", ") + std::string(p);
    throw std::invalid_argument(dev + " has no published " + std::string(precision) + " peak (" +
                                std::string(peak->source) + "); it publishes: " +
                                (have.empty() ? "none" : have));
  }

  Machine m;
  m.name = dev;
  m.peak_flops_per_s = peak->value;
  m.peak_flops_per_s_1t = peak->value;  // a device, not threads: the same
  m.threads = 1;
  for (const MemorySpec& s : h.memory)
    if (positive_finite(s.capacity_bytes.value) && positive_finite(s.bandwidth_bytes_per_s.value))
      m.levels.push_back({std::string(s.name), s.capacity_bytes.value, s.bandwidth_bytes_per_s.value});
  if (m.levels.empty())
    throw std::invalid_argument(dev + " publishes no memory bandwidth for any level; the memory "
                                "roof cannot be priced");
  // One point: efficiency_for clamps to it at every size, so eta is the same for every GEMM.
  m.gemm_efficiency = {{1.0, a.gemm_efficiency}};
  m.elementwise_efficiency = 1.0;
  m.dispatch_s = a.dispatch_s;
  m.dispatch_autograd_s = 2 * a.dispatch_s;

  // Wall 14's alpha and beta from the device-to-device link (machine.h).
  m.alpha_s = kNaN;
  m.beta_bytes_per_s = kNaN;
  const double link = h.interconnect_bytes_per_s.value;
  if (positive_finite(link)) {
    if (contains(h.interconnect, "NVLink")) {
      m.beta_bytes_per_s = link / 2;  // the datasheet sums both directions
      m.alpha_s = 500e-9;             // MLSys-im tech/interconnect.yaml: NVLink latency 500 ns
    } else if (contains(h.interconnect, "Ethernet")) {
      m.beta_bytes_per_s = link;      // per direction, full duplex
      m.alpha_s = 50e-6;              // MLSys-im defaults.py: TCP_LATENCY_US = 50
    }
  }
  return m;
}

double hardware_memory_capacity(const Hardware& h) {
  double best = kNaN;
  for (const MemorySpec& s : h.memory) {
    if (s.name == "flash" || !positive_finite(s.capacity_bytes.value)) continue;
    if (std::isnan(best) || s.capacity_bytes.value > best) best = s.capacity_bytes.value;
  }
  return best;
}

}  // namespace bstack::walls
