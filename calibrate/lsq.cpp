// Weighted linear least squares and the alpha-beta fits (see lsq.h).
//
// Method: scale each row by sqrt(w_i), scale each column to unit 2-norm (the columns of an
// alpha-beta design differ by ~1e7: a constant and the message size), solve with Eigen's
// column-pivoted Householder QR (rank-revealing, so a degenerate design is reported instead of
// solved into nonsense), then undo the column scaling (Golub & Van Loan, Matrix Computations,
// 4th ed., sec. 5.3 and 5.5).
#include "calibrate/lsq.h"

#include <Eigen/Dense>

#include <cmath>
#include <set>

#include "src/error.h"

namespace bstack::calibrate {
namespace {

// Weighted and raw R^2 of predictions `yhat` for data `y` (weights `w`, all ones when empty).
void r_squared(std::span<const double> y, const std::vector<double>& yhat,
               std::span<const double> w, double& r2_weighted, double& r2_raw) {
  const size_t n = y.size();
  auto weight = [&](size_t i) { return w.empty() ? 1.0 : w[i]; };
  double sw = 0, swy = 0, sy = 0;
  for (size_t i = 0; i < n; ++i) {
    sw += weight(i);
    swy += weight(i) * y[i];
    sy += y[i];
  }
  const double ybar_w = swy / sw, ybar = sy / static_cast<double>(n);
  double rss_w = 0, tss_w = 0, rss = 0, tss = 0;
  for (size_t i = 0; i < n; ++i) {
    const double r = y[i] - yhat[i];
    rss_w += weight(i) * r * r;
    tss_w += weight(i) * (y[i] - ybar_w) * (y[i] - ybar_w);
    rss += r * r;
    tss += (y[i] - ybar) * (y[i] - ybar);
  }
  // All y equal: a perfect fit explains everything there is (R^2 = 1), any misfit nothing.
  r2_weighted = tss_w > 0 ? 1.0 - rss_w / tss_w : (rss_w == 0 ? 1.0 : 0.0);
  r2_raw = tss > 0 ? 1.0 - rss / tss : (rss == 0 ? 1.0 : 0.0);
}

}  // namespace

LinearFit weighted_least_squares(std::span<const double> x, size_t cols, std::span<const double> y,
                                 std::span<const double> w, const char* what) {
  const size_t rows = y.size();
  BSTACK_CHECK(cols >= 1, "{}: the design matrix has no columns", what);
  BSTACK_CHECK(x.size() == rows * cols,
               "{}: the design matrix has {} values, expected rows x cols = {} x {}", what,
               x.size(), rows, cols);
  BSTACK_CHECK(w.empty() || w.size() == rows, "{}: {} weights for {} data points", what, w.size(),
               rows);
  BSTACK_CHECK(rows >= cols, "{}: {} data points cannot determine {} coefficients", what, rows,
               cols);
  for (size_t i = 0; i < rows; ++i) {
    BSTACK_CHECK(std::isfinite(y[i]), "{}: data point {} is not finite ({})", what, i, y[i]);
    if (!w.empty())
      BSTACK_CHECK(std::isfinite(w[i]) && w[i] >= 0, "{}: weight {} is {} (must be finite, >= 0)",
                   what, i, w[i]);
    for (size_t j = 0; j < cols; ++j)
      BSTACK_CHECK(std::isfinite(x[i * cols + j]), "{}: design value ({}, {}) is not finite", what,
                   i, j);
  }

  Eigen::MatrixXd a(rows, cols);
  Eigen::VectorXd b(rows);
  for (size_t i = 0; i < rows; ++i) {
    const double s = w.empty() ? 1.0 : std::sqrt(w[i]);
    for (size_t j = 0; j < cols; ++j) a(i, j) = s * x[i * cols + j];
    b(i) = s * y[i];
  }
  Eigen::VectorXd scale = a.colwise().norm().transpose();
  for (size_t j = 0; j < cols; ++j) {
    BSTACK_CHECK(scale(j) > 0, "{}: column {} of the (weighted) design matrix is all zeros", what,
                 j);
    a.col(j) /= scale(j);
  }
  Eigen::ColPivHouseholderQR<Eigen::MatrixXd> qr(a);
  qr.setThreshold(1e-10);
  BSTACK_CHECK(static_cast<size_t>(qr.rank()) == cols,
               "{}: degenerate data: the design matrix has rank {} < {} (too few distinct points, "
               "e.g. every message the same size)",
               what, qr.rank(), cols);
  const Eigen::VectorXd c = qr.solve(b).cwiseQuotient(scale);

  LinearFit fit;
  fit.coef.assign(c.data(), c.data() + cols);
  std::vector<double> yhat(rows);
  fit.residuals.resize(rows);
  for (size_t i = 0; i < rows; ++i) {
    double v = 0;
    for (size_t j = 0; j < cols; ++j) v += x[i * cols + j] * c(j);
    yhat[i] = v;
    fit.residuals[i] = y[i] - v;
  }
  r_squared(y, yhat, w, fit.r2, fit.r2_raw);
  return fit;
}

namespace {

// T = ca * alpha + cb * M * (1 / beta), weights 1/T^2 (relative error).
AlphaBetaFit fit_alpha_beta(const char* what, double ca, double cb, std::span<const double> sizes,
                            std::span<const double> times) {
  BSTACK_CHECK(sizes.size() == times.size(), "{}: {} sizes but {} times", what, sizes.size(),
               times.size());
  std::set<double> distinct;
  for (size_t i = 0; i < sizes.size(); ++i) {
    BSTACK_CHECK(std::isfinite(sizes[i]) && sizes[i] >= 0,
                 "{}: size {} is {} bytes (must be finite, >= 0)", what, i, sizes[i]);
    BSTACK_CHECK(std::isfinite(times[i]) && times[i] > 0,
                 "{}: time {} is {} s (must be finite, > 0)", what, i, times[i]);
    distinct.insert(sizes[i]);
  }
  BSTACK_CHECK(distinct.size() >= 2,
               "{}: needs at least 2 distinct message sizes to separate alpha from beta, got {}",
               what, distinct.size());

  const size_t n = sizes.size();
  std::vector<double> x(2 * n), w(n);
  for (size_t i = 0; i < n; ++i) {
    x[2 * i] = ca;
    x[2 * i + 1] = cb * sizes[i];
    w[i] = 1.0 / (times[i] * times[i]);
  }
  AlphaBetaFit out;
  LinearFit f = weighted_least_squares(x, 2, times, w, what);
  double alpha = f.coef[0], inv_beta = f.coef[1];
  if (alpha < 0 && inv_beta > 0) {
    // Non-negative least squares with two unknowns: the constrained optimum lies on alpha = 0
    // (Lawson & Hanson 1974, NNLS active set), so refit the bandwidth term alone.
    std::vector<double> x1(n);
    for (size_t i = 0; i < n; ++i) x1[i] = cb * sizes[i];
    f = weighted_least_squares(x1, 1, times, w, what);
    alpha = 0;
    inv_beta = f.coef[0];
    out.alpha_clamped = true;
  }
  BSTACK_CHECK(inv_beta > 0,
               "{}: time does not grow with message size (fitted 1/beta = {:.3g} s/B), so there "
               "is no bandwidth to fit; check the sizes span small to large messages",
               what, inv_beta);
  out.alpha_s = alpha;
  out.beta_bytes_per_s = 1.0 / inv_beta;
  out.r2 = f.r2;
  out.r2_raw = f.r2_raw;
  out.residuals = std::move(f.residuals);
  return out;
}

}  // namespace

AlphaBetaFit fit_hockney(std::span<const double> sizes, std::span<const double> times) {
  return fit_alpha_beta("fit_hockney", 1.0, 1.0, sizes, times);
}

AlphaBetaFit fit_ring_allreduce(int ranks, std::span<const double> sizes,
                                std::span<const double> times) {
  BSTACK_CHECK(ranks >= 2,
               "fit_ring_allreduce: ranks = {}; an all-reduce over fewer than 2 ranks moves no "
               "data, so it has no alpha or beta",
               ranks);
  const double steps = 2.0 * (ranks - 1);
  return fit_alpha_beta("fit_ring_allreduce", steps, steps / ranks, sizes, times);
}

}  // namespace bstack::calibrate
