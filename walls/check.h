// Internal to walls/: the domain checks every wall runs before its formula (see the contract at
// the top of each wall header: outside the domain -> NaN).
#pragma once

#include <cmath>
#include <limits>

namespace bstack::walls::detail {

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// x >= 0 (+inf allowed; NaN is not).
inline bool nonneg(double x) { return x >= 0; }
// 0 < x < inf.
inline bool positive(double x) { return x > 0 && std::isfinite(x); }
// 0 < x <= 1: an efficiency or utilisation factor.
inline bool fraction(double x) { return x > 0 && x <= 1; }

}  // namespace bstack::walls::detail
