// Least squares for calibrate's fits: a general weighted linear fit (Eigen, column-pivoted
// Householder QR on the weighted, column-scaled design matrix) and the two alpha-beta fits of
// wall 14 (walls/communication.h) built on it.
//
// Weights: the message sizes span 4 B ... 64 MiB, so times span five orders of magnitude and an
// unweighted fit would only see the largest messages. The alpha-beta fits minimise the relative
// error sum(((T_i - model_i) / T_i)^2), i.e. weights w_i = 1/T_i^2 on squared residuals (each
// row scaled by 1/T_i).
//
// R^2 (LinearFit::r2, AlphaBetaFit::r2) is on the WEIGHTED residuals, as for weighted least
// squares in statsmodels (WLS.rsquared): 1 - sum w (y - yhat)^2 / sum w (y - ybar_w)^2, ybar_w
// the weighted mean. For the alpha-beta fits that is 1 - (sum of squared relative errors) /
// (weighted spread), so a fit off by 10% everywhere scores about 0.99. r2_raw is the same on the
// raw residuals (1 - sum (y - yhat)^2 / sum (y - ybar)^2), dominated by the largest sizes.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

namespace bstack::calibrate {

struct LinearFit {
  std::vector<double> coef;       // one per column of the design matrix
  double r2 = 0;                  // weighted R^2 (see above)
  double r2_raw = 0;              // unweighted R^2
  std::vector<double> residuals;  // raw residuals y_i - (X coef)_i, in y's units
};

// Minimises sum_i w_i (y_i - x_i . coef)^2. `x` is row-major, rows = y.size(), `cols` columns;
// `w` empty means all ones. Throws bstack::Error naming `what` when the problem is degenerate:
// sizes that don't match, fewer rows than columns, a non-finite value, a negative weight, or a
// design matrix of lower rank than `cols` (e.g. every row the same).
LinearFit weighted_least_squares(std::span<const double> x, size_t cols, std::span<const double> y,
                                 std::span<const double> w, const char* what = "least squares");

// An alpha-beta fit (walls/communication.h) of measured times.
struct AlphaBetaFit {
  double alpha_s = 0;
  double beta_bytes_per_s = 0;
  double r2 = 0;                  // weighted R^2 (relative errors), see above
  double r2_raw = 0;              // unweighted R^2
  std::vector<double> residuals;  // T_i - model_i, seconds, in input order
  bool alpha_clamped = false;     // the free fit gave alpha < 0; alpha fixed at 0, beta refitted
};

// Hockney, T = alpha + M / beta (Hockney 1994), relative-error weights.
// Needs >= 2 distinct sizes >= 0, times > 0 and finite, and time growing with size (beta > 0).
AlphaBetaFit fit_hockney(std::span<const double> sizes, std::span<const double> times);

// Ring all-reduce, T = 2(N-1) alpha + 2(N-1)/N * M / beta (Patarasuk & Yuan 2009), for N = ranks
// >= 2, relative-error weights. Same conditions on the data as fit_hockney.
AlphaBetaFit fit_ring_allreduce(int ranks, std::span<const double> sizes,
                                std::span<const double> times);

}  // namespace bstack::calibrate
