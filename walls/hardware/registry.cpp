// The hardware table (rules in registry.h). Units: Hz, FLOP/s (OP/s for int8), bytes, bytes/s,
// W, USD. 1 GB = 1e9 B; GiB/MiB/KiB where the vendor counts in powers of two (KB of SRAM).
#include "walls/hardware/registry.h"

#include <cctype>
#include <limits>
#include <string>

namespace bstack::walls {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kKiB = 1024.0, kMiB = 1024.0 * 1024.0, kGiB = 1024.0 * 1024.0 * 1024.0;

// ---- sources ---------------------------------------------------------------------------------
constexpr std::string_view kH100 =
    "NVIDIA H100 Tensor Core GPU datasheet, H100 SXM column "
    "(https://resources.nvidia.com/en-us-tensor-core/nvidia-h100-tensor-core-gpu-datasheet)";
constexpr std::string_view kH100Dense =
    "NVIDIA H100 Tensor Core GPU datasheet, H100 SXM: figure quoted with sparsity, halved for "
    "dense (datasheet footnote: 'shown with sparsity; specifications are one-half lower without')";
constexpr std::string_view kA100 =
    "NVIDIA A100 Tensor Core GPU datasheet, A100 80GB SXM column "
    "(https://www.nvidia.com/content/dam/en-zz/Solutions/Data-Center/a100/pdf/"
    "nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf)";
constexpr std::string_view kMlsysimPrice =
    "indicative unit price from MLSys-im's hardware registry (harvard-edge/cs249r_book, "
    "mlsysim/hardware/data/cloud/*.yaml unit_cost, verified 2026-03-06); street prices vary";
constexpr std::string_view kOrin =
    "NVIDIA Jetson Orin Nano Series Modules data sheet (DS-11105-001), Jetson Orin Nano 8GB, "
    "original 7-15 W modes (https://developer.nvidia.com/embedded/jetson-modules)";
constexpr std::string_view kPi4 =
    "Raspberry Pi 4 Model B product brief and datasheet "
    "(https://datasheets.raspberrypi.com/rpi4/raspberry-pi-4-product-brief.pdf)";
constexpr std::string_view kPi5 =
    "Raspberry Pi 5 product brief (https://datasheets.raspberrypi.com/rpi5/"
    "raspberry-pi-5-product-brief.pdf); Raspberry Pi 5 launch post, 2023-09-28";
constexpr std::string_view kNrf =
    "Nordic nRF52840 Product Specification v1.7 (https://docs.nordicsemi.com/bundle/"
    "ps_nrf52840/); Arduino Nano 33 BLE Sense Rev2 datasheet (ABX00069)";
constexpr std::string_view kEsp =
    "Espressif ESP32-S3 Series datasheet v1.x (https://www.espressif.com/sites/default/files/"
    "documentation/esp32-s3_datasheet_en.pdf); Seeed XIAO ESP32S3 Sense wiki (ESP32-S3R8, 8 MB "
    "PSRAM, 8 MB flash)";
constexpr std::string_view kRp =
    "Raspberry Pi RP2040 datasheet (https://datasheets.raspberrypi.com/rp2040/"
    "rp2040-datasheet.pdf)";
constexpr std::string_view kStm =
    "STMicroelectronics STM32H747xI/G datasheet DS12930 (https://www.st.com/resource/en/"
    "datasheet/stm32h747xi.pdf); Arduino Nicla Vision datasheet (ABX00051)";
constexpr std::string_view kHx =
    "Seeed Grove Vision AI Module V2 wiki (https://wiki.seeedstudio.com/grove_vision_ai_v2/) and "
    "the MLSysBook Grove Vision AI V2 lab: WiseEye2 HX6538, Cortex-M55 400 MHz + M55 150 MHz, "
    "Ethos-U55 at 400 MHz, 2.4 MB SRAM, 16 MB / 133 MHz external flash";
constexpr std::string_view kNotPublished = "not published by the vendor";

std::vector<Hardware> build() {
  std::vector<Hardware> r;

  // ---- data-centre GPUs ------------------------------------------------------------------------
  r.push_back(Hardware{
      "NVIDIA H100 SXM5 80GB",
      {"h100", "h100sxm", "h100sxm5"},
      HardwareKind::gpu,
      "Hopper GH100, 132 SMs, 80 GB HBM3 (5 stacks), NVLink 4, PCIe Gen5 x16",
      {kNaN, "boost clock not quoted in the datasheet"},
      {{67e12, "NVIDIA H100 datasheet, H100 SXM: FP64 Tensor Core 67 TFLOPS (vector FP64: 34 "
               "TFLOPS)"},
       {67e12, kH100},
       {494.5e12, kH100Dense},
       {989.5e12, kH100Dense},
       {989.5e12, kH100Dense},
       {1979e12, kH100Dense}},
      {{"L2", {50e6, "NVIDIA H100 Tensor Core GPU architecture whitepaper: 50 MB L2"},
        {kNaN, "L2 bandwidth not published in the datasheet"}},
       {"HBM3", {80e9, kH100}, {3.35e12, kH100}}},
      "NVLink 4 (18 links)",
      {900e9, kH100},
      {128e9, "NVIDIA H100 datasheet: PCIe Gen5 128 GB/s (both directions)"},
      {700, "NVIDIA H100 datasheet: max TDP up to 700 W (configurable)"},
      {30000, kMlsysimPrice}});

  r.push_back(Hardware{
      "NVIDIA A100 SXM4 80GB",
      {"a100", "a100sxm", "a100sxm4", "a10080gb"},
      HardwareKind::gpu,
      "Ampere GA100, 108 SMs, 80 GB HBM2e, NVLink 3, PCIe Gen4 x16",
      {1.41e9, "NVIDIA A100 Tensor Core GPU architecture whitepaper: boost clock 1410 MHz"},
      {{19.5e12, "NVIDIA A100 datasheet: FP64 Tensor Core 19.5 TFLOPS (vector FP64: 9.7 TFLOPS)"},
       {19.5e12, kA100},
       {156e12, kA100},
       {312e12, kA100},
       {312e12, kA100},
       {624e12, kA100}},
      {{"L2", {40e6, "NVIDIA A100 architecture whitepaper: 40 MB L2"},
        {kNaN, "L2 bandwidth not published in the datasheet"}},
       {"HBM2e", {80e9, kA100}, {2039e9, kA100}}},
      "NVLink 3 (12 links)",
      {600e9, kA100},
      {64e9, "NVIDIA A100 datasheet: PCIe Gen4 64 GB/s (both directions)"},
      {400, kA100},
      {15000, kMlsysimPrice}});

  // ---- edge GPU and single-board computers -----------------------------------------------------
  r.push_back(Hardware{
      "NVIDIA Jetson Orin Nano 8GB",
      {"orinnano", "jetsonorinnano", "jetson", "orin"},
      HardwareKind::gpu,
      "1024 CUDA cores + 32 tensor cores (Ampere) at 625 MHz, 6x Cortex-A78AE 1.5 GHz, 8 GB "
      "128-bit LPDDR5 (the 2024 'Super' firmware raises clocks to 67 sparse TOPS, 102 GB/s, 25 W)",
      {625e6, kOrin},
      {{kNaN, "FP64 rate of the GA10B GPU not published"},
       {1.28e12, "derived: 1024 CUDA cores x 2 FLOP (FMA) x 625 MHz (clock and cores from the "
                 "Orin Nano data sheet)"},
       {kNaN, "TF32 rate not published"},
       {10e12, "derived: 20 dense INT8 TOPS (data sheet) / 2, the FP16:INT8 tensor-core ratio of "
               "Ampere (A100 datasheet: 312 vs 624); MLSys-im JetsonOrinNano.yaml uses the same"},
       {kNaN, "BF16 rate not published"},
       {20e12, "NVIDIA Jetson Orin Nano data sheet: 40 sparse / 20 dense INT8 TOPS (8GB)"}},
      {{"LPDDR5", {8e9, kOrin}, {68e9, kOrin}}},
      "none (PCIe Gen3 to peripherals)",
      {kNaN, "no device-to-device link"},
      {kNaN, "integrated GPU: shares LPDDR5 with the CPU, no host link"},
      {15, "NVIDIA Jetson Orin Nano data sheet: 7 W to 15 W power modes (8GB)"},
      {499, "NVIDIA Jetson Orin Nano Developer Kit launch price, GTC 2023-03-21 (the 2024 Super "
            "kit lists at 249 USD)"}});

  r.push_back(Hardware{
      "Raspberry Pi 4 Model B (8GB)",
      {"rpi4", "pi4", "raspberrypi4", "bcm2711"},
      HardwareKind::cpu,
      "Broadcom BCM2711, 4x Cortex-A72 at 1.5 GHz (1.8 GHz on boards from 2022), 32 KB L1d per "
      "core, 1 MB shared L2, LPDDR4-3200 (1/2/4/8 GB; the 8 GB model here)",
      {1.5e9, kPi4},
      {{24e9, "derived: 4 cores x 1.5 GHz x 4 FP64 FLOP/cycle (Cortex-A72: one 2-wide FP64 NEON "
              "FMA per cycle, measured 4 DP / 8 SP FLOP/cycle by vfpbench, "
              "wlog.flatlib.jp/2015/10/30/n1787)"},
       {48e9, "derived: 4 cores x 1.5 GHz x 8 FP32 FLOP/cycle (one 4-wide NEON FMA per cycle; "
              "vfpbench on Cortex-A72, wlog.flatlib.jp/2015/10/30/n1787)"},
       {kNaN, "no TF32 on Cortex-A72"},
       {kNaN, "no FP16 arithmetic on Cortex-A72 (Armv8.0-A)"},
       {kNaN, "no BF16 on Cortex-A72"},
       {kNaN, "int8 peak not published (Armv8.0-A has no SDOT)"}},
      {{"L2", {1 * kMiB, kPi4}, {kNaN, kNotPublished}},
       {"LPDDR4", {8 * kGiB, kPi4},
        {12.8e9, "derived: 32-bit bus x 3200 MT/s (LPDDR4-3200, product brief) = 12.8 GB/s"}}},
      "Gigabit Ethernet",
      {125e6, "Raspberry Pi 4 product brief: Gigabit Ethernet (1e9 bit/s = 125 MB/s)"},
      {kNaN, "no host link"},
      {kNaN, "no TDP published; the recommended supply is 5 V 3 A (15 W)"},
      {75, "Raspberry Pi 4 8GB launch price, Raspberry Pi blog 2020-05-28"}});

  r.push_back(Hardware{
      "Raspberry Pi 5 (8GB)",
      {"rpi5", "pi5", "raspberrypi5", "bcm2712"},
      HardwareKind::cpu,
      "Broadcom BCM2712, 4x Cortex-A76 at 2.4 GHz, 512 KB L2 per core, 2 MB shared L3, "
      "LPDDR4X-4267 (4/8 GB; the 8 GB model here)",
      {2.4e9, kPi5},
      {{76.8e9, "derived: 4 cores x 2.4 GHz x 8 FP64 FLOP/cycle (two 2-wide FP64 FMA pipes, Arm "
                "Cortex-A76 Software Optimization Guide, ASIMD FMLA throughput 2/cycle)"},
       {153.6e9, "derived: 4 cores x 2.4 GHz x 16 FP32 FLOP/cycle (two 4-wide FMA pipes, Arm "
                 "Cortex-A76 Software Optimization Guide, ASIMD FMLA throughput 2/cycle)"},
       {kNaN, "no TF32 on Cortex-A76"},
       {307.2e9, "derived: 4 cores x 2.4 GHz x 32 FP16 FLOP/cycle (two 8-wide FP16 FMA pipes, "
                 "Armv8.2-A FP16; Cortex-A76 Software Optimization Guide)"},
       {kNaN, "no BF16 on Cortex-A76 (Armv8.2-A)"},
       {614.4e9, "derived: 4 cores x 2.4 GHz x 64 OP/cycle (two SDOT per cycle, 16 int8 MACs "
                 "each; Cortex-A76 Software Optimization Guide)"}},
      {{"L2", {512 * kKiB, kPi5}, {kNaN, kNotPublished}},
       {"L3", {2 * kMiB, kPi5}, {kNaN, kNotPublished}},
       {"LPDDR4X", {8 * kGiB, kPi5},
        {17.07e9, "derived: 32-bit bus x 4267 MT/s (LPDDR4X-4267, product brief) = 17.07 GB/s"}}},
      "Gigabit Ethernet; PCIe 2.0 x1",
      {125e6, "Raspberry Pi 5 product brief: Gigabit Ethernet (125 MB/s)"},
      {500e6, "Raspberry Pi 5 product brief: single-lane PCIe 2.0 (5 GT/s, 8b/10b: 500 MB/s)"},
      {kNaN, "no TDP published; the recommended supply is 5 V 5 A (27 W USB-PD)"},
      {80, "Raspberry Pi 5 8GB launch price, Raspberry Pi blog 2023-09-28"}});

  // ---- microcontrollers and the NPU board ------------------------------------------------------
  r.push_back(Hardware{
      "Nordic nRF52840 (Arduino Nano 33 BLE Sense)",
      {"nrf52840", "nano33ble", "nano33blesense", "arduinonano33blesense"},
      HardwareKind::mcu,
      "Cortex-M4F at 64 MHz (single-precision FPU), 256 KB SRAM, 1 MB flash",
      {64e6, kNrf},
      {{kNaN, "no FP64 hardware (FPv4-SP); FP64 runs in software"},
       {64e6, "derived: 64 MHz x 1 FLOP/cycle (Cortex-M4 TRM, FPU instruction timing: VADD/VMUL "
              "1 cycle, VFMA 3 cycles)"},
       {kNaN, "no TF32"},
       {kNaN, "no FP16 arithmetic on Cortex-M4"},
       {kNaN, "no BF16"},
       {256e6, "derived: 64 MHz x 4 OP/cycle (SMLAD: two 16x16 MACs per cycle, Cortex-M4 TRM; "
               "int8 operands widened to 16 bits first, so real kernels reach less)"}},
      {{"SRAM", {256 * kKiB, kNrf},
        {256e6, "derived: one 32-bit access per cycle at 64 MHz (upper bound)"}},
       {"flash", {1 * kMiB, kNrf}, {kNaN, "flash read bandwidth not published (wait states)"}}},
      "Bluetooth LE 5",
      {kNaN, "BLE throughput depends on the connection parameters; not a fixed figure"},
      {kNaN, "no host link"},
      {kNaN, "no TDP for an MCU; see the nRF52840 PS 'current consumption' tables"},
      {kNaN, "board price not recorded"}});

  r.push_back(Hardware{
      "Espressif ESP32-S3 (XIAO ESP32S3 Sense)",
      {"esp32s3", "esp32", "xiaoesp32s3", "xiaoesp32s3sense"},
      HardwareKind::mcu,
      "2x Xtensa LX7 at 240 MHz with single-precision FPU and 128-bit PIE SIMD, 512 KB SRAM, "
      "8 MB octal PSRAM, 8 MB flash (XIAO ESP32S3 Sense)",
      {240e6, kEsp},
      {{kNaN, "no FP64 hardware"},
       {kNaN, "FPU throughput per cycle not published by Espressif"},
       {kNaN, "no TF32"},
       {kNaN, "no FP16 arithmetic"},
       {kNaN, "no BF16"},
       {kNaN, "PIE int8 MAC throughput per cycle not published (ESP32-S3 TRM describes the "
              "instructions, not their timing)"}},
      {{"SRAM", {512 * kKiB, kEsp}, {kNaN, kNotPublished}},
       {"PSRAM", {8 * kMiB, kEsp},
        {160e6, "derived: octal SPI at 80 MHz DTR = 8 bit x 2 x 80 MHz = 160 MB/s (interface "
                "upper bound, ESP-IDF external RAM docs)"}},
       {"flash", {8 * kMiB, kEsp}, {kNaN, kNotPublished}}},
      "Wi-Fi 802.11 b/g/n, Bluetooth LE 5",
      {kNaN, "radio throughput not a fixed figure"},
      {kNaN, "no host link"},
      {kNaN, "no TDP for an MCU; the MLSysBook Grove Vision AI V2 lab measures ~0.45-0.52 W for "
             "the XIAO ESP32S3 Sense running a CNN"},
      {kNaN, "board price not recorded"}});

  r.push_back(Hardware{
      "Raspberry Pi RP2040",
      {"rp2040", "pico", "raspberrypipico", "xiaorp2040"},
      HardwareKind::mcu,
      "2x Cortex-M0+ at 133 MHz (no FPU), 264 KB SRAM in 6 banks, external QSPI flash (2 MB on "
      "Pico)",
      {133e6, kRp},
      {{kNaN, "no FPU; floating point runs in the boot ROM's software routines"},
       {kNaN, "no FPU; software FP32 rate not a datasheet figure"},
       {kNaN, "no TF32"},
       {kNaN, "no FP16"},
       {kNaN, "no BF16"},
       {266e6, "derived: 2 cores x 133 MHz x 1 OP/cycle (MUL is single-cycle on RP2040, "
               "datasheet sec. 2.4; a MAC is MUL + ADD, 2 OP in 2 cycles; loads excluded, so an "
               "upper bound)"}},
      {{"SRAM", {264 * kKiB, kRp},
        {2.128e9, "derived: bus fabric with four 32-bit AHB-Lite masters, one transfer each per "
                  "cycle at 133 MHz (RP2040 datasheet sec. 2.1): 4 x 4 B x 133 MHz"}},
       {"flash", {2 * kMiB, "Raspberry Pi Pico datasheet: 2 MB QSPI flash"},
        {kNaN, "XIP flash bandwidth depends on the QSPI clock divider; not a fixed figure"}}},
      "none",
      {kNaN, "no device-to-device link"},
      {kNaN, "no host link"},
      {kNaN, "no TDP for an MCU; see RP2040 datasheet power consumption tables"},
      {4, "Raspberry Pi Pico launch price, Raspberry Pi blog 2021-01-21"}});

  r.push_back(Hardware{
      "STMicroelectronics STM32H747 (Arduino Nicla Vision)",
      {"stm32h747", "niclavision", "nicla", "arduinoniclavision"},
      HardwareKind::mcu,
      "Cortex-M7 at 480 MHz + Cortex-M4 at 240 MHz, 1 MB SRAM (incl. 192 KB TCM), 2 MB flash "
      "(Nicla Vision adds 16 MB QSPI flash); peaks count the M7 only",
      {480e6, kStm},
      {{kNaN, "FP64 throughput of the M7 FPU not published"},
       {960e6, "derived: 480 MHz x 2 FLOP/cycle (Cortex-M7 FPv5 single-precision FMA issued each "
               "cycle, Cortex-M7 TRM)"},
       {kNaN, "no TF32"},
       {kNaN, "no FP16 arithmetic"},
       {kNaN, "no BF16"},
       {1.92e9, "derived: 480 MHz x 4 OP/cycle (SMLAD: two 16x16 MACs per cycle, Cortex-M7 TRM; "
                "int8 operands widened to 16 bits first)"}},
      {{"SRAM", {1 * kMiB, kStm}, {kNaN, kNotPublished}},
       {"flash", {2 * kMiB, kStm}, {kNaN, kNotPublished}}},
      "Wi-Fi 802.11 b/g/n, Bluetooth LE (Murata 1DX on Nicla Vision)",
      {kNaN, "radio throughput not a fixed figure"},
      {kNaN, "no host link"},
      {kNaN, "no TDP for an MCU; see DS12930 supply current tables"},
      {kNaN, "board price not recorded"}});

  r.push_back(Hardware{
      "Himax HX6538 WiseEye2 (Seeed Grove Vision AI V2)",
      {"hx6538", "wiseeye2", "grovevisionaiv2", "grovevisionai", "we2"},
      HardwareKind::npu,
      "Cortex-M55 at 400 MHz (Helium) + Cortex-M55 at 150 MHz, Arm Ethos-U55 microNPU with 64 "
      "MACs/cycle at 400 MHz, 2.4 MB SRAM, 16 MB external flash",
      {400e6, kHx},
      {{kNaN, "no FP64 hardware"},
       {kNaN, "M55 Helium FP32 rate not published by Himax"},
       {kNaN, "no TF32"},
       {kNaN, "FP16 rate not published"},
       {kNaN, "no BF16"},
       {51.2e9, "derived: Ethos-U55-64 (Seeed SSCMA's Vela target for WE2) x 2 OP/MAC x 400 MHz "
                "= 64 x 2 x 400e6 (Arm Ethos-U55 TRM: 32-256 MACs/cycle by configuration)"}},
      {{"SRAM", {2.4e6, kHx}, {kNaN, kNotPublished}},
       {"flash", {16e6, kHx},
        {kNaN, "external flash at 133 MHz; its bus width on the module is not stated"}}},
      "none (I2C / UART / SPI to a host MCU)",
      {kNaN, "no device-to-device link"},
      {kNaN, "no host link"},
      {kNaN, "no TDP; the MLSysBook Grove Vision AI V2 lab measures 0.35-0.42 W running CNNs"},
      {kNaN, "board price not recorded"}});

  return r;
}

std::string normalise(std::string_view s) {
  std::string out;
  for (char c : s)
    if (c != ' ' && c != '-' && c != '_')
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string_view kind_name(HardwareKind k) {
  switch (k) {
    case HardwareKind::gpu: return "gpu";
    case HardwareKind::cpu: return "cpu";
    case HardwareKind::mcu: return "mcu";
    case HardwareKind::npu: return "npu";
  }
  return "?";
}

const std::vector<Hardware>& registry() {
  static const std::vector<Hardware> table = build();
  return table;
}

const Hardware* find_hardware(std::string_view name) {
  const std::string key = normalise(name);
  if (key.empty()) return nullptr;
  for (const Hardware& h : registry()) {
    if (normalise(h.name) == key) return &h;
    for (std::string_view a : h.aliases)
      if (normalise(a) == key) return &h;
  }
  return nullptr;
}

const Figure* peak_for(const Hardware& h, std::string_view precision) {
  const std::string p = normalise(precision);
  if (p == "fp64") return &h.peak.fp64;
  if (p == "fp32") return &h.peak.fp32;
  if (p == "tf32") return &h.peak.tf32;
  if (p == "fp16") return &h.peak.fp16;
  if (p == "bf16") return &h.peak.bf16;
  if (p == "int8") return &h.peak.int8;
  return nullptr;
}

}  // namespace bstack::walls
