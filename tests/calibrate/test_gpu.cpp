// The GPU section: without CUDA or a device it records a note and no parameter (never fails);
// with a device every key is there, finite, positive and within what hardware can do.
#include <gtest/gtest.h>

#include <cmath>

#include "calibrate/gpu.h"

using namespace bstack;
using namespace bstack::calibrate;

TEST(Gpu, NoDeviceGivesNoteOnly) {
  std::string why;
  if (gpu_device_count(&why) > 0) GTEST_SKIP() << "a CUDA device is visible";
  EXPECT_FALSE(why.empty());
  MachineProfile p;
  Options o;
  o.quick = true;
  calibrate_gpu(o, p, nullptr);
  EXPECT_TRUE(p.params.empty());
  ASSERT_EQ(p.notes.size(), 1u);
  const std::string expect = gpu_built_with_cuda() ? "gpu: no CUDA device visible (" + why + ")"
                                                   : "gpu: built without CUDA";
  EXPECT_NE(p.notes[0].find(expect), std::string::npos) << p.notes[0];
}

TEST(Gpu, DeviceKeysSane) {
  if (gpu_device_count() == 0) GTEST_SKIP() << "no CUDA device visible";
  MachineProfile p;
  Options o;
  o.quick = true;
  calibrate_gpu(o, p, nullptr);
  for (const auto& n : p.notes) ADD_FAILURE() << "note: " << n;  // a failed measurement
  EXPECT_FALSE(p.meta_value("gpu_model").empty());
  for (const char* k : {"gpu_h2d_bytes_per_s", "gpu_d2h_bytes_per_s", "gpu_dram_copy_bytes_per_s",
                        "gpu_gemm_flops_fp32", "gpu_gemm_flops_tf32", "gpu_gemm_flops_fp16",
                        "gpu_gemm_flops_bf16", "gpu_launch_latency_s", "gpu_launch_roundtrip_s",
                        "gpu_memory_bytes"}) {
    ASSERT_TRUE(p.has(k)) << k;
    EXPECT_TRUE(std::isfinite(p.value(k)) && p.value(k) > 0) << k << " = " << p.value(k);
  }
  // Loose physical bounds: PCIe/C2C under 1 TB/s, HBM under 20 TB/s, launches under 1 ms,
  // at least 1 GB of memory.
  EXPECT_LT(p.value("gpu_h2d_bytes_per_s"), 1e12);
  EXPECT_LT(p.value("gpu_dram_copy_bytes_per_s"), 2e13);
  EXPECT_LT(p.value("gpu_launch_latency_s"), 1e-3);
  EXPECT_LT(p.value("gpu_launch_roundtrip_s"), 1e-3);
  EXPECT_GT(p.value("gpu_memory_bytes"), 1e9);
  EXPECT_NE(p.find_series("gpu/h2d"), nullptr);
}
