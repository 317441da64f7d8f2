// Section "ops" of bstack calibrate: how bstack's own op classes run, as the predictor reads them
// (walls/predict.h OpClassModel). The roofline of triad bandwidth and square-SGEMM efficiency is
// far too optimistic for the ops a small model runs (issue 8): element-wise and pooling ops carry
// a fixed per-call cost (output allocation, thread-pool dispatch, the autograd node) and reach
// less than triad bandwidth; conv2d (im2col + GEMM) and skinny linear shapes run well below the
// square SGEMM of the same FLOPs.
//
// Method: `bstack train` steps of the zoo models (mlp: Linear/ReLU; cnn: Conv2d, ReLU,
// MaxPool2d, Linear; gpt-tiny: Embedding, LayerNorm, causal attention, GELU MLP) with synthetic
// inputs: train::loss_and_correct, zero_grad, backward, Adam, under the op profiler
// (src/profile/profiler.h: the same per-op FLOPs and bytes a trace holds), timed as train times
// a step. Batches are chosen apart from the ones `bstack train` is usually run at (16, 64, 256)
// and around them, so a comparison tests the interpolation, not a replay. Each (op, direction,
// signature) keeps its MEDIAN time over the repeats after a warm-up step, not the best: the
// predictor is compared with training steps, whose ops pay the allocator's and the thread pool's
// typical cost. Per op class (name + forward/backward) and thread count:
//   element-wise and the rest: the table of (bytes, median time) per signature, which the
//     predictor interpolates in log-log (walls::time_for: a class's time per byte jumps where
//     its working set leaves a cache level -- gpt-tiny at batch 256 runs every element-wise op
//     at about half the bandwidth of batch 64); and, for reports, Hockney's T = t0 + bytes / bw
//     fitted with relative-error weights (calibrate/lsq.h fit_hockney; Hockney 1994), whose t0 is
//     the per-call share (wall 3);
//   GEMM-class (matmul, linear, conv2d, attention): eta_i = FLOPs_i / (Peak x T_i) at each
//     measured size, interpolated in ln FLOPs by walls::efficiency_for (the per-call overhead is
//     part of eta here: T = FLOPs / (Peak x eta) reproduces each measured time);
//   the step's time outside its ops (step wall time - the ops' summed time: building and
//     freeing the graph, zero_grad, the optimizer's loop, the profiler's records): per_step +
//     ops x per_op, the same form fitted over the (model, batch) medians.
// Profile: params op_<class>_t0_s[_1t], op_<class>_bytes_per_s[_1t] (non-GEMM classes; <class> is
// the op name, "_bwd" appended for a backward call), op_step_overhead_s[_1t],
// op_overhead_per_op_s[_1t]; one series per class, "ops/<class>" (threads, flops, bytes,
// seconds: the median times the tables and fits came from) and "ops_outside" (threads, ops,
// seconds).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "calibrate/calibrate.h"
#include "calibrate/compare.h"
#include "calibrate/lsq.h"
#include "calibrate/util.h"
#include "kernels/parallel.h"
#include "src/nn/loss.h"
#include "src/nn/zoo.h"
#include "src/ops.h"
#include "src/optim/optim.h"
#include "src/profile/profiler.h"
#include "src/random.h"
#include "src/train/train.h"
#include "src/tensor.h"

namespace bstack::calibrate {

std::string op_class_key(const std::string& name, bool backward) {
  return backward ? name + "_bwd" : name;
}

std::pair<std::string, bool> op_class_name(const std::string& cls) {
  const bool bwd = cls.ends_with("_bwd");
  return {cls.substr(0, cls.size() - (bwd ? 4 : 0)), bwd};
}

struct ZooStep::Impl {
  std::shared_ptr<nn::Module> model;
  std::unique_ptr<optim::Adam> opt;
  Tensor x, y;
};

ZooStep::ZooStep(const std::string& model, int64_t batch) : impl_(std::make_unique<Impl>()) {
  Generator gen(1);
  nn::ModelSpec spec;
  spec.name = model;
  const bool tokens = model == "gpt-tiny";
  if (tokens) spec.vocab = 96;
  else spec.input = {1, 8, 8}, spec.classes = 10;  // the shipped digits (train.cpp's default)
  impl_->model = nn::make_model(spec, gen);
  impl_->opt = std::make_unique<optim::Adam>(impl_->model->parameters(), optim::AdamOptions{});
  // Inputs like the real ones: tokens / labels spread over the vocabulary / classes, pixels in
  // [0, 1).
  const int64_t T = nn::GPTConfig{}.context;
  auto labels = [&](int64_t n, int64_t below) {
    std::vector<int64_t> v(static_cast<size_t>(n));
    for (auto& e : v) e = static_cast<int64_t>(gen.below(static_cast<uint64_t>(below)));
    return from_vector(v, {n});
  };
  impl_->x = tokens ? labels(batch * T, spec.vocab).reshape({batch, T}) : rand({batch, 1, 8, 8}, gen);
  impl_->y = tokens ? labels(batch * T, spec.vocab) : labels(batch, spec.classes);
}

ZooStep::~ZooStep() = default;

void ZooStep::step() {
  auto [loss, correct] = train::loss_and_correct(*impl_->model, impl_->x, impl_->y);
  impl_->opt->zero_grad();
  loss.backward();
  impl_->opt->step();
}

namespace {

struct Sample {
  double flops, bytes;
  std::vector<double> seconds;  // one per timed step (and per call of that signature)
};

// A step's time outside its ops: step wall time - the recorded ops' summed seconds.
struct Gap {
  double ops;                   // ops recorded in the step
  std::vector<double> seconds;  // one per timed step
};

constexpr int kMaxReps = 400;
constexpr int kRounds = 3;

// One model at one batch: timed steps after one warm-up until both `min_reps` steps and
// `budget_s` seconds are reached (at most kMaxReps), each the step `bstack train`
// times (train::loss_and_correct, zero_grad, backward, optimizer step, under the profiler);
// every time of every (class, signature) goes into `out`, of every (class, k-th op of the
// class) into `layers`, the time outside the ops into `gap`.
void run_model(const std::string& model, int64_t batch, int min_reps, double budget_s,
               std::map<std::string, std::map<std::string, Sample>>& out,
               std::map<std::pair<std::string, int>, Sample>& layers, Gap& gap) {
  ZooStep zoo(model, batch);
  Profiler prof;  // one for every step, as training's: its records grow as a trace's do
  const auto start = std::chrono::steady_clock::now();
  for (int r = 0; r <= min_reps || (r <= kMaxReps && std::chrono::duration<double>(
                                        std::chrono::steady_clock::now() - start).count() < budget_s);
       ++r) {
    const size_t first = prof.ops.size();
    const auto t0 = std::chrono::steady_clock::now();
    {
      ProfileScope scope(prof);
      zoo.step();
    }
    const double step_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r == 0) continue;  // warm-up: first touch, allocator growth
    double ops_s = 0;
    for (size_t i = first; i < prof.ops.size(); ++i) ops_s += prof.ops[i].seconds;
    gap.ops = static_cast<double>(prof.ops.size() - first);
    gap.seconds.push_back(std::max(0.0, step_s - ops_s));
    std::map<std::string, int> seen;  // ops of each class so far in this step
    for (size_t i = first; i < prof.ops.size(); ++i) {
      const OpRecord& op = prof.ops[i];
      const std::string cls = op_class_key(op.name, op.backward);
      auto [lt, lfresh] = layers.try_emplace({cls, seen[cls]++}, Sample{op.flops, op.bytes, {}});
      lt->second.seconds.push_back(op.seconds);
      auto& by_sig = out[cls];
      const std::string sig = model + " " + op.signature();
      auto it = by_sig.find(sig);
      if (it == by_sig.end()) by_sig[sig] = {op.flops, op.bytes, {op.seconds}};
      else it->second.seconds.push_back(op.seconds);
    }
  }
}

struct ThreadScope {
  int prev;
  explicit ThreadScope(int n) : prev(kernels::num_threads()) { kernels::set_num_threads(n); }
  ~ThreadScope() { kernels::set_num_threads(prev); }
};

}  // namespace

void calibrate_ops(const Options& o, MachineProfile& p, const ProgressFn& progress) {
  const int nt = o.threads > 0 ? o.threads : kernels::num_threads();
  // Small steps are noisy on a shared machine: every (model, batch) gets at least `reps` steps
  // and as many more as fit in `budget` seconds (mlp at batch 8: a few hundred).
  const int reps = o.quick ? 5 : 9;
  const double budget = o.quick ? 0.3 : 1.0;
  struct Run { std::string model; std::vector<int64_t> batches; };
  const std::vector<Run> runs = {
      {"mlp", {8, 32, 128, 512}}, {"cnn", {8, 32, 128, 512}}, {"gpt-tiny", {4, 8, 32, 128, 384}}};
  const std::vector<int> thread_counts = nt > 1 ? std::vector<int>{1, nt} : std::vector<int>{1};
  const std::string how = fmt::format(
      "zoo models (mlp, cnn, gpt-tiny; batches mlp/cnn 8, 32, 128, 512, gpt-tiny 4, 8, 32, 128, "
      "384) trained as `bstack train` steps (loss and accuracy, zero_grad, backward, Adam) under "
      "the op profiler, in {} rounds over every (model, batch), each a warm-up step then at least "
      "{} timed steps and as many more as fit in {:.2g} s (at most {}); median per (op, signature)",
      kRounds, std::max(2, reps / kRounds), budget / kRounds, kMaxReps);
  size_t job = 0, jobs = 0;
  for (const Run& r : runs) jobs += r.batches.size() * thread_counts.size() * kRounds;
  std::map<std::string, Series> series, layer_series;
  Series outside{"ops_outside", {"threads", "ops", "seconds"}, {}, how + "; step wall time - the "
                 "recorded ops' summed time, median per (model, batch)"};
  for (int threads : thread_counts) {
    ThreadScope ts(threads);
    std::map<std::string, std::map<std::string, Sample>> samples;
    std::vector<double> gap_ops, gap_s;
    // Rounds over every (model, batch), each with a share of the steps: a shared machine's slow
    // and fast spells (seconds long on the 2-core VM, +-25% on a small step) then fall on every
    // batch alike instead of on whichever ran during them.
    std::map<std::pair<std::string, int64_t>, std::map<std::pair<std::string, int>, Sample>> layers;
    std::map<std::pair<std::string, int64_t>, Gap> gaps;
    for (int round = 0; round < kRounds; ++round)
      for (const Run& r : runs)
        for (int64_t b : r.batches) {
          progress(double(job++) / double(jobs), fmt::format("ops: {} batch {} {}t", r.model, b, threads));
          run_model(r.model, b, std::max(2, reps / kRounds), budget / kRounds, samples,
                    layers[{r.model, b}], gaps[{r.model, b}]);
        }
    for (const Run& r : runs)
      for (int64_t b : r.batches) {
        for (const auto& [ck, smp] : layers[{r.model, b}]) {
          const std::string name = "layers/" + r.model + "/" + ck.first;
          auto [lt, fresh] = layer_series.try_emplace(
              name, Series{name, {"threads", "k", "flops", "bytes", "seconds"}, {},
                           how + "; the k-th op of the class in the model's step"});
          lt->second.add_row({double(threads), double(ck.second), smp.flops, smp.bytes, median(smp.seconds)});
        }
        const Gap& gap = gaps[{r.model, b}];
        gap_ops.push_back(gap.ops);
        gap_s.push_back(median(gap.seconds));
        outside.add_row({double(threads), gap.ops, gap_s.back()});
      }
    const std::string sfx = threads == 1 ? "_1t" : "";
    // The step's time outside its ops (graph building and freeing, zero_grad, the optimizer's
    // loop, the profiler's records): per step + per op, the same latency + size form fitted.
    {
      double per_step = 0, per_op = 0, q = std::nan("");
      std::string m = how + "; step wall time - the recorded ops' summed time, median per (model, "
                      "batch), fitted T = per_step + ops x per_op, relative-error weights";
      try {
        const AlphaBetaFit f = fit_hockney(gap_ops, gap_s);
        per_step = f.alpha_s, per_op = 1.0 / f.beta_bytes_per_s, q = f.r2;
      } catch (const std::exception&) {  // not growing with the op count: one cost per step
        per_step = median(gap_s);
        m += "; not growing with the op count: per_step = the median, per_op = 0";
      }
      p.set({"op_step_overhead_s" + sfx, per_step, "s", m, q, std::isnan(q) ? "" : "r2"});
      p.set({"op_overhead_per_op_s" + sfx, per_op, "s", m, q, std::isnan(q) ? "" : "r2"});
    }
    for (const auto& [cls, by_sig] : samples) {
      auto [it, fresh] = series.try_emplace(cls, Series{"ops/" + cls, {"threads", "flops", "bytes", "seconds"}, {}, how});
      std::vector<double> bytes, secs;
      for (const auto& [sig, s] : by_sig) {
        const double t = median(s.seconds);
        it->second.add_row({double(threads), s.flops, s.bytes, t});
        if (t > 0) bytes.push_back(s.bytes), secs.push_back(t);
      }
      if (is_gemm_op(op_class_name(cls).first) || secs.empty()) continue;  // GEMM-class: read from the series
      double t0 = 0, bw = 0, q = std::nan("");
      std::string m = how;
      try {
        const AlphaBetaFit f = fit_hockney(bytes, secs);
        t0 = f.alpha_s, bw = f.beta_bytes_per_s, q = f.r2;
        m += ", fitted T = t0 + bytes / bw (Hockney 1994), relative-error weights";
      } catch (const std::exception&) {
        // One size, or time not growing with bytes: a fixed cost per call, the smallest measured.
        t0 = *std::min_element(secs.begin(), secs.end()), bw = 1e18;
        m += "; one size or time not growing with bytes: t0 = the best time, bytes free";
      }
      p.set({"op_" + cls + "_t0_s" + sfx, t0, "s", m, q, std::isnan(q) ? "" : "r2"});
      p.set({"op_" + cls + "_bytes_per_s" + sfx, bw, "B/s", m, q, std::isnan(q) ? "" : "r2"});
    }
  }
  for (auto& [cls, s] : series) p.add_series(std::move(s));
  p.add_series(std::move(outside));
  for (auto& [name, s] : layer_series) p.add_series(std::move(s));
  progress(1.0, "ops done");
}

}  // namespace bstack::calibrate
