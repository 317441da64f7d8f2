// calibrate/plateau.h: the piecewise-constant fit recovers known plateaus from synthetic sweeps
// (known levels and boundaries, ramps between levels, 1-3% multiplicative noise).
#include "calibrate/plateau.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "src/error.h"

namespace bc = bstack::calibrate;

namespace {

struct Curve {
  std::vector<double> x, y;
};

// A sweep from 4 KiB to 2 GiB in steps of 2^(1/4) (the full calibration's). levels[i] holds up
// to bounds[i] (bytes); after each boundary `ramp` points move log-linearly to the next level.
Curve synth(const std::vector<double>& levels, const std::vector<double>& bounds, int ramp,
            double noise, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> n01(0.0, 1.0);
  Curve c;
  size_t lvl = 0;
  int since = 0;  // points since the last boundary was crossed
  for (int i = 0; i <= 19 * 4; ++i) {
    const double x = 4096 * std::pow(2.0, i / 4.0);
    while (lvl < bounds.size() && x > bounds[lvl]) {
      ++lvl;
      since = 0;
    }
    double y = levels[lvl];
    ++since;
    if (lvl > 0 && since <= ramp) {  // still ramping from levels[lvl - 1]
      const double f = double(since) / double(ramp + 1);
      y = std::exp((1 - f) * std::log(levels[lvl - 1]) + f * std::log(levels[lvl]));
    }
    c.x.push_back(x);
    c.y.push_back(y * (1 + noise * n01(rng)));
  }
  return c;
}

void expect_recovered(const std::vector<bc::Plateau>& p, const std::vector<double>& levels,
                      const std::vector<double>& bounds, const std::string& what) {
  ASSERT_EQ(p.size(), levels.size()) << what;
  for (size_t i = 0; i < levels.size(); ++i) {
    EXPECT_NEAR(p[i].level / levels[i], 1.0, 0.02) << what << " plateau " << i;
    EXPECT_GT(p[i].points, 3) << what << " plateau " << i;
    EXPECT_LT(p[i].rel_rmse, 0.06) << what << " plateau " << i;
    if (i < bounds.size()) {  // ends within a factor 2 of the true boundary
      EXPECT_LE(p[i].x_end, bounds[i] * 2) << what << " plateau " << i;
      EXPECT_GE(p[i].x_end, bounds[i] / 2) << what << " plateau " << i;
    }
    if (i > 0) {
      EXPECT_GT(p[i].x_begin, p[i - 1].x_end) << what;
    }
  }
}

const double KiB = 1024, MiB = 1024 * 1024;

}  // namespace

TEST(Plateau, OptimalPartitionFindsExactSteps) {
  const std::vector<double> v = {1, 1, 1, 5, 5, 5, 5, 2, 2, 2};
  EXPECT_EQ(bc::optimal_partition(v, 3, 2), (std::vector<size_t>{0, 3, 7}));
  EXPECT_EQ(bc::optimal_partition(v, 1, 1), (std::vector<size_t>{0}));
  EXPECT_THROW(bc::optimal_partition(v, 6, 2), bstack::Error);
}

TEST(Plateau, BandwidthCurveWithRampsAndNoise) {
  // Falling bandwidth: L1 200 GB/s to 48 KiB, L2 90 to 2 MiB, L3 40 to 64 MiB, DRAM 16.
  const std::vector<double> levels = {200e9, 90e9, 40e9, 16e9};
  const std::vector<double> bounds = {48 * KiB, 2 * MiB, 64 * MiB};
  for (double noise : {0.01, 0.02, 0.03})
    for (unsigned seed = 1; seed <= 5; ++seed)
      for (int ramp : {0, 2, 3}) {
        const Curve c = synth(levels, bounds, ramp, noise, seed);
        expect_recovered(bc::fit_plateaus(c.x, c.y), levels, bounds,
                         "noise " + std::to_string(noise) + " seed " + std::to_string(seed) +
                             " ramp " + std::to_string(ramp));
      }
}

TEST(Plateau, LatencyCurveRisingWithRamps) {
  // Rising latency: 1.3 ns, 4.5 ns, 25 ns, 110 ns.
  const std::vector<double> levels = {1.3e-9, 4.5e-9, 25e-9, 110e-9};
  const std::vector<double> bounds = {48 * KiB, 2 * MiB, 96 * MiB};
  for (unsigned seed = 11; seed <= 15; ++seed) {
    const Curve c = synth(levels, bounds, 3, 0.02, seed);
    expect_recovered(bc::fit_plateaus(c.x, c.y), levels, bounds, "seed " + std::to_string(seed));
  }
}

TEST(Plateau, TwoLevelsAndFlat) {
  const Curve two = synth({30e9, 12e9}, {256 * MiB}, 2, 0.02, 7);
  expect_recovered(bc::fit_plateaus(two.x, two.y), {30e9, 12e9}, {256 * MiB}, "two levels");
  const Curve flat = synth({10e9}, {}, 0, 0.03, 8);
  const auto p = bc::fit_plateaus(flat.x, flat.y);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_NEAR(p[0].level / 10e9, 1.0, 0.02);
  EXPECT_EQ(p[0].x_begin, flat.x.front());
}

TEST(Plateau, CloseLevelsAreOne) {
  // 5% apart is below min_rel_step (8%): one plateau, at the mean of the two.
  const Curve c = synth({20e9, 19e9}, {1 * MiB}, 0, 0.0, 1);
  const auto p = bc::fit_plateaus(c.x, c.y);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_GE(p[0].level, 19e9);
  EXPECT_LE(p[0].level, 20e9);
}

TEST(Plateau, NoiseFreeStepsAreExact) {
  const std::vector<double> levels = {100, 50, 10};
  const Curve c = synth(levels, {64 * KiB, 8 * MiB}, 0, 0.0, 1);
  const auto p = bc::fit_plateaus(c.x, c.y);
  ASSERT_EQ(p.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_DOUBLE_EQ(p[i].level, levels[i]);
    EXPECT_EQ(p[i].rel_rmse, 0.0);
  }
  EXPECT_EQ(p[0].x_end, 64 * KiB);  // 4 KiB * 2^4 lies on the grid
}

TEST(Plateau, BadInput) {
  EXPECT_THROW(bc::fit_plateaus({1, 2, 3}, {1, 2}), bstack::Error);
  EXPECT_THROW(bc::fit_plateaus({1, 2, 2}, {1, 2, 3}), bstack::Error);
  EXPECT_THROW(bc::fit_plateaus({1, 2, 3}, {1, -2, 3}), bstack::Error);
  EXPECT_TRUE(bc::fit_plateaus({1, 2}, {1, 2}).empty());
}
