// Plateaus of a sweep: fits a piecewise-constant model to samples (x, y) taken at increasing x
// (a working-set sweep: x = bytes, y = bandwidth or latency) and returns the flat parts, in x
// order. A pure function of numbers: no I/O, no clock.
//
// Model: log y is constant on each of k contiguous segments of the points (sorted by x; the
// sweep is geometric, so the points are evenly spaced in log x). For each k <= max_segments the
// least-squares segmentation in log y is found exactly by dynamic programming - optimal
// partitioning (Bellman 1961, "On the approximation of curves by line segments using dynamic
// programming"; Jackson et al. 2005, "An algorithm for optimal partitioning of data on an
// interval", IEEE SPL 12(2)) - and k is chosen by the Bayesian information criterion
// (Schwarz 1978) with 2k - 1 parameters (k levels, k - 1 change points).
//
// Real curves ramp between levels (a cache is partly resident over a range of sizes), so each
// segment's level is robust to the points it got from a ramp: points farther from the segment's
// median than max(3 sigma, trim_floor) in log y (sigma: the curve's noise, robustly from
// successive differences) are dropped, and the level is the mean of the rest. A segment left with fewer than min_points points is a ramp, not a plateau, and is
// not returned - except the last one, the level the curve ends at, which keeps its min_points
// points nearest the median; neighbouring plateaus closer than min_rel_step are one plateau.
#pragma once

#include <cstddef>
#include <vector>

namespace bstack::calibrate {

struct PlateauOptions {
  int max_segments = 6;        // k = 1 .. max_segments (with ramps counted as segments)
  int min_points = 3;          // points per segment; a plateau keeps this many after trimming
  double trim_floor = 0.03;    // keep points within 3% of the median however small the spread
  double min_rel_step = 0.08;  // neighbouring plateaus whose levels differ by less are merged
};

struct Plateau {
  double x_begin = 0, x_end = 0;  // x of the first and last point kept on the plateau
  double level = 0;               // mean y of the kept points
  double rel_rmse = 0;            // sqrt(mean((y / level - 1)^2)) over the kept points
  int points = 0;                 // kept points
  size_t first = 0, last = 0;     // index range [first, last] of the segment (kept or trimmed)
};

// x strictly increasing, y > 0, same length (bstack::Error otherwise). Fewer than min_points
// points give no plateau.
std::vector<Plateau> fit_plateaus(const std::vector<double>& x, const std::vector<double>& y,
                                  const PlateauOptions& o = {});

// The least-squares segmentation of v into k contiguous segments of at least min_len points
// each (Bellman's recursion): returns the k start indices (the first is 0). Exposed for tests.
std::vector<size_t> optimal_partition(const std::vector<double>& v, int k, int min_len);

}  // namespace bstack::calibrate
