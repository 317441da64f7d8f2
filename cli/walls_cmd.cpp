#include "cli/walls_cmd.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include "calibrate/compare.h"
#include "calibrate/plot.h"
#include "calibrate/profile.h"
#include "cli/units.h"
#include "walls/wall.h"

namespace bstack::cli {
namespace {

constexpr size_t kWidth = 100;  // human text is wrapped to this many columns


// `text` broken at spaces into lines of at most kWidth columns; the first line follows a label
// already printed, the others start with `indent` spaces. A word longer than a line stays whole.
std::string wrap(std::string_view text, size_t indent) {
  std::string out, line;
  const size_t room = kWidth > indent + 20 ? kWidth - indent : 20;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t end = std::min(text.find(' ', pos), text.size());
    const std::string_view word = text.substr(pos, end - pos);
    if (!line.empty() && line.size() + 1 + word.size() > room) {
      out += line + "\n" + std::string(indent, ' ');
      line.clear();
    }
    if (!word.empty()) line += (line.empty() ? "" : " ") + std::string(word);
    pos = end + 1;
  }
  return out + line;
}

// The sources of a wall one per line: the table joins them with "; ".
std::vector<std::string_view> split_sources(std::string_view s) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t end = std::min(s.find("; ", pos), s.size());
    out.push_back(s.substr(pos, end - pos));
    pos = end + 2;
  }
  return out;
}

nlohmann::json wall_json(const walls::WallInfo& w) {
  std::vector<std::string> fields(w.profile_fields.begin(), w.profile_fields.end());
  return {{"number", w.number},          {"name", w.name},     {"domain", w.domain},
          {"equation", w.equation},      {"limit", w.limit},   {"source", w.source},
          {"header", w.header},          {"profile_fields", fields}};
}

}  // namespace

WallsCommands add_walls_commands(CLI::App* walls, WallsOptions& o) {
  walls->require_subcommand(1);
  WallsCommands c;
  c.list = walls->add_subcommand(
      "list", "The 22 walls: number, name, domain and what limits (--json: also the equation,\n"
              "sources, header and profile fields of each)");
  c.show = walls->add_subcommand(
      "show", "One wall explained: its equation, what limits, its sources, where the code lives\n"
              "and which profile fields feed it (with their values when --profile is given)");
  c.show->add_option("number", o.number, "The wall, 1..22 (see `bstack walls list`)")
      ->required()
      ->check(CLI::Range(1, 22));
  c.show->add_option("--profile", o.profile,
                     "A profile `bstack calibrate` wrote on this machine: print its values of "
                     "the wall's fields")
      ->check(CLI::ExistingFile);
  c.compare = walls->add_subcommand(
      "compare", "A training trace beside what the walls predict for it on this machine: per op\n"
                 "class and per step, predicted vs measured, the binding wall, a roofline SVG");
  c.compare->add_option("--profile", o.profile, "The profile `bstack calibrate` wrote on this machine")
      ->required()
      ->check(CLI::ExistingFile);
  c.compare->add_option("--trace", o.trace, "A trace `bstack train --trace run.h5` wrote")
      ->required()
      ->check(CLI::ExistingFile);
  c.compare->add_option("--plot", o.plot,
                        "Write a roofline SVG: the machine's ceilings with every measured op class "
                        "as a point (needs gnuplot)");
  return c;
}

int run_walls_list(const GlobalOptions& opts) {
  std::FILE* out = opts.json ? stderr : stdout;  // human text; JSON goes to stdout
  fmt::print(out, "{:>2}  {:<15} {:<10}  {}\n", "#", "wall", "domain", "what limits");
  nlohmann::json list = nlohmann::json::array();
  for (const walls::WallInfo& w : walls::walls()) {
    fmt::print(out, "{:>2}  {:<15} {:<10}  {}\n", w.number, w.name, w.domain, wrap(w.limit, 32));
    list.push_back(wall_json(w));
  }
  fmt::print(out, "(MLSys-im, Janapa Reddi 2026, Table 1; `bstack walls show N` explains one)\n");
  if (opts.json) fmt::print("{}\n", nlohmann::json{{"walls", list}}.dump());
  return 0;
}

int run_walls_show(const GlobalOptions& opts, const WallsOptions& o) {
  const walls::WallInfo& w = walls::wall(o.number);
  // Read before printing anything: a corrupt or foreign file ends the command with its message.
  calibrate::MachineProfile p;
  const bool with_profile = !o.profile.empty();
  if (with_profile) p = calibrate::read_profile(o.profile);

  std::FILE* out = opts.json ? stderr : stdout;
  constexpr size_t kIndent = 14;  // the column the values start in
  fmt::print(out, "Wall {}: {} ({})\n", w.number, w.name, w.domain);
  fmt::print(out, "  equation:   {}\n", wrap(w.equation, kIndent));
  fmt::print(out, "  limits:     {}\n", wrap(w.limit, kIndent));
  const std::vector<std::string_view> sources = split_sources(w.source);
  for (size_t i = 0; i < sources.size(); ++i)
    fmt::print(out, "  {:<12}{}\n", i == 0 ? "source:" : "", wrap(sources[i], kIndent));
  fmt::print(out, "  code:       {} (the table of walls: walls/wall.h)\n", w.header);

  nlohmann::json j = wall_json(w);
  if (w.profile_fields.empty()) {
    fmt::print(out, "  profile:    no measured field feeds this wall; its inputs are workload and "
                    "scenario numbers\n");
  } else if (!with_profile) {
    fmt::print(out, "  profile fields (keys `bstack calibrate` writes; many have a one-thread "
                    "<key>_1t too):\n");
    for (std::string_view k : w.profile_fields) fmt::print(out, "    {}\n", k);
    fmt::print(out, "  (`bstack walls show {} --profile profile.h5` prints their values)\n",
               w.number);
  }

  if (with_profile) {
    if (!w.profile_fields.empty())
      fmt::print(out, "  profile fields, from {} ({}, {}):\n", o.profile, p.meta_value("cpu_model"),
                 p.meta_value("date"));
    nlohmann::json values = nlohmann::json::object();
    std::vector<std::string> missing;
    for (std::string_view field : w.profile_fields) {
      const std::string k(field), k1 = k + "_1t";  // calibrate writes a one-thread variant of many
      std::string text = "-- not in this profile";
      if (p.has(k)) {
        const calibrate::Param& q = p.param(k);
        text = human(q.value, q.unit);
        values[k] = {{"value", q.value}, {"unit", q.unit}, {"method", q.method}};
      } else {
        missing.push_back(k);
      }
      if (p.has(k1)) {
        const calibrate::Param& q = p.param(k1);
        text += fmt::format("  (1 thread: {})", human(q.value, q.unit));
        values[k1] = {{"value", q.value}, {"unit", q.unit}, {"method", q.method}};
      }
      fmt::print(out, "    {:<32} {}\n", k, text);
    }
    if (!missing.empty())
      fmt::print(out, "  ({})\n",
                 wrap(fmt::format("{} of {} fields not measured in this profile: some need a GPU, "
                                  "mpirun, RAPL or a calibrate section that did not run",
                                  missing.size(), w.profile_fields.size()),
                      3));
    j["profile"] = o.profile;
    j["values"] = values;
    j["missing"] = missing;
  }
  if (opts.json) fmt::print("{}\n", j.dump());
  return 0;
}

namespace {
const char* wall_word(int w) {
  switch (w) {
    case 1: return "compute";
    case 2: return "memory";
    case 3: return "software";
    case 14: return "communication";
    default: return "-";
  }
}
std::string ms(double s) { return std::isfinite(s) ? fmt::format("{:.3f}", s * 1e3) : "n/a"; }
std::string pct(double e) { return std::isfinite(e) ? fmt::format("{:+.1f}%", e) : "n/a"; }
nlohmann::json num(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }
}  // namespace

int run_walls_compare(const GlobalOptions& opts, const WallsOptions& o) {
  // Both files are read (and rejected with their names) before anything is printed.
  const calibrate::MachineProfile p = calibrate::read_profile(o.profile);
  const Trace t = read_trace(o.trace);
  const calibrate::CompareResult r = calibrate::compare_trace(p, t);

  std::FILE* out = opts.json ? stderr : stdout;
  fmt::print(out, "walls compare: {} ({} thread{}) on {}\n", t.model, t.threads, t.threads == 1 ? "" : "s",
             r.machine.name);
  fmt::print(out, "  trace {}: {} steps, {} used (the first is a warm-up{})\n", o.trace,
             t.step_seconds.size(), r.steps_used,
             r.partial_steps ? fmt::format("; {} at a partial batch left out", r.partial_steps) : "");
  fmt::print(out, "  profile {}: peak {}, dispatch {} per op ({} with autograd)\n\n", o.profile,
             human(r.machine.peak_flops_per_s, "FLOP/s"), human(r.machine.dispatch_s, "s"),
             human(r.machine.dispatch_autograd_s, "s"));
  fmt::print(out, "{:<34} {:>5} {:>10} {:>10} {:>9} {:>10} {:>10} {:>8}  {}\n", "op class (per step)", "n",
             "MFLOP", "MB", "FLOP/B", "pred ms", "meas ms", "error", "binds");
  nlohmann::json classes = nlohmann::json::array();
  for (const walls::ClassSummary& c : r.classes) {
    const std::string label = c.name + (c.backward ? " (bwd)" : "");
    const double intensity = c.bytes > 0 ? c.flops / c.bytes : std::nan("");
    fmt::print(out, "{:<34} {:>5} {:>10.3f} {:>10.3f} {:>9.2f} {:>10} {:>10} {:>8}  {}\n", label, c.count,
               c.flops * 1e-6, c.bytes * 1e-6, intensity, ms(c.predicted_s), ms(c.measured_s),
               pct(c.error_pct), wall_word(c.binding_wall));
    classes.push_back({{"name", c.name},
                       {"backward", c.backward},
                       {"count", c.count},
                       {"flops", c.flops},
                       {"bytes", c.bytes},
                       {"predicted_s", num(c.predicted_s)},
                       {"measured_s", num(c.measured_s)},
                       {"error", num(c.error_pct / 100)},
                       {"binding_wall", c.binding_wall}});
  }
  fmt::print(out, "\nstep: predicted {} ms, measured {} ms (median of {} steps), error {}\n",
             ms(r.predicted_step_s), ms(r.measured_step_s), r.steps_used, pct(100 * r.step_error));
  fmt::print(out, "  predicted shares: compute {} ms, memory {} ms, software {} ms (dispatch; {} ms "
                  "of it outside the ops)", ms(r.compute_s), ms(r.memory_s), ms(r.dispatch_s),
             ms(r.outside_ops_s));
  if (r.ranks > 1) fmt::print(out, ", communication {} ms exposed", ms(r.comm_s));
  fmt::print(out, "\n  binding wall: {} ({})\n", r.binding_wall, wall_word(r.binding_wall));
  if (r.ranks > 1) {
    fmt::print(out, "  all-reduce over {} ranks: predicted {} ms in all, {} ms exposed; measured {} ms "
                    "in flight, {} ms exposed\n",
               r.ranks, ms(r.comm_total_s), ms(r.comm_s), ms(r.measured_comm_s), ms(r.measured_exposed_s));
    const int cr = r.machine.corun_ranks;
    fmt::print(out, "  ranks sharing the node in lockstep: node time x {:.3f} (+{} ms; {})\n",
               walls::corun_factor(r.machine, r.ranks), ms(r.corun_s),
               !p.has("corun_factor") ? "not measured: `mpirun -np P bstack calibrate --sections corun`"
               : cr > 0 && cr != r.ranks
                   ? fmt::format("the profile's corun factor was measured with {} ranks: not applied; "
                                 "`mpirun -np {} bstack calibrate --sections corun`", cr, r.ranks)
                   : std::string("calibrate section corun"));
  }

  // The ridge check (calibrate::RidgeCheck): GEMM-class ops right of their ridge point,
  // element-wise maps left of it.
  const calibrate::RidgeCheck& rc = r.ridge;
  auto ratio = [](double x) { return std::isfinite(x) ? fmt::format("{:.2g}", x) : std::string("n/a"); };
  fmt::print(out, "  ridge point I* = Peak x eta / BW of the op's memory level: GEMM-class ops {}/{} right "
                  "of it (I/I* >= {}),\n    element-wise ops {}/{} left of it (I/I* <= {}); {} other ops "
                  "not judged\n",
             rc.gemm_right, rc.gemm_ops, ratio(rc.gemm_min_ratio), rc.elementwise_left, rc.elementwise_ops,
             ratio(rc.elementwise_max_ratio), rc.other_ops);
  for (const std::string& m : rc.misplaced) fmt::print(out, "    on the wrong side: {}\n", m);

  std::string plot_note;
  if (!o.plot.empty()) {
    if (calibrate::gnuplot_available()) {
      calibrate::plot_roofline(p, r.points, fmt::format("{} on {} ({} thread{})", t.model, r.machine.name,
                                                        t.threads, t.threads == 1 ? "" : "s"),
                               o.plot);
      fmt::print(out, "  roofline: {}\n", o.plot);
    } else {
      plot_note = "gnuplot not found: no plot written (scripts/install-deps installs gnuplot-nox)";
      fmt::print(out, "  {}\n", plot_note);
    }
  }
  if (opts.json) {
    nlohmann::json j{{"model", t.model},
                     {"threads", t.threads},
                     {"ranks", r.ranks},
                     {"trace", o.trace},
                     {"profile", o.profile},
                     {"steps_used", r.steps_used},
                     {"partial_steps", r.partial_steps},
                     {"predicted_step_s", num(r.predicted_step_s)},
                     {"measured_step_s", num(r.measured_step_s)},
                     {"step_error", num(r.step_error)},
                     {"binding_wall", r.binding_wall},
                     {"compute_s", num(r.compute_s)},
                     {"memory_s", num(r.memory_s)},
                     {"dispatch_s", num(r.dispatch_s)},
                     {"outside_ops_s", num(r.outside_ops_s)},
                     {"comm_s", num(r.comm_s)},
                     {"classes", classes},
                     {"ridge", {{"gemm_ops", rc.gemm_ops},
                                {"gemm_right", rc.gemm_right},
                                {"gemm_min_ratio", num(rc.gemm_min_ratio)},
                                {"elementwise_ops", rc.elementwise_ops},
                                {"elementwise_left", rc.elementwise_left},
                                {"elementwise_max_ratio", num(rc.elementwise_max_ratio)},
                                {"other_ops", rc.other_ops},
                                {"misplaced", rc.misplaced},
                                {"ok", rc.ok()}}}};
    if (r.ranks > 1) {
      j["comm_total_s"] = num(r.comm_total_s);
      j["measured_comm_s"] = num(r.measured_comm_s);
      j["measured_exposed_s"] = num(r.measured_exposed_s);
      j["corun_factor"] = num(walls::corun_factor(r.machine, r.ranks));
      j["corun_s"] = num(r.corun_s);
    }
    if (!o.plot.empty()) j["plot"] = plot_note.empty() ? nlohmann::json(o.plot) : nlohmann::json(nullptr);
    fmt::print("{}\n", j.dump());
  }
  return 0;
}

}  // namespace bstack::cli
