// Wall 14 (walls/communication.h) against hand-worked numbers.
#include <gtest/gtest.h>

#include <cmath>

#include "walls/communication.h"

namespace w = bstack::walls;

TEST(WallCommunication, RingAllreduceHandWorked) {
  // N = 8, M = 1 GB, beta = 100 GB/s, alpha = 5 us:
  // 2*7*5e-6 + 2*7/8 * 1e9/1e11 = 7e-5 + 0.0175 = 0.01757 s.
  const double t = w::ring_allreduce_seconds({8, 1e9, 5e-6, 1e11});
  EXPECT_NEAR(t, 0.01757, 1e-12);
}

TEST(WallCommunication, RingAllreduceTwoRanksAndOne) {
  // N = 2: 2 alpha + M/beta. 2 * 1e-6 + 1e6 / 1e10 = 2e-6 + 1e-4.
  EXPECT_NEAR(w::ring_allreduce_seconds({2, 1e6, 1e-6, 1e10}), 1.02e-4, 1e-15);
  // One rank: nothing to exchange.
  EXPECT_EQ(w::ring_allreduce_seconds({1, 1e9, 5e-6, 1e11}), 0.0);
}

TEST(WallCommunication, RingBandwidthTermApproachesTwiceMOverBeta) {
  // Large N: 2(N-1)/N -> 2, the bandwidth-optimal bound of Patarasuk & Yuan.
  const double t = w::ring_allreduce_seconds({1000000, 1e9, 0.0, 1e9});
  EXPECT_NEAR(t, 2.0 * 999999 / 1000000, 1e-12);
}

TEST(WallCommunication, HockneyHandWorked) {
  // 1 MiB at 10 GB/s after 0.4 us: 4e-7 + 1048576 / 1e10 = 1.052576e-4 s.
  EXPECT_NEAR(w::hockney_seconds({1048576, 4e-7, 1e10}), 1.052576e-4, 1e-16);
  EXPECT_EQ(w::hockney_seconds({0, 4e-7, 1e10}), 4e-7);
}

TEST(WallCommunication, BusBandwidthAsNcclTests) {
  // nccl-tests: 1 GB all-reduced in 0.1 s over 8 ranks: algbw 10 GB/s, busbw 10 * 14/8 = 17.5.
  const double algbw = w::algorithm_bandwidth(1e9, 0.1);
  EXPECT_DOUBLE_EQ(algbw, 1e10);
  EXPECT_DOUBLE_EQ(w::allreduce_bus_bandwidth(algbw, 8), 1.75e10);
  EXPECT_DOUBLE_EQ(w::allreduce_bus_factor(2), 1.0);
  EXPECT_DOUBLE_EQ(w::allreduce_bus_factor(1), 0.0);
  // Consistency: busbw of the ring model's own time at alpha = 0 is beta.
  const double t = w::ring_allreduce_seconds({8, 1e9, 0.0, 1e11});
  EXPECT_NEAR(w::allreduce_bus_bandwidth(w::algorithm_bandwidth(1e9, t), 8), 1e11, 1e-3);
}

TEST(WallCommunication, OutsideTheModelIsNaN) {
  EXPECT_TRUE(std::isnan(w::ring_allreduce_seconds({0, 1e9, 5e-6, 1e11})));
  EXPECT_TRUE(std::isnan(w::ring_allreduce_seconds({8, -1, 5e-6, 1e11})));
  EXPECT_TRUE(std::isnan(w::ring_allreduce_seconds({8, 1e9, -5e-6, 1e11})));
  EXPECT_TRUE(std::isnan(w::ring_allreduce_seconds({8, 1e9, 5e-6, 0})));
  EXPECT_TRUE(std::isnan(w::hockney_seconds({1, 1e-6, -1})));
  EXPECT_TRUE(std::isnan(w::algorithm_bandwidth(1e9, 0)));
  EXPECT_TRUE(std::isnan(w::allreduce_bus_bandwidth(1e9, 0)));
}
