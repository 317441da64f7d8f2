#include "calibrate/power.h"
#include "calibrate/util.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <map>
#include <memory>
#include <thread>

#include "kernels/cpu.h"
#include "kernels/parallel.h"
#include "kernels/peak.h"
#include "src/error.h"

namespace bstack::calibrate {
namespace {

namespace fs = std::filesystem;

// The first line of a sysfs file; false when it cannot be opened or read.
bool read_line(const fs::path& file, std::string& out) {
  std::ifstream in(file);
  if (!in) return false;
  std::getline(in, out);
  return !in.bad() && !(in.fail() && !in.eof());
}

bool parse_u64(const std::string& s, uint64_t& v) {
  if (s.empty() || !std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  size_t used = 0;
  try {
    v = std::stoull(s, &used);
  } catch (const std::exception&) {
    return false;
  }
  return used == s.size();
}

// "package-0" -> "package", "core" -> "core"; anything but [a-z0-9] becomes '_'.
std::string zone_kind(const std::string& name) {
  std::string k = name;
  const size_t dash = k.rfind('-');
  if (dash != std::string::npos && dash + 1 < k.size() &&
      std::all_of(k.begin() + dash + 1, k.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
    k.resize(dash);
  for (char& c : k) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return k;
}

// "intel-rapl:0", "intel-rapl:0:1": a prefix, then one or two ":<digits>" parts. The bare
// "intel-rapl" directory is the control type, not a zone.
bool is_zone_dir(const std::string& dirname, const std::string& prefix) {
  if (dirname.rfind(prefix + ":", 0) != 0) return false;
  const std::string rest = dirname.substr(prefix.size());
  int parts = 0;
  for (size_t i = 0; i < rest.size();) {
    if (rest[i] != ':' || i + 1 >= rest.size() || !std::isdigit(static_cast<unsigned char>(rest[i + 1])))
      return false;
    ++i;
    while (i < rest.size() && std::isdigit(static_cast<unsigned char>(rest[i]))) ++i;
    ++parts;
  }
  return parts == 1 || parts == 2;
}

}  // namespace

std::vector<RaplZone> find_rapl_zones(const std::string& root, std::vector<std::string>* unreadable) {
  std::vector<RaplZone> zones;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return zones;
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(root, ec)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  // intel-rapl (MSR; also AMD) first; intel-rapl-mmio only when it is all there is.
  for (const char* prefix : {"intel-rapl", "intel-rapl-mmio"}) {
    for (const auto& n : names) {
      if (!is_zone_dir(n, prefix)) continue;
      const fs::path dir = fs::path(root) / n;
      RaplZone z;
      z.dir = dir.string();
      std::string energy, range;
      if (!read_line(dir / "name", z.name) || z.name.empty()) z.name = n;
      z.kind = zone_kind(z.name);
      uint64_t v = 0;
      if (!read_line(dir / "energy_uj", energy) || !parse_u64(energy, v) ||
          !read_line(dir / "max_energy_range_uj", range) || !parse_u64(range, z.max_range_uj) ||
          z.max_range_uj == 0) {
        if (unreadable && fs::exists(dir / "energy_uj", ec)) unreadable->push_back(z.dir);
        continue;
      }
      zones.push_back(std::move(z));
    }
    if (!zones.empty()) break;
  }
  return zones;
}

uint64_t read_energy_uj(const RaplZone& z) {
  const fs::path f = fs::path(z.dir) / "energy_uj";
  std::string s;
  uint64_t v = 0;
  if (!read_line(f, s) || !parse_u64(s, v)) fail("power: cannot read a counter from {}", f.string());
  return v;
}

// The counter runs 0 .. max_energy_range_uj and then starts again at 0, so a reading below the
// previous one means one wrap: the energy is (range - before) + after. The same correction as
// the kernel's own perf RAPL PMU and tools built on powercap (powertop, Kepler, scaphandre).
double energy_delta_j(uint64_t before_uj, uint64_t after_uj, uint64_t max_range_uj) {
  const uint64_t d = after_uj >= before_uj ? after_uj - before_uj : (max_range_uj - before_uj) + after_uj;
  return static_cast<double>(d) * 1e-6;
}

std::vector<double> average_power_w(const std::vector<RaplZone>& zones, const std::function<double()>& load) {
  std::vector<uint64_t> before(zones.size());
  for (size_t i = 0; i < zones.size(); ++i) before[i] = read_energy_uj(zones[i]);
  const double seconds = load();
  BSTACK_CHECK(seconds > 0, "power: a load window lasted {} s", seconds);
  std::vector<double> w(zones.size());
  for (size_t i = 0; i < zones.size(); ++i)
    w[i] = energy_delta_j(before[i], read_energy_uj(zones[i]), zones[i].max_range_uj) / seconds;
  return w;
}

PowerLoads default_power_loads(const Options& o) {
  const double window = o.quick ? 0.3 : 0.5;  // RAPL updates every ~1 ms: 0.3 s averages ~300
  const int threads = o.threads > 0 ? o.threads : kernels::num_threads();
  PowerLoads l;
  l.idle = [window] {
    const auto t0 = Clock::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(window));
    return seconds_since(t0);
  };
  l.fma = [window, threads] {
    // fma_peak_flops runs one warm-up and `repeats` runs of about `seconds` each.
    const auto t0 = Clock::now();
    kernels::fma_peak_flops<float>(kernels::isa(), threads, window / 5, 4);
    return seconds_since(t0);
  };
  l.stream = [window, threads] {
    // STREAM triad a = b + s*c (McCalpin) over 3 x 64 MiB of doubles, more than the caches
    // hold on most machines; allocated and first-touched in parallel outside the window.
    const int64_t n = (64ll << 20) / sizeof(double);
    auto a = std::make_unique<double[]>(n), b = std::make_unique<double[]>(n), c = std::make_unique<double[]>(n);
    const int saved = kernels::num_threads();
    kernels::set_num_threads(threads);
    kernels::parallel_for(n, 1 << 15, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) a[i] = 0, b[i] = 1, c[i] = 2;
    });
    const auto t0 = Clock::now();
    double s = 0.5;
    do {
      kernels::parallel_for(n, 1 << 15, [&](int64_t lo, int64_t hi) {
        double* __restrict pa = a.get();
        const double* __restrict pb = b.get();
        const double* __restrict pc = c.get();
        for (int64_t i = lo; i < hi; ++i) pa[i] = pb[i] + s * pc[i];
      });
      s = -s;
    } while (seconds_since(t0) < window);
    const double t = seconds_since(t0);
    kernels::set_num_threads(saved);
    return t;
  };
  return l;
}

void calibrate_power_at(const std::string& root, const PowerLoads& loads, MachineProfile& p,
                        const ProgressFn& progress) {
  std::vector<std::string> unreadable;
  const std::vector<RaplZone> zones = find_rapl_zones(root, &unreadable);
  if (zones.empty()) {
    if (!unreadable.empty())
      p.note(fmt::format("power: RAPL counters under {} are not readable by this user (energy_uj "
                         "is root-only since Linux 5.10); power omitted", root));
    else
      p.note(fmt::format("power: no RAPL counters under {} (common in VMs); power omitted", root));
    return;
  }
  std::string zone_list;
  for (const auto& z : zones) zone_list += (zone_list.empty() ? "" : ", ") + fs::path(z.dir).filename().string() + " (" + z.name + ")";

  struct Phase {
    const char* key;
    const char* what;
    const std::function<double()>* load;
  };
  const Phase phases[] = {
      {"idle", "sleeping (idle)", &loads.idle},
      {"fma", "all-core FMA loop (kernels::fma_peak_flops, registers only)", &loads.fma},
      {"stream", "all-core STREAM triad over 3 x 64 MiB arrays", &loads.stream},
  };
  const int n_phases = static_cast<int>(std::size(phases));
  for (int i = 0; i < n_phases; ++i) {
    const Phase& ph = phases[i];
    if (!*ph.load) continue;
    if (progress) progress(static_cast<double>(i) / n_phases, fmt::format("power: {}", ph.key));
    const std::vector<double> w = average_power_w(zones, *ph.load);
    // Sum over packages: power_package_* is the whole machine's CPU sockets.
    std::map<std::string, std::pair<double, int>> by_kind;  // kind -> (watts, zones)
    for (size_t z = 0; z < zones.size(); ++z) {
      by_kind[zones[z].kind].first += w[z];
      by_kind[zones[z].kind].second += 1;
    }
    for (const auto& [kind, sum] : by_kind)
      p.set({fmt::format("power_{}_{}_w", kind, ph.key), sum.first, "W",
             fmt::format("RAPL energy_uj difference / time (powercap sysfs, wrap-around corrected), "
                         "{} zone(s) '{}' summed, while {}", sum.second, kind, ph.what)});
  }
  p.note(fmt::format("power: RAPL zones read under {}: {}", root, zone_list));
  if (progress) progress(1.0, "power done");
}

void calibrate_power(const Options& o, MachineProfile& p, const ProgressFn& progress) {
  calibrate_power_at("/sys/class/powercap", default_power_loads(o), p, progress);
}

}  // namespace bstack::calibrate
