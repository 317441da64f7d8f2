// The predictor (equations and sources in predict.h).
#include "walls/predict.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

#include "walls/check.h"
#include "walls/communication.h"
#include "walls/node.h"

namespace bstack::walls {

using detail::fraction;
using detail::kNaN;
using detail::positive;

namespace {

// 0 <= x < inf.
bool finite_nonneg(double x) { return x >= 0 && std::isfinite(x); }

// The wall with the largest share; ties go to the earlier entry. 0 when the total is NaN or 0.
int largest_share(const std::vector<std::pair<int, double>>& shares) {
  double total = 0;
  for (const auto& [wall, s] : shares) total += s;
  if (!(total > 0)) return 0;
  int best = 0;
  double best_s = -1;
  for (const auto& [wall, s] : shares)
    if (s > best_s) best = wall, best_s = s;
  return best;
}

OpPrediction invalid_op() { return {kNaN, kNaN, kNaN, kNaN, -1, 0, kNaN}; }

}  // namespace

namespace {

using XY = std::vector<std::pair<double, double>>;

// (x, y) sorted by x, the points at one x merged into the mean of their y.
XY merge_sorted(XY xy) {
  std::stable_sort(xy.begin(), xy.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  XY out;
  for (size_t i = 0; i < xy.size();) {
    size_t j = i;
    double sum = 0;
    for (; j < xy.size() && xy[j].first == xy[i].first; ++j) sum += xy[j].second;
    out.push_back({xy[i].first, sum / static_cast<double>(j - i)});
    i = j;
  }
  return out;
}

// y at x, linear in ln x between the two points around it (front.x < x < back.x).
double interpolate_log_x(const XY& pts, double x) {
  const auto hi = std::upper_bound(pts.begin(), pts.end(), x,
                                   [](double v, const auto& p) { return v < p.first; });
  const auto lo = hi - 1;
  const double t = (std::log(x) - std::log(lo->first)) / (std::log(hi->first) - std::log(lo->first));
  return lo->second + t * (hi->second - lo->second);
}

}  // namespace

double efficiency_for(const std::vector<EfficiencyPoint>& points, double flops) {
  if (points.empty() || !(flops >= 0)) return kNaN;
  XY xy;
  for (const auto& p : points) {
    if (!positive(p.flops) || !fraction(p.efficiency)) return kNaN;
    xy.push_back({p.flops, p.efficiency});
  }
  // Points at the same size (e.g. 2MNK equal for permuted shapes): their mean.
  const XY pts = merge_sorted(std::move(xy));
  if (flops <= pts.front().first) return pts.front().second;
  if (flops >= pts.back().first) return pts.back().second;
  return interpolate_log_x(pts, flops);
}

double time_for(const std::vector<TimePoint>& points, double bytes) {
  if (points.empty() || !(bytes >= 0)) return kNaN;
  XY xy;
  for (const auto& p : points) {
    if (!positive(p.bytes) || !positive(p.seconds)) return kNaN;
    xy.push_back({p.bytes, std::log(p.seconds)});
  }
  // In ln T: points at the same size merge into their geometric mean.
  const XY pts = merge_sorted(std::move(xy));
  if (bytes <= pts.front().first) return std::exp(pts.front().second);
  if (bytes >= pts.back().first) return std::exp(pts.back().second) * bytes / pts.back().first;
  return std::exp(interpolate_log_x(pts, bytes));
}

OpPrediction predict_op(const Machine& m, const OpCost& op, bool autograd) {
  if (!finite_nonneg(op.flops) || !finite_nonneg(op.bytes) || !finite_nonneg(op.working_set_bytes))
    return invalid_op();

  // The op's own class, when calibrate measured it (OpClassModel in predict.h).
  const OpClassModel* cls = nullptr;
  for (const auto& c : m.op_classes)
    if (c.name == op.name && c.backward == op.backward) cls = &c;
  if (cls && (!finite_nonneg(cls->t0_s) ||
              (cls->efficiency.empty() && !positive(cls->bytes_per_s))))
    return invalid_op();
  const bool gemm_class = cls && !cls->efficiency.empty();

  // Wall 1: OPs / (Peak x eta), eta by the op's class (and, for GEMMs, its size).
  const double eta = gemm_class ? efficiency_for(cls->efficiency, op.flops)
                     : cls      ? m.elementwise_efficiency
                     : op.is_gemm ? efficiency_for(m.gemm_efficiency, op.flops)
                                  : m.elementwise_efficiency;
  const ComputeResult compute = compute_wall({op.flops, m.peak_flops_per_s, eta});

  // Wall 2: |W| / BW at the fastest level the working set fits in (node.h's memory_level_for).
  std::vector<MemoryLevel> levels;
  levels.reserve(m.levels.size());
  for (const auto& l : m.levels) {
    if (!(l.capacity_bytes > 0) || !positive(l.bandwidth_bytes_per_s)) return invalid_op();
    levels.push_back({l.capacity_bytes, l.bandwidth_bytes_per_s});
  }
  const double ws = op.working_set_bytes > 0 ? op.working_set_bytes : op.bytes;
  const int level = memory_level_for(ws, levels);
  if (level < 0) return invalid_op();  // no level holds it: beyond the model (it would page)
  const MemoryLevel& at = levels[static_cast<size_t>(level)];
  const MemoryResult memory =
      memory_wall({op.bytes, cls && !gemm_class ? cls->bytes_per_s : at.bandwidth_bytes_per_s, ws,
                   at.capacity_bytes});

  // Wall 3: the per-op dispatch overhead (split of the autograd pair in predict.h).
  if (!finite_nonneg(m.dispatch_s) || (autograd && !finite_nonneg(m.dispatch_autograd_s)) ||
      (op.backward && !autograd))
    return invalid_op();
  const double dispatch =
      cls           ? cls->t0_s  // measured with autograd on, as training runs it
      : op.backward ? std::max(0.0, m.dispatch_autograd_s - m.dispatch_s)
                    : m.dispatch_s;

  double c = compute.time.value, mem = memory.time.value;
  if (std::isnan(c) || std::isnan(mem)) return invalid_op();
  // A measured time (the op's layer, else its class's table): the per-call part is wall 3, the
  // rest goes to the roof the op's intensity puts it under (the ridge at its working set's level).
  const LayerModel* layer = nullptr;
  if (!op.layer.empty())
    for (const auto& l : m.layers)
      if (l.key == op.layer) layer = &l;
  if (layer || (cls && !gemm_class && !cls->time_by_bytes.empty())) {
    const double t = layer ? time_for(layer->time, layer->by_flops ? op.flops : op.bytes)
                           : time_for(cls->time_by_bytes, op.bytes);
    if (std::isnan(t)) return invalid_op();
    const double d = std::min(cls ? cls->t0_s : 0.0, t), roof = t - d;
    const double ridge = m.peak_flops_per_s * eta / at.bandwidth_bytes_per_s;
    const bool compute_side = op.bytes > 0 && op.flops / op.bytes >= ridge;
    (compute_side ? c : mem) = roof;
    (compute_side ? mem : c) = std::min(compute_side ? op.bytes / at.bandwidth_bytes_per_s : c, roof);
    OpPrediction p{t, c, mem, d, level, 0, eta};
    if (t > 0) p.binding_wall = d > roof ? 3 : (compute_side ? 1 : 2);
    return p;
  }
  const double roof = std::max(c, mem);  // Williams et al. 2009: the higher roof binds
  OpPrediction p{roof + dispatch, c, mem, dispatch, level, 0, eta};
  if (p.seconds > 0) p.binding_wall = dispatch > roof ? 3 : (c >= mem ? 1 : 2);
  return p;
}

double corun_factor(const Machine& m, int ranks) {
  if (ranks <= 1 || (m.corun_ranks != 0 && m.corun_ranks != ranks)) return 1.0;
  return m.corun_factor;
}

bool allreduce_from_table(const Machine& m, int ranks) {
  return ranks > 1 && !m.allreduce_time.empty() && m.allreduce_ranks == ranks;
}

std::vector<double> bucket_messages(double gradient_bytes, double bucket_bytes) {
  if (!finite_nonneg(gradient_bytes) || !finite_nonneg(bucket_bytes))
    throw std::invalid_argument("walls::bucket_messages: gradient " + std::to_string(gradient_bytes) +
                                " B and bucket " + std::to_string(bucket_bytes) +
                                " B must be finite and >= 0");
  if (gradient_bytes == 0) return {};
  if (bucket_bytes == 0 || bucket_bytes >= gradient_bytes) return {gradient_bytes};
  const double full = std::floor(gradient_bytes / bucket_bytes);
  if (full >= kMaxBucketMessages)
    throw std::invalid_argument("walls::bucket_messages: " + std::to_string(gradient_bytes) +
                                " B of gradients in buckets of " + std::to_string(bucket_bytes) +
                                " B is more than 2^22 messages; use larger buckets");
  std::vector<double> out(static_cast<size_t>(full), bucket_bytes);
  const double rest = gradient_bytes - full * bucket_bytes;
  if (rest > 0) out.push_back(rest);
  return out;
}

double allreduce_seconds(const Machine& m, int ranks, double bytes) {
  if (ranks < 1 || !finite_nonneg(bytes)) return kNaN;
  if (ranks == 1) return 0;  // nothing to reduce
  if (allreduce_from_table(m, ranks)) return time_for(m.allreduce_time, bytes);
  return ring_allreduce_seconds({ranks, bytes, m.alpha_s, m.beta_bytes_per_s});
}

StepPrediction predict_step(const Machine& m, const std::vector<OpCost>& ops, int ranks,
                            double gradient_bytes, double overlap_fraction) {
  return predict_step(m, ops, ranks, std::vector<double>{gradient_bytes}, overlap_fraction);
}

StepPrediction predict_step(const Machine& m, const std::vector<OpCost>& ops, int ranks,
                            const std::vector<double>& message_bytes, double overlap_fraction) {
  const bool autograd =
      std::any_of(ops.begin(), ops.end(), [](const OpCost& o) { return o.backward; });
  StepPrediction s{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, {}};
  s.ops.reserve(ops.size());
  for (const auto& op : ops) {
    const OpPrediction p = predict_op(m, op, autograd);
    // Each op's roof time goes to the roof that binds it (NaN propagates through both).
    const bool on_compute = std::isnan(p.seconds) || p.compute_s >= p.memory_s;
    (on_compute ? s.compute_s : s.memory_s) += std::max(p.compute_s, p.memory_s);
    if (std::isnan(p.seconds)) s.memory_s = kNaN;
    s.dispatch_s += p.dispatch_s;
    if (op.backward) s.backward_s += p.seconds;
    s.ops.push_back(p);
  }
  // The framework's time outside the ops of a training step.
  if (autograd) {
    if (!finite_nonneg(m.step_overhead_s) || !finite_nonneg(m.overhead_per_op_s))
      s.outside_ops_s = kNaN;
    else
      s.outside_ops_s = m.step_overhead_s + static_cast<double>(ops.size()) * m.overhead_per_op_s;
    s.dispatch_s += s.outside_ops_s;
  }

  // Ranks sharing the node in lockstep (calibrate section corun): each rank's node time grows by
  // the measured factor, in the same proportions.
  if (ranks > 1) {
    const double c = corun_factor(m, ranks);
    const double f = std::isfinite(c) && c > 0 ? c : kNaN;
    s.corun_s = (f - 1) * (s.compute_s + s.memory_s + s.dispatch_s);
    s.compute_s *= f, s.memory_s *= f, s.dispatch_s *= f, s.backward_s *= f;
  }

  // Wall 14: the gradient all-reduce, then the part the buckets hide behind backward.
  if (ranks < 1 || !(overlap_fraction >= 0 && overlap_fraction <= 1)) {
    s.comm_total_s = kNaN;
  } else {
    // One rank reduces nothing (alpha and beta are not needed).
    for (double bytes : message_bytes) s.comm_total_s += allreduce_seconds(m, ranks, bytes);
  }
  const double hidden = std::min(overlap_fraction * s.comm_total_s, s.backward_s);
  s.comm_s = std::isnan(s.comm_total_s) ? kNaN : s.comm_total_s - hidden;

  s.seconds = s.compute_s + s.memory_s + s.dispatch_s + s.comm_s;
  if (!std::isnan(s.seconds))
    s.binding_wall =
        largest_share({{1, s.compute_s}, {2, s.memory_s}, {3, s.dispatch_s}, {14, s.comm_s}});
  return s;
}

double ridge_intensity(const Machine& m, const OpPrediction& p) {
  if (p.level < 0 || static_cast<size_t>(p.level) >= m.levels.size() || !(p.efficiency > 0))
    return kNaN;
  return m.peak_flops_per_s * p.efficiency / m.levels[static_cast<size_t>(p.level)].bandwidth_bytes_per_s;
}

std::vector<ClassSummary> summarize_by_class(const std::vector<OpCost>& ops,
                                             const StepPrediction& step,
                                             const std::vector<double>* measured_seconds) {
  if (step.ops.size() != ops.size())
    throw std::invalid_argument("walls::summarize_by_class: " + std::to_string(ops.size()) +
                                " ops but the step predicts " + std::to_string(step.ops.size()));
  if (measured_seconds && measured_seconds->size() != ops.size())
    throw std::invalid_argument("walls::summarize_by_class: " + std::to_string(ops.size()) +
                                " ops but " + std::to_string(measured_seconds->size()) +
                                " measured times");
  std::vector<ClassSummary> out;
  for (size_t i = 0; i < ops.size(); ++i) {
    const OpCost& op = ops[i];
    const OpPrediction& p = step.ops[i];
    auto it = std::find_if(out.begin(), out.end(), [&](const ClassSummary& c) {
      return c.name == op.name && c.backward == op.backward;
    });
    if (it == out.end()) {
      out.push_back({op.name, op.backward, 0, 0, 0, 0, 0, 0, 0,
                     measured_seconds ? 0.0 : kNaN, kNaN, 0});
      it = out.end() - 1;
    }
    ClassSummary& c = *it;
    ++c.count;
    c.flops += op.flops;
    c.bytes += op.bytes;
    c.predicted_s += p.seconds;
    const bool on_compute = std::isnan(p.seconds) || p.compute_s >= p.memory_s;
    (on_compute ? c.compute_s : c.memory_s) += std::max(p.compute_s, p.memory_s);
    if (std::isnan(p.seconds)) c.memory_s = kNaN;
    c.dispatch_s += p.dispatch_s;
    if (measured_seconds) c.measured_s += (*measured_seconds)[i];
  }
  for (auto& c : out) {
    if (c.measured_s > 0 && !std::isnan(c.predicted_s))
      c.error_pct = 100.0 * (c.predicted_s - c.measured_s) / c.measured_s;
    if (!std::isnan(c.predicted_s))
      c.binding_wall = largest_share({{1, c.compute_s}, {2, c.memory_s}, {3, c.dispatch_s}});
  }
  return out;
}

}  // namespace bstack::walls
