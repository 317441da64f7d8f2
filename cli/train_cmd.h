// `bstack train`: options and the command.
#pragma once

#include "cli/demo.h"
#include "src/train/train.h"

#include <CLI/CLI.hpp>

namespace bstack::cli {

void add_train_options(CLI::App* cmd, train::TrainConfig& cfg);
int run_train(const GlobalOptions& opts, train::TrainConfig cfg);

}  // namespace bstack::cli
