#include "calibrate/plateau.h"
#include "calibrate/util.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "src/error.h"

namespace bstack::calibrate {
namespace {

// Sum of squared deviations from the mean of v[i, j), from prefix sums s1 (of v) and s2 (of v^2).
double sse(const std::vector<double>& s1, const std::vector<double>& s2, size_t i, size_t j) {
  const double n = static_cast<double>(j - i), a = s1[j] - s1[i], b = s2[j] - s2[i];
  return std::max(0.0, b - a * a / n);
}

// The robust level of points [first, last]: drop those farther than max(3 sigma, floor) from the
// median in log y, then the mean and relative RMS error of the rest. sigma is the noise of the
// whole curve (noise_sigma), so a ramp - whose points spread far more than that - keeps too few
// points to count as a plateau.
// With keep_min, at least min_points points stay (the nearest to the median).
Plateau robust_level(const std::vector<double>& x, const std::vector<double>& y,
                     const std::vector<double>& ly, size_t first, size_t last,
                     double sigma, const PlateauOptions& o, bool keep_min = false) {
  const std::vector<double> seg(ly.begin() + static_cast<std::ptrdiff_t>(first),
                                ly.begin() + static_cast<std::ptrdiff_t>(last) + 1);
  const double m = median(seg);
  std::vector<double> dev(seg.size());
  for (size_t i = 0; i < seg.size(); ++i) dev[i] = std::fabs(seg[i] - m);
  double thr = std::max(3 * sigma, std::log1p(o.trim_floor));
  if (keep_min && dev.size() >= static_cast<size_t>(o.min_points)) {
    std::vector<double> sorted = dev;
    std::sort(sorted.begin(), sorted.end());
    thr = std::max(thr, sorted[static_cast<size_t>(o.min_points) - 1]);
  }
  Plateau p;
  p.first = first;
  p.last = last;
  double sum = 0;
  bool any = false;
  for (size_t i = first; i <= last; ++i) {
    if (std::fabs(ly[i] - m) > thr) continue;
    if (!any) p.x_begin = x[i];
    any = true;
    p.x_end = x[i];
    sum += y[i];
    ++p.points;
  }
  if (p.points == 0) return p;
  p.level = sum / p.points;
  double e2 = 0;
  for (size_t i = first; i <= last; ++i) {
    if (std::fabs(ly[i] - m) > thr) continue;
    const double r = y[i] / p.level - 1;
    e2 += r * r;
  }
  p.rel_rmse = std::sqrt(e2 / p.points);
  return p;
}

// The noise of log y from successive differences, robust to the few steps: 1.4826 * median
// |d| / sqrt(2) (the median absolute deviation's estimate of a normal sigma, Hampel 1974; a
// difference of two independent points has sqrt(2) times their sigma).
double noise_sigma(const std::vector<double>& ly) {
  if (ly.size() < 3) return 0;
  std::vector<double> d(ly.size() - 1);
  for (size_t i = 0; i + 1 < ly.size(); ++i) d[i] = std::fabs(ly[i + 1] - ly[i]);
  return 1.4826 * median(d) / std::sqrt(2.0);
}

}  // namespace

std::vector<size_t> optimal_partition(const std::vector<double>& v, int k, int min_len) {
  const size_t n = v.size();
  BSTACK_CHECK(k >= 1 && min_len >= 1 && static_cast<size_t>(k) * static_cast<size_t>(min_len) <= n,
               "optimal_partition: {} segments of >= {} points do not fit in {} points", k,
               min_len, n);
  std::vector<double> s1(n + 1, 0.0), s2(n + 1, 0.0);
  for (size_t i = 0; i < n; ++i) {
    s1[i + 1] = s1[i] + v[i];
    s2[i + 1] = s2[i] + v[i] * v[i];
  }
  // cost[s][j]: least SSE of v[0, j) cut into s segments; from[s][j]: where the last one starts.
  // Bellman's recursion: cost[s][j] = min_i cost[s-1][i] + sse(i, j).
  const double inf = std::numeric_limits<double>::infinity();
  const size_t K = static_cast<size_t>(k), L = static_cast<size_t>(min_len);
  std::vector<std::vector<double>> cost(K + 1, std::vector<double>(n + 1, inf));
  std::vector<std::vector<size_t>> from(K + 1, std::vector<size_t>(n + 1, 0));
  cost[0][0] = 0;
  for (size_t s = 1; s <= K; ++s) {
    for (size_t j = s * L; j <= n; ++j) {
      for (size_t i = (s - 1) * L; i + L <= j; ++i) {
        if (cost[s - 1][i] == inf) continue;
        const double c = cost[s - 1][i] + sse(s1, s2, i, j);
        if (c < cost[s][j]) {
          cost[s][j] = c;
          from[s][j] = i;
        }
      }
    }
  }
  std::vector<size_t> starts(K);
  size_t j = n;
  for (size_t s = K; s >= 1; --s) {
    starts[s - 1] = from[s][j];
    j = from[s][j];
  }
  return starts;
}

std::vector<Plateau> fit_plateaus(const std::vector<double>& x, const std::vector<double>& y,
                                  const PlateauOptions& o) {
  BSTACK_CHECK(x.size() == y.size(), "fit_plateaus: {} x values but {} y values", x.size(),
               y.size());
  BSTACK_CHECK(o.max_segments >= 1 && o.min_points >= 1,
               "fit_plateaus: max_segments {} and min_points {} must be >= 1", o.max_segments,
               o.min_points);
  const size_t n = x.size();
  std::vector<double> ly(n);
  for (size_t i = 0; i < n; ++i) {
    BSTACK_CHECK(std::isfinite(y[i]) && y[i] > 0, "fit_plateaus: y[{}] = {} is not > 0", i, y[i]);
    BSTACK_CHECK(i == 0 || x[i] > x[i - 1], "fit_plateaus: x not increasing at [{}] ({} after {})",
                 i, x[i], i ? x[i - 1] : 0.0);
    ly[i] = std::log(y[i]);
  }
  if (n < static_cast<size_t>(o.min_points)) return {};

  // Segments of >= min_points points: a shorter one would fit a ramp or an outlier for free.
  const int min_len = o.min_points;
  const int kmax = std::min<int>(o.max_segments, static_cast<int>(n) / min_len);
  // BIC (Schwarz 1978) for Gaussian residuals: n ln(SSE/n) + (2k - 1) ln n. SSE/n is floored at
  // (1e-4)^2 so noise-free data (a perfect fit) does not send ln to -inf.
  const double dn = static_cast<double>(n);
  double best_bic = std::numeric_limits<double>::infinity();
  std::vector<size_t> best;
  for (int k = 1; k <= kmax; ++k) {
    std::vector<size_t> starts = optimal_partition(ly, k, min_len);
    double e = 0;
    for (size_t s = 0; s < starts.size(); ++s) {
      const size_t b = starts[s], end = s + 1 < starts.size() ? starts[s + 1] : n;
      double mean = 0;
      for (size_t i = b; i < end; ++i) mean += ly[i];
      mean /= static_cast<double>(end - b);
      for (size_t i = b; i < end; ++i) e += (ly[i] - mean) * (ly[i] - mean);
    }
    const double bic = dn * std::log(std::max(e / dn, 1e-8)) + (2.0 * k - 1) * std::log(dn);
    if (bic < best_bic) {
      best_bic = bic;
      best = std::move(starts);
    }
  }

  const double sigma = noise_sigma(ly);
  std::vector<Plateau> out;
  for (size_t s = 0; s < best.size(); ++s) {
    const size_t b = best[s], last = (s + 1 < best.size() ? best[s + 1] : n) - 1;
    // The level the curve ends at (DRAM, for a sweep) is always reported.
    Plateau p = robust_level(x, y, ly, b, last, sigma, o, s + 1 == best.size());
    if (p.points >= o.min_points) out.push_back(p);
  }
  // Neighbouring plateaus (with any ramp between them) closer than min_rel_step are one level.
  for (bool merged = true; merged && out.size() > 1;) {
    merged = false;
    for (size_t i = 0; i + 1 < out.size(); ++i) {
      if (std::fabs(std::log(out[i + 1].level / out[i].level)) < std::log1p(o.min_rel_step)) {
        out[i] = robust_level(x, y, ly, out[i].first, out[i + 1].last, sigma, o,
                              i + 2 == out.size());
        out.erase(out.begin() + static_cast<std::ptrdiff_t>(i) + 1);
        merged = true;
        break;
      }
    }
  }
  return out;
}

}  // namespace bstack::calibrate
