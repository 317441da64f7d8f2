// `bstack walls list` and `bstack walls show N`: the table of the 22 systems walls (walls/wall.h)
// and one wall explained — its equation, what limits, its sources, where the code lives and which
// MachineProfile keys feed it, with their values when a profile is given; `bstack walls compare`:
// a training trace beside what the walls predict for it from a profile (calibrate/compare.h).
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "cli/demo.h"

namespace bstack::cli {

struct WallsOptions {
  int number = 0;       // `show`: the wall, 1..22
  std::string profile;  // `show --profile`: a profile whose values of the wall's fields to print;
                        // `compare --profile`: the machine the prediction is made for
  std::string trace;    // `compare --trace`: a trace `bstack train --trace` wrote
  std::string plot;     // `compare --plot`: roofline SVG with the measured op classes
};

// Registers `list` and `show` under `walls`; returns them so main can tell which ran.
struct WallsCommands {
  CLI::App* list = nullptr;
  CLI::App* show = nullptr;
  CLI::App* compare = nullptr;
};
WallsCommands add_walls_commands(CLI::App* walls, WallsOptions& o);

int run_walls_list(const GlobalOptions& opts);
int run_walls_show(const GlobalOptions& opts, const WallsOptions& o);
int run_walls_compare(const GlobalOptions& opts, const WallsOptions& o);

}  // namespace bstack::cli
