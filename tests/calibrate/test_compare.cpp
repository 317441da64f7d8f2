// calibrate/machine.h and calibrate/compare.h: a profile becomes the predictor's Machine (levels,
// eta by size, dispatch), and a trace is predicted from its FLOPs and bytes only, then put beside
// its measured times. Hand-worked numbers.
#include <gtest/gtest.h>

#include <cmath>

#include "calibrate/compare.h"
#include "calibrate/machine.h"
#include "tests/test_util.h"

using namespace bstack;
using namespace bstack::calibrate;

namespace {

// One thread: peak 100 GFLOP/s; L1 32 KiB at 400 GB/s, DRAM 10 GB/s; SGEMM eta 0.5 at 2e6 FLOP
// and 0.8 at 2e9; dispatch 1 us (2 us with autograd).
MachineProfile profile() {
  MachineProfile p;
  p.set_meta("threads", "2");
  p.set({"peak_flops_fp32_1t", 100e9, "FLOP/s", "test"});
  p.set({"peak_flops_fp32", 200e9, "FLOP/s", "test"});
  p.set({"l1_triad_bytes_per_s_1t", 400e9, "B/s", "test"});
  p.set({"l1_fitted_bytes", 32768, "B", "test"});
  p.set({"dram_triad_bytes_per_s_1t", 10e9, "B/s", "test"});
  p.set({"dram_triad_bytes_per_s", 20e9, "B/s", "test"});
  p.set({"ram_bytes", 1e12, "B", "test"});
  p.set({"dispatch_s", 1e-6, "s", "test"});
  p.set({"dispatch_autograd_s", 2e-6, "s", "test"});
  Series s{"gemm/sgemm", {"m", "n", "k", "threads", "flops_per_s", "efficiency"}, {}, "test"};
  s.add_row({100, 100, 100, 1, 50e9, 0.5});     // 2e6 FLOP at eta 0.5
  s.add_row({1000, 1000, 1000, 1, 80e9, 0.8});  // 2e9 FLOP at eta 0.8
  s.add_row({1000, 1000, 1000, 2, 150e9, 0.75});
  p.add_series(s);
  return p;
}

}  // namespace

TEST(Machine, FromProfile) {
  const walls::Machine m = machine_from_profile(profile(), 1);
  EXPECT_EQ(m.threads, 1);
  EXPECT_DOUBLE_EQ(m.peak_flops_per_s, 100e9);
  ASSERT_EQ(m.levels.size(), 2u);
  EXPECT_EQ(m.levels[0].name, "l1");
  EXPECT_DOUBLE_EQ(m.levels[0].capacity_bytes, 32768);
  EXPECT_EQ(m.levels[1].name, "dram");
  EXPECT_DOUBLE_EQ(m.levels[1].capacity_bytes, 1e12);
  EXPECT_DOUBLE_EQ(m.levels[1].bandwidth_bytes_per_s, 10e9);
  ASSERT_EQ(m.gemm_efficiency.size(), 2u);  // the 1-thread rows only
  EXPECT_DOUBLE_EQ(m.gemm_efficiency[1].efficiency, 0.8);
  // Two threads: the all-thread figures; the private L1 holds twice as much; eta against 200e9.
  const walls::Machine m2 = machine_from_profile(profile(), 2);
  EXPECT_EQ(m2.threads, 2);
  EXPECT_DOUBLE_EQ(m2.levels.back().bandwidth_bytes_per_s, 20e9);
  ASSERT_EQ(m2.gemm_efficiency.size(), 1u);
  EXPECT_DOUBLE_EQ(m2.gemm_efficiency[0].efficiency, 0.75);
  // A profile without the dispatch section is named.
  MachineProfile q = profile();
  q.params.erase(std::remove_if(q.params.begin(), q.params.end(),
                                [](const Param& x) { return x.key == "dispatch_s"; }),
                 q.params.end());
  EXPECT_NE(test::error_of([&] { machine_from_profile(q, 1); }).find("dispatch_s"), std::string::npos);
}

TEST(Machine, OpClassesFromSectionOps) {
  MachineProfile p = profile();
  EXPECT_TRUE(machine_from_profile(p, 1).op_classes.empty());  // an older profile: roofline only
  // relu: t0 3 us, 4 GB/s on one thread; 2 us, 8 GB/s on two.
  p.set({"op_relu_t0_s_1t", 3e-6, "s", "test"});
  p.set({"op_relu_bytes_per_s_1t", 4e9, "B/s", "test"});
  p.set({"op_relu_t0_s", 2e-6, "s", "test"});
  p.set({"op_relu_bytes_per_s", 8e9, "B/s", "test"});
  p.add_series({"ops/relu", {"threads", "flops", "bytes", "seconds"}, {1, 1e3, 8e3, 5e-6}, "test"});
  // conv2d backward: 1e8 FLOP in 2 ms on one thread: 5e10 FLOP/s = eta 0.5 of the 1e11 peak;
  // 1e6 FLOP in 100 us: 1e10 FLOP/s, eta 0.1. Two threads: 1e8 FLOP in 1.25 ms against 2e11: 0.4.
  p.add_series({"ops/conv2d_bwd", {"threads", "flops", "bytes", "seconds"},
                {1, 1e8, 1e6, 2e-3, 1, 1e6, 1e4, 1e-4, 2, 1e8, 1e6, 1.25e-3}, "test"});
  const walls::Machine m = machine_from_profile(p, 1);
  ASSERT_EQ(m.op_classes.size(), 2u);
  const walls::OpClassModel* relu = nullptr;
  const walls::OpClassModel* conv = nullptr;
  for (const auto& c : m.op_classes) (c.name == "relu" ? relu : conv) = &c;
  ASSERT_TRUE(relu && conv);
  EXPECT_FALSE(relu->backward);
  EXPECT_DOUBLE_EQ(relu->t0_s, 3e-6);
  EXPECT_DOUBLE_EQ(relu->bytes_per_s, 4e9);
  EXPECT_EQ(conv->name, "conv2d");
  EXPECT_TRUE(conv->backward);
  ASSERT_EQ(conv->efficiency.size(), 2u);
  EXPECT_NEAR(conv->efficiency[0].efficiency, 0.5, 1e-12);
  EXPECT_NEAR(conv->efficiency[1].efficiency, 0.1, 1e-12);
  // The measured time is relu's table (Hockney's t0 + bytes / bw is for reports): one point,
  // 8e3 B in 5 us; 8e5 B lies beyond it, at its bandwidth: 500 us, of which t0 = 3 us is wall 3.
  ASSERT_EQ(relu->time_by_bytes.size(), 1u);
  const walls::OpPrediction r = walls::predict_op(m, {"relu", false, 2e5, 8e5, 0, false}, true);
  EXPECT_NEAR(r.seconds, 500e-6, 1e-15);
  EXPECT_DOUBLE_EQ(r.dispatch_s, 3e-6);
  EXPECT_EQ(r.binding_wall, 2);
  const walls::Machine m2 = machine_from_profile(p, 2);
  for (const auto& c : m2.op_classes) {
    if (c.name == "relu") EXPECT_DOUBLE_EQ(c.t0_s, 2e-6);
    else {
      ASSERT_EQ(c.efficiency.size(), 1u);
      EXPECT_NEAR(c.efficiency[0].efficiency, 0.4, 1e-12);
    }
  }
}

TEST(Compare, PredictsFromFlopsAndBytesOnly) {
  Trace t;
  t.path = "synthetic";
  t.threads = 1;
  // Three steps; the first (warm-up) is left out. Per step: a 2e9-FLOP matmul (eta 0.8: 25 ms
  // compute; its 12 MB go to DRAM in 1.2 ms) and an add of 1.2e8 bytes in DRAM (12 ms), forward
  // ops with autograd on: + 1 us dispatch each (2 us - 1 us for the backward half: none here).
  const double mm = 2e9 / (100e9 * 0.8) + 1e-6, add = 1.2e8 / 10e9 + 1e-6;
  for (int64_t s = 0; s < 3; ++s) {
    t.ops.push_back({"matmul", "[1000, 1000] [1000, 1000] -> [1000, 1000]", false, 2e9, 1.2e7, 0.030 + s * 0.001, s});
    t.ops.push_back({"add", "[3e7] [3e7] -> [3e7]", false, 1e7, 1.2e8, 0.011, s});
    t.ops.push_back({"sum_backward", "[1] -> [3e7]", true, 0, 4, 0.0001, s});  // makes autograd on
    t.step_seconds.push_back(s == 0 ? 1.0 : 0.045);
  }
  const CompareResult r = compare_trace(profile(), t);
  EXPECT_EQ(r.steps_used, 2);
  EXPECT_DOUBLE_EQ(r.measured_step_s, 0.045);  // the warm-up step's 1 s is not in the median
  const double bwd = 4 / 400e9 + (2e-6 - 1e-6);  // 4 bytes in L1 + the backward dispatch share
  EXPECT_NEAR(r.predicted_step_s, mm + add + bwd, 1e-12);
  EXPECT_NEAR(r.step_error, (mm + add + bwd - 0.045) / 0.045, 1e-9);
  EXPECT_EQ(r.binding_wall, 1);  // 25 ms of compute vs 12 ms of memory
  ASSERT_EQ(r.classes.size(), 3u);
  EXPECT_EQ(r.classes[0].name, "matmul");
  EXPECT_EQ(r.classes[0].count, 1);
  EXPECT_NEAR(r.classes[0].measured_s, (0.031 + 0.032) / 2, 1e-12);  // per step, steps 1 and 2
  EXPECT_EQ(r.classes[1].binding_wall, 2);
  EXPECT_TRUE(is_gemm_op("linear_backward"));
  EXPECT_FALSE(is_gemm_op("add"));
  // Fewer than two steps: named.
  Trace one = t;
  one.step_seconds.resize(1);
  EXPECT_NE(test::error_of([&] { compare_trace(profile(), one); }).find("synthetic"), std::string::npos);
}

// A calibrated zoo model's layers: "layers/<model>/<class>" rows become one LayerModel per k, and
// a trace of that model predicts its k-th op of the class from it (interpolated in batch); a
// partial-batch step is left out of the comparison.
TEST(Compare, LayersOfACalibratedModelAndPartialBatches) {
  MachineProfile p = profile();
  // mlp's two linear layers (k 0, 1) measured at two batches on one thread: k 0 takes 10 us at
  // 1e6 FLOP and 40 us at 1e8 (GEMM class: against FLOPs); k 1 1 us at 1e4 and 4 us at 1e6. A
  // 2-thread row is not read for one thread.
  p.add_series({"layers/mlp/linear", {"threads", "k", "flops", "bytes", "seconds"},
                {1, 0, 1e6, 1e4, 10e-6, 1, 0, 1e8, 1e6, 40e-6, 1, 1, 1e4, 1e3, 1e-6, 1, 1, 1e6, 1e5, 4e-6,
                 2, 0, 1e6, 1e4, 99e-6},
                "test"});
  const walls::Machine m = machine_from_profile(p, 1);
  ASSERT_EQ(m.layers.size(), 2u);
  EXPECT_EQ(m.layers[0].key, "mlp/linear#0");
  EXPECT_TRUE(m.layers[0].by_flops);
  ASSERT_EQ(m.layers[0].time.size(), 2u);
  // A trace of mlp: per step linear #0 at 1e7 FLOP (half-way in ln: sqrt(10 x 40) = 20 us) and
  // linear #1 at 1e5 FLOP (sqrt(1 x 4) = 2 us); forward only, so nothing outside the ops.
  Trace t;
  t.path = "synthetic";
  t.model = "mlp";
  t.threads = 1;
  for (int64_t s = 0; s < 4; ++s) {
    const double f = s == 3 ? 0.5 : 1.0;  // the last step: a partial batch, half the work
    t.ops.push_back({"linear", "[a]", false, 1e7 * f, 1e5 * f, 25e-6, s});
    t.ops.push_back({"linear", "[b]", false, 1e5 * f, 1e4 * f, 3e-6, s});
    t.step_seconds.push_back(s == 3 ? 15e-6 : 30e-6);
  }
  const CompareResult r = compare_trace(p, t);
  EXPECT_EQ(r.steps_used, 2);      // steps 1 and 2; step 3 is the partial batch
  EXPECT_EQ(r.partial_steps, 1);
  EXPECT_DOUBLE_EQ(r.measured_step_s, 30e-6);
  EXPECT_NEAR(r.predicted_step_s, 20e-6 + 2e-6, 1e-15);
  // Another model's trace does not match the layers: the class / square-GEMM roofline instead.
  t.model = "cnn";
  EXPECT_GT(std::abs(compare_trace(p, t).predicted_step_s - 22e-6), 1e-6);
}

TEST(Compare, DataParallelTraceAddsWall14) {
  // Two ranks, alpha 10 us, beta 1 GB/s; per step a 1e6-byte all-reduce in 4 buckets of 250 kB
  // (the trace's comm records) beside one 2e9-FLOP matmul backward (25 ms + 1 us dispatch).
  MachineProfile p = profile();
  p.set({"alpha_s", 10e-6, "s", "test"});
  p.set({"beta_bytes_per_s", 1e9, "B/s", "test"});
  Trace t;
  t.path = "dp";
  t.threads = 1;
  t.dist.ranks = 2;
  t.dist.overlap = true;
  t.dist.bucket_bytes = 250000;
  for (int64_t s = 0; s < 3; ++s) {
    t.ops.push_back({"matmul_backward", "", true, 2e9, 1.2e7, 0.026, s});
    for (int b = 0; b < 4; ++b) t.comm.push_back({"allreduce", 250000, 0.001 * b, 0.0003, 0, s});
    t.step_seconds.push_back(0.027);
    t.step_backward_seconds.push_back(0.026);
    t.step_exposed_seconds.push_back(0.0002 + s * 1e-5);
  }
  const CompareResult r = compare_trace(p, t);
  EXPECT_EQ(r.ranks, 2);
  EXPECT_DOUBLE_EQ(r.gradient_bytes, 1e6);
  EXPECT_DOUBLE_EQ(r.overlap_fraction, 0.75);  // the last bucket (a quarter) cannot hide
  // Each bucket its own all-reduce: 4 x (2(N-1) alpha + 2(N-1)/N M / beta) = 4 x 0.27 = 1.08 ms.
  const double ring = 4 * (2 * 10e-6 + 250000 / 1e9);
  EXPECT_NEAR(r.comm_total_s, ring, 1e-12);
  EXPECT_NEAR(r.comm_s, 0.25 * ring, 1e-12);    // 75% hidden behind 25 ms of backward
  const double mm = 2e9 / (100e9 * 0.8) + 1e-6;  // backward op with autograd: 2 us - 1 us
  EXPECT_NEAR(r.predicted_step_s, mm + 0.25 * ring, 1e-12);
  EXPECT_NEAR(r.measured_comm_s, 4 * 0.0003, 1e-12);
  EXPECT_NEAR(r.measured_exposed_s, 0.0002 + 1.5e-5, 1e-12);  // median of steps 1 and 2
  // A measured all-reduce table for 2 ranks (calibrate's interconnect/ddp_allreduce: 0.1 ms at
  // 100 kB, 1 ms at 1 MB; log-log between: 250 kB -> 0.25 ms) is what bstack's ring (train's
  // default) is predicted from; another algorithm keeps the alpha-beta formula.
  Series ddp{"interconnect/ddp_allreduce", {"bytes", "ranks", "avg_s", "min_s", "max_s", "iterations"}, {}, "test"};
  ddp.add_row({1e5, 2, 0, 0, 1e-4, 10});
  ddp.add_row({1e6, 2, 0, 0, 1e-3, 10});
  p.add_series(ddp);
  t.dist.backend = "mpi (ring)";
  EXPECT_NEAR(compare_trace(p, t).comm_total_s, 4 * 2.5e-4, 1e-12);
  t.dist.backend = "mpi (rd)";
  EXPECT_NEAR(compare_trace(p, t).comm_total_s, ring, 1e-12);
  t.dist.ranks = 4;  // the table was measured on 2 ranks
  t.dist.backend = "mpi (ring)";
  EXPECT_NEAR(compare_trace(p, t).comm_total_s, 4 * (6 * 10e-6 + 1.5 * 250000 / 1e9), 1e-12);
  // No overlap, or one bucket: nothing hides.
  DistInfo d = t.dist;
  d.overlap = false;
  EXPECT_EQ(overlap_fraction(d, 1e6), 0);
  d.overlap = true;
  d.bucket_bytes = 0;
  EXPECT_EQ(overlap_fraction(d, 1e6), 0);
}

// The ridge point and its check, by hand on profile() at one thread (peak 100 GFLOP/s; L1 32 KiB at
// 400 GB/s, DRAM 10 GB/s; SGEMM eta 0.5 up to 2e6 FLOP).
TEST(Ridge, SidesOfTheRidgePoint) {
  const walls::Machine m = machine_from_profile(profile(), 1);
  const std::vector<walls::OpCost> ops = {
      // 2e6 FLOP over 24 kB (L1): I = 83.3; I* = 100e9 x 0.5 / 400e9 = 0.125 -> right, I/I* = 667.
      {"matmul", false, 2e6, 24e3, 0, true},
      // 1e3 FLOP over 12 kB (L1): I = 0.0833; I* = 100e9 x 1 / 400e9 = 0.25 -> left, I/I* = 1/3.
      {"add", false, 1e3, 12e3, 0, false},
      {"relu", true, 1e3, 12e3, 0, false},
      // A reduction: counted, not judged.
      {"sum", false, 1e3, 4e3, 0, false},
      // 1e3 FLOP over 8 MB (DRAM): I = 1.25e-4; I* = 100e9 x 0.5 / 10e9 = 5 -> on the wrong side.
      {"linear", true, 1e3, 8e6, 0, true},
  };
  const walls::StepPrediction step = walls::predict_step(m, ops, 1, 0, 0);
  EXPECT_NEAR(walls::ridge_intensity(m, step.ops[0]), 0.125, 1e-12);
  EXPECT_NEAR(walls::ridge_intensity(m, step.ops[1]), 0.25, 1e-12);
  EXPECT_NEAR(walls::ridge_intensity(m, step.ops[4]), 5.0, 1e-12);
  // The predictor puts each roof time on the side the ridge says.
  EXPECT_EQ(step.ops[0].binding_wall, 1);
  EXPECT_GT(step.ops[4].memory_s, step.ops[4].compute_s);

  const RidgeCheck c = check_ridge(m, ops, step);
  EXPECT_EQ(c.gemm_ops, 2);
  EXPECT_EQ(c.gemm_right, 1);
  EXPECT_EQ(c.elementwise_ops, 2);
  EXPECT_EQ(c.elementwise_left, 2);
  EXPECT_EQ(c.other_ops, 1);
  EXPECT_NEAR(c.gemm_min_ratio, 1.25e-4 / 5, 1e-12);
  EXPECT_NEAR(c.elementwise_max_ratio, 1.0 / 3, 1e-12);
  EXPECT_FALSE(c.ok());
  ASSERT_EQ(c.misplaced.size(), 1u);
  EXPECT_NE(c.misplaced[0].find("linear_bwd#0"), std::string::npos) << c.misplaced[0];
  EXPECT_NE(c.misplaced[0].find("dram"), std::string::npos) << c.misplaced[0];

  // Without the misplaced GEMM the step passes.
  const std::vector<walls::OpCost> good(ops.begin(), ops.end() - 1);
  EXPECT_TRUE(check_ridge(m, good, walls::predict_step(m, good, 1, 0, 0)).ok());
  // An invalid prediction has no ridge; sizes that differ are a caller's error.
  walls::OpPrediction bad = step.ops[0];
  bad.level = -1;
  EXPECT_TRUE(std::isnan(walls::ridge_intensity(m, bad)));
  EXPECT_THROW(check_ridge(m, good, step), std::invalid_argument);
}

TEST(Ridge, ElementwiseOps) {
  for (const char* e : {"add", "mul", "relu", "gelu_backward", "relu_backward", "where", "clamp_backward"})
    EXPECT_TRUE(is_elementwise_op(e)) << e;
  for (const char* o : {"sum", "layer_norm", "adam_step", "softmax", "matmul", "_backward", "address"})
    EXPECT_FALSE(is_elementwise_op(o)) << o;
}
