// The tuning cache file: round trip, and rejection of a cache from another machine, of another
// format and of a corrupt file (each with a message naming the file).
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "kernels/gemm.h"
#include "kernels/tune.h"
#include "src/io/h5.h"
#include "src/io/tune_cache.h"
#include "tests/test_util.h"

using namespace bstack;

namespace {

std::string temp_path(const char* name) {
  return (std::filesystem::temp_directory_path() / (std::string("bstack_tc_") + std::to_string(::getpid()) + name)).string();
}

kernels::TuneEntry sample() {
  kernels::TuneEntry e;
  e.op = "sgemm";
  e.shape_class = kernels::gemm_shape_class(512, 768, 3072);
  e.config.mc = 112;
  e.config.kc = 384;
  e.config.nc = 2048;
  e.config.variant = 1;
  e.config.threads = 0;
  e.config.split = kernels::GemmSplit::jr;
  e.seconds_tuned = 1e-3;
  e.seconds_default = 2e-3;
  e.seconds_untuned = 3e-3;
  e.m = 512;
  e.n = 768;
  e.k = 3072;
  return e;
}

TEST(TuneCache, RoundTripAndLookup) {
  const std::string p = temp_path("rt.h5");
  save_tuning_cache(p, {sample()});
  const auto back = read_tuning_cache(p);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].op, "sgemm");
  EXPECT_EQ(back[0].shape_class, "ml_nl_kx");
  EXPECT_EQ(back[0].config.kc, 384);
  EXPECT_EQ(back[0].config.split, kernels::GemmSplit::jr);
  EXPECT_DOUBLE_EQ(back[0].seconds_default, 2e-3);
  kernels::tune_install(back);
  kernels::GemmConfig c;
  EXPECT_TRUE(kernels::tune_lookup_gemm("sgemm", 600, 1000, 4000, &c));  // same class
  EXPECT_EQ(c.mc, 112);
  EXPECT_FALSE(kernels::tune_lookup_gemm("sgemm", 8, 8, 8, &c));
  EXPECT_FALSE(kernels::tune_lookup_gemm("dgemm", 600, 1000, 4000, &c));
  // gemm_resolve takes the tuned blocking for that class.
  const kernels::GemmConfig r = kernels::gemm_resolve<float>(600, 1000, 4000);
  EXPECT_EQ(r.kc, 384);
  EXPECT_EQ(r.variant, 1);
  kernels::tune_clear();
  std::filesystem::remove(p);
}

TEST(TuneCache, RejectsAnotherMachine) {
  const std::string p = temp_path("foreign.h5");
  {
    H5Writer w(p, "bstack-tune-cache", 1);
    w.attr("/", "machine_key", std::string("Some Other CPU | avx2 | cores 64"));
    w.attr("/", "entries", int64_t{0});
    w.commit();
  }
  const std::string msg = test::error_of([&] { read_tuning_cache(p); });
  EXPECT_NE(msg.find("another machine"), std::string::npos) << msg;
  EXPECT_NE(msg.find(p), std::string::npos) << msg;
  std::filesystem::remove(p);
}

TEST(TuneCache, RejectsOtherFormatAndCorruptFiles) {
  const std::string p = temp_path("other.h5");
  {
    H5Writer w(p, "bstack-checkpoint", 1);
    w.commit();
  }
  EXPECT_NE(test::error_of([&] { read_tuning_cache(p); }).find("bstack-checkpoint"), std::string::npos);
  std::ofstream(p, std::ios::binary | std::ios::trunc) << "not a cache";
  EXPECT_NE(test::error_of([&] { read_tuning_cache(p); }).find(p), std::string::npos);
  std::filesystem::remove(p);
}

}  // namespace
