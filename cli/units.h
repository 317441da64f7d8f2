// A value in the unit a person reads (GB/s, GFLOP/s, µs, MiB, GHz), from the SI value and unit a
// profile stores (calibrate/profile.h: "B/s", "FLOP/s", "s", "B", "Hz", ...).
#pragma once

#include <cmath>
#include <string>

#include <fmt/format.h>

namespace bstack::cli {

inline std::string human(double v, const std::string& unit) {
  if (std::isnan(v)) return "n/a";
  if (unit == "B/s") return fmt::format("{:.2f} GB/s", v / 1e9);
  if (unit == "FLOP/s") return fmt::format("{:.1f} GFLOP/s", v / 1e9);
  if (unit == "OP/s") return fmt::format("{:.1f} GOP/s", v / 1e9);
  if (unit == "Hz") return fmt::format("{:.3f} GHz", v / 1e9);
  if (unit == "samples/s") return fmt::format("{:.0f} samples/s", v);
  if (unit == "W") return fmt::format("{:.1f} W", v);
  if (unit == "B") {
    if (v >= 1 << 30) return fmt::format("{:.2f} GiB", v / (1 << 30));
    if (v >= 1 << 20) return fmt::format("{:.1f} MiB", v / (1 << 20));
    return fmt::format("{:.0f} KiB", v / 1024);
  }
  if (unit == "s") {
    if (v < 1e-6) return fmt::format("{:.1f} ns", v * 1e9);
    if (v < 1e-3) return fmt::format("{:.2f} µs", v * 1e6);
    return fmt::format("{:.2f} ms", v * 1e3);
  }
  if (unit == "1") return fmt::format("{:.3f}", v);
  return fmt::format("{:.4g} {}", v, unit);
}

}  // namespace bstack::cli
