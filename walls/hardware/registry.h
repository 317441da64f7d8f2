// The compiled-in hardware registry: datasheet figures for the devices the walls are taught on,
// from data-centre GPUs to microcontroller boards, each figure with the document it comes from.
//
// Rules the table keeps:
// - Every figure carries a source: a datasheet URL or document title, or "derived: ..." with the
//   arithmetic (MCU peaks are clock x operations per cycle from the core's reference manual).
// - A figure the vendor does not publish is NaN with a source that says so -- never a guess.
// - Peaks are dense (no 2:4 sparsity); FLOP/s for floating point, OP/s for int8 (a MAC is 2).
// - Memory levels are listed fastest first; a bandwidth may be NaN (unpublished).
// - Prices are indicative, with where and when they were quoted; they are not quotes.
// Pure data: no I/O. The MachineProfile a machine measures (calibrate/) is what predictions use
// first; these are the datasheet ceilings to compare against and the specs of boards one cannot
// run calibrate on.
#pragma once

#include <string_view>
#include <vector>

namespace bstack::walls {

struct Figure {
  double value;                 // SI unit named by the field; NaN when not published
  std::string_view source;
};

enum class HardwareKind { gpu, cpu, mcu, npu };
std::string_view kind_name(HardwareKind k);

struct MemorySpec {
  std::string_view name;        // "HBM3", "L2", "SRAM", "PSRAM", "flash"
  Figure capacity_bytes;
  Figure bandwidth_bytes_per_s;
};

struct Peaks {                  // dense peak rates, FLOP/s (int8: OP/s)
  Figure fp64, fp32, tf32, fp16, bf16, int8;
};

struct Hardware {
  std::string_view name;        // full name: "NVIDIA H100 SXM5 80GB"
  std::vector<std::string_view> aliases;  // lower-case short names: "h100"
  HardwareKind kind;
  std::string_view summary;     // cores, clocks, the board it sits on
  Figure clock_hz;              // the clock the peaks assume
  Peaks peak;
  std::vector<MemorySpec> memory;
  std::string_view interconnect;          // "NVLink 4", "PCIe 2.0 x1", "none"
  Figure interconnect_bytes_per_s;        // device-to-device (total, both directions as quoted)
  Figure host_bytes_per_s;                // host link (PCIe), NaN where there is none
  Figure tdp_w;
  Figure cost_usd;
};

// All entries, in a fixed order (GPUs, boards with CPUs, MCUs / NPUs).
const std::vector<Hardware>& registry();

// By full name or alias, case-insensitive, ignoring ' ', '-' and '_' ("H100", "rpi5",
// "esp32-s3", "nano33ble"). nullptr when nothing matches.
const Hardware* find_hardware(std::string_view name);

// The peak for "fp64", "fp32", "tf32", "fp16", "bf16" or "int8" (nullptr for anything else).
const Figure* peak_for(const Hardware& h, std::string_view precision);

}  // namespace bstack::walls
