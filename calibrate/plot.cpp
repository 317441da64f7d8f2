#include "calibrate/plot.h"
#include "calibrate/util.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fmt/format.h>

#include "calibrate/plateau.h"
#include "src/error.h"

namespace bstack::calibrate {
namespace {

// Runs gnuplot with `script` on stdin; the script writes `tmp`, renamed to `path` on success.
void run_gnuplot(const std::string& script, const std::string& path) {
  BSTACK_CHECK(gnuplot_available(), "plot {}: gnuplot is not installed (Debian package "
               "gnuplot-nox; scripts/install-deps installs it)", path);
  const std::string tmp = fmt::format("{}.tmp.{}", path, getpid());
  const std::string log = tmp + ".log";
  const std::string cmd = fmt::format("gnuplot > '{}' 2>&1", log);
  FILE* g = popen(cmd.c_str(), "w");
  BSTACK_CHECK(g != nullptr, "plot {}: cannot start gnuplot", path);
  fmt::print(g, "set terminal svg size 900,560 dynamic enhanced font 'Helvetica,13'\n");
  fmt::print(g, "set output '{}'\n{}\nunset output\n", tmp, script);
  const int rc = pclose(g);
  std::string err;
  if (FILE* f = std::fopen(log.c_str(), "r")) {
    char buf[512];
    while (std::fgets(buf, sizeof buf, f) && err.size() < 2000) err += buf;
    std::fclose(f);
  }
  std::error_code ec;
  std::filesystem::remove(log, ec);
  if (rc != 0 || !std::filesystem::exists(tmp) || std::filesystem::file_size(tmp, ec) == 0) {
    std::filesystem::remove(tmp, ec);
    fail("plot {}: gnuplot failed: {}", path, err.empty() ? "no output" : err);
  }
  std::filesystem::rename(tmp, path, ec);
  BSTACK_CHECK(!ec, "plot {}: cannot rename {}: {}", path, tmp, ec.message());
}

std::string data_block(const std::string& name, const Series& s, size_t xcol, size_t ycol,
                       double yscale) {
  std::string out = fmt::format("${} << EOD\n", name);
  for (size_t r = 0; r < s.rows(); ++r) out += fmt::format("{:.6g} {:.6g}\n", s.at(r, xcol), s.at(r, ycol) * yscale);
  return out + "EOD\n";
}

}  // namespace

bool gnuplot_available() {
  static const bool ok = std::system("gnuplot --version > /dev/null 2>&1") == 0;
  return ok;
}

std::vector<std::string> plot_profile(const MachineProfile& p, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  BSTACK_CHECK(!ec, "--plot {}: cannot create the directory: {}", dir, ec.message());
  std::vector<std::string> written;

  // 1. Bandwidth vs working set: every measured curve, the fitted plateaus of each, and the
  //    cache sizes the OS reports as vertical lines.
  std::string script, plots;
  int idx = 0;
  const char* colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f"};
  for (const char* kind : {"triad", "read", "copy", "write"})
    for (const char* th : {"_1t", "_all"}) {
      const Series* s = p.find_series(std::string("memory/") + kind + th);
      if (!s || s->rows() < 2) continue;
      const std::string name = fmt::format("{}{}", kind, th);
      script += data_block(name, *s, 0, 1, 1e-9);
      const char* c = colors[idx++ % 8];
      plots += fmt::format("${} using 1:2 with linespoints lc rgb '{}' pt 7 ps 0.5 title '{} ({})', ",
                           name, c, kind, th[1] == '1' ? "1 thread" : "all threads");
      std::vector<double> x, y;
      for (size_t r = 0; r < s->rows(); ++r) x.push_back(s->at(r, 0)), y.push_back(s->at(r, 1));
      try {
        int k = 0;
        for (const Plateau& pl : fit_plateaus(x, y)) {
          script += fmt::format("$pl_{}_{} << EOD\n{:.6g} {:.6g}\n{:.6g} {:.6g}\nEOD\n", name, k,
                                pl.x_begin, pl.level * 1e-9, pl.x_end, pl.level * 1e-9);
          plots += fmt::format("$pl_{}_{} using 1:2 with lines lw 4 lc rgb '{}' notitle, ", name, k++, c);
        }
      } catch (const Error&) {
      }
    }
  if (!plots.empty()) {
    script += "set logscale x 2\nset logscale y 10\nset grid\nset key outside right\n"
              "set xlabel 'working set (bytes)'\nset ylabel 'bandwidth (GB/s, 1 GB = 1e9 B)'\n"
              "set format x '%.0b%B'\n";
    script += fmt::format("set title \"Memory bandwidth vs working set, {}\\n(thick: fitted plateaus; "
                          "dashed: cache sizes the OS reports)\" noenhanced\n",
                          p.meta_value("cpu_model"));
    for (const char* key : {"l1d_bytes", "l2_bytes", "l3_bytes"})
      if (p.has(key) && p.value(key) > 0)
        script += fmt::format("set arrow from {0:.6g}, graph 0 to {0:.6g}, graph 1 nohead dt 2 lc rgb '#555555'\n"
                              "set label '{1} {2}' at {0:.6g}, graph 0.97 rotate by 90 right font ',10'\n",
                              p.value(key), std::string(key).substr(0, 3), human_bytes(p.value(key)));
    script += "plot " + plots.substr(0, plots.size() - 2) + "\n";
    const std::string path = (std::filesystem::path(dir) / "bandwidth.svg").string();
    run_gnuplot(script, path);
    written.push_back(path);
  }

  const std::string roof = (std::filesystem::path(dir) / "roofline.svg").string();
  plot_roofline(p, {}, fmt::format("Roofline of {}", p.meta_value("cpu_model")), roof);
  written.push_back(roof);
  return written;
}

void plot_roofline(const MachineProfile& p, const std::vector<RooflinePoint>& points,
                   const std::string& title, const std::string& path) {
  // Ceilings: compute (measured FMA peak fp32, GEMM achieved) and one bandwidth roof per memory
  // level the profile has (all threads). Attainable(I) = min(Peak, I x BW).
  struct Roof { std::string label; double bw; };
  std::vector<Roof> roofs;
  for (const char* lvl : {"l1", "l2", "l3", "dram"}) {
    const std::string key = std::string(lvl) + "_triad_bytes_per_s";
    if (p.has(key)) roofs.push_back({lvl, p.value(key)});
  }
  const double peak = p.value_or("peak_flops_fp32", 0), gemm = p.value_or("gemm_flops_fp32", 0);
  BSTACK_CHECK(peak > 0, "plot {}: the profile has no peak_flops_fp32 (run the compute section)", path);
  std::string script = fmt::format("set title '{}' noenhanced\n", title);
  script += "set logscale xy 10\nset grid\nset key bottom right\nset xrange [0.01:1000]\n"
            "set format y '%g'\nset format x '%g'\n"
            "set xlabel 'arithmetic intensity (FLOP/byte)'\nset ylabel 'GFLOP/s'\nset samples 400\n";
  script += fmt::format("set yrange [{:.6g}:{:.6g}]\n", peak * 1e-9 / 1e4, peak * 1e-9 * 3);
  std::string plots;
  script += fmt::format("peak = {:.6g}\n", peak * 1e-9);
  plots += fmt::format("peak title 'FMA peak fp32 {:.0f} GFLOP/s' lw 2 lc rgb '#000000', ", peak * 1e-9);
  if (gemm > 0)
    plots += fmt::format("{:.6g} title 'SGEMM achieved {:.0f} GFLOP/s' dt 2 lw 2 lc rgb '#555555', ",
                         gemm * 1e-9, gemm * 1e-9);
  const char* colors[] = {"#2ca02c", "#1f77b4", "#9467bd", "#d62728"};
  for (size_t i = 0; i < roofs.size(); ++i)
    plots += fmt::format("(x * {0:.6g} < peak ? x * {0:.6g} : 1/0) title '{1} {2:.1f} GB/s' lw 2 lc rgb '{3}', ",
                         roofs[i].bw * 1e-9, roofs[i].label, roofs[i].bw * 1e-9, colors[i % 4]);
  if (!points.empty()) {
    script += "$pts << EOD\n";
    for (const auto& pt : points)
      script += fmt::format("{:.6g} {:.6g} \"{}\"\n", pt.intensity, pt.flops_per_s * 1e-9, pt.label);
    script += "EOD\n";
    plots += "$pts using 1:2 with points pt 7 ps 1 lc rgb '#ff7f0e' title 'measured ops', "
             "$pts using 1:2:3 with labels offset 0.8,0.6 left font ',9' notitle, ";
  }
  script += "plot " + plots.substr(0, plots.size() - 2) + "\n";
  run_gnuplot(script, path);
}

}  // namespace bstack::calibrate
