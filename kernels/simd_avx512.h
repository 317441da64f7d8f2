// Vector traits for AVX-512 code: include ONLY from files compiled with the AVX-512 flags
// (kernels/*_avx512.cpp). Everything here has internal linkage (an anonymous namespace), so no
// AVX-512 instruction can leak into code that runs on other CPUs through the linker's choice of
// one copy of an inline function. Code written against these traits (F32, F64: T, reg, W lanes,
// zero/load/loadu/store/storeu/set1/fma/mul/add/hsum) is shared with the AVX2 files, which
// include simd_avx2.h instead.
#pragma once

#include <immintrin.h>

namespace bstack::kernels::detail {
namespace {

struct F32 {
  using T = float;
  using reg = __m512;
  static constexpr int W = 16;
  static reg zero() { return _mm512_setzero_ps(); }
  static reg load(const T* p) { return _mm512_load_ps(p); }
  static reg loadu(const T* p) { return _mm512_loadu_ps(p); }
  static void storeu(T* p, reg x) { _mm512_storeu_ps(p, x); }
  static reg set1(T x) { return _mm512_set1_ps(x); }
  static reg fma(reg a, reg b, reg c) { return _mm512_fmadd_ps(a, b, c); }
  static reg mul(reg a, reg b) { return _mm512_mul_ps(a, b); }
  static reg add(reg a, reg b) { return _mm512_add_ps(a, b); }
  static T hsum(reg x) {
    alignas(64) T v[W];
    _mm512_store_ps(v, x);
    T s = 0;
    for (T e : v) s += e;
    return s;
  }
};

struct F64 {
  using T = double;
  using reg = __m512d;
  static constexpr int W = 8;
  static reg zero() { return _mm512_setzero_pd(); }
  static reg load(const T* p) { return _mm512_load_pd(p); }
  static reg loadu(const T* p) { return _mm512_loadu_pd(p); }
  static void storeu(T* p, reg x) { _mm512_storeu_pd(p, x); }
  static reg set1(T x) { return _mm512_set1_pd(x); }
  static reg fma(reg a, reg b, reg c) { return _mm512_fmadd_pd(a, b, c); }
  static reg mul(reg a, reg b) { return _mm512_mul_pd(a, b); }
  static reg add(reg a, reg b) { return _mm512_add_pd(a, b); }
  static T hsum(reg x) {
    alignas(64) T v[W];
    _mm512_store_pd(v, x);
    T s = 0;
    for (T e : v) s += e;
    return s;
  }
};

}  // namespace
}  // namespace bstack::kernels::detail
