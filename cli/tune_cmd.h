// `bstack tune`: runs the autotuner (kernels/autotune.h) over the default shapes, or the given
// ones, and writes the per-machine tuning cache that every later run uses automatically.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "cli/demo.h"

namespace bstack::cli {

struct TuneOptions {
  std::string op = "gemm";  // gemm (= sgemm and dgemm), sgemm, dgemm
  double budget_s = 60;     // whole run
  std::string shapes;       // "MxNxK,MxNxK"; empty = the default list
  std::string output;       // cache path; empty = the default location
  bool show = false;        // print the cache in use, tune nothing
};

void add_tune_options(CLI::App* cmd, TuneOptions& o);
int run_tune(const GlobalOptions& opts, const TuneOptions& o);

}  // namespace bstack::cli
