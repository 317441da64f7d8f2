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
double int8_loop_avx512vnni(int64_t iters, volatile int32_t* sink);
double int8_loop_avx512bw(int64_t iters, volatile int32_t* sink);
double int8_loop_avx_vnni(int64_t iters, volatile int32_t* sink);
double int8_loop_avx2(int64_t iters, volatile int32_t* sink);

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

namespace detail {
namespace {
// Scalar int8: 12 independent chains of s32 += u8 * s8. The empty asm statements make the
// operands opaque each step, so the compiler can neither hoist the product nor sum the loop in
// closed form (it did: 2e26 "OP/s"); each MAC is then one imul and one add.
double int8_loop_scalar(int64_t iters, volatile int32_t* sink) {
  uint32_t acc[12];  // unsigned: the sums wrap (defined), as the vector accumulators do
  for (int i = 0; i < 12; ++i) acc[i] = i;
  uint32_t a = 3, b = static_cast<uint32_t>(-2);
  for (int64_t it = 0; it < iters; ++it) {
    asm volatile("" : "+r"(a), "+r"(b));
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) {
      acc[i] += a * b;
      asm volatile("" : "+r"(acc[i]));
    }
  }
  uint32_t s = 0;
  for (int i = 0; i < 12; ++i) s += acc[i];
  *sink = static_cast<int32_t>(s);
  return static_cast<double>(iters) * 12 * 2;
}

// Sizes the loop from a short probe so one run lasts about `seconds`, then times best-of-
// `repeats` runs on `threads` threads after a warm-up; returns work per second.
template <class Loop>
double time_register_loop(Loop loop, int threads, double seconds, int repeats) {
  using clock = std::chrono::steady_clock;
  threads = std::max(1, threads);
  int64_t iters = 1 << 16;
  for (;;) {
    const auto t0 = clock::now();
    loop(iters);
    const double dt = std::chrono::duration<double>(clock::now() - t0).count();
    if (dt > seconds / 4 || iters > (int64_t{1} << 40)) {
      iters = static_cast<int64_t>(static_cast<double>(iters) * seconds / std::max(dt, 1e-9));
      break;
    }
    iters *= 4;
  }
  double best = 0;
  for (int r = 0; r <= repeats; ++r) {  // r == 0 is the warm-up
    double work = 0;
    const auto t0 = clock::now();
#pragma omp parallel num_threads(threads) reduction(+ : work)
    work += loop(iters);
    const double dt = std::chrono::duration<double>(clock::now() - t0).count();
    if (r > 0) best = std::max(best, work / dt);
  }
  return best;
}
}  // namespace
}  // namespace detail

double int8_dot_loop(Int8Kernel k, int64_t iters) {
  volatile int32_t sink = 0;
  if (k == Int8Kernel::automatic) k = int8_kernel_best();
  if (!int8_kernel_available(k)) k = int8_kernel_best();
  switch (k) {
    case Int8Kernel::avx512vnni: return detail::int8_loop_avx512vnni(iters, &sink);
    case Int8Kernel::avx512bw: return detail::int8_loop_avx512bw(iters, &sink);
    case Int8Kernel::avx_vnni: return detail::int8_loop_avx_vnni(iters, &sink);
    case Int8Kernel::avx2: return detail::int8_loop_avx2(iters, &sink);
    default: return detail::int8_loop_scalar(iters, &sink);
  }
}

double int8_peak_ops(Int8Kernel k, int threads, double seconds, int repeats) {
  return detail::time_register_loop([k](int64_t it) { return int8_dot_loop(k, it); }, threads,
                                    seconds, repeats);
}

template <class T>
double fma_peak_flops(Isa path, int threads, double seconds, int repeats) {
  return detail::time_register_loop([path](int64_t it) { return fma_loop<T>(path, it); }, threads,
                                    seconds, repeats);
}

template double fma_loop<float>(Isa, int64_t);
template double fma_loop<double>(Isa, int64_t);
template double fma_peak_flops<float>(Isa, int, double, int);
template double fma_peak_flops<double>(Isa, int, double, int);

}  // namespace bstack::kernels
