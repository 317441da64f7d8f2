#include "cli/calibrate_cmd.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <cmath>
#include <nlohmann/json.hpp>

#include "calibrate/plot.h"
#include "kernels/cpu.h"
#include "dist/comm.h"
#include "cli/units.h"
#include "src/error.h"
#include "src/util/progress.h"

namespace bstack::cli {
namespace {


void print_table(const calibrate::MachineProfile& p) {
  fmt::print(stderr, "\n{} | {} | {} threads | {}\n", p.meta_value("cpu_model"), p.meta_value("isa"),
             p.meta_value("threads"), p.meta_value("date"));
  fmt::print(stderr, "{:<34} {:>18} {:>10}  {}\n", "parameter", "value", "fit", "method");
  for (const calibrate::Param& q : p.params) {
    std::string fit = std::isnan(q.quality) ? "" : fmt::format("{}={:.3f}", q.quality_name, q.quality);
    std::string method = q.method.size() > 90 ? q.method.substr(0, 87) + "..." : q.method;
    fmt::print(stderr, "{:<34} {:>18} {:>10}  {}\n", q.key, human(q.value, q.unit), fit, method);
  }
  for (const std::string& n : p.notes) fmt::print(stderr, "note: {}\n", n);
}

nlohmann::json to_json(const calibrate::MachineProfile& p, const std::string& path,
                       bool with_samples = false) {
  nlohmann::json j = nlohmann::json::object();
  for (const calibrate::Param& q : p.params) j[q.key] = q.value;
  nlohmann::json meta = nlohmann::json::object(), fit = nlohmann::json::object();
  for (const auto& kv : p.meta) meta[kv.first] = kv.second;
  for (const calibrate::Param& q : p.params) {
    nlohmann::json e{{"unit", q.unit}, {"method", q.method}};
    if (!std::isnan(q.quality)) e[q.quality_name] = q.quality;
    fit[q.key] = e;
  }
  j["profile"] = path;
  j["meta"] = meta;
  j["params"] = fit;
  j["notes"] = p.notes;
  if (with_samples) {  // the raw samples, for re-fitting or plotting elsewhere
    nlohmann::json series = nlohmann::json::object();
    for (const calibrate::Series& t : p.series) {
      nlohmann::json rows = nlohmann::json::array();
      for (size_t r = 0; r < t.rows(); ++r) {
        nlohmann::json row = nlohmann::json::array();
        for (size_t c = 0; c < t.columns.size(); ++c) row.push_back(t.at(r, c));
        rows.push_back(row);
      }
      series[t.name] = {{"columns", t.columns}, {"method", t.method}, {"rows", rows}};
    }
    j["series"] = series;
  }
  return j;
}

// `--sections` on an existing profile of this machine: the sections run now replace their
// parameters, samples and notes (a note belongs to the section its text starts with); the rest
// of the old profile stays.
calibrate::MachineProfile merge_into(calibrate::MachineProfile old, calibrate::MachineProfile now,
                                     const std::vector<std::string>& sections) {
  std::vector<std::string> notes;
  for (const std::string& n : old.notes) {
    bool rerun = false;
    for (const std::string& s : sections) rerun = rerun || n.rfind(s + ":", 0) == 0;
    if (!rerun) notes.push_back(n);
  }
  old.notes = std::move(notes);
  for (const auto& kv : now.meta) old.set_meta(kv.first, kv.second);
  for (calibrate::Param& q : now.params) old.set(std::move(q));
  for (calibrate::Series& s : now.series) old.add_series(std::move(s));
  for (const std::string& n : now.notes)
    if (std::find(old.notes.begin(), old.notes.end(), n) == old.notes.end()) old.notes.push_back(n);
  return old;
}

// The plots, or a message saying why there are none (gnuplot missing is not an error).
std::vector<std::string> write_plots(const calibrate::MachineProfile& p, const std::string& dir) {
  if (!calibrate::gnuplot_available()) {
    fmt::print(stderr, "bstack: --plot skipped: gnuplot is not installed (Debian package gnuplot-nox)\n");
    return {};
  }
  std::vector<std::string> files = calibrate::plot_profile(p, dir);
  for (const auto& f : files) fmt::print(stderr, "plot: {}\n", f);
  return files;
}

}  // namespace

void add_calibrate_options(CLI::App* cmd, CalibrateOptions& o) {
  cmd->add_flag("--quick", o.run.quick, "Fewer sizes and repeats: about 30 s instead of 3 min");
  cmd->add_option("-o,--output", o.output, "Profile to write (HDF5; default profile.h5)");
  cmd->add_option("--plot", o.plot_dir, "Also write SVG plots (bandwidth vs working set, roofline) "
                                        "into this directory (needs gnuplot)");
  cmd->add_option("--sections", o.run.sections,
                  fmt::format("Measure only these sections and update them in an existing profile "
                              "(comma-separated: {})",
                              fmt::join(calibrate::section_names(), ", ")))
      ->delimiter(',')
      ->check(CLI::IsMember(calibrate::section_names()));
  cmd->add_option("--scratch", o.run.scratch_dir, "Directory for the file-read test's scratch "
                                                  "file (default $TMPDIR, else /tmp)");
  cmd->add_option("--max-message", o.run.max_message_bytes,
                  "interconnect: the largest message of the sweeps (e.g. 4MiB; default 64 MiB): "
                  "keeps a run over a slow link short")
      ->transform(CLI::AsSizeValue(false));
  cmd->add_option("--show", o.show, "Print (and with --plot, plot) an existing profile, with "
                                    "--json also its raw samples; measure nothing");
}

int run_calibrate(const GlobalOptions& opts, const CalibrateOptions& o) {
  if (!o.show.empty()) {
    const calibrate::MachineProfile p = calibrate::read_profile(o.show);
    print_table(p);
    nlohmann::json j = to_json(p, o.show, true);
    if (!o.plot_dir.empty()) j["plots"] = write_plots(p, o.plot_dir);
    if (opts.json) fmt::print("{}\n", j.dump());
    return 0;
  }

  dist::Communicator& comm = dist::Communicator::world();
  const bool root = comm.rank() == 0;
  if (root)
    fmt::print(stderr, "Calibrating {} ({} mode{}): every figure names its method; the profile "
                       "goes to {}\n", kernels::cpu_model(), o.run.quick ? "quick" : "full",
               comm.size() > 1 ? fmt::format(", {} MPI ranks", comm.size()) : "", o.output);
  const auto t0 = std::chrono::steady_clock::now();
  Progress bar("calibrate", 1000, root && progress_default_enabled());
  bar.set_unit("‰");
  calibrate::MachineProfile p = calibrate::calibrate(o.run, [&](double f, const std::string& what) {
    bar.update(static_cast<int64_t>(f * 1000), what);
  });
  bar.finish();
  if (!root) return 0;
  const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  p.set_meta("seconds_total", fmt::format("{:.1f}", dt));
  std::error_code ec;
  if (!o.run.sections.empty() && std::filesystem::exists(o.output, ec)) {
    p = merge_into(calibrate::read_profile(o.output), std::move(p), o.run.sections);
    fmt::print(stderr, "updated the sections {} of {}; the others are kept\n",
               fmt::join(o.run.sections, ", "), o.output);
  }
  calibrate::write_profile(o.output, p);
  print_table(p);
  fmt::print(stderr, "wrote {} ({} parameters, {} sample tables) in {:.1f} s\n", o.output,
             p.params.size(), p.series.size(), dt);
  nlohmann::json j = to_json(p, o.output);
  if (!o.plot_dir.empty()) j["plots"] = write_plots(p, o.plot_dir);
  if (opts.json) fmt::print("{}\n", j.dump());
  return 0;
}

}  // namespace bstack::cli
