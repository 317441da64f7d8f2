// The MachineProfile file (round trip; a profile from another machine, of another format, corrupt
// or truncated is rejected with a message naming the file), and the compute sections' figures
// against what the machine can possibly do.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "calibrate/calibrate.h"
#include "calibrate/profile.h"
#include "kernels/gemm_int8.h"
#include "kernels/peak.h"
#include "src/io/h5.h"
#include "tests/test_util.h"

using namespace bstack;
using namespace bstack::calibrate;

namespace {

std::string temp_path(const char* name) {
  return (std::filesystem::temp_directory_path() /
          (std::string("bstack_prof_") + std::to_string(::getpid()) + name)).string();
}

MachineProfile sample() {
  MachineProfile p;
  fill_metadata(p, "quick");
  p.set({"dram_triad_bytes_per_s", 3.4e10, "B/s", "STREAM triad", 0.012, "rel_rmse"});
  p.set({"dispatch_s", 2.5e-7, "s", "empty op"});
  Series s{"memory/triad_1t", {"working_set_bytes", "bytes_per_s"}, {}, "sweep"};
  s.add_row({4096, 1e11});
  s.add_row({8192, 9e10});
  p.add_series(s);
  p.add_series(Series{"empty/series", {"a"}, {}, "nothing measured"});
  p.note("power: no RAPL");
  return p;
}

}  // namespace

TEST(Profile, RoundTrip) {
  const std::string path = temp_path("rt.h5");
  write_profile(path, sample());
  const MachineProfile q = read_profile(path);
  ASSERT_EQ(q.params.size(), 2u);
  EXPECT_EQ(q.params[0].key, "dram_triad_bytes_per_s");  // order kept
  EXPECT_DOUBLE_EQ(q.value("dram_triad_bytes_per_s"), 3.4e10);
  EXPECT_EQ(q.param("dram_triad_bytes_per_s").quality_name, "rel_rmse");
  EXPECT_DOUBLE_EQ(q.param("dram_triad_bytes_per_s").quality, 0.012);
  EXPECT_TRUE(std::isnan(q.param("dispatch_s").quality));
  EXPECT_EQ(q.param("dispatch_s").method, "empty op");
  const Series* s = q.find_series("memory/triad_1t");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->rows(), 2u);
  EXPECT_EQ(s->columns[1], "bytes_per_s");
  EXPECT_DOUBLE_EQ(s->at(1, 1), 9e10);
  EXPECT_EQ(q.find_series("empty/series"), nullptr);  // nothing to store
  ASSERT_EQ(q.notes.size(), 1u);
  EXPECT_EQ(q.meta_value("machine_key"), profile_machine_key());
  EXPECT_EQ(q.meta_value("mode"), "quick");
  EXPECT_FALSE(q.meta_value("date").empty());
  EXPECT_NE(test::error_of([&] { q.param("nope"); }).find("'nope'"), std::string::npos);
  std::filesystem::remove(path);
}

TEST(Profile, RejectsAnotherMachine) {
  const std::string path = temp_path("foreign.h5");
  MachineProfile p = sample();
  p.set_meta("machine_key", "AMD EPYC 9654 96-Core Processor | avx512 | cores 192 | L1d 32768");
  write_profile(path, p);
  const std::string err = test::error_of([&] { read_profile(path); });
  EXPECT_NE(err.find(path), std::string::npos) << err;
  EXPECT_NE(err.find("another machine"), std::string::npos) << err;
  EXPECT_NE(err.find("AMD EPYC 9654"), std::string::npos) << err;
  // Reading it on purpose (e.g. to compare machines) is allowed.
  EXPECT_DOUBLE_EQ(read_profile(path, false).value("dispatch_s"), 2.5e-7);
  std::filesystem::remove(path);
}

TEST(Profile, RejectsOtherFormatsAndCorruptFiles) {
  const std::string other = temp_path("other.h5");
  {
    H5Writer w(other, "bstack-trace", 1);
    w.attr("/", "x", int64_t{1});
    w.commit();
  }
  std::string err = test::error_of([&] { read_profile(other); });
  EXPECT_NE(err.find(other), std::string::npos) << err;
  EXPECT_NE(err.find("bstack-trace"), std::string::npos) << err;

  const std::string path = temp_path("corrupt.h5");
  write_profile(path, sample());
  const auto size = std::filesystem::file_size(path);
  {  // flip bytes in the middle of the file (data or metadata: both are checksummed)
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    for (std::streamoff off = static_cast<std::streamoff>(size / 3); off < static_cast<std::streamoff>(size); off += 97) {
      f.seekg(off);
      char c = 0;
      f.read(&c, 1);
      f.seekp(off);
      c = static_cast<char>(~c);
      f.write(&c, 1);
    }
  }
  err = test::error_of([&] { read_profile(path); });
  EXPECT_NE(err.find(path), std::string::npos) << err;

  write_profile(path, sample());
  std::filesystem::resize_file(path, size / 2);
  err = test::error_of([&] { read_profile(path); });
  EXPECT_NE(err.find(path), std::string::npos) << err;

  err = test::error_of([&] { read_profile(temp_path("missing.h5")); });
  EXPECT_NE(err.find("missing.h5"), std::string::npos) << err;
  std::filesystem::remove(path);
  std::filesystem::remove(other);
}

// The compute section's figures must respect what a core can do at the clock it measured:
// FLOP/s <= clock x lanes x 2 FMA units x 2 (x threads), with 15% slack for clock drift.
TEST(Compute, PeaksWithinPhysicalBounds) {
  Options o;
  o.quick = true;
  MachineProfile p;
  calibrate_compute(o, p, [](double, const std::string&) {});
  const double clock = p.value("clock_hz");
  EXPECT_GT(clock, 0.4e9);
  EXPECT_LT(clock, 7e9);
  const double bound_1t = clock * 16 * 2 * 2 * 1.15;
  for (const char* key : {"peak_flops_fp32_1t", "peak_flops_fp64_1t", "peak_flops_fp32_scalar_1t"}) {
    ASSERT_TRUE(p.has(key)) << key;
    EXPECT_GT(p.value(key), 0) << key;
    EXPECT_LT(p.value(key), bound_1t) << key;
  }
  // Scalar: one lane; 2 FLOP per FMA, at most 2 FMAs per cycle (4 with slack for SSE scalar ports).
  EXPECT_LT(p.value("peak_flops_fp32_scalar_1t"), clock * 2 * 4 * 1.15);
  EXPECT_GT(p.value("peak_flops_fp32_1t"), p.value("peak_flops_fp32_scalar_1t"));
  EXPECT_GT(p.value("theoretical_peak_flops_fp32"), 0);
  EXPECT_GT(p.value("peak_ops_int8_1t"), 0);
  ASSERT_NE(p.find_series("compute/fma"), nullptr);
}

// The register loops count their work exactly: ops = iters x 12 chains x MACs per step x 2.
TEST(Compute, LoopsCountTheirWork) {
  EXPECT_DOUBLE_EQ(kernels::fma_loop<float>(kernels::Isa::scalar, 10), 10.0 * 12 * 2);
  EXPECT_DOUBLE_EQ(kernels::int8_dot_loop(kernels::Int8Kernel::scalar, 10), 10.0 * 12 * 2);
  const kernels::Int8Kernel best = kernels::int8_kernel_best();
  const double per_step = best == kernels::Int8Kernel::avx512vnni || best == kernels::Int8Kernel::avx512bw ? 64
                          : best == kernels::Int8Kernel::scalar ? 1 : 32;
  EXPECT_DOUBLE_EQ(kernels::int8_dot_loop(best, 10), 10.0 * 12 * per_step * 2);
}

TEST(Calibrate, UnknownSectionIsNamed) {
  Options o;
  o.sections = {"memroy"};
  const std::string err = test::error_of([&] { calibrate::calibrate(o, [](double, const std::string&) {}); });
  EXPECT_NE(err.find("memroy"), std::string::npos) << err;
}

TEST(Calibrate, DispatchAndGemmSections) {
  Options o;
  o.quick = true;
  o.sections = {"dispatch"};
  MachineProfile p = calibrate::calibrate(o, [](double, const std::string&) {});
  EXPECT_GT(p.value("dispatch_s"), 1e-9);
  EXPECT_LT(p.value("dispatch_s"), 1e-3);
  EXPECT_GT(p.value("dispatch_autograd_s"), p.value("dispatch_s") * 0.5);
  EXPECT_EQ(p.meta_value("mode"), "quick");
}
