// The 22 walls against hand-worked numbers (the arithmetic is in each comment), their edge
// cases, the units of every result field, and the wall table. Wall 14's own tests are
// tests/calibrate/test_walls_comm.cpp; here it is checked through the table.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "walls/algorithm.h"
#include "walls/analysis.h"
#include "walls/communication.h"
#include "walls/data.h"
#include "walls/fleet.h"
#include "walls/node.h"
#include "walls/operations.h"
#include "walls/units.h"
#include "walls/wall.h"

namespace w = bstack::walls;

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The unit of a result field, as a string ("s", "B/s", ...).
template <class Q>
std::string unit_of(const Q& q) {
  return w::unit_string(q);
}
}  // namespace

// ---- units -----------------------------------------------------------------------------------

TEST(WallUnits, StringsOfNamedUnits) {
  EXPECT_EQ(w::unit_string(w::Seconds{}), "s");
  EXPECT_EQ(w::unit_string(w::BytesPerSecond{}), "B/s");
  EXPECT_EQ(w::unit_string(w::FlopPerSecond{}), "FLOP/s");
  EXPECT_EQ(w::unit_string(w::FlopPerByte{}), "FLOP/B");
  EXPECT_EQ(w::unit_string(w::Watts{}), "J/s");
  EXPECT_EQ(w::unit_string(w::UsdPerJoule{}), "USD/J");
  EXPECT_EQ(w::unit_string(w::KgCo2PerJoule{}), "kg/J");
  EXPECT_EQ(w::unit_string(w::Ratio{}), "1");
  EXPECT_EQ(w::unit_string(w::PerSecond{}), "1/s");
  EXPECT_EQ(w::unit_string(w::Dim{.s = -2, .B = 1}), "B/s^2");
}

TEST(WallUnits, ArithmeticCarriesDimensions) {
  // bytes / (bytes/s) = s; FLOP/s x s = FLOP; W x s = J.
  static_assert(std::is_same_v<decltype(w::Bytes{} / w::BytesPerSecond{}), w::Seconds>);
  static_assert(std::is_same_v<decltype(w::FlopPerSecond{} * w::Seconds{}), w::Flop>);
  static_assert(std::is_same_v<decltype(w::Watts{} * w::Seconds{}), w::Joules>);
  static_assert(std::is_same_v<decltype(w::Joules{} * w::KgCo2PerJoule{}), w::KgCo2>);
  static_assert(std::is_same_v<decltype(w::Ratio{} * w::Ratio{}), w::Ratio>);
  // A wrong formula has a different type: bytes x bandwidth is not a time.
  static_assert(!std::is_same_v<decltype(w::Bytes{} * w::BytesPerSecond{}), w::Seconds>);
  EXPECT_EQ(unit_of(w::Bytes{} * w::BytesPerSecond{}), "B^2/s");
  constexpr w::Seconds t = w::Bytes{1e9} / w::BytesPerSecond{1e10};
  static_assert(t.value == 0.1);
}

// Every result field has the unit its name promises. A formula written with the wrong units
// would not compile into these types; this pins the types themselves.
TEST(WallUnits, ResultFieldUnits) {
  EXPECT_EQ(unit_of(w::ComputeResult{}.time), "s");
  EXPECT_EQ(unit_of(w::ComputeResult{}.achieved), "FLOP/s");
  EXPECT_EQ(unit_of(w::MemoryResult{}.time), "s");
  EXPECT_EQ(unit_of(w::RooflineResult{}.attainable), "FLOP/s");
  EXPECT_EQ(unit_of(w::RooflineResult{}.ridge), "FLOP/B");
  EXPECT_EQ(unit_of(w::SoftwareResult{}.efficiency), "1");
  EXPECT_EQ(unit_of(w::ServingResult{}.ttft), "s");
  EXPECT_EQ(unit_of(w::ServingResult{}.tokens_per_s), "1/s");
  EXPECT_EQ(unit_of(w::BatchingResult{}.paged), "B");
  EXPECT_EQ(unit_of(w::StreamingResult{}.balance_batch), "1");
  EXPECT_EQ(unit_of(w::TailLatencyResult{}.quantile_latency), "s");
  EXPECT_EQ(unit_of(w::IngestionResult{}.demand), "B/s");
  EXPECT_EQ(unit_of(w::IngestionResult{}.samples_per_s), "1/s");
  EXPECT_EQ(unit_of(w::TransformationResult{}.time), "s");
  EXPECT_EQ(unit_of(w::LocalityResult{}.effective), "B/s");
  EXPECT_EQ(unit_of(w::ComplexityResult{}.training), "FLOP");
  EXPECT_EQ(unit_of(w::ReasoningResult{}.time), "s");
  EXPECT_EQ(unit_of(w::FidelityResult{}.compressed), "B");
  EXPECT_EQ(unit_of(w::FragilityResult{}.young_interval), "s");
  EXPECT_EQ(unit_of(w::MultiTenantResult{}.mean_wait), "s");
  EXPECT_EQ(unit_of(w::CapitalResult{}.tco), "USD");
  EXPECT_EQ(unit_of(w::CapitalResult{}.facility_energy), "J");
  EXPECT_EQ(unit_of(w::CapitalResult{}.per_unit_second), "USD/s");
  EXPECT_EQ(unit_of(w::SustainabilityResult{}.total), "kg");
  EXPECT_EQ(unit_of(w::CheckpointResult{}.size), "B");
  EXPECT_EQ(unit_of(w::CheckpointResult{}.penalty), "1");
  EXPECT_EQ(unit_of(w::SafetyResult{}.time), "s");
  EXPECT_EQ(unit_of(w::SynthesisResult{}.bandwidth), "B/s");
  EXPECT_EQ(unit_of(w::SynthesisResult{}.peak), "FLOP/s");
}

// ---- wall 1: compute -------------------------------------------------------------------------

TEST(Wall01Compute, HandWorked) {
  // 1e12 FLOP at 1e12 FLOP/s peak and eta 0.5: 1e12 / (1e12 x 0.5) = 2 s.
  const w::ComputeResult r = w::compute_wall({1e12, 1e12, 0.5});
  EXPECT_DOUBLE_EQ(r.time.value, 2.0);
  EXPECT_DOUBLE_EQ(r.achieved.value, 5e11);
}

TEST(Wall01Compute, EdgeCases) {
  EXPECT_EQ(w::compute_wall({0, 1e12, 1}).time.value, 0.0);
  EXPECT_TRUE(std::isnan(w::compute_wall({1e9, 0, 1}).time.value));      // no peak
  EXPECT_TRUE(std::isnan(w::compute_wall({1e9, 1e12, 0}).time.value));   // eta = 0
  EXPECT_TRUE(std::isnan(w::compute_wall({1e9, 1e12, 1.5}).time.value)); // eta > 1
  EXPECT_TRUE(std::isnan(w::compute_wall({-1, 1e12, 1}).time.value));
  EXPECT_TRUE(std::isnan(w::compute_wall({kNaN, 1e12, 1}).time.value));
}

// ---- wall 2: memory --------------------------------------------------------------------------

TEST(Wall02Memory, HandWorked) {
  // 2 GB over 100 GB/s: 2e9 / 1e11 = 0.02 s; 1 GB working set fits in 80 GB.
  const w::MemoryResult r = w::memory_wall({2e9, 1e11, 1e9, 80e9});
  EXPECT_DOUBLE_EQ(r.time.value, 0.02);
  EXPECT_TRUE(r.fits);
  EXPECT_FALSE(w::memory_wall({2e9, 1e11, 100e9, 80e9}).fits);
  EXPECT_TRUE(std::isnan(w::memory_wall({2e9, 0, 0, 0}).time.value));
}

TEST(Wall02Memory, LevelForWorkingSet) {
  // L1 48 KiB, L2 2 MiB, L3 32 MiB, DRAM unbounded: 1 MiB -> L2 (index 1), 1 GiB -> DRAM.
  const std::vector<w::MemoryLevel> levels = {
      {48e3, 2e11}, {2e6, 1e11}, {32e6, 5e10}, {kInf, 2e10}};
  EXPECT_EQ(w::memory_level_for(1e6, levels), 1);
  EXPECT_EQ(w::memory_level_for(1e9, levels), 3);
  EXPECT_EQ(w::memory_level_for(48e3, levels), 0);  // exactly full still fits
  EXPECT_EQ(w::memory_level_for(1e9, {{48e3, 2e11}}), -1);
  EXPECT_EQ(w::memory_level_for(-1, levels), -1);
}

TEST(Wall02Memory, Roofline) {
  // Peak 1e12, BW 1e11: ridge 10 FLOP/B. I = 2: 2 x 1e11 = 2e11 (memory-bound); I = 50: 1e12.
  const w::RooflineResult lo = w::roofline({2, 1e12, 1e11});
  EXPECT_DOUBLE_EQ(lo.attainable.value, 2e11);
  EXPECT_DOUBLE_EQ(lo.ridge.value, 10.0);
  EXPECT_TRUE(lo.memory_bound);
  const w::RooflineResult hi = w::roofline({50, 1e12, 1e11});
  EXPECT_DOUBLE_EQ(hi.attainable.value, 1e12);
  EXPECT_FALSE(hi.memory_bound);
}

// ---- wall 3: software ------------------------------------------------------------------------

TEST(Wall03Software, HandWorked) {
  // Achieved 3e11 of 1e12 peak: eta = 0.3.
  EXPECT_DOUBLE_EQ(w::software_efficiency(3e11, 1e12).value, 0.3);
  // 1e12 FLOP at peak 1e12, kernel eff 0.8, occupancy 0.5: kernels 1e12 / 4e11 = 2.5 s;
  // 1e5 launches x 5e-6 s = 0.5 s; T = 3 s; eta = 1e12 / (1e12 x 3) = 1/3.
  const w::SoftwareResult r = w::software_wall({1e12, 1e12, 0.8, 0.5, 1e5, 5e-6});
  EXPECT_NEAR(r.time.value, 3.0, 1e-12);
  EXPECT_NEAR(r.overhead.value, 0.5, 1e-12);
  EXPECT_NEAR(r.efficiency.value, 1.0 / 3.0, 1e-12);
}

TEST(Wall03Software, EdgeCases) {
  EXPECT_TRUE(std::isnan(w::software_efficiency(1e9, 0).value));
  EXPECT_TRUE(std::isnan(w::software_wall({0, 1e12, 1, 1, 0, 0}).efficiency.value));  // 0/0
  EXPECT_TRUE(std::isnan(w::software_wall({1e9, 1e12, 1, 0, 0, 0}).time.value));      // occ 0
  // Only overhead: no useful work, eta = 0.
  EXPECT_EQ(w::software_wall({0, 1e12, 1, 1, 10, 1e-6}).efficiency.value, 0.0);
}

// ---- wall 4: serving -------------------------------------------------------------------------

TEST(Wall04Serving, HandWorked) {
  // 7e9 parameters in bf16 (2 B), prompt 1000 tokens, batch 1, peak 1e15, BW 2e12, eta 1.
  // TTFT = 2 x 7e9 x 1000 / 1e15 = 0.014 s.
  // ITL memory = 7e9 x 2 / 2e12 = 0.007 s; ITL compute = 2 x 7e9 / 1e15 = 1.4e-5 s -> 0.007 s.
  const w::ServingResult r = w::serving_wall({7e9, 2, 1000, 1, 0, 1e15, 2e12, 1});
  EXPECT_NEAR(r.ttft.value, 0.014, 1e-15);
  EXPECT_NEAR(r.itl.value, 0.007, 1e-15);
  EXPECT_NEAR(r.itl_compute.value, 1.4e-5, 1e-18);
  EXPECT_TRUE(r.decode_memory_bound);
  EXPECT_NEAR(r.tokens_per_s.value, 1.0 / 0.007, 1e-9);
}

TEST(Wall04Serving, LargeBatchDecodeTurnsComputeBound) {
  // Batch 1000: ITL compute = 2 x 7e9 x 1000 / 1e15 = 0.014 s > 0.007 s memory.
  const w::ServingResult r = w::serving_wall({7e9, 2, 1, 1000, 0, 1e15, 2e12, 1});
  EXPECT_NEAR(r.itl.value, 0.014, 1e-15);
  EXPECT_FALSE(r.decode_memory_bound);
  // The KV cache adds to the bytes read each step: + 2e9 B -> (1.4e10 + 2e9) / 2e12 = 0.008 s.
  EXPECT_NEAR(w::serving_wall({7e9, 2, 1, 1, 2e9, 1e15, 2e12, 1}).itl_memory.value, 0.008, 1e-15);
  EXPECT_TRUE(std::isnan(w::serving_wall({7e9, 2, 1, 0, 0, 1e15, 2e12, 1}).itl.value));  // B = 0
}

// ---- wall 5: batching ------------------------------------------------------------------------

TEST(Wall05Batching, HandWorked) {
  // L = 32, H = 8, D = 128, b = 2: per token 2 x 32 x 8 x 128 x 2 = 131072 B.
  // S = 1000, p = 16: ceil(1000/16) = 63 pages = 1008 tokens; B = 4:
  //   paged = 131072 x 1008 x 4 = 528482304 B; exact = 131072 x 1000 x 4 = 524288000 B.
  // Static for S_max = 4096: 131072 x 4096 x 4 = 2147483648 B.
  w::BatchingInput in{32, 8, 128, 1000, 16, 4, 2, 4096, 0};
  const w::BatchingResult r = w::batching_wall(in);
  EXPECT_DOUBLE_EQ(r.paged.value, 528482304.0);
  EXPECT_DOUBLE_EQ(r.exact.value, 524288000.0);
  EXPECT_DOUBLE_EQ(r.static_alloc.value, 2147483648.0);
  EXPECT_NEAR(r.paged_waste.value, 8.0 / 1008.0, 1e-15);
  EXPECT_NEAR(r.static_waste.value, 1.0 - 1000.0 / 4096.0, 1e-15);
  EXPECT_TRUE(std::isnan(r.max_batch.value));
  // 10 GB for KV: per sequence 131072 x 1008 = 132120576 B -> floor(1e10 / 132120576) = 75.
  in.kv_capacity_bytes = 1e10;
  EXPECT_EQ(w::batching_wall(in).max_batch.value, 75.0);
}

TEST(Wall05Batching, EdgeCases) {
  // A page of 1 token wastes nothing.
  const w::BatchingResult r = w::batching_wall({2, 2, 4, 7, 1, 3, 2, 0, 0});
  EXPECT_EQ(r.paged.value, r.exact.value);
  EXPECT_EQ(r.paged_waste.value, 0.0);
  EXPECT_TRUE(std::isnan(w::batching_wall({2, 2, 4, 7, 0, 3, 2, 0, 0}).paged.value));   // p = 0
  EXPECT_TRUE(std::isnan(w::batching_wall({2, 2, 4, 70, 16, 3, 2, 8, 0}).paged.value)); // S > S_max
}

// ---- wall 6: streaming -----------------------------------------------------------------------

TEST(Wall06Streaming, HandWorked) {
  // 1e9 parameters in fp16 (2 B) over 1e11 B/s: stream 2e9 / 1e11 = 0.02 s.
  // Batch 1000 tokens at 1e15 x 0.5: compute 2 x 1e9 x 1000 / 5e14 = 0.004 s -> stream-bound.
  // Balance batch B* = 5e14 x 2 / (2 x 1e11) = 5000 tokens.
  const w::StreamingResult r = w::streaming_wall({1e9, 2, 1000, 1e11, 1e15, 0.5});
  EXPECT_NEAR(r.time.value, 0.02, 1e-15);
  EXPECT_NEAR(r.compute.value, 0.004, 1e-15);
  EXPECT_TRUE(r.stream_bound);
  EXPECT_NEAR(r.balance_batch.value, 5000.0, 1e-9);
  // At B = 5000 both take 0.02 s; at 10000 compute binds (0.04 s).
  EXPECT_NEAR(w::streaming_wall({1e9, 2, 10000, 1e11, 1e15, 0.5}).time.value, 0.04, 1e-15);
  EXPECT_TRUE(std::isnan(w::streaming_wall({1e9, 2, 1, 0, 1e15, 1}).time.value));
}

// ---- wall 7: tail latency --------------------------------------------------------------------

TEST(Wall07TailLatency, MM1HandWorked) {
  // M/M/1, lambda = 8, mu = 10: rho 0.8, C = rho = 0.8, E[W_q] = 0.8 / 2 = 0.4 s,
  // T ~ Exp(mu - lambda = 2): P99 = ln(100) / 2 = 2.302585 s.
  const w::TailLatencyResult r = w::tail_latency_wall({8, 10, 1, 0.99});
  EXPECT_DOUBLE_EQ(r.utilisation.value, 0.8);
  EXPECT_NEAR(r.p_wait.value, 0.8, 1e-15);
  EXPECT_NEAR(r.mean_wait.value, 0.4, 1e-15);
  EXPECT_NEAR(r.mean_latency.value, 0.5, 1e-15);
  EXPECT_NEAR(r.quantile_latency.value, std::log(100.0) / 2.0, 1e-9);
}

TEST(Wall07TailLatency, ErlangCHandWorked) {
  // c = 2, A = 1 (rho = 0.5): B(1) = 1/2, B(2) = (1 x 1/2) / (2 + 1/2) = 0.2;
  // C = 0.2 / (1 - 0.5 x 0.8) = 1/3. E[W_q] = (1/3) / (2 x 1 - 1) = 1/3 s (mu = 1, lambda = 1).
  EXPECT_NEAR(w::erlang_c(2, 1.0), 1.0 / 3.0, 1e-15);
  const w::TailLatencyResult r = w::tail_latency_wall({1, 1, 2, 0.5});
  EXPECT_NEAR(r.mean_wait.value, 1.0 / 3.0, 1e-15);
  // theta = c mu - lambda = 1 = mu: P(T > t) = (2/3) e^-t + (1/3)(1 + t) e^-t = (1 + t/3) e^-t.
  // The median solves (1 + t/3) e^-t = 0.5.
  const double t = r.quantile_latency.value;
  EXPECT_NEAR((1 + t / 3) * std::exp(-t), 0.5, 1e-12);
}

TEST(Wall07TailLatency, TailGrowsNonLinearlyAndSaturates) {
  // P99 at rho = 0.5, 0.9, 0.99 (mu = 1, c = 1): ln(100) / (1 - rho) = 9.2, 46, 460.5.
  const double p50 = w::tail_latency_wall({0.5, 1, 1, 0.99}).quantile_latency.value;
  const double p90 = w::tail_latency_wall({0.9, 1, 1, 0.99}).quantile_latency.value;
  const double p99 = w::tail_latency_wall({0.99, 1, 1, 0.99}).quantile_latency.value;
  EXPECT_NEAR(p50, std::log(100.0) / 0.5, 1e-6);
  EXPECT_NEAR(p90, std::log(100.0) / 0.1, 1e-6);
  EXPECT_NEAR(p99, std::log(100.0) / 0.01, 1e-4);
  // rho >= 1: no steady state.
  const w::TailLatencyResult sat = w::tail_latency_wall({10, 1, 8, 0.99});
  EXPECT_EQ(sat.mean_wait.value, kInf);
  EXPECT_EQ(sat.quantile_latency.value, kInf);
  EXPECT_EQ(sat.p_wait.value, 1.0);
  EXPECT_TRUE(std::isnan(w::tail_latency_wall({1, 1, 0, 0.99}).mean_wait.value));   // c = 0
  EXPECT_TRUE(std::isnan(w::tail_latency_wall({1, 2, 1, 1.0}).mean_wait.value));    // q = 1
  EXPECT_TRUE(std::isnan(w::erlang_c(0, 1)));
}

// ---- wall 8: ingestion -----------------------------------------------------------------------

TEST(Wall08Ingestion, HandWorked) {
  // 2000 samples/s x 150 kB = 3e8 B/s against 1e8 B/s storage: rho = 3, stall 1 - 1/3 = 2/3,
  // fed 1e8 / 1.5e5 = 666.67 samples/s.
  const w::IngestionResult r = w::ingestion_wall({2000, 1.5e5, 1e8});
  EXPECT_DOUBLE_EQ(r.demand.value, 3e8);
  EXPECT_DOUBLE_EQ(r.rho.value, 3.0);
  EXPECT_NEAR(r.stall_fraction.value, 2.0 / 3.0, 1e-15);
  EXPECT_NEAR(r.samples_per_s.value, 1e8 / 1.5e5, 1e-9);
  EXPECT_TRUE(r.starved);
  // Supply faster than demand: rho 0.5, no stall, the device's own rate.
  const w::IngestionResult ok = w::ingestion_wall({1000, 1e5, 2e8});
  EXPECT_DOUBLE_EQ(ok.rho.value, 0.5);
  EXPECT_EQ(ok.stall_fraction.value, 0.0);
  EXPECT_EQ(ok.samples_per_s.value, 1000.0);
  EXPECT_TRUE(std::isnan(w::ingestion_wall({1000, 1e5, 0}).rho.value));
}

// ---- wall 9: transformation ------------------------------------------------------------------

TEST(Wall09Transformation, HandWorked) {
  // Batch 256 samples of 1 unit at 1000 samples/s per worker, 4 workers: 256 / 4000 = 0.064 s,
  // longer than a 0.05 s device step -> transform-bound, step 0.064 s.
  const w::TransformationResult r = w::transformation_wall({256, 1, 1000, 4, 0.05});
  EXPECT_DOUBLE_EQ(r.time.value, 0.064);
  EXPECT_DOUBLE_EQ(r.step.value, 0.064);
  EXPECT_TRUE(r.transform_bound);
  // Tokens: 32 sequences x 512 tokens at 1e6 tokens/s = 0.016384 s, hidden by 0.05 s.
  const w::TransformationResult t = w::transformation_wall({32, 512, 1e6, 1, 0.05});
  EXPECT_DOUBLE_EQ(t.time.value, 0.016384);
  EXPECT_DOUBLE_EQ(t.step.value, 0.05);
  EXPECT_FALSE(t.transform_bound);
  EXPECT_TRUE(std::isnan(w::transformation_wall({32, 1, 0, 1, 0}).time.value));
}

// ---- wall 10: locality -----------------------------------------------------------------------

TEST(Wall10Locality, HandWorked) {
  // 50 GB/s links, bisection fraction 0.5, 4:1 oversubscription: 5e10 x 0.5 / 4 = 6.25e9 B/s.
  EXPECT_DOUBLE_EQ(w::locality_wall({5e10, 0.5, 4}).effective.value, 6.25e9);
  EXPECT_DOUBLE_EQ(w::locality_wall({5e10, 1, 1}).effective.value, 5e10);  // full fat-tree
  EXPECT_TRUE(std::isnan(w::locality_wall({5e10, 1, 0.5}).effective.value));  // < 1:1
  EXPECT_TRUE(std::isnan(w::locality_wall({5e10, 0, 1}).effective.value));
}

// ---- wall 11: complexity ---------------------------------------------------------------------

TEST(Wall11Complexity, HandWorked) {
  // C = 6PD with P = 1e9, D = 2e10 -> 1.2e20 FLOP; D/P = 20.
  const w::ComplexityResult r = w::complexity_wall({1e9, 2e10});
  EXPECT_DOUBLE_EQ(r.training.value, 1.2e20);
  EXPECT_DOUBLE_EQ(r.tokens_per_parameter.value, 20.0);
  // P* = sqrt(1.2e20 / 120) = 1e9, D* = 2e10.
  const w::ComputeOptimal opt = w::compute_optimal(1.2e20);
  EXPECT_NEAR(opt.parameters.value, 1e9, 1e-3);
  EXPECT_NEAR(opt.tokens.value, 2e10, 1e-2);
  // Chinchilla itself: 70e9 parameters, 1.4e12 tokens -> 6 x 70e9 x 1.4e12 = 5.88e23 FLOP.
  EXPECT_DOUBLE_EQ(w::complexity_wall({70e9, 1.4e12}).training.value, 5.88e23);
  EXPECT_TRUE(std::isnan(w::compute_optimal(-1).parameters.value));
  EXPECT_TRUE(std::isnan(w::complexity_wall({0, 1e9}).tokens_per_parameter.value));
}

// ---- wall 12: reasoning ----------------------------------------------------------------------

TEST(Wall12Reasoning, HandWorked) {
  // K = 8 steps of 500 tokens at 20 ms ITL: T_step = 500 x 0.02 = 10 s; T = 8 x 10 = 80 s.
  const w::Seconds step = w::reasoning_step_seconds(500, 0.02);
  EXPECT_DOUBLE_EQ(step.value, 10.0);
  EXPECT_DOUBLE_EQ(w::reasoning_wall({8, step.value}).time.value, 80.0);
  EXPECT_EQ(w::reasoning_wall({0, 10}).time.value, 0.0);
  EXPECT_TRUE(std::isnan(w::reasoning_wall({-1, 10}).time.value));
}

// ---- wall 13: fidelity -----------------------------------------------------------------------

TEST(Wall13Fidelity, HandWorked) {
  // int8: 32/8 = 4; 75% pruned: 1/(1-0.75) = 4; together 16; 400 MB -> 25 MB.
  const w::FidelityResult r = w::fidelity_wall({8, 0.75, 4e8});
  EXPECT_DOUBLE_EQ(r.quantisation.value, 4.0);
  EXPECT_DOUBLE_EQ(r.pruning.value, 4.0);
  EXPECT_DOUBLE_EQ(r.total.value, 16.0);
  EXPECT_DOUBLE_EQ(r.compressed.value, 2.5e7);
  EXPECT_DOUBLE_EQ(w::fidelity_wall({4, 0, 0}).total.value, 8.0);  // int4
  EXPECT_TRUE(std::isnan(w::fidelity_wall({8, 1.0, 0}).total.value));  // all pruned
  EXPECT_TRUE(std::isnan(w::fidelity_wall({0, 0, 0}).total.value));
  EXPECT_TRUE(std::isnan(w::fidelity_wall({64, 0, 0}).total.value));
}

// ---- wall 14 through the table, wall 15: fragility -------------------------------------------

TEST(Wall14Communication, ReachableFromTheTable) {
  EXPECT_EQ(w::wall(14).header, "walls/communication.h");
  // N = 4, M = 1e9, beta = 1e10, alpha = 1e-5: 6 x 1e-5 + 1.5 x 0.1 = 0.15006 s.
  EXPECT_NEAR(w::ring_allreduce_seconds({4, 1e9, 1e-5, 1e10}), 0.15006, 1e-12);
}

TEST(Wall15Fragility, HandWorked) {
  // 1000 nodes with a 5-year MTBF (1.5768e8 s): M = 157680 s (43.8 h).
  // delta = 60 s: tau_Young = sqrt(2 x 60 x 157680) = sqrt(18921600) = 4349.896 s.
  // Lost fraction = 60 / 4349.9 + 4349.9 / 315360 = 0.013793 + 0.013793 = 0.027587.
  const w::FragilityResult r = w::fragility_wall({1000, 1.5768e8, 60});
  EXPECT_DOUBLE_EQ(r.cluster_mtbf.value, 157680.0);
  EXPECT_NEAR(r.young_interval.value, std::sqrt(18921600.0), 1e-9);
  EXPECT_NEAR(r.lost_fraction.value, 2 * 60 / std::sqrt(18921600.0), 1e-12);
  // Daly: x = 60 / 315360; tau = 4349.896 (1 + sqrt(x)/3 + x/9) - 60.
  const double x = 60.0 / 315360.0;
  EXPECT_NEAR(r.daly_interval.value, std::sqrt(18921600.0) * (1 + std::sqrt(x) / 3 + x / 9) - 60,
              1e-9);
  // delta >= 2M: Daly's interval is M.
  EXPECT_DOUBLE_EQ(w::fragility_wall({1, 100, 300}).daly_interval.value, 100.0);
  EXPECT_TRUE(std::isnan(w::fragility_wall({0, 1e6, 60}).cluster_mtbf.value));
  EXPECT_TRUE(std::isnan(w::fragility_wall({10, 0, 60}).cluster_mtbf.value));
}

// ---- wall 16: multi-tenant -------------------------------------------------------------------

TEST(Wall16MultiTenant, HandWorked) {
  // lambda = 0.8 jobs/h, mu = 1 job/h (per second: / 3600). M/D/1: rho / (2 mu (1 - rho))
  // = 0.8 / (2 x (1/3600) x 0.2) = 7200 s. M/M/1 (c_s^2 = 1): twice that, 14400 s.
  const double per_h = 1.0 / 3600;
  const w::MultiTenantResult d = w::multi_tenant_wall({0.8 * per_h, per_h, 0});
  EXPECT_NEAR(d.utilisation.value, 0.8, 1e-15);
  EXPECT_NEAR(d.mean_wait.value, 7200.0, 1e-9);
  EXPECT_NEAR(d.mean_turnaround.value, 10800.0, 1e-9);
  EXPECT_NEAR(d.mean_queue_length.value, 1.6, 1e-12);  // Little: 0.8/3600 x 7200
  EXPECT_NEAR(w::multi_tenant_wall({0.8 * per_h, per_h, 1}).mean_wait.value, 14400.0, 1e-9);
  EXPECT_EQ(w::multi_tenant_wall({1, 1, 0}).mean_wait.value, kInf);  // rho = 1
  EXPECT_EQ(w::multi_tenant_wall({2, 1, 0}).mean_wait.value, kInf);
  EXPECT_EQ(w::multi_tenant_wall({0, 1, 0}).mean_wait.value, 0.0);
  EXPECT_TRUE(std::isnan(w::multi_tenant_wall({1, 0, 0}).mean_wait.value));
}

// ---- wall 17: capital ------------------------------------------------------------------------

TEST(Wall17Capital, HandWorked) {
  // 8 GPUs x 30000 USD = 240000 capex. 700 W each, PUE 1.2, 3 years (9.4608e7 s):
  // energy = 8 x 1.2 x 700 x 9.4608e7 = 6.3576576e11 J = 176601.6 kWh; at 0.10 USD/kWh:
  // 17660.16 USD. TCO = 257660.16 USD.
  const w::CapitalResult r =
      w::capital_wall({8, 30000, 700, 1.2, 9.4608e7, 0.10 / w::kJoulesPerKwh, 0});
  EXPECT_DOUBLE_EQ(r.capex.value, 240000.0);
  EXPECT_NEAR(r.facility_energy.value, 6.3576576e11, 1);
  EXPECT_NEAR(r.opex.value, 17660.16, 1e-6);
  EXPECT_NEAR(r.tco.value, 257660.16, 1e-6);
  EXPECT_NEAR(r.per_unit_second.value, 257660.16 / (8 * 9.4608e7), 1e-15);
  EXPECT_TRUE(std::isnan(w::capital_wall({8, 30000, 700, 0.9, 1, 0, 0}).tco.value));  // PUE < 1
}

// ---- wall 18: sustainability -----------------------------------------------------------------

TEST(Wall18Sustainability, HandWorked) {
  // 1000 kWh IT energy (3.6e9 J), PUE 1.1, 0.4 kg/kWh: 1000 x 1.1 x 0.4 = 440 kg CO2e;
  // + 100 kg embodied = 540 kg.
  const w::SustainabilityResult r =
      w::sustainability_wall({3.6e9, 1.1, 0.4 / w::kJoulesPerKwh, 100});
  EXPECT_NEAR(r.facility_energy.value, 3.96e9, 1e-3);
  EXPECT_NEAR(r.operational.value, 440.0, 1e-9);
  EXPECT_NEAR(r.total.value, 540.0, 1e-9);
  // 700 W for one hour: 2.52e6 J.
  EXPECT_DOUBLE_EQ(w::energy_from_power(700, 3600).value, 2.52e6);
  EXPECT_TRUE(std::isnan(w::sustainability_wall({1, 0.5, 1, 0}).total.value));
}

// ---- wall 19: checkpoint ---------------------------------------------------------------------

TEST(Wall19Checkpoint, HandWorked) {
  // 7e9 parameters x 14 B = 9.8e10 B; at 2e9 B/s: 49 s; every 3600 s: penalty 49/3600.
  const w::CheckpointResult r = w::checkpoint_wall({7e9, 14, 2e9, 3600});
  EXPECT_DOUBLE_EQ(r.size.value, 9.8e10);
  EXPECT_DOUBLE_EQ(r.write.value, 49.0);
  EXPECT_NEAR(r.penalty.value, 49.0 / 3600.0, 1e-15);
  EXPECT_TRUE(std::isnan(w::checkpoint_wall({7e9, 14, 2e9, 0}).penalty.value));
  EXPECT_TRUE(std::isnan(w::checkpoint_wall({7e9, 14, 0, 3600}).penalty.value));
}

// ---- wall 20: safety -------------------------------------------------------------------------

TEST(Wall20Safety, HandWorked) {
  // q = 0.01, T = 10000, delta = 1e-5, epsilon = 1:
  // sigma = 0.01 x sqrt(10000 x ln(1e5)) / 1 = 0.01 x sqrt(115129.25) = 3.393071.
  // C = 1, L = 256: noise std 3.393071 / 256. Steps of 0.1 s, slowdown 3: 3000 s, 2000 overhead.
  const w::SafetyResult r = w::safety_wall({1, 1e-5, 0.01, 10000, 256, 1, 0.1, 3});
  const double sigma = 0.01 * std::sqrt(10000 * std::log(1e5));
  EXPECT_NEAR(r.sigma.value, sigma, 1e-12);
  EXPECT_NEAR(r.sigma.value, 3.393071, 1e-6);
  EXPECT_NEAR(r.noise_std.value, sigma / 256, 1e-15);
  EXPECT_NEAR(r.time.value, 3000.0, 1e-9);
  EXPECT_NEAR(r.overhead.value, 2000.0, 1e-9);
  // sigma ~ 1/epsilon: halving epsilon doubles sigma.
  EXPECT_NEAR(w::safety_wall({0.5, 1e-5, 0.01, 10000, 256, 1, 0.1, 3}).sigma.value, 2 * sigma,
              1e-12);
  EXPECT_TRUE(std::isnan(w::safety_wall({0, 1e-5, 0.01, 1, 1, 1, 0, 1}).sigma.value));
  EXPECT_TRUE(std::isnan(w::safety_wall({1, 1, 0.01, 1, 1, 1, 0, 1}).sigma.value));  // delta 1
  EXPECT_TRUE(std::isnan(w::safety_wall({1, 1e-5, 0.01, 1, 1, 1, 0, 0.5}).sigma.value));
}

// ---- wall 21: sensitivity --------------------------------------------------------------------

TEST(Wall21Sensitivity, RooflineBindsOnBandwidth) {
  // T = max(OPs / peak, bytes / BW) with OPs 1e12, bytes 1e11, peak 1e13, BW 1e11:
  // compute 0.1 s, memory 1 s -> memory binds. Perturb by 10%: BW x 1.1 -> 0.90909 s,
  // BW x 0.9 -> 1.11111 s; elasticity = (0.90909 - 1.11111) / (0.2 x 1) = -1.0101.
  // peak: compute stays < memory on both sides -> 0.
  const w::TimeModel model = [](const std::vector<double>& x) {
    return std::max(1e12 / x[0], 1e11 / x[1]);
  };
  const w::SensitivityResult r = w::sensitivity(model, {"peak", "bandwidth"}, {1e13, 1e11}, 0.1);
  EXPECT_DOUBLE_EQ(r.time, 1.0);
  ASSERT_EQ(r.ranked.size(), 2u);
  EXPECT_EQ(r.binding, "bandwidth");
  EXPECT_EQ(r.ranked[0].name, "bandwidth");
  EXPECT_NEAR(r.ranked[0].elasticity, (1 / 1.1 - 1 / 0.9) / 0.2, 1e-12);
  EXPECT_NEAR(r.ranked[0].derivative, (1 / 1.1 - 1 / 0.9) / (0.2 * 1e11), 1e-24);
  EXPECT_EQ(r.ranked[1].name, "peak");
  EXPECT_EQ(r.ranked[1].elasticity, 0.0);
}

TEST(Wall21Sensitivity, PowerLawElasticityAndEdgeCases) {
  // T = a^2 / b: elasticities +2 (a), -1 (b) up to O(h^2): ((1.01^2 - 0.99^2) / 0.02) = 2 exactly.
  const w::TimeModel model = [](const std::vector<double>& x) { return x[0] * x[0] / x[1]; };
  const w::SensitivityResult r = w::sensitivity(model, {"a", "b", "zero"}, {3, 2, 0}, 0.01);
  EXPECT_EQ(r.binding, "a");
  EXPECT_NEAR(r.ranked[0].elasticity, 2.0, 1e-12);
  EXPECT_NEAR(r.ranked[1].elasticity, (1 / 1.01 - 1 / 0.99) / 0.02, 1e-12);
  EXPECT_EQ(r.ranked[2].name, "zero");  // x = 0 cannot be perturbed relatively: NaN, last
  EXPECT_TRUE(std::isnan(r.ranked[2].elasticity));
  EXPECT_THROW(w::sensitivity(model, {"a"}, {1, 2}), std::invalid_argument);
  EXPECT_THROW(w::sensitivity(model, {"a", "b"}, {1, 2}, 0), std::invalid_argument);
  EXPECT_THROW(w::sensitivity(w::TimeModel{}, {}, {}), std::invalid_argument);
  // A model that is 0 at x: derivatives exist, elasticities don't, nothing binds.
  const w::SensitivityResult z =
      w::sensitivity([](const std::vector<double>& x) { return x[0] - 1; }, {"x"}, {1});
  EXPECT_TRUE(std::isnan(z.ranked[0].elasticity));
  EXPECT_NEAR(z.ranked[0].derivative, 1.0, 1e-12);
  EXPECT_EQ(z.binding, "");
}

// ---- wall 22: synthesis ----------------------------------------------------------------------

TEST(Wall22Synthesis, HandWorked) {
  // Decode a 7e9-parameter bf16 model at 20 ms per token: |W| = 1.4e10 B, OPs = 1.4e10 FLOP.
  // BW_req = 1.4e10 / 0.02 = 7e11 B/s; at eta_mem 0.7: 1e12 B/s. Peak_req = 1.4e10 / 0.02 =
  // 7e11 FLOP/s at eta 1. Intensity 1 FLOP/B.
  const w::SynthesisResult r = w::synthesis_wall({1.4e10, 1.4e10, 0.02, 1, 0.7});
  EXPECT_NEAR(r.bandwidth.value, 1e12, 1e-3);
  EXPECT_NEAR(r.peak.value, 7e11, 1e-3);
  EXPECT_DOUBLE_EQ(r.intensity.value, 1.0);
  EXPECT_TRUE(w::meets(r, 1e15, 3.35e12));   // an H100 does
  EXPECT_FALSE(w::meets(r, 1e15, 68e9));     // an Orin Nano's 68 GB/s does not
  EXPECT_TRUE(std::isnan(w::synthesis_wall({1, 1, 0, 1, 1}).bandwidth.value));
  EXPECT_TRUE(std::isnan(w::synthesis_wall({1, 0, 1, 1, 1}).intensity.value));
  EXPECT_FALSE(w::meets(w::synthesis_wall({1, 1, 0, 1, 1}), 1e15, 1e15));
}

// ---- the table -------------------------------------------------------------------------------

TEST(WallTable, TwentyTwoWallsInOrderWithSources) {
  const auto& t = w::walls();
  ASSERT_EQ(t.size(), 22u);
  const std::set<std::string_view> domains = {"node",  "data",       "algorithm",
                                              "fleet", "operations", "analysis"};
  for (size_t i = 0; i < t.size(); ++i) {
    SCOPED_TRACE("wall " + std::to_string(i + 1));
    EXPECT_EQ(t[i].number, static_cast<int>(i + 1));
    EXPECT_FALSE(t[i].name.empty());
    EXPECT_FALSE(t[i].equation.empty());
    EXPECT_FALSE(t[i].limit.empty());
    EXPECT_FALSE(t[i].source.empty());
    EXPECT_TRUE(t[i].header.starts_with("walls/"));
    EXPECT_TRUE(domains.count(t[i].domain));
    EXPECT_EQ(&w::wall(static_cast<int>(i + 1)), &t[i]);
  }
  EXPECT_EQ(w::wall(1).name, "Compute");
  EXPECT_EQ(w::wall(7).name, "Tail latency");
  EXPECT_EQ(w::wall(14).domain, "fleet");
  EXPECT_EQ(w::wall(22).name, "Synthesis");
  EXPECT_THROW(w::wall(0), std::out_of_range);
  EXPECT_THROW(w::wall(23), std::out_of_range);
}

TEST(WallTable, ProfileFieldsAreCalibrateKeys) {
  // Spot checks against the keys calibrate/ writes.
  auto has = [](int n, std::string_view key) {
    for (std::string_view k : w::wall(n).profile_fields)
      if (k == key) return true;
    return false;
  };
  EXPECT_TRUE(has(1, "peak_flops_fp32"));
  EXPECT_TRUE(has(1, "gemm_efficiency_fp32"));
  EXPECT_TRUE(has(2, "dram_triad_bytes_per_s"));
  EXPECT_TRUE(has(2, "l1_triad_bytes_per_s"));
  EXPECT_TRUE(has(3, "dispatch_s"));
  EXPECT_TRUE(has(8, "file_read_bytes_per_s"));
  EXPECT_TRUE(has(9, "loader_samples_per_s"));
  EXPECT_TRUE(has(14, "alpha_s"));
  EXPECT_TRUE(has(14, "beta_bytes_per_s"));
  EXPECT_TRUE(has(19, "file_write_bytes_per_s"));
  for (const auto& wi : w::walls())
    for (std::string_view k : wi.profile_fields) {
      EXPECT_FALSE(k.empty());
      EXPECT_EQ(k.find(' '), std::string_view::npos) << k;
    }
}
