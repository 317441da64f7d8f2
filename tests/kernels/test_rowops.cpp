// Row kernels (kernels/rowops.h) against plain double-precision references written from the
// formulas: softmax, log-softmax and their backwards, cross-entropy forward and backward,
// layer norm forward and backward (with and without gamma/beta, with a mean far from zero),
// GELU forward and backward, and the vector exp over its whole range and special values.
// Row lengths around the vector widths (1, 7, 15, 16, 17, 31, 33, 63, 65, 257, 1000), pointers
// one float off alignment, and 1 vs 2 threads (the results must be bitwise the same). Runs once
// per ISA path (ctest sets BSTACK_ISA).
//
// Tolerance: |got - ref| <= atol + rtol * |ref| with rtol = eps(T) * 32 for f32 (a few ulp of
// exp and one of each later rounding, with float sums over rows of up to 1000 O(1) terms) and
// 1e-12 for f64; atol scales with the magnitude the result is computed from (stated per test).
#include "kernels/cpu.h"
#include "kernels/parallel.h"
#include "kernels/rowops.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

using namespace bstack::kernels;

namespace {

const int64_t kLengths[] = {1, 7, 15, 16, 17, 31, 33, 63, 65, 257, 1000};
const int64_t kRows[] = {1, 3};

template <class T>
constexpr double rtol() {
  return std::is_same_v<T, float> ? 32 * 1.1920929e-7 : 1e-12;
}

// A buffer whose data() is one element past an aligned allocation (never 16-byte aligned for
// float), so vector loads see unaligned rows.
template <class T>
struct Buf {
  std::vector<T> v;
  explicit Buf(int64_t n, T fill = T(0)) : v(static_cast<size_t>(n) + 1, fill) {}
  T* data() { return v.data() + 1; }
  const T* data() const { return v.data() + 1; }
  T& operator[](int64_t i) { return v[static_cast<size_t>(i) + 1]; }
  const T& operator[](int64_t i) const { return v[static_cast<size_t>(i) + 1]; }
};

template <class T>
Buf<T> random_buf(int64_t n, uint32_t seed, double lo = -3, double hi = 3) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  Buf<T> b(n);
  for (int64_t i = 0; i < n; ++i) b[i] = static_cast<T>(u(g));
  return b;
}

// Compares n values; prints the first mismatches (index, got, ref) and stops after ten.
template <class T>
void expect_close(const std::string& what, const T* got, const std::vector<double>& ref,
                  double atol, double rt) {
  int bad = 0;
  for (size_t i = 0; i < ref.size() && bad < 10; ++i) {
    const double g = got[i], r = ref[i];
    const bool ok = (std::isnan(r) && std::isnan(g)) || (std::isinf(r) && g == r) ||
                    std::fabs(g - r) <= atol + rt * std::fabs(r);
    if (!ok) {
      ++bad;
      ADD_FAILURE() << what << " isa=" << isa_name(isa()) << ": element " << i << ": got " << g
                    << ", expected " << r << " (diff " << std::fabs(g - r) << ")";
    }
  }
}

std::string name(const char* op, int64_t rows, int64_t n) {
  return std::string(op) + " (" + std::to_string(rows) + ", " + std::to_string(n) + ")";
}

// ---- references (double) ---------------------------------------------------------------------

template <class T>
std::vector<double> ref_softmax(const Buf<T>& x, int64_t rows, int64_t n, bool log_form) {
  std::vector<double> y(rows * n);
  for (int64_t i = 0; i < rows; ++i) {
    double m = -INFINITY, s = 0;
    for (int64_t j = 0; j < n; ++j) m = std::max<double>(m, x[i * n + j]);
    for (int64_t j = 0; j < n; ++j) s += std::exp(x[i * n + j] - m);
    for (int64_t j = 0; j < n; ++j)
      y[i * n + j] = log_form ? x[i * n + j] - m - std::log(s) : std::exp(x[i * n + j] - m) / s;
  }
  return y;
}

double gelu_ref(double x) {
  return 0.5 * x * (1 + std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
}
double gelu_grad_ref(double x) {
  const double c = 0.7978845608028654, a = 0.044715;
  const double t = std::tanh(c * (x + a * x * x * x));
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * a * x * x);
}

// ---- tests --------------------------------------------------------------------------------------

template <class T>
void check_softmax_forward(bool log_form) {
  for (int64_t rows : kRows)
    for (int64_t n : kLengths)
      for (double scale : {1.0, 30.0}) {
        Buf<T> x =
            random_buf<T>(rows * n, static_cast<uint32_t>(n * 7 + rows), -3 * scale, 3 * scale);
        if (n > 3) x[1] = -std::numeric_limits<T>::infinity();  // a masked entry
        Buf<T> y(rows * n);
        if (log_form) {
          log_softmax_forward<T>(rows, n, x.data(), y.data());
        } else {
          softmax_forward<T>(rows, n, x.data(), y.data());
        }
        // log-softmax subtracts lse ~ max|x|: its rounding scales with that magnitude.
        const double atol = log_form ? rtol<T>() * (3 * scale + 8) : rtol<T>() / n;
        expect_close(
            name(log_form ? "log_softmax" : "softmax", rows, n) + " scale " + std::to_string(scale),
            y.data(), ref_softmax(x, rows, n, log_form), atol, rtol<T>());
      }
}

TEST(RowOps, SoftmaxForward) {
  check_softmax_forward<float>(false);
  check_softmax_forward<double>(false);
}
TEST(RowOps, LogSoftmaxForward) {
  check_softmax_forward<float>(true);
  check_softmax_forward<double>(true);
}

template <class T>
void check_softmax_backward(bool log_form) {
  for (int64_t rows : kRows)
    for (int64_t n : kLengths) {
      Buf<T> x = random_buf<T>(rows * n, static_cast<uint32_t>(n + 3));
      Buf<T> dy = random_buf<T>(rows * n, static_cast<uint32_t>(n + 4));
      Buf<T> y(rows * n), dx(rows * n);
      if (log_form) {
        log_softmax_forward<T>(rows, n, x.data(), y.data());
        log_softmax_backward<T>(rows, n, y.data(), dy.data(), dx.data());
      } else {
        softmax_forward<T>(rows, n, x.data(), y.data());
        softmax_backward<T>(rows, n, y.data(), dy.data(), dx.data());
      }
      // Reference from the kernel's own y (the backward's contract), in double.
      std::vector<double> ref(rows * n);
      double sum_abs = 0;
      for (int64_t i = 0; i < rows; ++i) {
        double s = 0;
        for (int64_t j = 0; j < n; ++j) {
          const double yv = y[i * n + j], g = dy[i * n + j];
          s += log_form ? g : g * yv;
          sum_abs += std::fabs(g);
        }
        for (int64_t j = 0; j < n; ++j) {
          const double yv = y[i * n + j], g = dy[i * n + j];
          ref[i * n + j] = log_form ? g - std::exp(yv) * s : yv * (g - s);
        }
      }
      // The row sum carries the rounding of sum |dy| (over rows of up to n terms).
      const double atol = rtol<T>() * (4 + (log_form ? sum_abs / rows : 3.0));
      expect_close(name(log_form ? "log_softmax_backward" : "softmax_backward", rows, n), dx.data(),
                   ref, atol, rtol<T>());
    }
}

TEST(RowOps, SoftmaxBackward) {
  check_softmax_backward<float>(false);
  check_softmax_backward<double>(false);
}
TEST(RowOps, LogSoftmaxBackward) {
  check_softmax_backward<float>(true);
  check_softmax_backward<double>(true);
}

template <class T>
void check_cross_entropy() {
  for (int64_t rows : {1, 5})
    for (int64_t n : kLengths) {
      Buf<T> x = random_buf<T>(rows * n, static_cast<uint32_t>(n * 3 + rows), -5, 5);
      std::vector<int64_t> target(rows);
      for (int64_t i = 0; i < rows; ++i) target[i] = (i * 7 + (i == rows - 1 ? n - 1 : 0)) % n;
      Buf<T> loss(rows), lse(rows), dx(rows * n);
      const T scale = static_cast<T>(0.37);
      cross_entropy_forward<T>(rows, n, x.data(), target.data(), loss.data(), lse.data());
      cross_entropy_backward<T>(rows, n, x.data(), target.data(), lse.data(), scale, dx.data());
      std::vector<double> ref_loss(rows), ref_lse(rows), ref_dx(rows * n);
      const std::vector<double> p = ref_softmax(x, rows, n, false);
      for (int64_t i = 0; i < rows; ++i) {
        double m = -INFINITY, s = 0;
        for (int64_t j = 0; j < n; ++j) m = std::max<double>(m, x[i * n + j]);
        for (int64_t j = 0; j < n; ++j) s += std::exp(x[i * n + j] - m);
        ref_lse[i] = m + std::log(s);
        ref_loss[i] = ref_lse[i] - x[i * n + target[i]];
        for (int64_t j = 0; j < n; ++j)
          ref_dx[i * n + j] = double{scale} * (p[i * n + j] - (j == target[i] ? 1.0 : 0.0));
      }
      expect_close(name("cross_entropy loss", rows, n), loss.data(), ref_loss, rtol<T>() * 16,
                   rtol<T>());
      expect_close(name("cross_entropy lse", rows, n), lse.data(), ref_lse, rtol<T>() * 16,
                   rtol<T>());
      expect_close(name("cross_entropy dlogits", rows, n), dx.data(), ref_dx, rtol<T>() * 16,
                   rtol<T>());
    }
  // A single class: loss 0, gradient 0. Huge logits stay finite.
  const T big[2] = {T(1000), T(0)};
  const int64_t t1[1] = {1};
  T loss, lse;
  cross_entropy_forward<T>(1, 2, big, t1, &loss, &lse);
  EXPECT_NEAR(double{loss}, 1000.0, 1e-3);
  const T one[1] = {T(3)};
  const int64_t t0[1] = {0};
  T d;
  cross_entropy_forward<T>(1, 1, one, t0, &loss, &lse);
  cross_entropy_backward<T>(1, 1, one, t0, &lse, T(1), &d);
  EXPECT_EQ(double{loss}, 0.0);
  EXPECT_NEAR(double{d}, 0.0, 1e-7);
}

TEST(RowOps, CrossEntropy) {
  check_cross_entropy<float>();
  check_cross_entropy<double>();
}

template <class T>
void check_layernorm(bool affine, double offset) {
  for (int64_t rows : {1, 4, 37})
    for (int64_t n : kLengths) {
      Buf<T> x =
          random_buf<T>(rows * n, static_cast<uint32_t>(n * 5 + rows), offset - 2, offset + 2);
      Buf<T> gamma = random_buf<T>(n, 11, 0.5, 1.5), beta = random_buf<T>(n, 12);
      Buf<T> dy = random_buf<T>(rows * n, 13);
      Buf<T> y(rows * n), mean(rows), rstd(rows), dx(rows * n), dg(n), db(n);
      const T eps = static_cast<T>(1e-5);
      const T* g = affine ? gamma.data() : nullptr;
      layernorm_forward<T>(rows, n, x.data(), g, affine ? beta.data() : nullptr, eps, y.data(),
                           mean.data(), rstd.data());
      layernorm_backward<T>(rows, n, x.data(), g, mean.data(), rstd.data(), dy.data(), dx.data(),
                            dg.data(), db.data());
      std::vector<double> ry(rows * n), rdx(rows * n), rdg(n, 0), rdb(n, 0), rmean(rows),
          rrstd(rows);
      for (int64_t i = 0; i < rows; ++i) {
        double mu = 0, var = 0;
        for (int64_t j = 0; j < n; ++j) mu += x[i * n + j];
        mu /= n;
        for (int64_t j = 0; j < n; ++j) var += (x[i * n + j] - mu) * (x[i * n + j] - mu);
        const double rs = 1 / std::sqrt(var / n + double{eps});
        rmean[i] = mu;
        rrstd[i] = rs;
        double s1 = 0, s2 = 0;
        for (int64_t j = 0; j < n; ++j) {
          const double xh = (x[i * n + j] - mu) * rs;
          const double gj = affine ? double{gamma[j]} : 1.0, bj = affine ? double{beta[j]} : 0.0;
          ry[i * n + j] = xh * gj + bj;
          s1 += dy[i * n + j] * gj;
          s2 += dy[i * n + j] * gj * xh;
          rdg[j] += dy[i * n + j] * xh;
          rdb[j] += dy[i * n + j];
        }
        for (int64_t j = 0; j < n; ++j) {
          const double xh = (x[i * n + j] - mu) * rs, gj = affine ? double{gamma[j]} : 1.0;
          rdx[i * n + j] = rs * (dy[i * n + j] * gj - s1 / n - xh * s2 / n);
        }
      }
      // The mean is rounded at the magnitude of x (offset), which the normalised values carry
      // multiplied by rstd; a row of one element has var 0 and rstd = 1/sqrt(eps).
      const double mag = (1 + offset) * (n == 1 ? 316.0 : 4.0);
      const std::string what = name("layernorm", rows, n) + (affine ? " affine" : "") + " offset " +
                               std::to_string(offset);
      expect_close(what + " y", y.data(), ry, rtol<T>() * mag, rtol<T>());
      expect_close(what + " mean", mean.data(), rmean, rtol<T>() * 4, rtol<T>());
      expect_close(what + " rstd", rstd.data(), rrstd, rtol<T>(), rtol<T>() * mag);
      expect_close(what + " dx", dx.data(), rdx, rtol<T>() * mag * (n == 1 ? 316.0 : 8.0),
                   rtol<T>() * 8);
      expect_close(what + " dgamma", dg.data(), rdg, rtol<T>() * mag * rows, rtol<T>());
      expect_close(what + " dbeta", db.data(), rdb, rtol<T>() * 4 * rows, rtol<T>());
    }
}

TEST(RowOps, LayerNorm) {
  for (bool affine : {true, false}) {
    check_layernorm<float>(affine, 0);
    check_layernorm<double>(affine, 0);
  }
  // Two-pass variance: a mean of 1000 with unit spread loses nothing to cancellation.
  check_layernorm<float>(true, 1000);
  check_layernorm<double>(true, 1000);
}

template <class T>
void check_gelu() {
  for (int64_t n : kLengths) {
    Buf<T> x = random_buf<T>(n, static_cast<uint32_t>(n), -12, 12);
    if (n > 4) x[0] = T(0), x[1] = T(-60), x[2] = T(60), x[3] = T(1e-6);
    Buf<T> dy = random_buf<T>(n, static_cast<uint32_t>(n + 1));
    Buf<T> y(n), dx(n);
    gelu_forward<T>(n, x.data(), y.data());
    gelu_backward<T>(n, x.data(), dy.data(), dx.data());
    std::vector<double> ry(n), rdx(n);
    for (int64_t j = 0; j < n; ++j) {
      ry[j] = gelu_ref(x[j]);
      rdx[j] = dy[j] * gelu_grad_ref(x[j]);
    }
    // Absolute floor: the tails are computed to |x| * exp(-2u) ~ tiny, the tanh form cancels.
    expect_close(name("gelu", 1, n), y.data(), ry, rtol<T>(), rtol<T>());
    expect_close(name("gelu_backward", 1, n), dx.data(), rdx, rtol<T>() * 4, rtol<T>() * 4);
  }
}

TEST(RowOps, Gelu) {
  check_gelu<float>();
  check_gelu<double>();
}

TEST(RowOps, ExpRangeAndSpecialValues) {
  std::vector<float> x;
  for (double v = -110; v <= 95; v += 0.01234) x.push_back(static_cast<float>(v));
  for (float v : {0.0f, -0.0f, 1e-30f, -1e-30f, 88.72f, 88.73f, -87.33f, -103.9f, -104.5f})
    x.push_back(v);
  x.push_back(std::numeric_limits<float>::infinity());
  x.push_back(-std::numeric_limits<float>::infinity());
  x.push_back(std::numeric_limits<float>::quiet_NaN());
  const int64_t n = static_cast<int64_t>(x.size());
  Buf<float> xb(n), y(n);
  std::memcpy(xb.data(), x.data(), sizeof(float) * x.size());
  exp_f32(n, xb.data(), y.data());
  int bad = 0;
  for (int64_t i = 0; i < n && bad < 10; ++i) {
    const double r = std::exp(double{x[i]});
    const double g = y[i];
    bool ok;
    if (std::isnan(r)) {
      ok = std::isnan(g);
    } else if (r > std::numeric_limits<float>::max()) {
      ok = std::isinf(g) && g > 0;
    } else if (r < std::numeric_limits<float>::min()) {
      // Subnormal results: within a few subnormal steps (or flushed below exp(-104)).
      ok = std::fabs(g - r) <=
           4 * std::numeric_limits<float>::denorm_min() + (x[i] < -103.5 ? r : 0);
    } else {
      ok = std::fabs(g - r) <= 3 * 1.1920929e-7 * r;  // 3 ulp
    }
    if (!ok) {
      ++bad;
      ADD_FAILURE() << "exp_f32 isa=" << isa_name(isa()) << ": exp(" << x[i] << ") = " << g
                    << ", expected " << r;
    }
  }
  EXPECT_EQ(y[n - 2], 0.0f);  // exp(-inf)
}

// Rows go to threads whole and the layer-norm parameter sums are chunked by row count only, so
// the thread count cannot change a bit of any result.
TEST(RowOps, SameBitsForAnyThreadCount) {
  const int64_t rows = 300, n = 257;
  Buf<float> x = random_buf<float>(rows * n, 1), dy = random_buf<float>(rows * n, 2);
  std::vector<int64_t> target(rows);
  for (int64_t i = 0; i < rows; ++i) target[i] = i % n;
  auto run = [&](int threads) {
    set_num_threads(threads);
    std::vector<float> out;
    Buf<float> y(rows * n), dx(rows * n), mean(rows), rstd(rows), dg(n), db(n), loss(rows),
        lse(rows);
    softmax_forward<float>(rows, n, x.data(), y.data());
    out.insert(out.end(), y.data(), y.data() + rows * n);
    layernorm_forward<float>(rows, n, x.data(), nullptr, nullptr, 1e-5f, y.data(), mean.data(),
                             rstd.data());
    layernorm_backward<float>(rows, n, x.data(), nullptr, mean.data(), rstd.data(), dy.data(),
                              dx.data(), dg.data(), db.data());
    out.insert(out.end(), dx.data(), dx.data() + rows * n);
    out.insert(out.end(), dg.data(), dg.data() + n);
    out.insert(out.end(), db.data(), db.data() + n);
    cross_entropy_forward<float>(rows, n, x.data(), target.data(), loss.data(), lse.data());
    out.insert(out.end(), loss.data(), loss.data() + rows);
    set_num_threads(0);
    return out;
  };
  const std::vector<float> one = run(1), two = run(2), three = run(3);
  EXPECT_EQ(0, std::memcmp(one.data(), two.data(), one.size() * sizeof(float)));
  EXPECT_EQ(0, std::memcmp(one.data(), three.data(), one.size() * sizeof(float)));
}

}  // namespace
