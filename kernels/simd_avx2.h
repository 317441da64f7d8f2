// Vector traits for AVX2 code: include ONLY from files compiled with the AVX2 flags
// (kernels/*_avx2.cpp). Everything here has internal linkage (an anonymous namespace), so no
// AVX-512 instruction can leak into code that runs on other CPUs through the linker's choice of
// one copy of an inline function. Code written against these traits (F32, F64: T, reg, W lanes,
// zero/load/loadu/store/storeu/set1/fma/mul/add/hsum) is shared with the AVX-512 files, which
// include simd_avx512.h instead.
#pragma once

#include <immintrin.h>

namespace bstack::kernels::detail {
namespace {

struct F32 {
  using T = float;
  using reg = __m256;
  static constexpr int W = 8;
  static reg zero() { return _mm256_setzero_ps(); }
  static reg load(const T* p) { return _mm256_load_ps(p); }
  static reg loadu(const T* p) { return _mm256_loadu_ps(p); }
  static void storeu(T* p, reg x) { _mm256_storeu_ps(p, x); }
  static reg set1(T x) { return _mm256_set1_ps(x); }
  static reg fma(reg a, reg b, reg c) { return _mm256_fmadd_ps(a, b, c); }
  static reg mul(reg a, reg b) { return _mm256_mul_ps(a, b); }
  static reg add(reg a, reg b) { return _mm256_add_ps(a, b); }
  static T hsum(reg x) {
    alignas(32) T v[W];
    _mm256_store_ps(v, x);
    T s = 0;
    for (T e : v) s += e;
    return s;
  }
};

struct F64 {
  using T = double;
  using reg = __m256d;
  static constexpr int W = 4;
  static reg zero() { return _mm256_setzero_pd(); }
  static reg load(const T* p) { return _mm256_load_pd(p); }
  static reg loadu(const T* p) { return _mm256_loadu_pd(p); }
  static void storeu(T* p, reg x) { _mm256_storeu_pd(p, x); }
  static reg set1(T x) { return _mm256_set1_pd(x); }
  static reg fma(reg a, reg b, reg c) { return _mm256_fmadd_pd(a, b, c); }
  static reg mul(reg a, reg b) { return _mm256_mul_pd(a, b); }
  static reg add(reg a, reg b) { return _mm256_add_pd(a, b); }
  static T hsum(reg x) {
    alignas(32) T v[W];
    _mm256_store_pd(v, x);
    T s = 0;
    for (T e : v) s += e;
    return s;
  }
};

}  // namespace
}  // namespace bstack::kernels::detail
