// The compiled-in hardware registry: every figure has a source, published figures are positive,
// unpublished ones are NaN and say so, aliases resolve, and a few datasheet numbers are pinned.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "walls/hardware/registry.h"

namespace w = bstack::walls;

namespace {

void check_figure(const w::Figure& f, const std::string& what) {
  SCOPED_TRACE(what);
  EXPECT_FALSE(f.source.empty());
  if (!std::isnan(f.value)) {
    EXPECT_GT(f.value, 0);
    EXPECT_TRUE(std::isfinite(f.value));
  }
}

}  // namespace

TEST(HardwareRegistry, EveryFigureHasASourceAndIsPositiveWhereGiven) {
  const auto& reg = w::registry();
  ASSERT_GE(reg.size(), 10u);
  for (const w::Hardware& h : reg) {
    const std::string n(h.name);
    EXPECT_FALSE(h.name.empty());
    EXPECT_FALSE(h.aliases.empty()) << n;
    EXPECT_FALSE(h.summary.empty()) << n;
    check_figure(h.clock_hz, n + " clock");
    for (const char* p : {"fp64", "fp32", "tf32", "fp16", "bf16", "int8"})
      check_figure(*w::peak_for(h, p), n + " peak " + p);
    ASSERT_FALSE(h.memory.empty()) << n;
    for (const w::MemorySpec& m : h.memory) {
      EXPECT_FALSE(m.name.empty()) << n;
      check_figure(m.capacity_bytes, n + " " + std::string(m.name) + " capacity");
      EXPECT_FALSE(std::isnan(m.capacity_bytes.value)) << n << " " << m.name;
      check_figure(m.bandwidth_bytes_per_s, n + " " + std::string(m.name) + " bandwidth");
    }
    check_figure(h.interconnect_bytes_per_s, n + " interconnect");
    check_figure(h.host_bytes_per_s, n + " host link");
    check_figure(h.tdp_w, n + " TDP");
    check_figure(h.cost_usd, n + " cost");
    // At least one peak is known for every GPU, CPU and NPU. (An MCU may have none: Espressif
    // publishes no per-cycle throughput for the ESP32-S3's FPU or PIE, and none is invented.)
    bool any = false;
    for (const char* p : {"fp64", "fp32", "tf32", "fp16", "bf16", "int8"})
      any = any || !std::isnan(w::peak_for(h, p)->value);
    if (h.kind != w::HardwareKind::mcu) {
      EXPECT_TRUE(any) << n;
    }
  }
}

TEST(HardwareRegistry, AliasesAreUniqueAndResolve) {
  for (const w::Hardware& h : w::registry()) {
    EXPECT_EQ(w::find_hardware(h.name), &h);
    for (std::string_view a : h.aliases) EXPECT_EQ(w::find_hardware(a), &h) << a;
  }
}

TEST(HardwareRegistry, FindHardwareShortNames) {
  const w::Hardware* h100 = w::find_hardware("h100");
  ASSERT_NE(h100, nullptr);
  EXPECT_EQ(h100->kind, w::HardwareKind::gpu);
  EXPECT_EQ(w::find_hardware("H100"), h100);
  EXPECT_EQ(w::find_hardware("nvidia h100 sxm5 80gb"), h100);
  EXPECT_EQ(w::find_hardware("A100")->name, "NVIDIA A100 SXM4 80GB");
  EXPECT_EQ(w::find_hardware("rpi5")->kind, w::HardwareKind::cpu);
  EXPECT_EQ(w::find_hardware("RPi-4"), w::find_hardware("rpi4"));
  EXPECT_EQ(w::find_hardware("esp32s3"), w::find_hardware("ESP32-S3"));
  EXPECT_EQ(w::find_hardware("esp32s3")->kind, w::HardwareKind::mcu);
  EXPECT_EQ(w::find_hardware("nano33ble"), w::find_hardware("nrf52840"));
  EXPECT_EQ(w::find_hardware("grove_vision_ai_v2")->kind, w::HardwareKind::npu);
  EXPECT_NE(w::find_hardware("rp2040"), nullptr);
  EXPECT_NE(w::find_hardware("nicla-vision"), nullptr);
  EXPECT_NE(w::find_hardware("orin-nano"), nullptr);
  EXPECT_EQ(w::find_hardware("tpu-v9"), nullptr);
  EXPECT_EQ(w::find_hardware(""), nullptr);
  EXPECT_EQ(w::find_hardware("  "), nullptr);
}

TEST(HardwareRegistry, DatasheetFiguresPinned) {
  // H100 SXM: 989.5 dense BF16 TFLOP/s (1979 sparse / 2), 3.35 TB/s HBM3, 80 GB, 700 W.
  const w::Hardware& h = *w::find_hardware("h100");
  EXPECT_DOUBLE_EQ(h.peak.bf16.value, 989.5e12);
  EXPECT_DOUBLE_EQ(h.peak.fp32.value, 67e12);
  EXPECT_DOUBLE_EQ(h.memory.back().bandwidth_bytes_per_s.value, 3.35e12);
  EXPECT_DOUBLE_EQ(h.memory.back().capacity_bytes.value, 80e9);
  EXPECT_DOUBLE_EQ(h.tdp_w.value, 700);
  EXPECT_DOUBLE_EQ(h.interconnect_bytes_per_s.value, 900e9);
  // A100 80GB SXM: 312 dense FP16, 19.5 FP32, 2039 GB/s, 400 W.
  const w::Hardware& a = *w::find_hardware("a100");
  EXPECT_DOUBLE_EQ(a.peak.fp16.value, 312e12);
  EXPECT_DOUBLE_EQ(a.peak.fp32.value, 19.5e12);
  EXPECT_DOUBLE_EQ(a.memory.back().bandwidth_bytes_per_s.value, 2039e9);
  // Derived MCU peaks are clock x ops/cycle: nRF52840 64 MHz x 1 FLOP; HX6538 64 MAC x 2 x 400 MHz.
  const w::Hardware& nrf = *w::find_hardware("nrf52840");
  EXPECT_DOUBLE_EQ(nrf.peak.fp32.value, nrf.clock_hz.value * 1);
  EXPECT_NE(nrf.peak.fp32.source.find("derived"), std::string_view::npos);
  const w::Hardware& hx = *w::find_hardware("hx6538");
  EXPECT_DOUBLE_EQ(hx.peak.int8.value, 64 * 2 * hx.clock_hz.value);
  // Pi 5: 4 cores x 2.4 GHz x 16 FP32 FLOP/cycle; LPDDR4X 32 bit x 4267 MT/s.
  const w::Hardware& pi5 = *w::find_hardware("rpi5");
  EXPECT_DOUBLE_EQ(pi5.peak.fp32.value, 4 * 2.4e9 * 16);
  EXPECT_NEAR(pi5.memory.back().bandwidth_bytes_per_s.value, 4 * 4267e6, 1e7);
  // Unpublished figures stay NaN and say why.
  const w::Hardware& esp = *w::find_hardware("esp32s3");
  EXPECT_TRUE(std::isnan(esp.peak.fp32.value));
  EXPECT_NE(esp.peak.fp32.source.find("not published"), std::string_view::npos);
  EXPECT_EQ(w::peak_for(esp, "fp8"), nullptr);
  EXPECT_EQ(w::kind_name(w::HardwareKind::npu), "npu");
}
