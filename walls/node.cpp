// Walls 1-7 (sources beside each declaration in node.h).
#include "walls/node.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "walls/check.h"

namespace bstack::walls {

using detail::kNaN;
using detail::nonneg;
using detail::positive;
using detail::fraction;

constexpr double kInf = std::numeric_limits<double>::infinity();

ComputeResult compute_wall(const ComputeInput& in) {
  if (!nonneg(in.work_flop) || !positive(in.peak_flops_per_s) || !fraction(in.efficiency))
    return {{kNaN}, {kNaN}};
  const FlopPerSecond achieved = FlopPerSecond{in.peak_flops_per_s} * Ratio{in.efficiency};
  return {Flop{in.work_flop} / achieved, achieved};
}

MemoryResult memory_wall(const MemoryInput& in) {
  if (!nonneg(in.bytes_moved) || !positive(in.bandwidth_bytes_per_s) ||
      !nonneg(in.working_set_bytes) || !nonneg(in.capacity_bytes))
    return {{kNaN}, false};
  const Seconds t = Bytes{in.bytes_moved} / BytesPerSecond{in.bandwidth_bytes_per_s};
  const bool unchecked = in.capacity_bytes == 0 || in.working_set_bytes == 0;
  return {t, unchecked || in.working_set_bytes <= in.capacity_bytes};
}

int memory_level_for(double working_set_bytes, const std::vector<MemoryLevel>& levels) {
  if (!nonneg(working_set_bytes)) return -1;
  for (size_t i = 0; i < levels.size(); ++i)
    if (working_set_bytes <= levels[i].capacity_bytes) return static_cast<int>(i);
  return -1;
}

RooflineResult roofline(const RooflineInput& in) {
  if (!nonneg(in.intensity_flop_per_byte) || !positive(in.peak_flops_per_s) ||
      !positive(in.bandwidth_bytes_per_s))
    return {{kNaN}, {kNaN}, false};
  const FlopPerSecond peak{in.peak_flops_per_s};
  const BytesPerSecond bw{in.bandwidth_bytes_per_s};
  const FlopPerByte intensity{in.intensity_flop_per_byte};
  const FlopPerSecond memory_roof = intensity * bw;
  const FlopPerByte ridge = peak / bw;
  return {memory_roof < peak ? memory_roof : peak, ridge, intensity < ridge};
}

Ratio software_efficiency(double achieved_flops_per_s, double peak_flops_per_s) {
  if (!nonneg(achieved_flops_per_s) || !positive(peak_flops_per_s)) return {kNaN};
  return FlopPerSecond{achieved_flops_per_s} / FlopPerSecond{peak_flops_per_s};
}

SoftwareResult software_wall(const SoftwareInput& in) {
  if (!nonneg(in.work_flop) || !positive(in.peak_flops_per_s) ||
      !fraction(in.kernel_efficiency) || !fraction(in.occupancy) || !nonneg(in.launches) ||
      !nonneg(in.dispatch_s))
    return {{kNaN}, {kNaN}, {kNaN}};
  const FlopPerSecond peak{in.peak_flops_per_s};
  const Seconds kernels = Flop{in.work_flop} / (peak * Ratio{in.kernel_efficiency * in.occupancy});
  const Seconds overhead = Ratio{in.launches} * Seconds{in.dispatch_s};
  const Seconds t = kernels + overhead;
  // No work and no overhead: eta is undefined (0/0); report NaN rather than 1 or 0.
  const Ratio eta = t.value > 0 ? Flop{in.work_flop} / (peak * t) : Ratio{kNaN};
  return {t, overhead, eta};
}

ServingResult serving_wall(const ServingInput& in) {
  if (!nonneg(in.parameters) || !positive(in.bytes_per_parameter) ||
      !nonneg(in.prompt_tokens) || !positive(in.batch) || !nonneg(in.kv_cache_bytes) ||
      !positive(in.peak_flops_per_s) || !positive(in.bandwidth_bytes_per_s) ||
      !fraction(in.efficiency))
    return {{kNaN}, {kNaN}, {kNaN}, {kNaN}, {kNaN}, false};
  const FlopPerSecond achieved = FlopPerSecond{in.peak_flops_per_s} * Ratio{in.efficiency};
  const BytesPerSecond bw{in.bandwidth_bytes_per_s};
  // Pope et al. sec. 2: 2 FLOP per parameter per token (one multiply-add).
  const Flop prefill{2.0 * in.parameters * in.prompt_tokens * in.batch};
  const Seconds ttft = prefill / achieved;
  const Bytes per_step{in.parameters * in.bytes_per_parameter + in.kv_cache_bytes};
  const Seconds itl_mem = per_step / bw;
  const Seconds itl_cmp = Flop{2.0 * in.parameters * in.batch} / achieved;
  const Seconds itl = itl_mem < itl_cmp ? itl_cmp : itl_mem;
  const PerSecond tps = itl.value > 0 ? Ratio{in.batch} / itl : PerSecond{kNaN};
  return {ttft, itl, itl_mem, itl_cmp, tps, itl_mem >= itl_cmp};
}

BatchingResult batching_wall(const BatchingInput& in) {
  const double s_max = in.max_seq_tokens == 0 ? in.seq_tokens : in.max_seq_tokens;
  if (!nonneg(in.layers) || !nonneg(in.kv_heads) || !nonneg(in.head_dim) ||
      !nonneg(in.seq_tokens) || !positive(in.page_tokens) || !nonneg(in.batch) ||
      !positive(in.bytes_per_element) || !nonneg(in.max_seq_tokens) || s_max < in.seq_tokens ||
      !nonneg(in.kv_capacity_bytes))
    return {{kNaN}, {kNaN}, {kNaN}, {kNaN}, {kNaN}, {kNaN}};
  // Bytes of K and V for one token of one sequence: 2 (K and V) x L x H x D x b.
  const Bytes per_token{2.0 * in.layers * in.kv_heads * in.head_dim * in.bytes_per_element};
  const double pages = std::ceil(in.seq_tokens / in.page_tokens);
  const Bytes paged_per_seq = per_token * (pages * in.page_tokens);
  const Bytes paged = paged_per_seq * in.batch;
  const Bytes exact = per_token * (in.seq_tokens * in.batch);
  const Bytes stat = per_token * (s_max * in.batch);
  const Ratio pw = paged.value > 0 ? (paged - exact) / paged : Ratio{0};
  const Ratio sw = stat.value > 0 ? (stat - exact) / stat : Ratio{0};
  Ratio max_batch{kNaN};
  if (in.kv_capacity_bytes > 0 && paged_per_seq.value > 0)
    max_batch = Ratio{std::floor((Bytes{in.kv_capacity_bytes} / paged_per_seq).value)};
  return {paged, exact, stat, pw, sw, max_batch};
}

StreamingResult streaming_wall(const StreamingInput& in) {
  if (!nonneg(in.layer_parameters) || !positive(in.bytes_per_parameter) ||
      !nonneg(in.batch_tokens) || !positive(in.inject_bytes_per_s) ||
      !positive(in.peak_flops_per_s) || !fraction(in.efficiency))
    return {{kNaN}, {kNaN}, {kNaN}, {kNaN}, false};
  const BytesPerSecond inject{in.inject_bytes_per_s};
  const FlopPerSecond achieved = FlopPerSecond{in.peak_flops_per_s} * Ratio{in.efficiency};
  const Bytes weights{in.layer_parameters * in.bytes_per_parameter};
  const Seconds stream = weights / inject;
  const Seconds compute = Flop{2.0 * in.layer_parameters * in.batch_tokens} / achieved;
  // B* solves P b / BW = 2 P B / (Peak eta): B* = Peak eta b / (2 BW) -- FLOP/B per token.
  const Ratio balance = achieved * Quantity<Dim{.B = 1, .FLOP = -1}>{in.bytes_per_parameter / 2.0} /
                        inject;
  return {stream < compute ? compute : stream, stream, compute, balance, stream >= compute};
}

double erlang_c(int servers, double offered_load) {
  if (servers < 1 || !nonneg(offered_load) || std::isinf(offered_load)) return kNaN;
  const double rho = offered_load / servers;
  if (rho >= 1) return 1.0;
  double b = 1.0;  // Erlang B with 0 servers
  for (int k = 1; k <= servers; ++k) b = offered_load * b / (k + offered_load * b);
  return b / (1.0 - rho * (1.0 - b));
}

namespace {

// P(T > t) for the M/M/c response time (see node.h).
double response_tail(double t, double c_wait, double mu, double theta) {
  const double service = std::exp(-mu * t);
  double waited;
  if (std::abs(theta - mu) <= 1e-12 * mu)
    waited = (1.0 + mu * t) * service;
  else
    waited = (theta * service - mu * std::exp(-theta * t)) / (theta - mu);
  return (1.0 - c_wait) * service + c_wait * waited;
}

}  // namespace

TailLatencyResult tail_latency_wall(const TailLatencyInput& in) {
  if (!nonneg(in.arrival_per_s) || !positive(in.service_per_s) || in.servers < 1 ||
      !(in.quantile > 0 && in.quantile < 1))
    return {{kNaN}, {kNaN}, {kNaN}, {kNaN}, {kNaN}};
  const double lambda = in.arrival_per_s, mu = in.service_per_s;
  const int c = in.servers;
  const double a = lambda / mu;
  const double rho = a / c;
  if (rho >= 1) return {{rho}, {1.0}, {kInf}, {kInf}, {kInf}};
  const double cw = erlang_c(c, a);
  const double theta = c * mu - lambda;
  const Seconds mean_wait = Ratio{cw} / PerSecond{theta};
  const Seconds mean_latency = mean_wait + Ratio{1.0} / PerSecond{mu};
  // Bisection on the monotone tail: P(T > t) = 1 - quantile. The upper bracket doubles from the
  // slower of the two exponentials' own quantile until the tail is below the target.
  const double target = 1.0 - in.quantile;
  double lo = 0, hi = -std::log(target) / std::min(mu, theta);
  while (response_tail(hi, cw, mu, theta) > target) hi *= 2;
  for (int i = 0; i < 200 && hi - lo > 1e-15 * hi; ++i) {
    const double mid = 0.5 * (lo + hi);
    (response_tail(mid, cw, mu, theta) > target ? lo : hi) = mid;
  }
  return {{rho}, {cw}, mean_wait, mean_latency, {0.5 * (lo + hi)}};
}

}  // namespace bstack::walls
