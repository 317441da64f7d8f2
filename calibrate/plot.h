// Plots of a MachineProfile as SVG, drawn by gnuplot (Debian's gnuplot-nox), which is called as
// a program: bandwidth vs working set with the fitted plateaus and the OS's cache sizes, and the
// roofline of this machine with its measured ceilings (Williams, Waterman & Patterson, "Roofline:
// an insightful visual performance model", CACM 2009).
#pragma once

#include <string>
#include <vector>

#include "calibrate/profile.h"

namespace bstack::calibrate {

// Whether a gnuplot that can write SVG is on PATH.
bool gnuplot_available();

// One point on a roofline plot (walls compare puts measured ops here).
struct RooflinePoint {
  std::string label;
  double intensity;  // FLOP per byte
  double flops_per_s;
};

// Writes DIR/bandwidth.svg and DIR/roofline.svg (atomically: temporary name, then rename),
// creating DIR; returns the files written. Throws bstack::Error naming gnuplot's complaint, or
// saying gnuplot is missing (callers skip with that message).
std::vector<std::string> plot_profile(const MachineProfile& p, const std::string& dir);

// The roofline of `p` with extra points, to `path` (an .svg file).
void plot_roofline(const MachineProfile& p, const std::vector<RooflinePoint>& points,
                   const std::string& title, const std::string& path);

}  // namespace bstack::calibrate
