// Fused optimizer kernels against the update rules written out in double precision, over several
// steps, odd lengths (vectorised body + tail) and every option.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/optimizer.h"
#include "src/random.h"

using namespace bstack;
using namespace bstack::kernels;

namespace {

TEST(FusedAdam, MatchesTheRuleOverSteps) {
  for (int64_t n : {1, 7, 63, 65, 1000, 70001})
    for (bool decoupled : {false, true})
      for (double wd : {0.0, 0.1}) {
        Generator gen(static_cast<uint64_t>(n));
        std::vector<float> p(n), m(n, 0), v(n, 0);
        std::vector<double> rp(n), rm(n, 0), rv(n, 0);
        for (int64_t i = 0; i < n; ++i) rp[i] = p[i] = static_cast<float>(gen.uniform() - 0.5);
        for (int t = 1; t <= 3; ++t) {
          std::vector<float> g(n);
          for (int64_t i = 0; i < n; ++i) g[i] = static_cast<float>(gen.uniform() - 0.5);
          const double b1 = 0.9, b2 = 0.999, eps = 1e-8, lr = 1e-2;
          const double c1 = 1 - std::pow(b1, t), c2 = 1 - std::pow(b2, t);
          adam_step<float>(n, p.data(), g.data(), m.data(), v.data(),
                           AdamParams{lr, b1, b2, eps, wd, c1, c2, decoupled});
          for (int64_t i = 0; i < n; ++i) {
            double gi = g[i];
            if (decoupled) rp[i] *= 1 - lr * wd;
            else gi += rp[i] * wd;
            rm[i] = b1 * rm[i] + (1 - b1) * gi;
            rv[i] = b2 * rv[i] + (1 - b2) * gi * gi;
            rp[i] -= lr * (rm[i] / c1) / (std::sqrt(rv[i] / c2) + eps);
          }
        }
        for (int64_t i = 0; i < n; ++i) ASSERT_NEAR(p[i], rp[i], 2e-6) << "n=" << n << " i=" << i;
      }
}

TEST(FusedSgd, MatchesTheRuleOverSteps) {
  for (int64_t n : {1, 9, 65, 40000})
    for (double mom : {0.0, 0.9})
      for (bool nesterov : {false, true}) {
        if (nesterov && mom == 0) continue;
        Generator gen(static_cast<uint64_t>(n) + 3);
        std::vector<double> p(n), buf(n), rp(n), rbuf(n);
        for (int64_t i = 0; i < n; ++i) rp[i] = p[i] = gen.uniform() - 0.5;
        const double lr = 0.1, damp = nesterov ? 0.0 : 0.1, wd = 0.01;
        for (int t = 1; t <= 3; ++t) {
          std::vector<double> g(n);
          for (int64_t i = 0; i < n; ++i) g[i] = gen.uniform() - 0.5;
          sgd_step<double>(n, p.data(), g.data(), mom != 0 ? buf.data() : nullptr,
                           SgdParams{lr, mom, damp, wd, nesterov, t == 1});
          for (int64_t i = 0; i < n; ++i) {
            double gi = g[i] + rp[i] * wd;
            if (mom != 0) {
              rbuf[i] = t == 1 ? gi : rbuf[i] * mom + gi * (1 - damp);
              gi = nesterov ? gi + rbuf[i] * mom : rbuf[i];
            }
            rp[i] -= gi * lr;
          }
        }
        for (int64_t i = 0; i < n; ++i) ASSERT_NEAR(p[i], rp[i], 1e-12) << "n=" << n;
      }
}

}  // namespace
