// The power section against a fake powercap tree: zones found by name, watts exact from the
// energy counters (also across a counter wrap), packages summed, intel-rapl-mmio used only
// without intel-rapl, and no tree (or unreadable counters) -> a note and no parameter.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "calibrate/power.h"

using namespace bstack;
using namespace bstack::calibrate;
namespace fs = std::filesystem;

namespace {

constexpr uint64_t kRange = 262143328850ull;  // a real max_energy_range_uj (2^18 J in µJ)

struct FakePowercap {
  FakePowercap() : root(fs::temp_directory_path() / ("bstack_powercap_" + std::to_string(::getpid()))) {
    fs::remove_all(root);
    fs::create_directories(root / "intel-rapl");  // the control type: not a zone
    std::ofstream(root / "intel-rapl" / "enabled") << "1\n";
  }
  ~FakePowercap() { fs::remove_all(root); }
  void zone(const std::string& dir, const std::string& name, uint64_t energy, uint64_t range = kRange) {
    fs::create_directories(root / dir);
    std::ofstream(root / dir / "name") << name << "\n";
    std::ofstream(root / dir / "max_energy_range_uj") << range << "\n";
    set(dir, energy);
  }
  void set(const std::string& dir, uint64_t energy) { std::ofstream(root / dir / "energy_uj") << energy << "\n"; }
  fs::path root;
};

}  // namespace

TEST(Power, EnergyDeltaWrapsOnce) {
  EXPECT_DOUBLE_EQ(energy_delta_j(1'000'000, 3'500'000, kRange), 2.5);
  EXPECT_DOUBLE_EQ(energy_delta_j(kRange - 1'000'000, 1'500'000, kRange), 2.5);
  EXPECT_DOUBLE_EQ(energy_delta_j(42, 42, kRange), 0.0);
}

TEST(Power, ZonesFoundAndNamed) {
  FakePowercap t;
  t.zone("intel-rapl:0", "package-0", 0);
  t.zone("intel-rapl:0:0", "core", 0);
  t.zone("intel-rapl:0:1", "dram", 0);
  t.zone("intel-rapl:1", "package-1", 0);
  t.zone("intel-rapl-mmio:0", "package-0", 0);  // duplicate of intel-rapl:0: ignored
  const auto zones = find_rapl_zones(t.root.string());
  ASSERT_EQ(zones.size(), 4u);
  EXPECT_EQ(zones[0].name, "package-0");
  EXPECT_EQ(zones[0].kind, "package");
  EXPECT_EQ(zones[1].kind, "core");
  EXPECT_EQ(zones[2].kind, "dram");
  EXPECT_EQ(zones[3].kind, "package");
  EXPECT_EQ(zones[0].max_range_uj, kRange);
}

TEST(Power, MmioOnlyWhenAlone) {
  FakePowercap t;
  t.zone("intel-rapl-mmio:0", "package-0", 0);
  const auto zones = find_rapl_zones(t.root.string());
  ASSERT_EQ(zones.size(), 1u);
  EXPECT_EQ(zones[0].kind, "package");
}

TEST(Power, ExactWattsWithWrapAround) {
  FakePowercap t;
  t.zone("intel-rapl:0", "package-0", 1'000'000);
  t.zone("intel-rapl:0:0", "core", 500'000);
  t.zone("intel-rapl:0:2", "dram", 7);
  t.zone("intel-rapl:1", "package-1", kRange - 1'000'000);  // wraps during the idle window
  t.zone("intel-rapl:1:0", "core", 0);

  // Each load moves the counters by known energies and reports a known duration.
  PowerLoads loads;
  loads.idle = [&] {
    t.set("intel-rapl:0", 1'000'000 + 2'500'000);   // 2.5 J
    t.set("intel-rapl:0:0", 500'000 + 1'000'000);   // 1 J
    t.set("intel-rapl:0:2", 7 + 250'000);            // 0.25 J
    t.set("intel-rapl:1", 1'500'000);                // wrapped: 1 J + 1.5 J = 2.5 J
    t.set("intel-rapl:1:0", 1'000'000);              // 1 J
    return 0.5;
  };
  loads.fma = [&] {
    t.set("intel-rapl:0", 3'500'000 + 60'000'000);  // 60 J
    t.set("intel-rapl:0:0", 1'500'000 + 40'000'000);
    t.set("intel-rapl:0:2", 250'007 + 2'000'000);
    t.set("intel-rapl:1", 1'500'000 + 30'000'000);
    t.set("intel-rapl:1:0", 1'000'000 + 20'000'000);
    return 0.25;
  };
  MachineProfile p;
  calibrate_power_at(t.root.string(), loads, p, nullptr);
  EXPECT_EQ(p.value("power_package_idle_w"), 10.0);  // (2.5 + 2.5) J / 0.5 s
  EXPECT_EQ(p.value("power_core_idle_w"), 4.0);      // (1 + 1) J / 0.5 s
  EXPECT_EQ(p.value("power_dram_idle_w"), 0.5);
  EXPECT_EQ(p.value("power_package_fma_w"), 360.0);  // (60 + 30) J / 0.25 s
  EXPECT_EQ(p.value("power_core_fma_w"), 240.0);
  EXPECT_EQ(p.value("power_dram_fma_w"), 8.0);
  EXPECT_EQ(p.param("power_package_fma_w").unit, "W");
  EXPECT_FALSE(p.has("power_package_stream_w"));  // no stream load given
  EXPECT_EQ(p.params.size(), 6u);
}

TEST(Power, AbsentTreeGivesNoteOnly) {
  MachineProfile p;
  const std::string root = "/nonexistent/bstack/powercap";
  calibrate_power_at(root, PowerLoads{}, p, nullptr);
  EXPECT_TRUE(p.params.empty());
  ASSERT_EQ(p.notes.size(), 1u);
  EXPECT_NE(p.notes[0].find("no RAPL counters under " + root), std::string::npos) << p.notes[0];
  EXPECT_NE(p.notes[0].find("power omitted"), std::string::npos);
}

TEST(Power, UnreadableCountersGiveNoteOnly) {
  FakePowercap t;
  t.zone("intel-rapl:0", "package-0", 0);
  std::ofstream(t.root / "intel-rapl:0" / "energy_uj") << "not a number\n";
  MachineProfile p;
  calibrate_power_at(t.root.string(), PowerLoads{}, p, nullptr);
  EXPECT_TRUE(p.params.empty());
  ASSERT_EQ(p.notes.size(), 1u);
  EXPECT_NE(p.notes[0].find("not readable"), std::string::npos) << p.notes[0];
}

TEST(Power, ThisMachine) {
  // Without counters (this project's VMs): the note of the issue, and nothing invented.
  if (!find_rapl_zones("/sys/class/powercap").empty()) GTEST_SKIP() << "this machine has RAPL";
  MachineProfile p;
  Options o;
  o.quick = true;
  calibrate_power(o, p, nullptr);
  EXPECT_TRUE(p.params.empty());
  ASSERT_EQ(p.notes.size(), 1u);
  EXPECT_NE(p.notes[0].find("power omitted"), std::string::npos);
}
