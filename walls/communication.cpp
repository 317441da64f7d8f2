// Wall 14, communication: the alpha-beta formulas (sources in communication.h).
#include "walls/communication.h"

#include <cmath>
#include <limits>

namespace bstack::walls {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool valid_link(double bytes, double alpha_s, double beta) {
  return bytes >= 0 && alpha_s >= 0 && beta > 0 && std::isfinite(alpha_s) && !std::isnan(bytes) &&
         !std::isnan(beta);
}

}  // namespace

double hockney_seconds(const PointToPoint& p) {
  if (!valid_link(p.bytes, p.alpha_s, p.beta_bytes_per_s)) return kNaN;
  return p.alpha_s + p.bytes / p.beta_bytes_per_s;
}

double allreduce_bus_factor(int ranks) {
  if (ranks < 1) return kNaN;
  return 2.0 * (ranks - 1) / ranks;
}

double ring_allreduce_seconds(const RingAllreduce& r) {
  if (r.ranks < 1 || !valid_link(r.bytes, r.alpha_s, r.beta_bytes_per_s)) return kNaN;
  // Reduce-scatter then all-gather: 2(N-1) steps, each one message of M/N bytes per rank.
  const double steps = 2.0 * (r.ranks - 1);
  return steps * r.alpha_s + allreduce_bus_factor(r.ranks) * r.bytes / r.beta_bytes_per_s;
}

double algorithm_bandwidth(double bytes, double seconds) {
  if (!(bytes >= 0) || !(seconds > 0)) return kNaN;
  return bytes / seconds;
}

double allreduce_bus_bandwidth(double algbw_bytes_per_s, int ranks) {
  if (!(algbw_bytes_per_s >= 0)) return kNaN;
  return algbw_bytes_per_s * allreduce_bus_factor(ranks);
}

}  // namespace bstack::walls
