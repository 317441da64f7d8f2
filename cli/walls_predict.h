// `bstack walls predict | sensitivity | synthesis`: a workload priced on a machine before it runs.
//
//   predict      one step of the workload (an analytic one -- gpt2-124m, llama3-8b, resnet50 --
//                or a bstack zoo model) on this machine (--profile, what calibrate measured) or a
//                registry device (--hardware h100, its datasheet and walls/hardware/machine.h's
//                assumptions): the step per op class with the binding wall, the total, samples/s
//                (tokens/s for LMs), with --ranks P the ring all-reduce of the gradients (wall
//                14), and "will it fit" -- the memory inventory against the device's capacity.
//   sensitivity  wall 21 over the machine's parameters (peak, each memory level's bandwidth, GEMM
//                efficiency, dispatch, alpha, beta): elasticities, ranked, the binding one named.
//   synthesis    wall 22: the bandwidth and FLOP/s a target step time needs, and which registry
//                devices (and this machine, with --profile) meet it.
// The time model assumes the run fits in memory; the fit verdict is reported beside it.
#pragma once

#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/demo.h"

namespace bstack::cli {

struct WallsPredictOptions {
  std::string profile;            // this machine (calibrate's profile)
  std::string hardware;           // a registry device instead
  std::string workload;           // analytic name or zoo model
  int64_t batch = 32;
  int64_t seq = 0;                // LMs: tokens per sequence; 0 = the model's context
  std::string precision = "fp32";
  std::string optimizer = "adam";
  std::string data;               // zoo models: as `bstack train --data`
  bool inference = false;
  int ranks = 1;
  double bucket_kb = 1024;        // DDP bucket (as `bstack train --bucket-kb`): sets the overlap
  bool no_overlap = false;
  double gemm_efficiency = 0.5;   // --hardware: eta of GEMM-class ops (machine.h)
  double dispatch_us = 10;        // --hardware: per-op dispatch (machine.h)
  double target_ms = 0;           // synthesis: the step time to meet
};

struct WallsPredictCommands {
  CLI::App* predict = nullptr;
  CLI::App* sensitivity = nullptr;
  CLI::App* synthesis = nullptr;
};
WallsPredictCommands add_walls_predict_commands(CLI::App* walls, WallsPredictOptions& o);

int run_walls_predict(const GlobalOptions& opts, const WallsPredictOptions& o);
int run_walls_sensitivity(const GlobalOptions& opts, const WallsPredictOptions& o);
int run_walls_synthesis(const GlobalOptions& opts, const WallsPredictOptions& o);

}  // namespace bstack::cli
