#include "cli/tune_cmd.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "kernels/autotune.h"
#include "kernels/parallel.h"
#include "src/error.h"
#include "src/io/tune_cache.h"
#include "src/util/progress.h"

namespace bstack::cli {
namespace {

std::vector<std::array<int64_t, 3>> parse_shapes(const std::string& text) {
  std::vector<std::array<int64_t, 3>> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t end = std::min(text.find(',', pos), text.size());
    const std::string item = text.substr(pos, end - pos);
    std::array<int64_t, 3> s{};
    char x1 = 0, x2 = 0;
    int used = 0;
    long long m = 0, n = 0, k = 0;
    if (std::sscanf(item.c_str(), "%lld%c%lld%c%lld%n", &m, &x1, &n, &x2, &k, &used) != 5 ||
        x1 != 'x' || x2 != 'x' || used != static_cast<int>(item.size()) || m < 1 || n < 1 || k < 1 ||
        m > 65536 || n > 65536 || k > 65536)
      fail("--shapes: '{}' is not MxNxK with sizes 1..65536 (e.g. 512x768x3072)", item);
    s = {m, n, k};
    out.push_back(s);
    pos = end + 1;
  }
  return out;
}

nlohmann::json entry_json(const kernels::TuneEntry& e) {
  const double flops = 2.0 * static_cast<double>(e.m) * e.n * e.k;
  return {{"op", e.op},
          {"shape_class", e.shape_class},
          {"m", e.m}, {"n", e.n}, {"k", e.k},
          {"mc", e.config.mc}, {"kc", e.config.kc}, {"nc", e.config.nc},
          {"variant", e.op == "sgemm" ? kernels::gemm_variant<float>(kernels::isa(), e.config.variant).name
                                      : kernels::gemm_variant<double>(kernels::isa(), e.config.variant).name},
          {"threads", e.config.threads},
          {"split", e.config.split == kernels::GemmSplit::jr ? "jr" : "ic"},
          {"tuned_flops_per_s", flops / e.seconds_tuned},
          {"default_flops_per_s", flops / e.seconds_default},
          {"untuned_flops_per_s", flops / e.seconds_untuned}};
}

void print_table(const std::vector<kernels::TuneEntry>& entries) {
  fmt::print(stderr, "{:<6} {:<16} {:<9} {:<14} {:>5} {:>5} {:>5} {:>3} {:>5} {:>8} {:>8} {:>8} {:>7}\n",
             "op", "shape", "class", "micro-kernel", "MC", "KC", "NC", "thr", "split", "tuned",
             "default", "untuned", "gain");
  for (const auto& e : entries) {
    const nlohmann::json j = entry_json(e);
    fmt::print(stderr, "{:<6} {:<16} {:<9} {:<14} {:>5} {:>5} {:>5} {:>3} {:>5} {:>8.1f} {:>8.1f} {:>8.1f} {:>6.2f}x\n",
               e.op, fmt::format("{}x{}x{}", e.m, e.n, e.k), e.shape_class,
               j["variant"].get<std::string>(), e.config.mc, e.config.kc, e.config.nc,
               e.config.threads == 0 ? std::string("all") : std::to_string(e.config.threads),
               j["split"].get<std::string>(), j["tuned_flops_per_s"].get<double>() / 1e9,
               j["default_flops_per_s"].get<double>() / 1e9,
               j["untuned_flops_per_s"].get<double>() / 1e9, e.seconds_default / e.seconds_tuned);
  }
  fmt::print(stderr, "(GFLOP/s, best-of-N after a warm-up; gain = tuned vs analytical defaults; "
                     "untuned = fixed MC=KC=256, NC=4096)\n");
}

}  // namespace

void add_tune_options(CLI::App* cmd, TuneOptions& o) {
  cmd->add_option("--op", o.op, "Kernel to tune: gemm (sgemm and dgemm), sgemm or dgemm")
      ->check(CLI::IsMember({"gemm", "sgemm", "dgemm"}));
  cmd->add_option("--budget-s", o.budget_s, "Seconds for the whole search (default 60)")
      ->check(CLI::Range(1.0, 86400.0));
  cmd->add_option("--shapes", o.shapes, "Shapes to tune, MxNxK,... (default: one per shape class "
                                        "that training and the benchmarks use)")
      ->check([](const std::string& text) {
        try {
          parse_shapes(text);
          return std::string();
        } catch (const Error& e) {
          return std::string(e.what());
        }
      });
  cmd->add_option("-o,--output", o.output, "Cache file (default: $BSTACK_TUNE_CACHE, else "
                                           "~/.cache/bstack/tune.h5)");
  cmd->add_flag("--show", o.show, "Print the tuning cache in use and tune nothing");
}

int run_tune(const GlobalOptions& opts, const TuneOptions& o) {
  const std::string path = o.output.empty() ? default_tuning_cache_path() : o.output;
  std::vector<kernels::TuneEntry> existing;
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    try {
      existing = read_tuning_cache(path);
    } catch (const Error& e) {
      fmt::print(stderr, "bstack: warning: {}; it will be replaced\n", e.what());
    }
  }
  if (o.show) {
    fmt::print(stderr, "tuning cache {} ({} entries), machine: {}\n", path, existing.size(),
               kernels::tune_machine_key());
    if (!existing.empty()) print_table(existing);
    if (opts.json) {
      nlohmann::json j{{"cache", path}, {"machine", kernels::tune_machine_key()},
                       {"entries", nlohmann::json::array()}};
      for (const auto& e : existing) j["entries"].push_back(entry_json(e));
      fmt::print("{}\n", j.dump());
    }
    return 0;
  }
  const auto shapes = o.shapes.empty() ? kernels::default_tune_shapes() : parse_shapes(o.shapes);
  std::vector<std::string> ops;
  if (o.op == "gemm" || o.op == "sgemm") ops.push_back("sgemm");
  if (o.op == "gemm" || o.op == "dgemm") ops.push_back("dgemm");
  // Weight the budget by each problem's size (log FLOPs), so large shapes get the evaluations
  // they need and small ones do not waste seconds; dgemm gets a third of sgemm's share.
  std::vector<double> weight;
  double total_w = 0;
  for (const auto& op : ops)
    for (const auto& s : shapes) {
      const double w = std::log2(2.0 * s[0] * s[1] * s[2] + 2.0) * (op == "sgemm" ? 1.0 : 0.34);
      weight.push_back(w);
      total_w += w;
    }
  fmt::print(stderr, "Tuning {} on {} ({} threads), {} shapes, budget {:.0f} s. Method: each "
                     "configuration timed best-of-N after a warm-up call; random search, then "
                     "coordinate descent.\n",
             o.op, kernels::tune_machine_key(), kernels::num_threads(), shapes.size(), o.budget_s);
  Progress bar("tune", 1000);
  bar.set_unit("‰");
  std::vector<kernels::TuneEntry> results;
  double done_w = 0;
  size_t idx = 0;
  for (const auto& op : ops)
    for (const auto& s : shapes) {
      kernels::TuneOptions to;
      to.budget_s = o.budget_s * weight[idx] / total_w;
      const double flops = 2.0 * s[0] * s[1] * s[2];
      to.repeats = flops > 4e9 ? 2 : flops > 2e8 ? 3 : 5;
      const double base = done_w / total_w, share = weight[idx] / total_w;
      const std::string label = fmt::format("{} {}x{}x{}", op, s[0], s[1], s[2]);
      to.progress = [&](double frac, double best_s) {
        bar.update(static_cast<int64_t>(1000 * (base + share * frac)),
                   fmt::format("{} best {:.1f} GFLOP/s", label, flops / best_s / 1e9));
      };
      results.push_back(op == "sgemm" ? kernels::autotune_gemm<float>(s[0], s[1], s[2], to)
                                      : kernels::autotune_gemm<double>(s[0], s[1], s[2], to));
      done_w += weight[idx++];
    }
  bar.finish();
  // One entry per (op, shape class): a later shape of the same class replaces an earlier entry
  // only when it was tuned now; entries of other classes from the old cache are kept.
  std::vector<kernels::TuneEntry> merged;
  for (const auto& e : existing) {
    const bool replaced = std::any_of(results.begin(), results.end(), [&](const auto& r) {
      return r.op == e.op && r.shape_class == e.shape_class;
    });
    if (!replaced) merged.push_back(e);
  }
  for (const auto& r : results) {
    auto it = std::find_if(merged.begin(), merged.end(), [&](const auto& m) {
      return m.op == r.op && m.shape_class == r.shape_class;
    });
    if (it == merged.end()) merged.push_back(r);
    else if (r.seconds_default / r.seconds_tuned > it->seconds_default / it->seconds_tuned) *it = r;
  }
  save_tuning_cache(path, merged);
  kernels::tune_install(merged);
  print_table(results);
  fmt::print(stderr, "wrote {} ({} entries); every bstack run on this machine now uses it\n", path,
             merged.size());
  if (opts.json) {
    nlohmann::json j{{"cache", path}, {"machine", kernels::tune_machine_key()},
                     {"budget_s", o.budget_s}, {"entries", nlohmann::json::array()}};
    for (const auto& e : results) j["entries"].push_back(entry_json(e));
    fmt::print("{}\n", j.dump());
  }
  return 0;
}

}  // namespace bstack::cli
