// calibrate/memory.h: the STREAM loops compute the right values on every ISA path this CPU has
// (any length, any 8-byte alignment, regular and streaming stores, nothing written past the end),
// the pointer-chase permutation is one single cycle, the OS cache sizes parse, and the timed
// measurements return finite positive numbers (no timing assertions beyond that).
#include "calibrate/memory.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <unistd.h>
#include <vector>

#include "src/error.h"

namespace bc = bstack::calibrate;
using bstack::kernels::Isa;

namespace {

std::vector<Isa> paths() {
  std::vector<Isa> v = {Isa::scalar};
  if (static_cast<int>(bstack::kernels::best_isa()) >= 1) v.push_back(Isa::avx2);
  if (static_cast<int>(bstack::kernels::best_isa()) >= 2) v.push_back(Isa::avx512);
  return v;
}

// Three arrays in one 64-byte aligned buffer, `off` doubles past a line start, with guard
// values around each.
struct Arrays {
  static constexpr size_t kGuard = 16;
  std::vector<double> buf;
  double *a, *b, *c;
  size_t n;
  Arrays(size_t n_, size_t off) : n(n_) {
    const size_t span = n + 2 * kGuard + 8;
    buf.assign(3 * span + 16, -7.0);
    double* base = buf.data();
    while (reinterpret_cast<uintptr_t>(base) % 64) ++base;
    a = base + kGuard + off;
    b = a + span;
    c = b + span;
    for (size_t i = 0; i < n; ++i) {
      a[i] = -1;
      b[i] = double(i % 97);
      c[i] = double(i % 13) - 6;
    }
  }
  bool guards_intact(const double* p) const {
    for (size_t g = 1; g <= kGuard - 1; ++g)
      if (p[-static_cast<ptrdiff_t>(g)] != -7.0 || p[n + g - 1] != -7.0) return false;
    return true;
  }
};

const size_t kLengths[] = {0, 1, 3, 7, 8, 9, 15, 16, 31, 33, 64, 100, 257, 1001, 4099};

}  // namespace

TEST(StreamPass, EveryPathEveryKindAnyLengthAndAlignment) {
  const double s = 3.0;
  for (Isa path : paths())
    for (bool nt : {false, true})
      for (size_t n : kLengths)
        for (size_t off : {0, 1, 3, 7}) {
          const std::string what = std::string(bstack::kernels::isa_name(path)) +
                                   (nt ? " nt" : "") + " n=" + std::to_string(n) +
                                   " off=" + std::to_string(off);
          {  // triad: small integers, exact with or without FMA
            Arrays t(n, off);
            bc::stream_pass(path, bc::StreamKind::triad, nt, t.a, t.b, t.c, n, s, 2);
            for (size_t i = 0; i < n; ++i) ASSERT_EQ(t.a[i], t.b[i] + s * t.c[i]) << what << " i=" << i;
            EXPECT_TRUE(t.guards_intact(t.a)) << what;
          }
          {
            Arrays t(n, off);
            bc::stream_pass(path, bc::StreamKind::copy, nt, t.a, t.b, t.c, n, s);
            for (size_t i = 0; i < n; ++i) ASSERT_EQ(t.a[i], t.b[i]) << what << " i=" << i;
            EXPECT_TRUE(t.guards_intact(t.a)) << what;
          }
          {
            Arrays t(n, off);
            bc::stream_pass(path, bc::StreamKind::write, nt, t.a, t.b, t.c, n, 2.5);
            for (size_t i = 0; i < n; ++i) ASSERT_EQ(t.a[i], 2.5) << what << " i=" << i;
            EXPECT_TRUE(t.guards_intact(t.a)) << what;
          }
          {
            Arrays t(n, off);
            double ref = 0;
            for (size_t i = 0; i < n; ++i) ref += t.b[i];
            EXPECT_EQ(bc::stream_pass(path, bc::StreamKind::read, nt, t.b, nullptr, nullptr, n, s), ref)
                << what;
            EXPECT_EQ(bc::stream_pass(path, bc::StreamKind::read, nt, t.b, nullptr, nullptr, n, s, 3),
                      3 * ref)
                << what;  // small integers: exact in any order
          }
        }
}

TEST(StreamPass, KindFacts) {
  EXPECT_EQ(bc::stream_bytes_per_element(bc::StreamKind::triad), 24.0);
  EXPECT_EQ(bc::stream_bytes_per_element(bc::StreamKind::copy), 16.0);
  EXPECT_EQ(bc::stream_bytes_per_element(bc::StreamKind::read), 8.0);
  EXPECT_EQ(bc::stream_bytes_per_element(bc::StreamKind::write), 8.0);
  EXPECT_STREQ(bc::stream_kind_name(bc::StreamKind::triad), "triad");
}

TEST(Sattolo, OneSingleCycle) {
  for (size_t n : {size_t{1}, size_t{2}, size_t{3}, size_t{10}, size_t{1000}, size_t{65537}})
    for (uint64_t seed : {1ull, 42ull}) {
      const std::vector<uint32_t> p = bc::sattolo_cycle(n, seed);
      ASSERT_EQ(p.size(), n);
      std::vector<char> seen(n, 0);
      size_t i = 0, steps = 0;
      do {
        ASSERT_LT(p[i], n);
        ASSERT_FALSE(seen[i]) << "n=" << n << ": node " << i << " visited twice";
        seen[i] = 1;
        i = p[i];
        ++steps;
      } while (i != 0);
      EXPECT_EQ(steps, n) << "seed " << seed;
      for (size_t k = 0; k < n && n > 1; ++k) EXPECT_NE(p[k], k);  // no fixed point
    }
  EXPECT_NE(bc::sattolo_cycle(100, 1), bc::sattolo_cycle(100, 2));
}

TEST(Measure, BandwidthFinitePositive) {
  for (auto k : {bc::StreamKind::read, bc::StreamKind::write, bc::StreamKind::copy,
                 bc::StreamKind::triad})
    for (bool nt : {false, true})
      for (int t : {1, 2}) {
        const double bw = bc::stream_bandwidth(k, nt, 256 * 1024, t, 2, 0.002);
        EXPECT_TRUE(std::isfinite(bw)) << bc::stream_kind_name(k);
        EXPECT_GT(bw, 0) << bc::stream_kind_name(k);  // a shared machine may be very slow
      }
}

TEST(Measure, ArenaAndRun) {
  bc::MemoryArena arena(3 << 20, 2);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(arena.data()) % (2 << 20), 0u);
  EXPECT_EQ(arena.bytes(), size_t{4} << 20);
  const bc::StreamResult r = bc::stream_run(arena, bc::StreamKind::triad, false, 96 * 1024, 2, 2, 0.002);
  EXPECT_GT(r.bytes_per_s, 0);
  EXPECT_LE(r.working_set_bytes, 96u * 1024);
  EXPECT_GT(r.working_set_bytes, 90u * 1024);
  EXPECT_EQ(r.working_set_bytes % (3 * 2 * 64), 0u);  // whole lines per array per thread
  EXPECT_THROW(bc::stream_run(arena, bc::StreamKind::triad, false, 64 << 20, 1, 1, 0.001),
               bstack::Error);
  EXPECT_THROW(bc::stream_run(arena, bc::StreamKind::read, false, 4, 1, 1, 0.001), bstack::Error);
}

TEST(Measure, LatencyFinitePositive) {
  const double l = bc::pointer_chase_latency(64 * 1024, 0.002, 2);
  EXPECT_TRUE(std::isfinite(l));
  EXPECT_GT(l, 0);
  EXPECT_LT(l, 1e-5);
  bc::MemoryArena arena(1 << 20, 1);
  EXPECT_GT(bc::pointer_chase_latency(512 * 1024, 0.002, 2, &arena), 0);
}

TEST(OsCaches, ParsesSysfsLayout) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("bstack_cache_test_" + std::to_string(::getpid()));
  const struct {
    int level;
    const char *type, *size;
  } rows[] = {{1, "Data", "48K"}, {1, "Instruction", "64K"}, {2, "Unified", "2048K"},
              {3, "Unified", "491520K"}};
  for (size_t i = 0; i < 4; ++i) {
    const fs::path d = dir / ("index" + std::to_string(i));
    fs::create_directories(d);
    std::ofstream(d / "level") << rows[i].level << "\n";
    std::ofstream(d / "type") << rows[i].type << "\n";
    std::ofstream(d / "size") << rows[i].size << "\n";
  }
  const auto c = bc::os_caches(dir.string());
  fs::remove_all(dir);
  ASSERT_EQ(c.size(), 4u);
  EXPECT_EQ(c[0].bytes, 48 * 1024);
  EXPECT_EQ(c[1].type, "Instruction");
  EXPECT_EQ(c[2].bytes, 2048 * 1024);
  EXPECT_EQ(c[3].level, 3);
  EXPECT_EQ(c[3].bytes, int64_t{491520} * 1024);
  EXPECT_TRUE(bc::os_caches("/nonexistent/bstack").empty());
}

TEST(Levels, Names) {
  EXPECT_EQ(bc::level_names(1), (std::vector<std::string>{"dram"}));
  EXPECT_EQ(bc::level_names(3), (std::vector<std::string>{"l1", "l2", "dram"}));
  EXPECT_EQ(bc::level_names(4), (std::vector<std::string>{"l1", "l2", "l3", "dram"}));
  EXPECT_TRUE(bc::level_names(0).empty());
}
