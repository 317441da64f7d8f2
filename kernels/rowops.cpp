// Row kernels (kernels/rowops.h): the portable reference rows (double accumulation, std::exp),
// the choice of the float path from kernels::isa(), and the split of rows across threads.
#include "kernels/rowops.h"

#include "kernels/cpu.h"
#include "kernels/parallel.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

namespace bstack::kernels {

namespace {

// ---- portable rows (the scalar path, and every double) ---------------------------------------

template <class T>
double row_max_ref(const T* x, int64_t n) {
  double m = -std::numeric_limits<double>::infinity();
  for (int64_t j = 0; j < n; ++j) m = std::max<double>(m, x[j]);
  return m;
}

template <class T>
void softmax_rows_ref(int64_t rows, int64_t n, const T* x, T* y, bool log_form) {
  for (int64_t i = 0; i < rows; ++i) {
    const T* xr = x + i * n;
    T* yr = y + i * n;
    const double m = row_max_ref(xr, n);
    double s = 0;
    for (int64_t j = 0; j < n; ++j) s += std::exp(xr[j] - m);
    if (log_form) {
      const double lse = m + std::log(s);
      for (int64_t j = 0; j < n; ++j) yr[j] = static_cast<T>(xr[j] - lse);
    } else {
      for (int64_t j = 0; j < n; ++j) yr[j] = static_cast<T>(std::exp(xr[j] - m) / s);
    }
  }
}

template <class T>
void softmax_backward_rows_ref(int64_t rows, int64_t n, const T* y, const T* dy, T* dx,
                               bool log_form) {
  for (int64_t i = 0; i < rows; ++i) {
    const T* yr = y + i * n;
    const T* gr = dy + i * n;
    T* dr = dx + i * n;
    double s = 0;
    if (log_form) {
      for (int64_t j = 0; j < n; ++j) s += gr[j];
      for (int64_t j = 0; j < n; ++j) dr[j] = static_cast<T>(gr[j] - std::exp(double{yr[j]}) * s);
    } else {
      for (int64_t j = 0; j < n; ++j) s += double{gr[j]} * yr[j];
      for (int64_t j = 0; j < n; ++j) dr[j] = static_cast<T>(yr[j] * (gr[j] - s));
    }
  }
}

template <class T>
void cross_entropy_forward_rows_ref(int64_t rows, int64_t n, const T* x, const int64_t* target,
                                    T* loss, T* lse) {
  for (int64_t i = 0; i < rows; ++i) {
    const T* xr = x + i * n;
    const double m = row_max_ref(xr, n);
    double s = 0;
    for (int64_t j = 0; j < n; ++j) s += std::exp(xr[j] - m);
    const double l = m + std::log(s);
    lse[i] = static_cast<T>(l);
    loss[i] = static_cast<T>(l - xr[target[i]]);
  }
}

template <class T>
void cross_entropy_backward_rows_ref(int64_t rows, int64_t n, const T* x, const int64_t* target,
                                     const T* lse, T scale, T* dx) {
  for (int64_t i = 0; i < rows; ++i) {
    const T* xr = x + i * n;
    T* dr = dx + i * n;
    for (int64_t j = 0; j < n; ++j)
      dr[j] = static_cast<T>(scale * std::exp(double{xr[j]} - lse[i]));
    dr[target[i]] -= scale;
  }
}

template <class T>
void layernorm_forward_rows_ref(int64_t rows, int64_t n, const T* x, const T* gamma, const T* beta,
                                T eps, T* y, T* mean, T* rstd) {
  for (int64_t i = 0; i < rows; ++i) {
    const T* xr = x + i * n;
    T* yr = y + i * n;
    double mu = 0, var = 0;
    for (int64_t j = 0; j < n; ++j) mu += xr[j];
    mu /= static_cast<double>(n);
    for (int64_t j = 0; j < n; ++j) var += (xr[j] - mu) * (xr[j] - mu);
    const double rs = 1.0 / std::sqrt(var / static_cast<double>(n) + eps);
    mean[i] = static_cast<T>(mu);
    rstd[i] = static_cast<T>(rs);
    for (int64_t j = 0; j < n; ++j) yr[j] = static_cast<T>((xr[j] - mu) * rs * gamma[j] + beta[j]);
  }
}

template <class T>
void layernorm_backward_rows_ref(int64_t rows, int64_t n, const T* x, const T* gamma, const T* mean,
                                 const T* rstd, const T* dy, T* dx, T* dgamma_acc, T* dbeta_acc) {
  for (int64_t i = 0; i < rows; ++i) {
    const T* xr = x + i * n;
    const T* gr = dy + i * n;
    T* dr = dx + i * n;
    const double mu = mean[i], rs = rstd[i];
    double s1 = 0, s2 = 0;
    for (int64_t j = 0; j < n; ++j) {
      const double xh = (xr[j] - mu) * rs, g = double{gr[j]} * gamma[j];
      s1 += g;
      s2 += g * xh;
      dgamma_acc[j] += static_cast<T>(gr[j] * xh);
      dbeta_acc[j] += gr[j];
    }
    s1 /= static_cast<double>(n);
    s2 /= static_cast<double>(n);
    for (int64_t j = 0; j < n; ++j) {
      const double xh = (xr[j] - mu) * rs, g = double{gr[j]} * gamma[j];
      dr[j] = static_cast<T>(rs * (g - s1 - xh * s2));
    }
  }
}

constexpr double kGeluC = 0.7978845608028654;  // sqrt(2 / pi)
constexpr double kGeluA = 0.044715;

// sigmoid(2u) for GELU; exp overflows to inf for large negative x and s goes to 0.
double gelu_s(double x) {
  return 1.0 / (1.0 + std::exp(-2.0 * kGeluC * x * (1.0 + kGeluA * x * x)));
}

template <class T>
void gelu_forward_run_ref(int64_t n, const T* x, T* y) {
  for (int64_t j = 0; j < n; ++j) y[j] = static_cast<T>(x[j] * gelu_s(x[j]));
}

template <class T>
void gelu_backward_run_ref(int64_t n, const T* x, const T* dy, T* dx) {
  for (int64_t j = 0; j < n; ++j) {
    const double v = x[j], s = gelu_s(v);
    const double du2 = 2.0 * kGeluC * (1.0 + 3.0 * kGeluA * v * v);
    dx[j] = static_cast<T>(dy[j] * (s + v * s * (1.0 - s) * du2));
  }
}

void exp_run_ref(int64_t n, const float* x, float* y) {
  for (int64_t j = 0; j < n; ++j) y[j] = std::exp(x[j]);
}

// ---- the path: one table of row functions per dtype ------------------------------------------

template <class T>
struct RowKernels {
  void (*softmax)(int64_t, int64_t, const T*, T*, bool);
  void (*softmax_backward)(int64_t, int64_t, const T*, const T*, T*, bool);
  void (*ce_forward)(int64_t, int64_t, const T*, const int64_t*, T*, T*);
  void (*ce_backward)(int64_t, int64_t, const T*, const int64_t*, const T*, T, T*);
  void (*ln_forward)(int64_t, int64_t, const T*, const T*, const T*, T, T*, T*, T*);
  void (*ln_backward)(int64_t, int64_t, const T*, const T*, const T*, const T*, const T*, T*, T*,
                      T*);
  void (*gelu_forward)(int64_t, const T*, T*);
  void (*gelu_backward)(int64_t, const T*, const T*, T*);
};

template <class T>
constexpr RowKernels<T> kRefKernels = {softmax_rows_ref<T>,
                                       softmax_backward_rows_ref<T>,
                                       cross_entropy_forward_rows_ref<T>,
                                       cross_entropy_backward_rows_ref<T>,
                                       layernorm_forward_rows_ref<T>,
                                       layernorm_backward_rows_ref<T>,
                                       gelu_forward_run_ref<T>,
                                       gelu_backward_run_ref<T>};

#define BSTACK_ROW_TABLE(NS)                                                                      \
  RowKernels<float> {                                                                             \
    NS::softmax_rows, NS::softmax_backward_rows, NS::cross_entropy_forward_rows,                  \
        NS::cross_entropy_backward_rows, NS::layernorm_forward_rows, NS::layernorm_backward_rows, \
        NS::gelu_forward_run, NS::gelu_backward_run                                               \
  }

template <class T>
const RowKernels<T>& row_kernels() {
  if constexpr (std::is_same_v<T, float>) {
    static const RowKernels<float> k = [] {
      switch (isa()) {
        case Isa::avx512: return BSTACK_ROW_TABLE(avx512);
        case Isa::avx2: return BSTACK_ROW_TABLE(avx2);
        case Isa::scalar: break;
      }
      return kRefKernels<float>;
    }();
    return k;
  } else {
    return kRefKernels<T>;
  }
}
#undef BSTACK_ROW_TABLE

// Element-operations per row element, for parallel_for's serial threshold (exp-bound rows).
constexpr int64_t kRowCost = 4;

// Calls fn(r0, r1) over row ranges, on threads when the rows are big enough.
template <class F>
void over_rows(int64_t rows, int64_t n, F&& fn) {
  parallel_for(rows, kRowCost * std::max<int64_t>(n, 1), fn);
}

}  // namespace

// ---- public entry points -----------------------------------------------------------------------

template <class T>
void softmax_forward(int64_t rows, int64_t n, const T* x, T* y) {
  const auto& k = row_kernels<T>();
  over_rows(rows, n,
            [&](int64_t r0, int64_t r1) { k.softmax(r1 - r0, n, x + r0 * n, y + r0 * n, false); });
}

template <class T>
void log_softmax_forward(int64_t rows, int64_t n, const T* x, T* y) {
  const auto& k = row_kernels<T>();
  over_rows(rows, n,
            [&](int64_t r0, int64_t r1) { k.softmax(r1 - r0, n, x + r0 * n, y + r0 * n, true); });
}

template <class T>
void softmax_backward(int64_t rows, int64_t n, const T* y, const T* dy, T* dx) {
  const auto& k = row_kernels<T>();
  over_rows(rows, n, [&](int64_t r0, int64_t r1) {
    k.softmax_backward(r1 - r0, n, y + r0 * n, dy + r0 * n, dx + r0 * n, false);
  });
}

template <class T>
void log_softmax_backward(int64_t rows, int64_t n, const T* y, const T* dy, T* dx) {
  const auto& k = row_kernels<T>();
  over_rows(rows, n, [&](int64_t r0, int64_t r1) {
    k.softmax_backward(r1 - r0, n, y + r0 * n, dy + r0 * n, dx + r0 * n, true);
  });
}

template <class T>
void cross_entropy_forward(int64_t rows, int64_t n, const T* logits, const int64_t* target, T* loss,
                           T* lse) {
  const auto& k = row_kernels<T>();
  over_rows(rows, n, [&](int64_t r0, int64_t r1) {
    k.ce_forward(r1 - r0, n, logits + r0 * n, target + r0, loss + r0, lse + r0);
  });
}

template <class T>
void cross_entropy_backward(int64_t rows, int64_t n, const T* logits, const int64_t* target,
                            const T* lse, T scale, T* dlogits) {
  const auto& k = row_kernels<T>();
  over_rows(rows, n, [&](int64_t r0, int64_t r1) {
    k.ce_backward(r1 - r0, n, logits + r0 * n, target + r0, lse + r0, scale, dlogits + r0 * n);
  });
}

template <class T>
void layernorm_forward(int64_t rows, int64_t n, const T* x, const T* gamma, const T* beta, T eps,
                       T* y, T* mean, T* rstd) {
  if (rows <= 0 || n <= 0) return;
  // The row functions always read gamma and beta: ones and zeros stand in for missing ones.
  std::vector<T> ones, zeros;
  if (!gamma) ones.assign(n, T(1)), gamma = ones.data();
  if (!beta) zeros.assign(n, T(0)), beta = zeros.data();
  const auto& k = row_kernels<T>();
  over_rows(rows, n, [&](int64_t r0, int64_t r1) {
    k.ln_forward(r1 - r0, n, x + r0 * n, gamma, beta, eps, y + r0 * n, mean + r0, rstd + r0);
  });
}

template <class T>
void layernorm_backward(int64_t rows, int64_t n, const T* x, const T* gamma, const T* mean,
                        const T* rstd, const T* dy, T* dx, T* dgamma, T* dbeta) {
  if (n <= 0) return;
  std::vector<T> ones;
  if (!gamma) ones.assign(n, T(1)), gamma = ones.data();
  // dgamma and dbeta sum over rows: each of a fixed number of row chunks sums into its own
  // buffer (threads never share one), then the chunks add up in order. The chunk count depends
  // on rows only, so the result is the same for any thread count.
  constexpr int64_t kChunks = 16;
  const int64_t chunks = std::clamp<int64_t>(rows, 1, kChunks);
  std::vector<T> part(static_cast<size_t>(chunks * 2 * n), T(0));
  const auto& k = row_kernels<T>();
  const int64_t cost = rows * n * kRowCost / chunks;
  parallel_for(chunks, cost, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t r0 = rows * c / chunks, r1 = rows * (c + 1) / chunks;
      T* pg = part.data() + c * 2 * n;
      k.ln_backward(r1 - r0, n, x + r0 * n, gamma, mean + r0, rstd + r0, dy + r0 * n, dx + r0 * n,
                    pg, pg + n);
    }
  });
  for (int64_t j = 0; j < n; ++j) {
    T sg = 0, sb = 0;
    for (int64_t c = 0; c < chunks; ++c) {
      sg += part[c * 2 * n + j];
      sb += part[c * 2 * n + n + j];
    }
    if (dgamma) dgamma[j] = sg;
    if (dbeta) dbeta[j] = sb;
  }
}

template <class T>
void gelu_forward(int64_t n, const T* x, T* y) {
  const auto& k = row_kernels<T>();
  parallel_for(n, kRowCost, [&](int64_t b, int64_t e) { k.gelu_forward(e - b, x + b, y + b); });
}

template <class T>
void gelu_backward(int64_t n, const T* x, const T* dy, T* dx) {
  const auto& k = row_kernels<T>();
  parallel_for(n, kRowCost,
               [&](int64_t b, int64_t e) { k.gelu_backward(e - b, x + b, dy + b, dx + b); });
}

void exp_f32(int64_t n, const float* x, float* y) {
  static void (*const run)(int64_t, const float*, float*) = [] {
    switch (isa()) {
      case Isa::avx512: return avx512::exp_run;
      case Isa::avx2: return avx2::exp_run;
      case Isa::scalar: break;
    }
    return exp_run_ref;
  }();
  parallel_for(n, kRowCost, [&](int64_t b, int64_t e) { run(e - b, x + b, y + b); });
}

#define BSTACK_ROWOPS_INSTANTIATE(T)                                                               \
  template void softmax_forward<T>(int64_t, int64_t, const T*, T*);                                \
  template void log_softmax_forward<T>(int64_t, int64_t, const T*, T*);                            \
  template void softmax_backward<T>(int64_t, int64_t, const T*, const T*, T*);                     \
  template void log_softmax_backward<T>(int64_t, int64_t, const T*, const T*, T*);                 \
  template void cross_entropy_forward<T>(int64_t, int64_t, const T*, const int64_t*, T*, T*);      \
  template void cross_entropy_backward<T>(int64_t, int64_t, const T*, const int64_t*, const T*, T, \
                                          T*);                                                     \
  template void layernorm_forward<T>(int64_t, int64_t, const T*, const T*, const T*, T, T*, T*,    \
                                     T*);                                                          \
  template void layernorm_backward<T>(int64_t, int64_t, const T*, const T*, const T*, const T*,    \
                                      const T*, T*, T*, T*);                                       \
  template void gelu_forward<T>(int64_t, const T*, T*);                                            \
  template void gelu_backward<T>(int64_t, const T*, const T*, T*);
BSTACK_ROWOPS_INSTANTIATE(float)
BSTACK_ROWOPS_INSTANTIATE(double)
#undef BSTACK_ROWOPS_INSTANTIATE

}  // namespace bstack::kernels
