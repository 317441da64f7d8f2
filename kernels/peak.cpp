#include "kernels/peak.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <vector>

namespace bstack::kernels {
namespace detail {
double fma_loop_avx512_f32(int64_t iters, volatile float* sink);
double fma_loop_avx512_f64(int64_t iters, volatile double* sink);
double fma_loop_avx2_f32(int64_t iters, volatile float* sink);
double fma_loop_avx2_f64(int64_t iters, volatile double* sink);

namespace {
// Scalar: 12 independent chains of a*x+y, which the compiler may fuse into scalar FMAs only
// with -ffp-contract (it is on by default for GCC); no vectorisation (each chain depends on
// itself), so this is the one-lane-per-instruction ceiling.
template <class T>
double fma_loop_scalar(int64_t iters, volatile T* sink) {
  T acc[12];
  const T x = T(0.999999), y = T(1e-7);
  for (int i = 0; i < 12; ++i) acc[i] = static_cast<T>(i);
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = acc[i] * x + y;
  }
  T s = 0;
  for (int i = 0; i < 12; ++i) s += acc[i];
  *sink = s;
  return static_cast<double>(iters) * 12 * 2;
}
}  // namespace
}  // namespace detail

template <class T>
double fma_loop(Isa path, int64_t iters) {
  volatile T sink = 0;
  if (static_cast<int>(path) > static_cast<int>(best_isa())) path = best_isa();
  if constexpr (std::is_same_v<T, float>) {
    if (path == Isa::avx512) return detail::fma_loop_avx512_f32(iters, &sink);
    if (path == Isa::avx2) return detail::fma_loop_avx2_f32(iters, &sink);
  } else {
    if (path == Isa::avx512) return detail::fma_loop_avx512_f64(iters, &sink);
    if (path == Isa::avx2) return detail::fma_loop_avx2_f64(iters, &sink);
  }
  return detail::fma_loop_scalar<T>(iters, &sink);
}

template <class T>
double fma_peak_flops(Isa path, int threads, double seconds, int repeats) {
  using clock = std::chrono::steady_clock;
  threads = std::max(1, threads);
  // Size the loop from a short probe so one run lasts about `seconds`.
  int64_t iters = 1 << 16;
  for (;;) {
    const auto t0 = clock::now();
    fma_loop<T>(path, iters);
    const double dt = std::chrono::duration<double>(clock::now() - t0).count();
    if (dt > seconds / 4 || iters > (int64_t{1} << 40)) {
      iters = static_cast<int64_t>(static_cast<double>(iters) * seconds / std::max(dt, 1e-9));
      break;
    }
    iters *= 4;
  }
  double best = 0;
  for (int r = 0; r <= repeats; ++r) {  // r == 0 is the warm-up
    double flops = 0;
    const auto t0 = clock::now();
#pragma omp parallel num_threads(threads) reduction(+ : flops)
    flops += fma_loop<T>(path, iters);
    const double dt = std::chrono::duration<double>(clock::now() - t0).count();
    if (r > 0) best = std::max(best, flops / dt);
  }
  return best;
}

template double fma_loop<float>(Isa, int64_t);
template double fma_loop<double>(Isa, int64_t);
template double fma_peak_flops<float>(Isa, int, double, int);
template double fma_peak_flops<double>(Isa, int, double, int);

}  // namespace bstack::kernels
