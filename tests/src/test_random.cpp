// The generator: deterministic by seed, and its distributions have the right moments.
#include "src/random.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

using bstack::Generator;

TEST(Random, SameSeedSameStream) {
  Generator a(7), b(7), c(8);
  for (int i = 0; i < 100; ++i) {
    const uint64_t x = a.next_u64();
    EXPECT_EQ(x, b.next_u64());
    (void)c.next_u64();
  }
  a.manual_seed(3);
  b.manual_seed(3);
  EXPECT_EQ(a.normal(), b.normal());
  EXPECT_NE(Generator(1).next_u64(), Generator(2).next_u64());
}

TEST(Random, UniformAndNormalMoments) {
  // n = 200k: the standard error of the mean is ~0.0006 (uniform) and ~0.002 (normal);
  // tolerances are 5 standard errors.
  Generator g(12345);
  const int n = 200000;
  double s = 0, s2 = 0;
  for (int i = 0; i < n; ++i) {
    const double u = g.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    s += u;
    s2 += u * u;
  }
  EXPECT_NEAR(s / n, 0.5, 5 * std::sqrt(1.0 / 12 / n));
  EXPECT_NEAR(s2 / n - (s / n) * (s / n), 1.0 / 12, 0.002);
  s = s2 = 0;
  double s4 = 0;
  for (int i = 0; i < n; ++i) {
    const double z = g.normal();
    s += z;
    s2 += z * z;
    s4 += z * z * z * z;
  }
  EXPECT_NEAR(s / n, 0.0, 5 / std::sqrt(n));
  EXPECT_NEAR(s2 / n, 1.0, 5 * std::sqrt(2.0 / n));
  EXPECT_NEAR(s4 / n, 3.0, 0.1);  // kurtosis of a normal
}

TEST(Random, BelowIsUniformOverItsRange) {
  Generator g(99);
  std::vector<int> counts(7, 0);
  const int n = 70000;
  for (int i = 0; i < n; ++i) {
    const uint64_t k = g.below(7);
    ASSERT_LT(k, 7u);
    ++counts[k];
  }
  // Chi-square with 6 degrees of freedom: 22.46 is the 0.999 quantile.
  double chi2 = 0;
  for (int c : counts) chi2 += (c - n / 7.0) * (c - n / 7.0) / (n / 7.0);
  EXPECT_LT(chi2, 22.46);
}
