#include "calibrate/compare.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>

#include <fmt/format.h>

#include "calibrate/machine.h"
#include "calibrate/util.h"
#include "src/error.h"

namespace bstack::calibrate {
bool is_gemm_op(const std::string& name) {
  for (const char* g : {"matmul", "linear", "conv2d", "scaled_dot_product_attention"})
    if (name.rfind(g, 0) == 0) return true;
  return false;
}

bool is_elementwise_op(const std::string& name) {
  const std::string base =
      name.size() > 9 && name.ends_with("_backward") ? name.substr(0, name.size() - 9) : name;
  for (const char* e : {"add", "sub", "mul", "div", "neg", "pow", "maximum", "minimum", "clamp",
                        "abs", "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "gelu", "where"})
    if (base == e) return true;
  return false;
}

RidgeCheck check_ridge(const walls::Machine& m, const std::vector<walls::OpCost>& ops,
                       const walls::StepPrediction& step) {
  if (step.ops.size() != ops.size())
    throw std::invalid_argument("check_ridge: " + std::to_string(ops.size()) + " ops but " +
                                std::to_string(step.ops.size()) + " predictions");
  RidgeCheck c;
  c.gemm_min_ratio = c.elementwise_max_ratio = std::nan("");
  std::map<std::string, int> seen;
  for (size_t i = 0; i < ops.size(); ++i) {
    const walls::OpCost& op = ops[i];
    const std::string cls = op_class_key(op.name, op.backward);
    const int k = seen[cls]++;
    const bool gemm = is_gemm_op(op.name), ew = !gemm && is_elementwise_op(op.name);
    if (!gemm && !ew) {
      ++c.other_ops;
      continue;
    }
    const double ridge = walls::ridge_intensity(m, step.ops[i]);
    const double ratio = op.bytes > 0 ? op.flops / op.bytes / ridge : std::nan("");
    bool right_side = false;
    if (gemm) {
      ++c.gemm_ops;
      right_side = ratio >= 1;
      c.gemm_right += right_side;
      if (!(ratio >= c.gemm_min_ratio)) c.gemm_min_ratio = ratio;  // NaN propagates
    } else {
      ++c.elementwise_ops;
      right_side = ratio < 1;
      c.elementwise_left += right_side;
      if (!(ratio <= c.elementwise_max_ratio)) c.elementwise_max_ratio = ratio;
    }
    if (!right_side) {
      const int lvl = step.ops[i].level;
      c.misplaced.push_back(fmt::format(
          "{}: I = {:.3g} FLOP/B, I* = {:.3g} FLOP/B ({})", op.layer.empty() ? cls + "#" + std::to_string(k) : op.layer,
          op.bytes > 0 ? op.flops / op.bytes : std::nan(""), ridge,
          lvl >= 0 ? m.levels[static_cast<size_t>(lvl)].name : std::string("no level")));
    }
  }
  return c;
}

std::string layer_key(const std::string& model, const std::string& cls, int k) {
  return model + "/" + cls + "#" + std::to_string(k);
}

double overlap_fraction(const DistInfo& d, double gradient_bytes) {
  if (!d.overlap || d.bucket_bytes <= 0 || gradient_bytes <= 0) return 0;
  return std::max(0.0, 1.0 - static_cast<double>(d.bucket_bytes) / gradient_bytes);
}

CompareResult compare_trace(const MachineProfile& p, const Trace& t) {
  BSTACK_CHECK(t.step_seconds.size() >= 2, "{}: the trace holds {} step(s); walls compare needs two "
               "or more (the first is a warm-up)", t.path, t.step_seconds.size());
  CompareResult r;
  r.machine = machine_from_profile(p, static_cast<int>(t.threads));
  // The ops of each step, first step (warm-up: page faults, first-touch, tuning lookups) left out.
  const int64_t steps = static_cast<int64_t>(t.step_seconds.size());
  std::vector<std::vector<walls::OpCost>> costs(steps);
  std::vector<std::vector<double>> measured(steps);
  std::vector<std::map<std::string, int>> seen(steps);  // ops of each class so far, per step
  std::vector<double> step_flops(steps, 0.0);
  for (const TraceOp& op : t.ops) {
    if (op.step < 1 || op.step >= steps) continue;
    step_flops[op.step] += op.flops;
    const std::string cls = op_class_key(op.name, op.backward);
    const int k = seen[op.step][cls]++;
    costs[op.step].push_back({op.name, op.backward, op.flops, op.bytes, 0, is_gemm_op(op.name),
                              layer_key(t.model, cls, k)});
    measured[op.step].push_back(op.seconds);
  }
  // Data parallel: the bytes each step all-reduces, as the trace's comm records say (ZeRO-1's
  // reduce-scatter + all-gather move the same bytes as one all-reduce).
  r.ranks = static_cast<int>(std::max<int64_t>(1, t.dist.ranks));
  std::vector<double> comm_bytes(steps, 0.0), comm_secs(steps, 0.0);
  std::vector<std::vector<double>> messages(steps);  // per step, each bucket's all-reduce
  for (const CommRecord& c : t.comm) {
    if (c.step < 1 || c.step >= steps) continue;
    comm_bytes[c.step] += c.name == "allgather" ? 0 : c.bytes;
    if (c.name != "allgather") messages[c.step].push_back(c.bytes);
    comm_secs[c.step] += c.seconds;
  }
  // The measured all-reduce table is bstack's ring (DDP's default): another algorithm, ZeRO-1 or
  // NCCL is predicted with wall 14's alpha-beta formula instead.
  if (t.dist.backend != "mpi (ring)" || t.dist.zero1) r.machine.allreduce_time.clear();
  // The steps compared: after the first (warm-up), those at the run's full batch -- the largest
  // step FLOPs. An epoch's last, partial batch is a different workload; mixed in, the medians of
  // predicted and measured times could come from different batch sizes.
  const double full = *std::max_element(step_flops.begin(), step_flops.end());
  std::vector<int64_t> used;
  for (int64_t s = 1; s < steps; ++s)
    if (step_flops[s] >= full * (1 - 1e-9)) used.push_back(s);
  std::vector<double> pred, meas, ops_s;
  std::vector<walls::StepPrediction> preds(steps);
  for (int64_t s : used) {
    const double f = overlap_fraction(t.dist, comm_bytes[s]);
    preds[s] = walls::predict_step(r.machine, costs[s], r.ranks,
                                   r.ranks > 1 ? messages[s] : std::vector<double>{}, f);
    pred.push_back(preds[s].seconds);
    meas.push_back(t.step_seconds[s]);
    double sum = 0;
    for (double x : measured[s]) sum += x;
    ops_s.push_back(sum);
  }
  r.steps_used = static_cast<int>(used.size());
  r.partial_steps = static_cast<int>(steps - 1 - r.steps_used);
  r.predicted_step_s = median(pred);
  r.measured_step_s = median(meas);
  r.measured_ops_s = median(ops_s);
  r.step_error = (r.predicted_step_s - r.measured_step_s) / r.measured_step_s;
  // The step whose prediction is the median one speaks for the run: its wall shares and classes.
  int64_t mid = used.front();
  for (int64_t s : used)
    if (std::abs(preds[s].seconds - r.predicted_step_s) < std::abs(preds[mid].seconds - r.predicted_step_s)) mid = s;
  r.binding_wall = preds[mid].binding_wall;
  r.compute_s = preds[mid].compute_s;
  r.memory_s = preds[mid].memory_s;
  r.dispatch_s = preds[mid].dispatch_s;
  r.outside_ops_s = preds[mid].outside_ops_s;
  r.comm_s = preds[mid].comm_s;
  r.corun_s = preds[mid].corun_s;
  r.comm_total_s = preds[mid].comm_total_s;
  r.ridge = check_ridge(r.machine, costs[mid], preds[mid]);
  r.gradient_bytes = comm_bytes[mid];
  r.overlap_fraction = overlap_fraction(t.dist, comm_bytes[mid]);
  if (r.ranks > 1) {
    std::vector<double> in_flight, exposed;
    for (int64_t s : used) {
      in_flight.push_back(comm_secs[s]);
      if (static_cast<size_t>(s) < t.step_exposed_seconds.size()) exposed.push_back(t.step_exposed_seconds[s]);
    }
    r.measured_comm_s = median(in_flight);
    r.measured_exposed_s = exposed.empty() ? std::nan("") : median(exposed);
  }
  // Classes: summed over every step used, then per step.
  std::vector<walls::OpCost> all_costs;
  std::vector<double> all_meas;
  walls::StepPrediction all;
  for (int64_t s : used) {
    all_costs.insert(all_costs.end(), costs[s].begin(), costs[s].end());
    all_meas.insert(all_meas.end(), measured[s].begin(), measured[s].end());
    all.ops.insert(all.ops.end(), preds[s].ops.begin(), preds[s].ops.end());
  }
  r.classes = walls::summarize_by_class(all_costs, all, &all_meas);
  const double n = static_cast<double>(r.steps_used);
  for (walls::ClassSummary& c : r.classes) {
    c.count = static_cast<int>(std::lround(c.count / n));
    c.flops /= n, c.bytes /= n, c.predicted_s /= n, c.compute_s /= n, c.memory_s /= n;
    c.dispatch_s /= n, c.measured_s /= n;
    if (c.flops > 0 && c.bytes > 0 && c.measured_s > 0)
      r.points.push_back({c.name + (c.backward ? " bwd" : ""), c.flops / c.bytes, c.flops / c.measured_s});
  }
  return r;
}

}  // namespace bstack::calibrate
