// Small helpers every calibrate section uses: the clock its timings read, and sizes as a person
// reads them in method strings, notes and plot labels.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace bstack::calibrate {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// "4 B", "48 KiB", "1.41 MiB", "1.88 GiB" (three significant digits, binary prefixes).
inline std::string human_bytes(double b) {
  if (b >= double(1 << 30)) return fmt::format("{:.3g} GiB", b / double(1 << 30));
  if (b >= double(1 << 20)) return fmt::format("{:.3g} MiB", b / double(1 << 20));
  if (b >= 1024) return fmt::format("{:.3g} KiB", b / 1024);
  return fmt::format("{:.3g} B", b);
}

// The median of v (the mean of the middle two for an even count); NaN when v is empty.
inline double median(std::vector<double> v) {
  if (v.empty()) return std::nan("");
  const size_t h = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(h), v.end());
  const double hi = v[h];
  if (v.size() % 2) return hi;
  return 0.5 * (hi + *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(h)));
}

}  // namespace bstack::calibrate
