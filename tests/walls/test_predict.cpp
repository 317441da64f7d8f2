// The predictor (walls/predict.h) against hand-worked numbers (the arithmetic is in each
// comment): which roof binds an op and at which memory level, dispatch, GEMM efficiency by size,
// the step's sum and its exposed all-reduce, the class summary, and the NaN edge cases.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "walls/predict.h"

namespace w = bstack::walls;

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A made-up 4-thread machine with round numbers:
//   Peak 200 GFLOP/s; L1d 32 KiB at 400 GB/s, L2 1 MB at 100 GB/s, L3 32 MB at 50 GB/s,
//   DRAM 16 GB at 15 GB/s; GEMM eta 0.2 at 1 MFLOP, 0.6 at 100 MFLOP, 0.8 at 1 GFLOP and above;
//   dispatch 2 us, 5 us per op with autograd (forward + backward); alpha 1 us, beta 10 GB/s.
w::Machine machine() {
  w::Machine m;
  m.name = "test";
  m.peak_flops_per_s = 200e9;
  m.peak_flops_per_s_1t = 50e9;
  m.threads = 4;
  m.levels = {
      {"l1d", 32768, 400e9}, {"l2", 1e6, 100e9}, {"l3", 3.2e7, 50e9}, {"dram", 1.6e10, 15e9}};
  m.gemm_efficiency = {{1e6, 0.2}, {1e8, 0.6}, {1e9, 0.8}};
  m.elementwise_efficiency = 1.0;
  m.dispatch_s = 2e-6;
  m.dispatch_autograd_s = 5e-6;
  m.alpha_s = 1e-6;
  m.beta_bytes_per_s = 1e10;
  return m;
}

// C = A B with M = N = K = 1000 fp32: 2MNK = 2e9 FLOP, 3 x 4e6 B = 1.2e7 B.
w::OpCost gemm_fwd() { return {"matmul", false, 2e9, 1.2e7, 0, true}; }
// Its backward: dA and dB, two GEMMs of the same size: 4e9 FLOP, 2.4e7 B.
w::OpCost gemm_bwd() { return {"matmul", true, 4e9, 2.4e7, 0, true}; }
// add of two 1e7-element fp32 tensors: 1e7 FLOP, 3 x 4e7 B = 1.2e8 B.
w::OpCost big_add() { return {"add", false, 1e7, 1.2e8, 0, false}; }
// add of 1000 elements: 1e3 FLOP, 1.2e4 B.
w::OpCost tiny_add() { return {"add", false, 1e3, 1.2e4, 0, false}; }
}  // namespace

// ---- efficiency_for --------------------------------------------------------------------------

TEST(PredictEfficiency, AtAndBetweenPointsInLogFlops) {
  const auto pts = machine().gemm_efficiency;
  EXPECT_DOUBLE_EQ(w::efficiency_for(pts, 1e6), 0.2);
  EXPECT_DOUBLE_EQ(w::efficiency_for(pts, 1e8), 0.6);
  EXPECT_DOUBLE_EQ(w::efficiency_for(pts, 1e9), 0.8);
  // 1e7 is half-way between 1e6 and 1e8 in ln: 0.2 + 0.5 x 0.4 = 0.4.
  EXPECT_NEAR(w::efficiency_for(pts, 1e7), 0.4, 1e-12);
  // sqrt(1e8 x 1e9) is half-way between 1e8 and 1e9: 0.6 + 0.5 x 0.2 = 0.7.
  EXPECT_NEAR(w::efficiency_for(pts, std::sqrt(1e17)), 0.7, 1e-12);
  // 1e6 x 10^0.25 is a quarter of a decade above 1e6, 1/8 of the two decades to 1e8:
  // 0.2 + 0.4 / 8 = 0.25.
  EXPECT_NEAR(w::efficiency_for(pts, 1e6 * std::pow(10.0, 0.25)), 0.2 + 0.4 / 8, 1e-12);
}

TEST(PredictEfficiency, ClampedOutsideTheMeasuredSizes) {
  const auto pts = machine().gemm_efficiency;
  EXPECT_DOUBLE_EQ(w::efficiency_for(pts, 1e3), 0.2);
  EXPECT_DOUBLE_EQ(w::efficiency_for(pts, 0), 0.2);  // an empty GEMM: the smallest size's eta
  EXPECT_DOUBLE_EQ(w::efficiency_for(pts, 1e12), 0.8);
}

TEST(PredictEfficiency, UnsortedAndDuplicateSizes) {
  // Any order gives the same curve.
  const std::vector<w::EfficiencyPoint> shuffled{{1e9, 0.8}, {1e6, 0.2}, {1e8, 0.6}};
  EXPECT_NEAR(w::efficiency_for(shuffled, 1e7), 0.4, 1e-12);
  // Two shapes with the same 2MNK (0.2 and 0.4): their mean 0.3, then half-way to 0.6 = 0.45.
  const std::vector<w::EfficiencyPoint> dup{{1e6, 0.2}, {1e8, 0.6}, {1e6, 0.4}};
  EXPECT_DOUBLE_EQ(w::efficiency_for(dup, 1e6), 0.3);
  EXPECT_NEAR(w::efficiency_for(dup, 1e7), 0.45, 1e-12);
  // One point: constant.
  EXPECT_DOUBLE_EQ(w::efficiency_for({{1e8, 0.5}}, 1e3), 0.5);
  EXPECT_DOUBLE_EQ(w::efficiency_for({{1e8, 0.5}}, 1e12), 0.5);
}

TEST(PredictEfficiency, OutsideTheDomainIsNaN) {
  const auto pts = machine().gemm_efficiency;
  EXPECT_TRUE(std::isnan(w::efficiency_for({}, 1e6)));
  EXPECT_TRUE(std::isnan(w::efficiency_for(pts, -1)));
  EXPECT_TRUE(std::isnan(w::efficiency_for(pts, kNaN)));
  EXPECT_TRUE(std::isnan(w::efficiency_for({{1e6, 1.2}}, 1e6)));   // eta > 1
  EXPECT_TRUE(std::isnan(w::efficiency_for({{1e6, 0}}, 1e6)));     // eta = 0
  EXPECT_TRUE(std::isnan(w::efficiency_for({{0, 0.5}}, 1e6)));     // size 0
  EXPECT_TRUE(std::isnan(w::efficiency_for({{1e6, kNaN}}, 1e6)));
}

// ---- predict_op ------------------------------------------------------------------------------

TEST(PredictOp, ComputeBoundGemmPicksWall1) {
  // eta at 2e9 FLOP: clamped to 0.8. Compute: 2e9 / (200e9 x 0.8) = 12.5 ms.
  // Working set 1.2e7 B: > L2 (1e6), <= L3 (3.2e7) -> level 2: 1.2e7 / 50e9 = 0.24 ms.
  // T = max(12.5 ms, 0.24 ms) + 2 us.
  const w::OpPrediction p = w::predict_op(machine(), gemm_fwd(), false);
  EXPECT_DOUBLE_EQ(p.efficiency, 0.8);
  EXPECT_NEAR(p.compute_s, 12.5e-3, 1e-15);
  EXPECT_EQ(p.level, 2);
  EXPECT_NEAR(p.memory_s, 0.24e-3, 1e-15);
  EXPECT_DOUBLE_EQ(p.dispatch_s, 2e-6);
  EXPECT_NEAR(p.seconds, 12.502e-3, 1e-15);
  EXPECT_EQ(p.binding_wall, 1);
}

TEST(PredictOp, GemmEfficiencyFollowsSize) {
  // 1e7 FLOP GEMM: eta 0.4 -> 1e7 / (200e9 x 0.4) = 125 us.
  const w::OpPrediction p = w::predict_op(machine(), {"matmul", false, 1e7, 1e5, 0, true}, false);
  EXPECT_NEAR(p.efficiency, 0.4, 1e-12);
  EXPECT_NEAR(p.compute_s, 125e-6, 1e-15);
}

TEST(PredictOp, MemoryBoundElementwiseInDramPicksWall2) {
  // Working set 1.2e8 B > L3 (3.2e7) -> DRAM (level 3): 1.2e8 / 15e9 = 8 ms.
  // Compute: 1e7 / 200e9 = 50 us (eta 1).
  const w::OpPrediction p = w::predict_op(machine(), big_add(), false);
  EXPECT_EQ(p.level, 3);
  EXPECT_NEAR(p.memory_s, 8e-3, 1e-15);
  EXPECT_NEAR(p.compute_s, 50e-6, 1e-15);
  EXPECT_DOUBLE_EQ(p.efficiency, 1.0);
  EXPECT_NEAR(p.seconds, 8.002e-3, 1e-15);
  EXPECT_EQ(p.binding_wall, 2);
}

TEST(PredictOp, LevelChosenByWorkingSet) {
  // 3e5 B fits L2 (> 32 KiB L1d, <= 1e6): 3e5 / 100e9 = 3 us > dispatch 2 us -> still wall 2.
  const w::OpPrediction l2 = w::predict_op(machine(), {"add", false, 2.5e4, 3e5, 0, false}, false);
  EXPECT_EQ(l2.level, 1);
  EXPECT_NEAR(l2.memory_s, 3e-6, 1e-18);
  EXPECT_NEAR(l2.seconds, 5e-6, 1e-18);
  EXPECT_EQ(l2.binding_wall, 2);
  // The same 1.2e8 B moved over an 8e5 B working set (a buffer re-read in place) lives in L2:
  // 1.2e8 / 100e9 = 1.2 ms, not DRAM's 8 ms.
  const w::OpPrediction reuse =
      w::predict_op(machine(), {"add", false, 1e7, 1.2e8, 8e5, false}, false);
  EXPECT_EQ(reuse.level, 1);
  EXPECT_NEAR(reuse.memory_s, 1.2e-3, 1e-15);
  // Exactly at a capacity: fits (<=).
  EXPECT_EQ(w::predict_op(machine(), {"add", false, 0, 32768, 0, false}, false).level, 0);
  EXPECT_EQ(w::predict_op(machine(), {"add", false, 0, 32769, 0, false}, false).level, 1);
}

TEST(PredictOp, TinyOpWhereDispatchDominatesPicksWall3) {
  // 1.2e4 B in L1d: 1.2e4 / 400e9 = 30 ns; compute 1e3 / 200e9 = 5 ns; dispatch 2 us.
  const w::OpPrediction p = w::predict_op(machine(), tiny_add(), false);
  EXPECT_EQ(p.level, 0);
  EXPECT_NEAR(p.memory_s, 30e-9, 1e-20);
  EXPECT_NEAR(p.compute_s, 5e-9, 1e-20);
  EXPECT_NEAR(p.seconds, 2.03e-6, 1e-18);
  EXPECT_EQ(p.binding_wall, 3);
}

TEST(PredictOp, AutogradDispatchSplitsThePair) {
  const w::Machine m = machine();
  // Forward with autograd: dispatch_s = 2 us; backward: 5 - 2 = 3 us; the pair: 5 us.
  const w::OpPrediction f = w::predict_op(m, tiny_add(), true);
  w::OpCost back = tiny_add();
  back.backward = true;
  const w::OpPrediction b = w::predict_op(m, back, true);
  EXPECT_DOUBLE_EQ(f.dispatch_s, 2e-6);
  EXPECT_NEAR(b.dispatch_s, 3e-6, 1e-18);
  EXPECT_NEAR(f.dispatch_s + b.dispatch_s, m.dispatch_autograd_s, 1e-18);
  // A backward op without autograd is outside the domain.
  EXPECT_TRUE(std::isnan(w::predict_op(m, back, false).seconds));
  // A noisy profile with dispatch_autograd_s < dispatch_s: the backward share is 0, not negative.
  w::Machine noisy = m;
  noisy.dispatch_autograd_s = 1e-6;
  EXPECT_DOUBLE_EQ(w::predict_op(noisy, back, true).dispatch_s, 0.0);
}

TEST(PredictOp, NothingToDoBindsNothing) {
  w::Machine m = machine();
  m.dispatch_s = 0;
  const w::OpPrediction p = w::predict_op(m, {"view", false, 0, 0, 0, false}, false);
  EXPECT_DOUBLE_EQ(p.seconds, 0.0);
  EXPECT_EQ(p.binding_wall, 0);
  EXPECT_EQ(p.level, 0);
}

TEST(PredictOp, MeasuredElementwiseClassReplacesTriadAndDispatch) {
  // relu measured: t0 = 10 us per call, 5 GB/s. The tiny add's class is not listed: roofline.
  w::Machine m = machine();
  m.op_classes = {{"relu", false, 10e-6, 5e9, {}}, {"relu", true, 20e-6, 2e9, {}}};
  // relu of 1e6 floats: 1e6 FLOP, 8e6 B. T = 10 us + 8e6 / 5e9 = 10 us + 1.6 ms = 1.61 ms.
  const w::OpPrediction f = w::predict_op(m, {"relu", false, 1e6, 8e6, 0, false}, true);
  EXPECT_NEAR(f.seconds, 1.61e-3, 1e-15);
  EXPECT_NEAR(f.memory_s, 1.6e-3, 1e-15);
  EXPECT_DOUBLE_EQ(f.dispatch_s, 10e-6);
  EXPECT_NEAR(f.compute_s, 1e6 / 200e9, 1e-18);  // eta 1: 5 us, under the memory roof
  EXPECT_EQ(f.binding_wall, 2);
  EXPECT_EQ(f.level, 2);  // 8e6 B fits L3 (3.2e7), not L2 (1e6): reported, not used
  // Its backward: 12e6 B at 2 GB/s = 6 ms, + 20 us (the class's own t0, not the autograd split).
  const w::OpPrediction b = w::predict_op(m, {"relu", true, 1e6, 12e6, 0, false}, true);
  EXPECT_NEAR(b.seconds, 6.02e-3, 1e-15);
  EXPECT_DOUBLE_EQ(b.dispatch_s, 20e-6);
  // An unlisted class keeps the roofline: tiny add 1.2e4 B in L1d (32 KiB) at 400 GB/s + 2 us.
  const w::OpPrediction a = w::predict_op(m, tiny_add(), true);
  EXPECT_NEAR(a.seconds, 1.2e4 / 400e9 + 2e-6, 1e-15);
  // Outside the domain: negative t0, zero bandwidth.
  m.op_classes = {{"relu", false, -1e-6, 5e9, {}}};
  EXPECT_TRUE(std::isnan(w::predict_op(m, {"relu", false, 1e6, 8e6, 0, false}, true).seconds));
  m.op_classes = {{"relu", false, 1e-6, 0, {}}};
  EXPECT_TRUE(std::isnan(w::predict_op(m, {"relu", false, 1e6, 8e6, 0, false}, true).seconds));
}

// ---- time_for and the measured time tables -----------------------------------------------------

TEST(PredictTimeFor, LogLogBetweenFloorBelowBandwidthAbove) {
  // 1e3 B in 1 us, 1e5 B in 4 us, 1e7 B in 1 ms (the working set left the cache: 10 GB/s).
  const std::vector<w::TimePoint> t{{1e5, 4e-6}, {1e3, 1e-6}, {1e7, 1e-3}};
  EXPECT_DOUBLE_EQ(w::time_for(t, 1e5), 4e-6);
  // 1e4 B: half-way in ln between 1e3 and 1e5, so the geometric mean of 1 and 4 us: 2 us.
  EXPECT_NEAR(w::time_for(t, 1e4), 2e-6, 1e-18);
  // 1e6 B: half-way between 1e5 and 1e7: sqrt(4e-6 x 1e-3) = 63.25 us.
  EXPECT_NEAR(w::time_for(t, 1e6), std::sqrt(4e-6 * 1e-3), 1e-15);
  // Below the smallest size: its time (the per-call floor), 0 B included.
  EXPECT_DOUBLE_EQ(w::time_for(t, 10), 1e-6);
  EXPECT_DOUBLE_EQ(w::time_for(t, 0), 1e-6);
  // Beyond the largest: its bandwidth held, 1e8 B at 1e7 B / 1 ms = 10 ms.
  EXPECT_NEAR(w::time_for(t, 1e8), 1e-2, 1e-15);
  // Two points at one size: their geometric mean (1 and 9 us -> 3 us).
  EXPECT_NEAR(w::time_for({{1e3, 1e-6}, {1e3, 9e-6}}, 1e3), 3e-6, 1e-18);
  // Outside the domain.
  EXPECT_TRUE(std::isnan(w::time_for({}, 1e3)));
  EXPECT_TRUE(std::isnan(w::time_for(t, -1)));
  EXPECT_TRUE(std::isnan(w::time_for(t, kNaN)));
  EXPECT_TRUE(std::isnan(w::time_for({{0, 1e-6}}, 1e3)));
  EXPECT_TRUE(std::isnan(w::time_for({{1e3, 0}}, 1e3)));
}

TEST(PredictOp, MeasuredTimeTableGivesTheTimeAndSplitsIt) {
  // layer_norm measured at 1e5 B in 10 us and 1e7 B in 2 ms; Hockney's t0 = 3 us (wall 3).
  w::Machine m = machine();
  m.op_classes = {{"layer_norm", false, 3e-6, 5e9, {{1e5, 10e-6}, {1e7, 2e-3}}, {}}};
  // 1e6 B with 1.9e6 FLOP: intensity 1.9 FLOP/B, below the ridge of L2 (where 1e6 B fits):
  // 200e9 / 100e9 = 2 FLOP/B, so the memory side. T = sqrt(10e-6 x 2e-3) = 141.42 us; dispatch 3 us; the memory roof the remaining 138.42 us.
  const w::OpPrediction p = w::predict_op(m, {"layer_norm", false, 1.9e6, 1e6, 0, false}, true);
  const double t = std::sqrt(10e-6 * 2e-3);
  EXPECT_NEAR(p.seconds, t, 1e-15);
  EXPECT_DOUBLE_EQ(p.dispatch_s, 3e-6);
  EXPECT_NEAR(p.memory_s, t - 3e-6, 1e-15);
  EXPECT_NEAR(p.compute_s, 1.9e6 / 200e9, 1e-18);  // the compute roof, below the memory one
  EXPECT_EQ(p.binding_wall, 2);
  // Intensity at or above the ridge (4 FLOP/B against 2 at L2): the same time on wall 1.
  const w::OpPrediction c = w::predict_op(m, {"layer_norm", false, 4e6, 1e6, 0, false}, true);
  EXPECT_NEAR(c.seconds, t, 1e-15);
  EXPECT_NEAR(c.compute_s, t - 3e-6, 1e-15);
  EXPECT_NEAR(c.memory_s, 1e6 / 100e9, 1e-18);
  EXPECT_EQ(c.binding_wall, 1);
  // A time below t0 is all dispatch (wall 3): 1e3 B takes the floor, 10 us, t0 raised to 20 us.
  m.op_classes[0].t0_s = 20e-6;
  const w::OpPrediction d = w::predict_op(m, {"layer_norm", false, 1e3, 1e3, 0, false}, true);
  EXPECT_DOUBLE_EQ(d.seconds, 10e-6);
  EXPECT_DOUBLE_EQ(d.dispatch_s, 10e-6);
  EXPECT_EQ(d.binding_wall, 3);
  // A malformed table: NaN.
  m.op_classes[0].time_by_bytes = {{1e5, -1}};
  EXPECT_TRUE(std::isnan(w::predict_op(m, {"layer_norm", false, 1e6, 1e6, 0, false}, true).seconds));
}

TEST(PredictStep, TimeOutsideTheOpsOfATrainingStep) {
  // 5 us a step + 1 us an op, on wall 3, only with autograd (a training step).
  w::Machine m = machine();
  m.step_overhead_s = 5e-6;
  m.overhead_per_op_s = 1e-6;
  const std::vector<w::OpCost> train{big_add(), {"add", true, 1e7, 1.2e8, 0, false}};
  const w::StepPrediction s = w::predict_step(m, train, 1, 0, 0);
  EXPECT_NEAR(s.outside_ops_s, 7e-6, 1e-18);
  double sum_ops = 0;
  for (const auto& p : s.ops) sum_ops += p.seconds;
  EXPECT_NEAR(s.seconds, sum_ops + 7e-6, 1e-15);
  double dispatch = 0;
  for (const auto& p : s.ops) dispatch += p.dispatch_s;
  EXPECT_NEAR(s.dispatch_s, dispatch + 7e-6, 1e-18);
  // Inference (no backward op): nothing outside the ops.
  EXPECT_EQ(w::predict_step(m, {big_add()}, 1, 0, 0).outside_ops_s, 0);
  // A NaN overhead: a NaN step.
  m.step_overhead_s = kNaN;
  EXPECT_TRUE(std::isnan(w::predict_step(m, train, 1, 0, 0).seconds));
}

TEST(PredictOp, MeasuredGemmClassUsesItsOwnEfficiencyTable) {
  // conv2d measured at eta 0.05 (1e6 FLOP) and 0.1 (1e8 FLOP); the square table says 0.2 .. 0.6.
  w::Machine m = machine();
  m.op_classes = {{"conv2d", false, 0, 0, {}, {{1e6, 0.05}, {1e8, 0.1}}}};
  // 1e7 FLOP: half-way in ln between 1e6 and 1e8: eta 0.075; 1e7 / (200e9 x 0.075) = 666.67 us.
  // Memory: 1e5 B in L2 at 100 GB/s = 1 us: compute binds. Dispatch = t0 = 0.
  const w::OpPrediction p = w::predict_op(m, {"conv2d", false, 1e7, 1e5, 0, true}, true);
  EXPECT_NEAR(p.efficiency, 0.075, 1e-12);
  EXPECT_NEAR(p.seconds, 1e7 / (200e9 * 0.075), 1e-12);
  EXPECT_DOUBLE_EQ(p.dispatch_s, 0);
  EXPECT_EQ(p.binding_wall, 1);
  // matmul is not listed: the square table's 0.4 at 1e7 and dispatch 2 us.
  const w::OpPrediction q = w::predict_op(m, {"matmul", false, 1e7, 1e5, 0, true}, true);
  EXPECT_NEAR(q.efficiency, 0.4, 1e-12);
  EXPECT_NEAR(q.seconds, 1e7 / (200e9 * 0.4) + 2e-6, 1e-15);
}

TEST(PredictOp, OutsideTheDomainIsNaN) {
  const w::Machine m = machine();
  auto invalid = [](const w::OpPrediction& p) {
    return std::isnan(p.seconds) && std::isnan(p.compute_s) && std::isnan(p.memory_s) &&
           std::isnan(p.dispatch_s) && std::isnan(p.efficiency) && p.level == -1 &&
           p.binding_wall == 0;
  };
  EXPECT_TRUE(invalid(w::predict_op(m, {"add", false, -1, 1, 0, false}, false)));
  EXPECT_TRUE(invalid(w::predict_op(m, {"add", false, 1, kNaN, 0, false}, false)));
  EXPECT_TRUE(invalid(w::predict_op(m, {"add", false, 1, 1, -5, false}, false)));
  // Working set larger than the last level (RAM): it would page; beyond the model.
  EXPECT_TRUE(invalid(w::predict_op(m, {"add", false, 1, 2e10, 0, false}, false)));
  // A GEMM on a machine with no efficiency table; a non-GEMM op does not need it.
  w::Machine no_table = m;
  no_table.gemm_efficiency.clear();
  EXPECT_TRUE(invalid(w::predict_op(no_table, gemm_fwd(), false)));
  EXPECT_FALSE(std::isnan(w::predict_op(no_table, big_add(), false).seconds));
  // Bad machine numbers.
  w::Machine bad = m;
  bad.peak_flops_per_s = 0;
  EXPECT_TRUE(invalid(w::predict_op(bad, big_add(), false)));
  bad = m;
  bad.levels[3].bandwidth_bytes_per_s = kNaN;
  EXPECT_TRUE(invalid(w::predict_op(bad, big_add(), false)));
  bad = m;
  bad.levels.clear();
  EXPECT_TRUE(invalid(w::predict_op(bad, big_add(), false)));
  bad = m;
  bad.dispatch_s = kNaN;
  EXPECT_TRUE(invalid(w::predict_op(bad, big_add(), false)));
  w::OpCost back = big_add();
  back.backward = true;
  EXPECT_TRUE(invalid(w::predict_op(bad, back, true)));  // not max(0, 5 us - NaN) = 0
  bad = m;
  bad.elementwise_efficiency = 1.5;
  EXPECT_TRUE(invalid(w::predict_op(bad, big_add(), false)));
  bad = m;
  bad.dispatch_autograd_s = kNaN;  // needed only with autograd
  EXPECT_FALSE(std::isnan(w::predict_op(bad, big_add(), false).seconds));
  EXPECT_TRUE(invalid(w::predict_op(bad, big_add(), true)));
}

// ---- predict_step ----------------------------------------------------------------------------

TEST(PredictStep, SumOfOpsPlusExposedAllreduce) {
  // Autograd is on (a backward op is present):
  //   matmul fwd: 12.5 ms compute + 2 us              = 12.502 ms
  //   matmul bwd: 4e9 / 160e9 = 25 ms compute + 3 us  = 25.003 ms  (2.4e7 B in L3: 0.48 ms)
  //   add fwd:    8 ms memory + 2 us                  =  8.002 ms
  // Ring all-reduce of M = 1e6 B on N = 2: 2(N-1) alpha + 2(N-1)/N M / beta = 2e-6 + 1e-4
  //   = 1.02e-4 s; overlap 0.5 hides min(5.1e-5, 25.003 ms) = 5.1e-5 -> 5.1e-5 exposed.
  const std::vector<w::OpCost> ops{gemm_fwd(), gemm_bwd(), big_add()};
  const w::StepPrediction s = w::predict_step(machine(), ops, 2, 1e6, 0.5);
  ASSERT_EQ(s.ops.size(), 3u);
  EXPECT_NEAR(s.ops[1].compute_s, 25e-3, 1e-15);
  EXPECT_NEAR(s.ops[1].memory_s, 0.48e-3, 1e-15);
  EXPECT_NEAR(s.ops[1].dispatch_s, 3e-6, 1e-18);
  EXPECT_NEAR(s.compute_s, 37.5e-3, 1e-15);
  EXPECT_NEAR(s.memory_s, 8e-3, 1e-15);
  EXPECT_NEAR(s.dispatch_s, 7e-6, 1e-18);
  EXPECT_NEAR(s.backward_s, 25.003e-3, 1e-15);
  EXPECT_NEAR(s.comm_total_s, 1.02e-4, 1e-18);
  EXPECT_NEAR(s.comm_s, 5.1e-5, 1e-18);
  EXPECT_NEAR(s.seconds, 37.5e-3 + 8e-3 + 7e-6 + 5.1e-5, 1e-15);
  double sum_ops = 0;
  for (const auto& p : s.ops) sum_ops += p.seconds;
  EXPECT_NEAR(s.seconds, sum_ops + s.comm_s, 1e-15);
  EXPECT_EQ(s.binding_wall, 1);
  // No overlap: all of it exposed; full overlap: all hidden (backward is far longer).
  EXPECT_NEAR(w::predict_step(machine(), ops, 2, 1e6, 0).comm_s, 1.02e-4, 1e-18);
  EXPECT_NEAR(w::predict_step(machine(), ops, 2, 1e6, 1).comm_s, 0, 1e-18);
}

TEST(PredictStep, OverlapCannotHideMoreThanBackward) {
  // Forward only: no backward to hide behind, so overlap 1 still exposes all 1.02e-4 s.
  const std::vector<w::OpCost> fwd{gemm_fwd(), big_add()};
  const w::StepPrediction s = w::predict_step(machine(), fwd, 2, 1e6, 1.0);
  EXPECT_DOUBLE_EQ(s.backward_s, 0.0);
  EXPECT_NEAR(s.comm_s, 1.02e-4, 1e-18);
  // One tiny backward op (30 ns in L1d + 3 us dispatch = 3.03 us) hides only its own time.
  w::OpCost back = tiny_add();
  back.backward = true;
  const w::StepPrediction t = w::predict_step(machine(), {tiny_add(), back}, 2, 1e6, 1.0);
  EXPECT_NEAR(t.backward_s, 3.03e-6, 1e-18);
  EXPECT_NEAR(t.comm_s, 1.02e-4 - 3.03e-6, 1e-18);
}

TEST(PredictStep, RanksSharingTheNodeScaleItsNodeTime) {
  // corun_factor 1.25 on 2 ranks: compute 37.5 -> 46.875 ms, memory 8 -> 10 ms, dispatch 7 ->
  // 8.75 us; backward 25.003 -> 31.25375 ms (still hides all of the 5.1e-5 s with overlap 0.5);
  // corun_s = 0.25 x 45.507 ms. One rank: no neighbour, no factor.
  w::Machine m = machine();
  m.corun_factor = 1.25;
  const std::vector<w::OpCost> ops{gemm_fwd(), gemm_bwd(), big_add()};
  const w::StepPrediction s = w::predict_step(m, ops, 2, 1e6, 0.5);
  EXPECT_NEAR(s.compute_s, 46.875e-3, 1e-15);
  EXPECT_NEAR(s.memory_s, 10e-3, 1e-15);
  EXPECT_NEAR(s.dispatch_s, 8.75e-6, 1e-18);
  EXPECT_NEAR(s.backward_s, 1.25 * 25.003e-3, 1e-15);
  EXPECT_NEAR(s.corun_s, 0.25 * (37.5e-3 + 8e-3 + 7e-6), 1e-15);
  EXPECT_NEAR(s.comm_s, 5.1e-5, 1e-18);
  EXPECT_NEAR(s.seconds, 1.25 * (37.5e-3 + 8e-3 + 7e-6) + 5.1e-5, 1e-15);
  EXPECT_NEAR(s.ops[1].compute_s, 25e-3, 1e-15);  // the ops' own predictions are not scaled
  const w::StepPrediction one = w::predict_step(m, ops, 1, 1e6, 0.5);
  EXPECT_DOUBLE_EQ(one.corun_s, 0.0);
  EXPECT_NEAR(one.seconds, 37.5e-3 + 8e-3 + 7e-6, 1e-15);
  // A factor that is not finite and positive: NaN, no binding wall.
  for (double bad : {0.0, -1.0, kNaN}) {
    m.corun_factor = bad;
    const w::StepPrediction b = w::predict_step(m, ops, 2, 1e6, 0.5);
    EXPECT_TRUE(std::isnan(b.seconds)) << bad;
    EXPECT_EQ(b.binding_wall, 0) << bad;
  }
}

TEST(PredictStep, CorunFactorAppliesOnlyAtItsRankCount) {
  // 1.25 measured with 2 ranks: applied to a 2-rank step, not to 4 ranks or one process; a
  // factor set by hand (corun_ranks 0) applies to any rank count above 1.
  w::Machine m = machine();
  m.corun_factor = 1.25;
  m.corun_ranks = 2;
  EXPECT_DOUBLE_EQ(w::corun_factor(m, 2), 1.25);
  EXPECT_DOUBLE_EQ(w::corun_factor(m, 4), 1.0);
  EXPECT_DOUBLE_EQ(w::corun_factor(m, 1), 1.0);
  const std::vector<w::OpCost> ops{gemm_fwd(), big_add()};
  const double node = 12.5e-3 + 8e-3 + 4e-6;  // the 12.5 ms GEMM, the 8 ms add, 2 x 2 us dispatch
  auto node_of = [&](int ranks) {  // the step less its all-reduce (2(N-1) alpha for 0 bytes)
    const w::StepPrediction p = w::predict_step(m, ops, ranks, 0.0, 0);
    EXPECT_NEAR(p.comm_s, 2 * (ranks - 1) * 1e-6, 1e-18);
    return p.seconds - p.comm_s;
  };
  EXPECT_NEAR(node_of(4), node, 1e-15);
  EXPECT_NEAR(node_of(2), 1.25 * node, 1e-15);
  m.corun_ranks = 0;
  EXPECT_DOUBLE_EQ(w::corun_factor(m, 64), 1.25);
}

TEST(PredictStep, BucketMessagesAsTheDdpSendsThem) {
  using V = std::vector<double>;
  EXPECT_EQ(w::bucket_messages(2.5e6, 1e6), (V{1e6, 1e6, 0.5e6}));
  EXPECT_EQ(w::bucket_messages(3e6, 1e6), (V{1e6, 1e6, 1e6}));
  EXPECT_EQ(w::bucket_messages(3e6, 0), (V{3e6}));      // no buckets: one message
  EXPECT_EQ(w::bucket_messages(3e6, 4e6), (V{3e6}));    // one bucket holds it all
  EXPECT_TRUE(w::bucket_messages(0, 1e6).empty());      // no gradient, nothing to send
  EXPECT_THROW(w::bucket_messages(-1, 1e6), std::invalid_argument);
  EXPECT_THROW(w::bucket_messages(1e6, -1), std::invalid_argument);
  EXPECT_THROW(w::bucket_messages(1e9, 1), std::invalid_argument);  // 1e9 messages
  // Per message, the ring formula pays alpha each time: 3 messages of 1 MB on 2 ranks cost
  // 3 x (2 x 1 us) + 2 x 1/2 x 3e6 / 1e10 = 6 us + 0.3 ms.
  const w::Machine m = machine();
  EXPECT_NEAR(w::predict_step(m, {gemm_fwd()}, 2, w::bucket_messages(3e6, 1e6), 0).comm_total_s,
              6e-6 + 3e-4, 1e-15);
}

TEST(PredictStep, AllreduceFromTheMeasuredTableOrTheRingFormula) {
  w::Machine m = machine();  // alpha 1 us, beta 10 GB/s
  // No table: the ring formula, per message: 2 x (2 us + 1e6 / 1e10) = 2 x 0.102 ms.
  EXPECT_NEAR(w::allreduce_seconds(m, 2, 1e6), 1.02e-4, 1e-15);
  const std::vector<w::OpCost> ops{gemm_fwd()};
  EXPECT_NEAR(w::predict_step(m, ops, 2, std::vector<double>{1e6, 1e6}, 0).comm_total_s, 2.04e-4, 1e-15);
  // A table at 2 ranks, 10 us at 1 kB and 1 ms at 1 MB: log-log slope 2/3, so 1e5 B takes
  // 1e-5 x 100^(2/3) = 0.2154 ms.
  EXPECT_FALSE(w::allreduce_from_table(m, 2));
  m.allreduce_time = {{1e3, 1e-5}, {1e6, 1e-3}};
  m.allreduce_ranks = 2;
  EXPECT_TRUE(w::allreduce_from_table(m, 2));
  EXPECT_FALSE(w::allreduce_from_table(m, 4));
  EXPECT_NEAR(w::allreduce_seconds(m, 2, 1e6), 1e-3, 1e-15);
  EXPECT_NEAR(w::allreduce_seconds(m, 2, 1e5), 1e-5 * std::pow(100.0, 2.0 / 3.0), 1e-12);
  EXPECT_NEAR(w::predict_step(m, ops, 2, std::vector<double>{1e6, 1e6}, 0).comm_total_s, 2e-3, 1e-15);
  // Another rank count: the formula (8 ranks: 14 x 1 us + 1.75 x 1e6 / 1e10).
  EXPECT_NEAR(w::allreduce_seconds(m, 8, 1e6), 14e-6 + 1.75e-4, 1e-15);
  EXPECT_DOUBLE_EQ(w::allreduce_seconds(m, 1, 1e6), 0.0);
  EXPECT_TRUE(std::isnan(w::allreduce_seconds(m, 2, -1)));
  EXPECT_TRUE(std::isnan(w::allreduce_seconds(m, 0, 1e6)));
}

TEST(PredictStep, BindingWallOfTheStep) {
  const w::Machine m = machine();
  // Memory: the 8 ms add against 2 us dispatch.
  EXPECT_EQ(w::predict_step(m, {big_add(), tiny_add()}, 1, 0, 0).binding_wall, 2);
  // Software: 100 tiny adds, 100 x 2 us dispatch against 100 x 30 ns.
  const std::vector<w::OpCost> tiny(100, tiny_add());
  const w::StepPrediction d = w::predict_step(m, tiny, 1, 0, 0);
  EXPECT_EQ(d.binding_wall, 3);
  EXPECT_NEAR(d.dispatch_s, 200e-6, 1e-15);
  EXPECT_NEAR(d.memory_s, 3e-6, 1e-18);
  // Communication: 1e9 B on 8 ranks: 14 x 1e-6 + 1.75 x 1e9 / 1e10 = 0.175014 s, no overlap.
  const w::StepPrediction c = w::predict_step(m, tiny, 8, 1e9, 0);
  EXPECT_NEAR(c.comm_s, 0.175014, 1e-12);
  EXPECT_EQ(c.binding_wall, 14);
  // An empty step on one rank takes no time and binds nothing.
  const w::StepPrediction e = w::predict_step(m, {}, 1, 0, 0);
  EXPECT_DOUBLE_EQ(e.seconds, 0.0);
  EXPECT_EQ(e.binding_wall, 0);
}

TEST(PredictStep, UnknownAlphaBetaAndBadArguments) {
  w::Machine m = machine();
  m.alpha_s = kNaN;
  m.beta_bytes_per_s = kNaN;
  const std::vector<w::OpCost> ops{gemm_fwd(), gemm_bwd()};
  // One rank: no all-reduce, alpha and beta not needed.
  const w::StepPrediction one = w::predict_step(m, ops, 1, 1e6, 0.5);
  EXPECT_DOUBLE_EQ(one.comm_s, 0.0);
  EXPECT_NEAR(one.seconds, 12.502e-3 + 25.003e-3, 1e-15);
  EXPECT_EQ(one.binding_wall, 1);
  // Two ranks with unknown alpha/beta: NaN communication, NaN step, no binding wall; the ops
  // themselves are still predicted.
  const w::StepPrediction two = w::predict_step(m, ops, 2, 1e6, 0.5);
  EXPECT_TRUE(std::isnan(two.comm_total_s));
  EXPECT_TRUE(std::isnan(two.comm_s));
  EXPECT_TRUE(std::isnan(two.seconds));
  EXPECT_EQ(two.binding_wall, 0);
  EXPECT_NEAR(two.ops[0].seconds, 12.502e-3, 1e-15);
  // Bad ranks, bytes, overlap.
  const w::Machine good = machine();
  EXPECT_TRUE(std::isnan(w::predict_step(good, ops, 0, 1e6, 0.5).seconds));
  EXPECT_TRUE(std::isnan(w::predict_step(good, ops, 2, -1, 0.5).seconds));
  EXPECT_TRUE(std::isnan(w::predict_step(good, ops, 2, 1e6, 1.5).seconds));
  EXPECT_TRUE(std::isnan(w::predict_step(good, ops, 2, 1e6, kNaN).seconds));
  // One invalid op makes the step NaN.
  const w::StepPrediction bad =
      w::predict_step(good, {gemm_fwd(), {"add", false, -1, 1, 0, false}}, 1, 0, 0);
  EXPECT_TRUE(std::isnan(bad.seconds));
  EXPECT_EQ(bad.binding_wall, 0);
}

// ---- summarize_by_class ----------------------------------------------------------------------

TEST(PredictSummary, PredictedAgainstMeasuredPerClass) {
  // Classes in order of first appearance: matmul fwd (2 ops), add fwd, matmul bwd.
  //   matmul fwd: predicted 2 x 12.502 ms = 25.004 ms, measured 12.5 + 12.5 = 25 ms
  //               -> 100 x 0.004 / 25 = +0.016 %
  //   add fwd:    predicted 8.002 ms, measured 10 ms -> 100 x -1.998 / 10 = -19.98 %
  //   matmul bwd: predicted 25.003 ms, measured 20 ms -> 100 x 5.003 / 20 = +25.015 %
  const std::vector<w::OpCost> ops{gemm_fwd(), big_add(), gemm_fwd(), gemm_bwd()};
  const std::vector<double> measured{12.5e-3, 10e-3, 12.5e-3, 20e-3};
  const w::StepPrediction s = w::predict_step(machine(), ops, 1, 0, 0);
  const auto c = w::summarize_by_class(ops, s, &measured);
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0].name, "matmul");
  EXPECT_FALSE(c[0].backward);
  EXPECT_EQ(c[0].count, 2);
  EXPECT_DOUBLE_EQ(c[0].flops, 4e9);
  EXPECT_DOUBLE_EQ(c[0].bytes, 2.4e7);
  EXPECT_NEAR(c[0].predicted_s, 25.004e-3, 1e-15);
  EXPECT_NEAR(c[0].compute_s, 25e-3, 1e-15);
  EXPECT_NEAR(c[0].dispatch_s, 4e-6, 1e-18);
  EXPECT_NEAR(c[0].measured_s, 25e-3, 1e-15);
  EXPECT_NEAR(c[0].error_pct, 0.016, 1e-9);
  EXPECT_EQ(c[0].binding_wall, 1);
  EXPECT_EQ(c[1].name, "add");
  EXPECT_NEAR(c[1].error_pct, -19.98, 1e-9);
  EXPECT_NEAR(c[1].memory_s, 8e-3, 1e-15);
  EXPECT_EQ(c[1].binding_wall, 2);
  EXPECT_EQ(c[2].name, "matmul");
  EXPECT_TRUE(c[2].backward);
  EXPECT_EQ(c[2].count, 1);
  EXPECT_NEAR(c[2].error_pct, 25.015, 1e-9);
  // The classes' predictions add up to the step (one rank: no communication).
  EXPECT_NEAR(c[0].predicted_s + c[1].predicted_s + c[2].predicted_s, s.seconds, 1e-15);
}

TEST(PredictSummary, WithoutMeasurementsAndMalformedCalls) {
  const std::vector<w::OpCost> ops{gemm_fwd(), big_add()};
  const w::StepPrediction s = w::predict_step(machine(), ops, 1, 0, 0);
  const auto c = w::summarize_by_class(ops, s, nullptr);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_TRUE(std::isnan(c[0].measured_s));
  EXPECT_TRUE(std::isnan(c[0].error_pct));
  EXPECT_NEAR(c[0].predicted_s, 12.502e-3, 1e-15);
  // A measured time of 0: no error percentage.
  const std::vector<double> zero{0, 8e-3};
  EXPECT_TRUE(std::isnan(w::summarize_by_class(ops, s, &zero)[0].error_pct));
  const std::vector<double> short_list{1e-3};
  EXPECT_THROW(w::summarize_by_class(ops, s, &short_list), std::invalid_argument);
  EXPECT_THROW(w::summarize_by_class({gemm_fwd()}, s, nullptr), std::invalid_argument);
}
