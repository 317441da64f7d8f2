// `bstack walls predict | sensitivity | synthesis` (what each prints: walls_predict.h).
#include "cli/walls_predict.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "calibrate/machine.h"
#include "calibrate/model_workload.h"
#include "calibrate/profile.h"
#include "cli/units.h"
#include "src/error.h"
#include "src/nn/zoo.h"
#include "walls/analysis.h"
#include "walls/footprint.h"
#include "walls/hardware/machine.h"
#include "walls/hardware/registry.h"
#include "walls/predict.h"
#include "walls/wall.h"
#include "walls/workloads.h"

namespace bstack::cli {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// ---- formatting ------------------------------------------------------------------------------

// v with an SI prefix: si(989.5e12, "FLOP/s") = "989.50 TFLOP/s".
std::string si(double v, std::string_view unit, int precision = 2) {
  if (std::isnan(v)) return "n/a";
  if (std::isinf(v)) return "unbounded";
  static const char* const prefix[] = {"", "k", "M", "G", "T", "P", "E"};
  int i = 0;
  double x = v;
  while (std::abs(x) >= 1000 && i < 6) x /= 1000, ++i;
  return fmt::format("{:.{}f} {}{}", x, precision, prefix[i], unit);
}

std::string secs(double s) {
  if (std::isnan(s)) return "n/a";
  if (s >= 1) return fmt::format("{:.2f} s", s);
  if (s == 0) return "0";
  return human(s, "s");
}

std::string pct(double part, double whole) {
  if (!(whole > 0) || std::isnan(part)) return "n/a";
  return fmt::format("{:.0f}%", 100 * part / whole);
}

std::string wall_name(int n) {
  if (n < 1 || n > 22) return "none";
  return std::string(walls::wall(n).name);
}

std::string join(const std::vector<std::string>& v, std::string_view sep = ", ") {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : std::string(sep)) + s;
  return out;
}

// walls/ reports a malformed call with std::invalid_argument; the CLI reports bstack::Error.
template <class F>
auto walls_call(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::invalid_argument& e) {
    throw Error(e.what());
  }
}

std::string device_list() {
  std::vector<std::string> names;
  for (const walls::Hardware& h : walls::registry()) names.emplace_back(h.aliases.front());
  return join(names);
}

// ---- the workload and the machine ------------------------------------------------------------

struct Setup {
  walls::Workload w;
  int64_t tokens_per_sample = 0;        // LMs: samples/s -> tokens/s
  bool have_machine = false;
  walls::Machine m;                     // the time model's machine: last level unbounded
  std::vector<walls::MemoryLevelSpec> levels;  // as published / calibrated (capacity kept)
  const walls::Hardware* hw = nullptr;  // --hardware
  std::string source;                   // "hardware" | "profile"
  std::string machine_line;             // one line for reports
  double capacity_bytes = kNaN;         // what the run's memory must fit in
  std::string capacity_name;
  double overlap = 0;                   // f of predict_step
  std::vector<double> messages;         // the gradient all-reduce's messages (the DDP buckets)
  std::vector<std::string> notes;
};

walls::Workload make_workload(const WallsPredictOptions& o, Setup& s) {
  if (walls::is_analytic_workload(o.workload)) {
    walls::AnalyticOptions a;
    a.batch = o.batch;
    a.seq = o.seq;
    a.precision = o.precision;
    a.training = !o.inference;
    a.optimizer = o.optimizer;
    s.tokens_per_sample = walls::analytic_tokens_per_sample(o.workload, a);
    try {
      return walls::analytic_workload(o.workload, a);
    } catch (const std::invalid_argument& e) {
      std::string what = e.what();
      const std::string prefix = "walls::analytic_workload: ";
      if (what.rfind(prefix, 0) == 0) what = what.substr(prefix.size());
      fail("--workload {}: {}", o.workload, what);
    }
  }
  if (calibrate::is_zoo_model(o.workload)) {
    BSTACK_CHECK(o.seq == 0, "--seq {}: the zoo model '{}' has a fixed context; --seq is for the "
                 "analytic language models (gpt2-124m, llama3-8b)", o.seq, o.workload);
    calibrate::ModelWorkloadOptions m;
    m.model = o.workload;
    m.batch = o.batch;
    m.optimizer = o.optimizer;
    m.training = !o.inference;
    m.data = o.data;
    if (o.workload == "gpt-tiny") s.tokens_per_sample = nn::GPTConfig{}.context;
    if (o.precision != "fp32")
      s.notes.push_back(fmt::format("{}'s FLOPs and bytes are bstack's fp32 tensors; --precision {} "
                                    "sets the device's peak only", o.workload, o.precision));
    return calibrate::model_workload(m);
  }
  fail("unknown workload '{}': choose an analytic one ({}) or a bstack zoo model (perceptron, mlp, "
       "cnn, gpt-tiny)", o.workload, join(walls::analytic_workload_names()));
}

void make_machine(const GlobalOptions& g, const WallsPredictOptions& o, Setup& s) {
  if (!o.hardware.empty()) {
    const walls::Hardware* h = walls::find_hardware(o.hardware);
    BSTACK_CHECK(h != nullptr, "--hardware '{}': no such device in the registry (choose one of {})",
                 o.hardware, device_list());
    walls::HardwareAssumptions a;
    a.gemm_efficiency = o.gemm_efficiency;
    a.dispatch_s = o.dispatch_us * 1e-6;
    s.m = walls_call([&] { return walls::machine_from_hardware(*h, o.precision, a); });
    s.hw = h;
    s.source = "hardware";
    s.capacity_bytes = walls::hardware_memory_capacity(*h);
    for (const walls::MemorySpec& spec : h->memory)
      if (spec.capacity_bytes.value == s.capacity_bytes) s.capacity_name = std::string(spec.name);
    std::string mem;
    for (const auto& l : s.m.levels) mem += fmt::format(", {} {}", l.name, si(l.bandwidth_bytes_per_s, "B/s"));
    s.machine_line = fmt::format("{} (registry datasheet), {}: peak {}{}; assumed: GEMM efficiency "
                                 "{:.2f}, dispatch {} per op (walls/hardware/machine.h)",
                                 h->name, o.precision, si(s.m.peak_flops_per_s, "FLOP/s"), mem,
                                 o.gemm_efficiency, secs(a.dispatch_s));
  } else if (!o.profile.empty()) {
    BSTACK_CHECK(o.precision == "fp32", "--precision {}: a profile measures this machine in fp32 "
                 "only; give --hardware NAME to price another precision", o.precision);
    const calibrate::MachineProfile p = calibrate::read_profile(o.profile);
    const int all = std::max(1, std::atoi(p.meta_value("threads").c_str()));
    s.m = calibrate::machine_from_profile(p, g.threads > 0 ? std::min(g.threads, all) : all);
    s.source = "profile";
    s.capacity_bytes = s.m.levels.back().capacity_bytes;
    s.capacity_name = "RAM";
    std::string mem;
    for (const auto& l : s.m.levels) mem += fmt::format(", {} {}", l.name, si(l.bandwidth_bytes_per_s, "B/s"));
    s.machine_line = fmt::format("{} (profile {}), {} thread(s): peak {}{}; GEMM efficiency {:.2f}-{:.2f} by "
                                 "size, dispatch {} per op",
                                 s.m.name, o.profile, s.m.threads, si(s.m.peak_flops_per_s, "FLOP/s"), mem,
                                 walls::efficiency_for(s.m.gemm_efficiency, 0),
                                 walls::efficiency_for(s.m.gemm_efficiency, kInf), secs(s.m.dispatch_s));
  } else {
    return;
  }
  s.have_machine = true;
  s.levels = s.m.levels;
  // The time model prices the step as if it fits; whether it does is the fit verdict's question.
  s.m.levels.back().capacity_bytes = kInf;
}

Setup setup(const GlobalOptions& g, const WallsPredictOptions& o, bool need_machine, bool use_ranks) {
  Setup s;
  // The machine first: a bad device name or profile is reported before a zoo model is profiled.
  make_machine(g, o, s);
  BSTACK_CHECK(s.have_machine || !need_machine, "give --profile p.h5 (this machine, from `bstack "
               "calibrate`) or --hardware NAME (a registry device: {})", device_list());
  s.w = make_workload(o, s);
  if (use_ranks && o.ranks > 1) {
    BSTACK_CHECK(s.w.training, "--ranks {} with --inference: data-parallel ranks all-reduce "
                 "gradients, which inference has none of", o.ranks);
    if (s.hw)
      BSTACK_CHECK(!std::isnan(s.m.beta_bytes_per_s), "--ranks {}: {} has no device-to-device link "
                   "in the registry ({}), so wall 14 cannot be priced", o.ranks, s.hw->name,
                   s.hw->interconnect);
    else
      BSTACK_CHECK(!std::isnan(s.m.alpha_s) && !std::isnan(s.m.beta_bytes_per_s), "--ranks {}: the "
                   "profile {} has no alpha_s / beta_bytes_per_s; calibrate measures the interconnect "
                   "under `mpirun -np 2 bstack calibrate`", o.ranks, o.profile);
    // The fraction of the all-reduce the DDP buckets can hide behind backward: all but the last
    // bucket (Li et al. 2020, sec. 3.2.3; the same rule as calibrate::overlap_fraction).
    const double bucket = o.bucket_kb * 1024;
    s.overlap = (o.no_overlap || bucket <= 0 || s.w.gradient_bytes <= 0)
                    ? 0.0 : std::max(0.0, 1.0 - bucket / s.w.gradient_bytes);
    // One all-reduce per bucket, as `bstack train` sends them (and `walls compare` prices them).
    BSTACK_CHECK(bucket <= 0 || s.w.gradient_bytes / bucket < walls::kMaxBucketMessages,
                 "--bucket-kb {}: {} of gradients would be more than 2^22 buckets; use larger buckets",
                 o.bucket_kb, si(s.w.gradient_bytes, "B"));
    s.messages = walls::bucket_messages(s.w.gradient_bytes, bucket);
  } else {
    s.messages = {s.w.gradient_bytes};  // one rank: nothing is reduced
  }
  return s;
}

// ---- predict ---------------------------------------------------------------------------------

// One line on why the binding wall binds, with the step's own numbers.
std::string explain(const Setup& s, const walls::StepPrediction& step, int ranks) {
  const std::vector<walls::OpCost>& ops = s.w.ops;
  double compute_flops = 0, memory_bytes = 0;
  int n_ops = 0;
  for (size_t i = 0; i < ops.size(); ++i) {
    const walls::OpPrediction& p = step.ops[i];
    if (std::isnan(p.seconds)) continue;
    ++n_ops;
    if (p.compute_s >= p.memory_s) compute_flops += ops[i].flops;
    else memory_bytes += ops[i].bytes;
  }
  const double T = step.seconds;
  switch (step.binding_wall) {
    case 1:
      return fmt::format("compute: the ops on the compute roof do {} at an effective {} ({} of the "
                         "{} peak: the GEMM efficiency) -- {}, {} of the step",
                         si(compute_flops, "FLOP"), si(compute_flops / step.compute_s, "FLOP/s"),
                         pct(compute_flops / step.compute_s, s.m.peak_flops_per_s),
                         si(s.m.peak_flops_per_s, "FLOP/s"), secs(step.compute_s),
                         pct(step.compute_s, T));
    case 2:
      return fmt::format("memory: the step moves {} at {} (the ops below the ridge point, at the "
                         "bandwidth of the level each one's working set fits in) -- {}, {} of the "
                         "step",
                         si(memory_bytes, "B"), si(memory_bytes / step.memory_s, "B/s"),
                         secs(step.memory_s), pct(step.memory_s, T));
    case 3:
      return fmt::format("software: {} ops each pay {} of dispatch before their kernel -- {}, {} of "
                         "the step; the ops are too small to fill the machine (a larger batch or "
                         "fused ops would)",
                         n_ops, secs(step.dispatch_s / std::max(1, n_ops)), secs(step.dispatch_s),
                         pct(step.dispatch_s, T));
    case 14: {
      const std::string how =
          walls::allreduce_from_table(s.m, ranks)
              ? std::string("timed by bytes as calibrate measured the DDP's all-reduce")
              : fmt::format("at beta {} (alpha {} each)", si(s.m.beta_bytes_per_s, "B/s"),
                            secs(s.m.alpha_s));
      return fmt::format("communication: the ring all-reduce of {} of gradients in {} bucket "
                         "message(s) over {} ranks, {} -- {} in all, {} exposed after the buckets "
                         "overlap backward, {} of the step",
                         si(s.w.gradient_bytes, "B"), s.messages.size(), ranks, how,
                         secs(step.comm_total_s), secs(step.comm_s), pct(step.comm_s, T));
    }
    default:
      return "none: the step is predicted to take no time (or could not be priced)";
  }
}

nlohmann::json memory_json(const walls::MemoryInventory& m, const walls::MemoryFit& fit,
                           const std::string& capacity_name) {
  return {{"parameters_bytes", m.parameter_bytes}, {"gradients_bytes", m.gradient_bytes},
          {"optimizer_bytes", m.optimizer_bytes},  {"activations_bytes", m.activation_bytes},
          {"workspace_bytes", m.workspace_bytes},  {"total_bytes", m.total()},
          {"capacity_bytes", fit.capacity_bytes},  {"capacity", capacity_name},
          {"headroom_bytes", fit.headroom_bytes},  {"fits", fit.fits}};
}

nlohmann::json machine_json(const Setup& s, const WallsPredictOptions& o) {
  nlohmann::json levels = nlohmann::json::array();
  for (const auto& l : s.levels)
    levels.push_back({{"name", l.name}, {"capacity_bytes", l.capacity_bytes},
                      {"bandwidth_bytes_per_s", l.bandwidth_bytes_per_s}});
  nlohmann::json j = {{"name", s.m.name},
                      {"source", s.source},
                      {"precision", o.precision},
                      {"threads", s.m.threads},
                      {"peak_flops_per_s", s.m.peak_flops_per_s},
                      {"levels", levels},
                      {"dispatch_s", s.m.dispatch_s},
                      {"dispatch_autograd_s", s.m.dispatch_autograd_s},
                      {"alpha_s", s.m.alpha_s},
                      {"beta_bytes_per_s", s.m.beta_bytes_per_s}};
  if (s.hw) j["gemm_efficiency"] = o.gemm_efficiency;
  if (s.source == "profile") j["profile"] = o.profile;
  return j;
}

nlohmann::json workload_json(const Setup& s) {
  return {{"name", s.w.name},
          {"description", s.w.description},
          {"training", s.w.training},
          {"batch", s.w.batch},
          {"tokens_per_sample", s.tokens_per_sample},
          {"parameters", s.w.parameters},
          {"bytes_per_element", s.w.bytes_per_element},
          {"ops", s.w.ops.size()},
          {"flops", s.w.flops()},
          {"bytes", s.w.bytes()},
          {"gradient_bytes", s.w.gradient_bytes}};
}

void print_memory(std::FILE* out, const walls::MemoryInventory& m, const walls::MemoryFit& fit,
                  const Setup& s) {
  const std::string parts = fmt::format(
      "parameters {}, gradients {}, optimizer {}, activations {}, workspace {}",
      si(m.parameter_bytes, "B"), si(m.gradient_bytes, "B"), si(m.optimizer_bytes, "B"),
      si(m.activation_bytes, "B"), si(m.workspace_bytes, "B"));
  const std::string where = s.hw ? fmt::format("{} of the {}", s.capacity_name, s.hw->name)
                                 : std::string("this machine's RAM");
  if (std::isnan(fit.capacity_bytes)) {
    fmt::print(out, "will it fit     needs {} ({}); the capacity is not known\n", si(m.total(), "B"), parts);
  } else if (fit.fits) {
    fmt::print(out, "will it fit     yes: needs {} of {} {} ({} free)\n", si(m.total(), "B"),
               si(fit.capacity_bytes, "B"), where, si(fit.headroom_bytes, "B"));
    fmt::print(out, "                {}\n", parts);
  } else {
    fmt::print(out, "will it fit     NO: needs {}, {:.1f}x the {} {}; the step time above assumes it "
                    "did fit\n",
               si(m.total(), "B"), fit.times, si(fit.capacity_bytes, "B"), where);
    fmt::print(out, "                {}\n", parts);
  }
}

}  // namespace

// ---- registration ----------------------------------------------------------------------------

WallsPredictCommands add_walls_predict_commands(CLI::App* walls, WallsPredictOptions& o) {
  WallsPredictCommands c;
  auto selectors = [&](CLI::App* cmd, bool ranks) {
    cmd->add_option("--workload", o.workload,
                    "An analytic model (gpt2-124m, llama3-8b, resnet50) or a bstack zoo model "
                    "(perceptron, mlp, cnn, gpt-tiny)")
        ->required();
    cmd->add_option("--profile", o.profile, "This machine: a profile `bstack calibrate` wrote (at "
                    "the --threads count; all the profile's threads by default)")
        ->check(CLI::ExistingFile);
    cmd->add_option("--hardware", o.hardware, "A registry device instead of this machine: " +
                    device_list());
    cmd->add_option("--batch", o.batch, "Samples (sequences, images) per step, per rank")
        ->check(CLI::Range(int64_t{1}, int64_t{1} << 40))
        ->capture_default_str();
    cmd->add_option("--seq", o.seq, "Tokens per sequence for gpt2-124m / llama3-8b (default: the "
                    "model's context)")
        ->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
    cmd->add_option("--precision", o.precision, "fp32 | tf32 | bf16 | fp16 | int8 | fp64: the "
                    "device's peak, and an analytic model's element width")
        ->check(CLI::IsMember({"fp64", "fp32", "tf32", "fp16", "bf16", "int8"}))
        ->capture_default_str();
    cmd->add_option("--optimizer", o.optimizer, "adam | adamw | sgd (momentum)")
        ->check(CLI::IsMember({"adam", "adamw", "sgd"}))
        ->capture_default_str();
    cmd->add_option("--data", o.data, "Zoo models: the data source, as `bstack train --data`");
    cmd->add_flag("--inference", o.inference, "One forward pass instead of a training step");
    cmd->add_option("--gemm-efficiency", o.gemm_efficiency, "With --hardware: achieved / peak of "
                    "GEMM-class ops (MLSys-im's default 0.5)")
        ->check(CLI::Range(1e-6, 1.0))
        ->capture_default_str();
    cmd->add_option("--dispatch-us", o.dispatch_us, "With --hardware: framework + launch time per op "
                    "in microseconds (MLSys-im's default 10)")
        ->check(CLI::Range(0.0, 1e6))
        ->capture_default_str();
    if (ranks) {
      cmd->add_option("--ranks", o.ranks, "Data-parallel ranks: adds wall 14, the ring all-reduce "
                      "of the gradients, one per bucket (profile: its measured DDP all-reduce when "
                      "taken at this rank count, else its alpha and beta; --hardware: the device link)")
          ->check(CLI::Range(1, 1 << 20))
          ->capture_default_str();
      cmd->add_option("--bucket-kb", o.bucket_kb, "DDP gradient bucket in KiB: all but the last "
                      "bucket's all-reduce can hide behind backward (as `bstack train`)")
          ->check(CLI::NonNegativeNumber)
          ->capture_default_str();
      cmd->add_flag("--no-overlap", o.no_overlap, "The all-reduce starts after backward (no overlap)");
    }
  };
  c.predict = walls->add_subcommand(
      "predict", "One step of a workload predicted op by op on this machine (--profile) or a\n"
                 "registry device (--hardware): per op class, the total, throughput, the binding\n"
                 "wall explained, wall 14 with --ranks, and whether it fits in memory");
  selectors(c.predict, true);
  c.sensitivity = walls->add_subcommand(
      "sensitivity", "Wall 21: which of the machine's parameters (peak, bandwidths, GEMM efficiency,\n"
                     "dispatch, alpha, beta) the predicted step time depends on most");
  selectors(c.sensitivity, true);
  c.synthesis = walls->add_subcommand(
      "synthesis", "Wall 22: the bandwidth and FLOP/s a target step time needs, and which registry\n"
                   "devices meet it");
  selectors(c.synthesis, false);
  c.synthesis->add_option("--target-ms", o.target_ms, "The step time to meet, in milliseconds")
      ->required()
      ->check(CLI::PositiveNumber);
  return c;
}

// ---- predict ---------------------------------------------------------------------------------

int run_walls_predict(const GlobalOptions& opts, const WallsPredictOptions& o) {
  const Setup s = setup(opts, o, true, true);
  const walls::StepPrediction step =
      walls::predict_step(s.m, s.w.ops, o.ranks, s.messages, s.overlap);
  std::vector<walls::ClassSummary> classes = walls::summarize_by_class(s.w.ops, step, nullptr);
  std::stable_sort(classes.begin(), classes.end(),
                   [](const walls::ClassSummary& a, const walls::ClassSummary& b) {
                     return a.predicted_s > b.predicted_s;
                   });
  const walls::MemoryFit fit = walls::memory_fit(s.w.memory.total(), s.capacity_bytes);
  const double samples_s = double(s.w.batch) * o.ranks / step.seconds;
  const double tokens_s = s.tokens_per_sample > 0 ? samples_s * double(s.tokens_per_sample) : kNaN;
  const std::string why = explain(s, step, o.ranks);

  std::FILE* out = opts.json ? stderr : stdout;
  fmt::print(out, "workload        {}\n", s.w.description);
  fmt::print(out, "machine         {}\n", s.machine_line);
  const double main_bw = s.m.levels.back().bandwidth_bytes_per_s;
  fmt::print(out, "step            {} ops, {}, {} moved (intensity {:.1f} FLOP/B; GEMM ridge point "
                  "{:.1f} FLOP/B at the last level)\n",
             s.w.ops.size(), si(s.w.flops(), "FLOP"), si(s.w.bytes(), "B"),
             s.w.flops() / s.w.bytes(),
             s.m.peak_flops_per_s * walls::efficiency_for(s.m.gemm_efficiency, kInf) / main_bw);
  for (const auto& n : s.notes) fmt::print(out, "note            {}\n", n);
  size_t width = 8;  // the op class column: as wide as the longest name
  for (const auto& c : classes) width = std::max(width, c.name.size() + (c.backward ? 6 : 0));
  fmt::print(out, "\n{:<{}} {:>5} {:>11} {:>7} {:>11} {:>11} {:>8}  {}\n", "op class", width, "ops",
             "predicted", "share", "FLOP", "bytes", "FLOP/B", "binding wall");
  nlohmann::json cj = nlohmann::json::array();
  for (const auto& c : classes) {
    const std::string name = c.name + (c.backward ? " (bwd)" : "");
    fmt::print(out, "{:<{}} {:>5} {:>11} {:>7} {:>11} {:>11} {:>8.1f}  {} {}\n", name, width, c.count,
               secs(c.predicted_s), pct(c.predicted_s, step.seconds), si(c.flops, "", 2),
               si(c.bytes, "B", 1), c.bytes > 0 ? c.flops / c.bytes : kNaN, c.binding_wall,
               wall_name(c.binding_wall));
    cj.push_back({{"name", c.name}, {"backward", c.backward}, {"count", c.count},
                  {"predicted_s", c.predicted_s}, {"compute_s", c.compute_s},
                  {"memory_s", c.memory_s}, {"dispatch_s", c.dispatch_s}, {"flops", c.flops},
                  {"bytes", c.bytes}, {"intensity", c.bytes > 0 ? c.flops / c.bytes : kNaN},
                  {"binding_wall", c.binding_wall}});
  }
  fmt::print(out, "\npredicted step  {} = compute {} + memory {} + dispatch {}{}\n", secs(step.seconds),
             secs(step.compute_s), secs(step.memory_s), secs(step.dispatch_s),
             o.ranks > 1 ? " + communication " + secs(step.comm_s) + " exposed" : "");
  if (o.ranks > 1)
    fmt::print(out, "wall 14         ring all-reduce of {} in {} message(s) over {} ranks ({}): {} in "
                    "all, overlap fraction {:.2f} behind backward ({})\n",
               si(s.w.gradient_bytes, "B"), s.messages.size(), o.ranks,
               walls::allreduce_from_table(s.m, o.ranks) ? "the measured DDP all-reduce"
                                                         : "alpha-beta ring formula",
               secs(step.comm_total_s), s.overlap, secs(step.backward_s));
  if (o.ranks > 1 && walls::corun_factor(s.m, o.ranks) != 1.0)
    fmt::print(out, "ranks together  node time x {:.3f} (+{}): {} ranks sharing the node in lockstep "
                    "(calibrate section corun)\n", s.m.corun_factor, secs(step.corun_s), o.ranks);
  else if (o.ranks > 1 && s.m.corun_ranks > 0 && s.m.corun_ranks != o.ranks)
    fmt::print(out, "ranks together  the profile's corun factor {:.3f} was measured with {} ranks, "
                    "not {}: not applied\n", s.m.corun_factor, s.m.corun_ranks, o.ranks);
  if (s.tokens_per_sample > 0)
    fmt::print(out, "throughput      {:.1f} samples/s, {} tokens/s{}\n", samples_s, si(tokens_s, "", 1),
               o.ranks > 1 ? fmt::format(" over {} ranks", o.ranks) : "");
  else
    fmt::print(out, "throughput      {:.1f} samples/s{}\n", samples_s,
               o.ranks > 1 ? fmt::format(" over {} ranks", o.ranks) : "");
  fmt::print(out, "binding wall    {} {}: {}\n", step.binding_wall, wall_name(step.binding_wall), why);
  print_memory(out, s.w.memory, fit, s);

  if (opts.json) {
    nlohmann::json j = {{"workload", workload_json(s)},
                        {"machine", machine_json(s, o)},
                        {"ranks", o.ranks},
                        {"overlap_fraction", s.overlap},
                        {"allreduce_messages", s.messages.size()},
                        {"allreduce_model", walls::allreduce_from_table(s.m, o.ranks) ? "measured" : "ring"},
                        {"predicted_step_s", step.seconds},
                        {"compute_s", step.compute_s},
                        {"memory_s", step.memory_s},
                        {"dispatch_s", step.dispatch_s},
                        {"comm_s", step.comm_s},
                        {"comm_total_s", step.comm_total_s},
                        {"corun_factor", walls::corun_factor(s.m, o.ranks)},
                        {"corun_s", step.corun_s},
                        {"binding_wall", step.binding_wall},
                        {"binding_wall_name", wall_name(step.binding_wall)},
                        {"explanation", why},
                        {"samples_per_s", samples_s},
                        {"tokens_per_s", tokens_s},
                        {"memory", memory_json(s.w.memory, fit, s.capacity_name)},
                        {"fits", fit.fits},
                        {"classes", cj},
                        {"notes", s.notes}};
    fmt::print("{}\n", j.dump());
  }
  return 0;
}

// ---- sensitivity (wall 21) -------------------------------------------------------------------

int run_walls_sensitivity(const GlobalOptions& opts, const WallsPredictOptions& o) {
  Setup s = setup(opts, o, true, true);
  // Wall 21 varies alpha and beta, so the all-reduce is priced with wall 14's ring formula here,
  // not the profile's measured table (which those parameters do not enter).
  if (walls::allreduce_from_table(s.m, o.ranks)) {
    s.m.allreduce_time.clear();
    s.notes.push_back("the all-reduce is priced with wall 14's ring formula from alpha_s and "
                      "beta_bytes_per_s (the parameters varied here), not the profile's measured "
                      "DDP all-reduce table that `walls predict` uses");
  }
  const walls::Machine base = s.m;
  // The parameters: peak, each level's bandwidth, a scale on every GEMM efficiency (clamped to 1,
  // so near-peak efficiencies see a smaller step up), the dispatch (both of its measurements
  // scaled together), and with ranks > 1 alpha and beta.
  std::vector<std::string> names = {"peak_flops_per_s"};
  std::vector<double> values = {base.peak_flops_per_s};
  for (const auto& l : base.levels) {
    names.push_back(l.name + "_bandwidth_bytes_per_s");
    values.push_back(l.bandwidth_bytes_per_s);
  }
  names.push_back("gemm_efficiency_scale");
  values.push_back(1.0);
  const bool dispatch = base.dispatch_s > 0;
  if (dispatch) names.push_back("dispatch_s"), values.push_back(base.dispatch_s);
  if (o.ranks > 1) {
    names.push_back("alpha_s"), values.push_back(base.alpha_s);
    names.push_back("beta_bytes_per_s"), values.push_back(base.beta_bytes_per_s);
  }
  const walls::TimeModel model = [&](const std::vector<double>& x) {
    walls::Machine m = base;
    size_t i = 0;
    m.peak_flops_per_s = x[i++];
    for (auto& l : m.levels) l.bandwidth_bytes_per_s = x[i++];
    const double scale = x[i++];
    for (auto& p : m.gemm_efficiency) p.efficiency = std::min(1.0, p.efficiency * scale);
    if (dispatch) {
      const double r = x[i++] / base.dispatch_s;
      m.dispatch_s = base.dispatch_s * r;
      m.dispatch_autograd_s = base.dispatch_autograd_s * r;
    }
    if (o.ranks > 1) m.alpha_s = x[i++], m.beta_bytes_per_s = x[i++];
    return walls::predict_step(m, s.w.ops, o.ranks, s.messages, s.overlap).seconds;
  };
  const walls::SensitivityResult r = walls_call([&] { return walls::sensitivity(model, names, values, 0.1); });
  const walls::StepPrediction step =
      walls::predict_step(base, s.w.ops, o.ranks, s.messages, s.overlap);

  std::FILE* out = opts.json ? stderr : stdout;
  fmt::print(out, "workload        {}\n", s.w.description);
  fmt::print(out, "machine         {}\n", s.machine_line);
  fmt::print(out, "predicted step  {} (binding wall {} {})\n", secs(r.time), step.binding_wall,
             wall_name(step.binding_wall));
  for (const auto& n : s.notes) fmt::print(out, "note            {}\n", n);
  fmt::print(out, "\nwall 21: each parameter moved by +-10%, the step re-predicted (elasticity = "
                  "dlnT/dlnx; -1: the step scales inversely with it)\n");
  fmt::print(out, "{:<34} {:>18} {:>10} {:>10} {:>10}\n", "parameter", "value", "elasticity",
             "T at +10%", "T at -10%");
  nlohmann::json pj = nlohmann::json::array();
  for (const auto& p : r.ranked) {
    std::string v;
    if (p.name == "peak_flops_per_s") v = si(p.value, "FLOP/s");
    else if (p.name.find("bytes_per_s") != std::string::npos) v = si(p.value, "B/s");
    else if (p.name == "dispatch_s" || p.name == "alpha_s") v = secs(p.value);
    else v = fmt::format("{:.2f}", p.value);
    auto rel = [&](double t) {
      return std::isnan(t) ? std::string("n/a") : fmt::format("{:+.1f}%", 100 * (t - r.time) / r.time);
    };
    fmt::print(out, "{:<34} {:>18} {:>10.3f} {:>10} {:>10}\n", p.name, v, p.elasticity,
               rel(p.time_up), rel(p.time_down));
    pj.push_back({{"name", p.name}, {"value", p.value}, {"elasticity", p.elasticity},
                  {"derivative", p.derivative}, {"time_up_s", p.time_up},
                  {"time_down_s", p.time_down}});
  }
  if (r.binding.empty())
    fmt::print(out, "binding         none: no parameter moves the step time\n");
  else
    fmt::print(out, "binding         {}: 10% {} of it shortens the step by about {:.1f}%\n",
               r.binding, r.ranked[0].elasticity < 0 ? "more" : "less",
               100 * std::abs(r.ranked[0].elasticity) * 0.1);
  if (opts.json)
    fmt::print("{}\n", nlohmann::json{{"workload", workload_json(s)},
                                      {"machine", machine_json(s, o)},
                                      {"ranks", o.ranks},
                                      {"predicted_step_s", r.time},
                                      {"binding_wall", step.binding_wall},
                                      {"binding_parameter", r.binding},
                                      {"relative_step", 0.1},
                                      {"parameters", pj},
                                      {"notes", s.notes}}
                           .dump());
  return 0;
}

// ---- synthesis (wall 22) ---------------------------------------------------------------------

int run_walls_synthesis(const GlobalOptions& opts, const WallsPredictOptions& o) {
  const Setup s = setup(opts, o, false, false);
  const double target = o.target_ms * 1e-3;
  const walls::SynthesisResult need = walls::synthesis_wall(
      {s.w.flops(), s.w.bytes(), target, o.gemm_efficiency, 1.0});
  const double dispatch_floor = double(s.w.ops.size()) * o.dispatch_us * 1e-6;
  const double required = s.w.memory.total();

  std::FILE* out = opts.json ? stderr : stdout;
  fmt::print(out, "workload        {}\n", s.w.description);
  for (const auto& n : s.notes) fmt::print(out, "note            {}\n", n);
  fmt::print(out, "target          {} per step\n", secs(target));
  fmt::print(out, "wall 22 needs   bandwidth {} (|W| {} / T) and peak {} (OPs {} / (T x eta {:.2f})); "
                  "intensity {:.1f} FLOP/B\n",
             si(need.bandwidth.value, "B/s"), si(s.w.bytes(), "B"), si(need.peak.value, "FLOP/s"),
             si(s.w.flops(), "FLOP"), o.gemm_efficiency, need.intensity.value);
  fmt::print(out, "                plus {} ops x {} dispatch = {} the roofs cannot buy back; memory "
                  "{}\n\n",
             s.w.ops.size(), secs(o.dispatch_us * 1e-6), secs(dispatch_floor), si(required, "B"));

  fmt::print(out, "{:<46} {:>15} {:>13} {:>6} {:>11} {:>7} {:>5}\n", "device", "peak", "bandwidth",
             "roofs", "predicted", "target", "fits");
  nlohmann::json devices = nlohmann::json::array();
  auto row = [&](const std::string& name, const walls::Machine& m, double capacity) {
    walls::Machine timed = m;
    const double bw = m.levels.back().bandwidth_bytes_per_s;
    timed.levels.back().capacity_bytes = kInf;
    const double t = walls::predict_step(timed, s.w.ops, 1, s.w.gradient_bytes, 0).seconds;
    const bool roofs = walls::meets(need, m.peak_flops_per_s, bw);
    const walls::MemoryFit fit = walls::memory_fit(required, capacity);
    fmt::print(out, "{:<46} {:>15} {:>13} {:>6} {:>11} {:>7} {:>5}\n", name,
               si(m.peak_flops_per_s, "FLOP/s"), si(bw, "B/s"), roofs ? "yes" : "no", secs(t),
               t <= target ? "met" : "missed", std::isnan(capacity) ? "?" : (fit.fits ? "yes" : "no"));
    devices.push_back({{"name", name}, {"peak_flops_per_s", m.peak_flops_per_s},
                       {"bandwidth_bytes_per_s", bw}, {"meets_roofs", roofs},
                       {"predicted_step_s", t}, {"meets_target", t <= target},
                       {"capacity_bytes", capacity}, {"fits", fit.fits}});
  };
  if (s.source == "profile") {
    walls::Machine m = s.m;
    m.levels = s.levels;
    row("this machine (" + m.name + ")", m, s.capacity_bytes);
  }
  walls::HardwareAssumptions a;
  a.gemm_efficiency = o.gemm_efficiency;
  a.dispatch_s = o.dispatch_us * 1e-6;
  std::vector<std::string> skipped;
  for (const walls::Hardware& h : walls::registry()) {
    try {
      row(std::string(h.name), walls::machine_from_hardware(h, o.precision, a),
          walls::hardware_memory_capacity(h));
    } catch (const std::invalid_argument& e) {
      skipped.push_back(std::string(h.aliases.front()));
      devices.push_back({{"name", std::string(h.name)}, {"skipped", e.what()}});
    }
  }
  if (!skipped.empty())
    fmt::print(out, "(not priced: {} -- no published {} peak or memory bandwidth)\n", join(skipped),
               o.precision);
  fmt::print(out, "roofs: the device's datasheet peak and main-memory bandwidth cover wall 22's "
                  "need; predicted: the step op by op on it (GEMM efficiency {:.2f}, {} dispatch per "
                  "op), against the target\n",
             o.gemm_efficiency, secs(o.dispatch_us * 1e-6));
  if (opts.json)
    fmt::print("{}\n", nlohmann::json{{"workload", workload_json(s)},
                                      {"target_s", target},
                                      {"bandwidth_bytes_per_s", need.bandwidth.value},
                                      {"peak_flops_per_s", need.peak.value},
                                      {"intensity", need.intensity.value},
                                      {"gemm_efficiency", o.gemm_efficiency},
                                      {"dispatch_floor_s", dispatch_floor},
                                      {"memory_bytes", required},
                                      {"devices", devices},
                                      {"notes", s.notes}}
                           .dump());
  return 0;
}

}  // namespace bstack::cli
