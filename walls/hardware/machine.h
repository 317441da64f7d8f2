// A registry device (walls/hardware/registry.h) as the predictor's Machine (walls/predict.h), so
// one workload can be priced on a datasheet: "what would an H100 buy me". The datasheet gives
// ceilings, not what a step achieves; the gap is filled by three documented assumptions,
// each overridable:
//
//   peak          the device's dense peak for the precision (registry; NaN -> refused)
//   GEMM eta      0.5 for every GEMM-class op: MLSys-im's DEFAULT_COMPUTE_EFFICIENCY ("a highly
//                 optimized large language model typically achieves around 50% MFU"), citing
//                 Chowdhery et al. 2022, "PaLM: scaling language modeling with Pathways" (46.2%
//                 MFU for PaLM 540B) -- harvard-edge/cs249r_book, mlsysim/core/defaults.py.
//                 Element-wise ops run at eta 1: they sit on the memory roof.
//   dispatch      10 us per op launched: MLSys-im's per-device dispatch_tax default (0.01 ms,
//                 mlsysim/hardware/types.py; the H100 entry, data/cloud/H100.yaml, carries the
//                 same), the framework + kernel-launch time an eager step pays per op. A backward
//                 op is one more launch, so dispatch_autograd_s (forward + backward pair) = 2x.
//   memory        the registry's levels that publish a bandwidth, fastest first, at their
//                 capacity and datasheet bandwidth (a level without a published bandwidth, such
//                 as the H100's L2, is left out: the predictor cannot price it).
//   interconnect  beta = the device-to-device bandwidth in one direction: NVLink's datasheet
//                 figure counts both directions (H100: 900 GB/s total = 450 GB/s each way),
//                 Ethernet's is per direction (1 Gbit/s = 125 MB/s). alpha = the link's latency:
//                 NVLink 500 ns (MLSys-im data/tech/interconnect.yaml, NVLink.latency), TCP over
//                 Ethernet 50 us (MLSys-im core/defaults.py TCP_LATENCY_US). NaN when the device
//                 has no device-to-device link (wall 14 then gives NaN).
//
// Contract: throws std::invalid_argument naming the device and the missing figure for an unknown
// precision, a precision the device publishes no peak for, or a device with no memory level that
// publishes a bandwidth; a non-positive / non-finite efficiency or dispatch in the options.
#pragma once

#include <string_view>

#include "walls/hardware/registry.h"
#include "walls/predict.h"

namespace bstack::walls {

struct HardwareAssumptions {
  double gemm_efficiency = 0.5;   // eta of GEMM-class ops (MLSys-im DEFAULT_COMPUTE_EFFICIENCY)
  double dispatch_s = 10e-6;      // per op (MLSys-im Hardware.dispatch_tax default)
};

Machine machine_from_hardware(const Hardware& h, std::string_view precision,
                              const HardwareAssumptions& a = {});

// The capacity a run's memory must fit in: the largest writable level (flash, read-only at run
// time, is not counted), in bytes; NaN when none is published.
double hardware_memory_capacity(const Hardware& h);

}  // namespace bstack::walls
