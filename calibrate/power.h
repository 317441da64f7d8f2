// Power from the energy counters the OS exposes: RAPL (Running Average Power Limit) through the
// Linux powercap sysfs interface (Documentation/power/powercap/powercap.rst). Each zone
// directory `intel-rapl:N` (a package) or `intel-rapl:N:M` (a subdomain: core, uncore, dram)
// holds `name`, a cumulative `energy_uj` counter and `max_energy_range_uj`, where the counter
// wraps to 0. AMD Zen CPUs expose the same zone names through the same driver (Linux 5.11+,
// "powercap: Add AMD Fam17h RAPL support"); `intel-rapl-mmio:N` duplicates the package zone on
// some Intel parts and is used only when no `intel-rapl:N` zone exists. `psys` is a
// platform-wide zone (whole SoC) where present.
//
// Average power = energy difference / time, over a window: idle (sleeping), under the all-core
// FMA loop of kernels/peak.h, and under a STREAM triad. When there are no counters (common in
// VMs) or they are unreadable (energy_uj is root-only since Linux 5.10), the section records a
// note and no parameter: power is never invented.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "calibrate/calibrate.h"

namespace bstack::calibrate {

struct RaplZone {
  std::string dir;           // e.g. /sys/class/powercap/intel-rapl:0:1
  std::string name;          // contents of `name`: "package-0", "core", "dram", "psys", ...
  std::string kind;          // name without a trailing "-<n>": "package", "core", "dram", ...
  uint64_t max_range_uj = 0; // the counter wraps to 0 past this value
};

// The RAPL zones under `root` with a readable energy counter; `unreadable` gets the zones that
// exist but cannot be read. Zones are sorted by directory name.
std::vector<RaplZone> find_rapl_zones(const std::string& root, std::vector<std::string>* unreadable = nullptr);

uint64_t read_energy_uj(const RaplZone& z);  // throws naming the file

// Energy in joules between two counter readings, the counter having wrapped at most once
// (it wraps every few minutes at full load; our windows last about a second).
double energy_delta_j(uint64_t before_uj, uint64_t after_uj, uint64_t max_range_uj);

// One measurement window: reads every zone's counter, runs `load` (which returns the seconds it
// ran, timed by itself), reads the counters again. Returns watts per zone, in `zones` order.
std::vector<double> average_power_w(const std::vector<RaplZone>& zones, const std::function<double()>& load);

// The loads of the section; each runs for about its duration and returns the seconds it ran.
struct PowerLoads {
  std::function<double()> idle;    // sleep
  std::function<double()> fma;     // all-core FMA loop (kernels::fma_peak_flops)
  std::function<double()> stream;  // all-core STREAM triad over arrays larger than the caches
};
PowerLoads default_power_loads(const Options& o);

// The section with its sysfs root and loads as parameters (tests point it at a fake tree).
// Keys: power_<kind>_<load>_w for kind in package, core, uncore, dram, psys (summed over
// packages) and load in idle, fma, stream.
void calibrate_power_at(const std::string& root, const PowerLoads& loads, MachineProfile& p,
                        const ProgressFn& progress);

}  // namespace bstack::calibrate
