// walls/footprint.h: model states (ZeRO sec. 3.1), the affine extrapolation of a step's memory
// moments, the peak, and the fit verdict, against hand-worked figures.
#include "walls/footprint.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>

namespace bstack::walls {
namespace {

constexpr double GiB = 1024.0 * 1024 * 1024;

TEST(Footprint, OptimizerStates) {
  EXPECT_EQ(optimizer_states_per_parameter("adam"), 2);
  EXPECT_EQ(optimizer_states_per_parameter("adamw"), 2);
  EXPECT_EQ(optimizer_states_per_parameter("sgd"), 1);
  EXPECT_EQ(optimizer_states_per_parameter("none"), 0);
  EXPECT_THROW(optimizer_states_per_parameter("lion"), std::invalid_argument);
}

TEST(Footprint, ModelStatesAdamFp32Is16BytesPerParameter) {
  // 1M fp32 parameters with Adam: 4 MB weights, 4 MB gradients, 8 MB moments = 16 B/parameter.
  const MemoryInventory m = model_states(1e6, 4, 2, true);
  EXPECT_DOUBLE_EQ(m.parameter_bytes, 4e6);
  EXPECT_DOUBLE_EQ(m.gradient_bytes, 4e6);
  EXPECT_DOUBLE_EQ(m.optimizer_bytes, 8e6);
  EXPECT_DOUBLE_EQ(m.activation_bytes + m.workspace_bytes, 0);
  EXPECT_DOUBLE_EQ(m.total(), 16e6);
  // SGD with momentum: 12 B/parameter; inference: the weights alone.
  EXPECT_DOUBLE_EQ(model_states(1e6, 4, 1, true).total(), 12e6);
  EXPECT_DOUBLE_EQ(model_states(1e6, 4, 2, false).total(), 4e6);
  EXPECT_TRUE(std::isnan(model_states(-1, 4, 2, true).total()));
}

TEST(Footprint, ExtrapolatesEachPartAffinely) {
  const MemoryInventory a{100, 100, 200, 1000, 50}, b{100, 100, 200, 1500, 80};
  const MemoryInventory m = extrapolate(a, 2, b, 3, 10);  // 8 batch steps beyond b = 2
  EXPECT_DOUBLE_EQ(m.parameter_bytes, 100);
  EXPECT_DOUBLE_EQ(m.optimizer_bytes, 200);
  EXPECT_DOUBLE_EQ(m.activation_bytes, 1000 + 500 * 8);
  EXPECT_DOUBLE_EQ(m.workspace_bytes, 50 + 30 * 8);
  // Interpolation works too; a part that would go negative is not a real moment.
  EXPECT_DOUBLE_EQ(extrapolate(a, 2, b, 4, 3).activation_bytes, 1250);
  EXPECT_DOUBLE_EQ(extrapolate(a, 2, b, 3, 0).activation_bytes, 0);   // 1000 - 2 * 500
  EXPECT_TRUE(std::isnan(extrapolate(a, 2, b, 3, 0).workspace_bytes));  // 50 - 2 * 30 < 0
  EXPECT_THROW(extrapolate(a, 2, b, 2, 5), std::invalid_argument);
}

TEST(Footprint, PeakMomentChangesWithBatch) {
  // Forward end: total 1400 + 500 (B - 2); a backward moment: 1350 + 900 (B - 2).
  const std::vector<MemoryInventory> at2{{100, 100, 200, 1000, 0}, {100, 50, 200, 1000, 0}};
  const std::vector<MemoryInventory> at3{{100, 100, 200, 1500, 0}, {100, 50, 200, 1500, 400}};
  PeakMemory p = peak_at_batch(at2, 2, at3, 3, 2);
  EXPECT_EQ(p.moment, 0);
  EXPECT_DOUBLE_EQ(p.memory.total(), 1400);
  p = peak_at_batch(at2, 2, at3, 3, 10);
  EXPECT_EQ(p.moment, 1);
  EXPECT_DOUBLE_EQ(p.memory.total(), 1350 + 900 * 8);
  EXPECT_DOUBLE_EQ(p.memory.gradient_bytes, 50);
  EXPECT_DOUBLE_EQ(p.memory.activation_bytes, 5000);
  EXPECT_DOUBLE_EQ(p.memory.workspace_bytes, 3200);
  EXPECT_THROW(peak_at_batch(at2, 2, {at3[0]}, 3, 4), std::invalid_argument);
}

TEST(Footprint, FitVerdict) {
  MemoryFit f = memory_fit(1 * GiB, 4 * GiB);
  EXPECT_TRUE(f.fits);
  EXPECT_DOUBLE_EQ(f.headroom_bytes, 3 * GiB);
  EXPECT_DOUBLE_EQ(f.times, 0.25);
  f = memory_fit(6 * GiB, 4 * GiB);  // 1.5 times over, 2 GiB short
  EXPECT_FALSE(f.fits);
  EXPECT_DOUBLE_EQ(f.headroom_bytes, -2 * GiB);
  EXPECT_DOUBLE_EQ(f.times, 1.5);
  f = memory_fit(4 * GiB, 4 * GiB);  // exactly full still fits
  EXPECT_TRUE(f.fits);
  f = memory_fit(1 * GiB, std::numeric_limits<double>::infinity());
  EXPECT_TRUE(f.fits);
  EXPECT_EQ(f.times, 0);
  f = memory_fit(std::nan(""), 4 * GiB);
  EXPECT_FALSE(f.fits);
  EXPECT_TRUE(std::isnan(f.times));
  EXPECT_FALSE(memory_fit(1, 0).fits);
}

}  // namespace
}  // namespace bstack::walls
