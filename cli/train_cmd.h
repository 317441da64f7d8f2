// `bstack train`: options and the command. Under `mpirun -np P` (P > 1) it trains data-parallel
// (dist::DataParallel): rank 0 prints and checkpoints, every rank writes its trace.
#pragma once

#include "cli/demo.h"
#include "dist/data_parallel.h"
#include "src/train/train.h"

#include <CLI/CLI.hpp>

namespace bstack::cli {

struct TrainOptions {
  train::TrainConfig cfg;
  dist::DataParallelOptions dp;
  std::string allreduce;  // empty: ring for --backend mpi, NCCL's own for nccl
  double bucket_kb = 1024;
  bool no_overlap = false;
};

void add_train_options(CLI::App* cmd, TrainOptions& o);
int run_train(const GlobalOptions& opts, TrainOptions o);

}  // namespace bstack::cli
