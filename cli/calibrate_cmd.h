// `bstack calibrate`: options and the command.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "calibrate/calibrate.h"
#include "cli/demo.h"

namespace bstack::cli {

struct CalibrateOptions {
  calibrate::Options run;
  std::string output = "profile.h5";
  std::string plot_dir;
  std::string show;  // print this profile instead of measuring
};

void add_calibrate_options(CLI::App* cmd, CalibrateOptions& o);
int run_calibrate(const GlobalOptions& opts, const CalibrateOptions& o);

}  // namespace bstack::cli
