// Vector traits for AVX-512 code: include ONLY from files compiled with the AVX-512 flags
// (kernels/*_avx512.cpp). Everything here has internal linkage (an anonymous namespace), so no
// AVX-512 instruction can leak into code that runs on other CPUs through the linker's choice of
// one copy of an inline function. Code written against these traits is shared with the AVX2
// files, which include simd_avx2.h instead (same names, same contracts, 8 lanes); the algorithms
// written once over them are the kernels/*.inc files and simd_math.inc (included at the end).
//
//   F32, F64: T, reg, W lanes; zero/load/loadu/storeu/set1, arithmetic (fma = a*b + c,
//     fnmadd = c - a*b), bit operations, hsum (tree reduction).
//   F32 also: mask (a lane predicate: __mmask16 here, an all-ones-lane __m256i on AVX2) with
//     masked loads/stores that never touch the lanes outside it; comparisons and select;
//     Lanes (a row block's lanes: all of them except in a row's tail, and the all case is a
//     compile-time constant here, so the unmasked forms are chosen without a test); int32 lanes
//     (ireg) for indices; exp's range-reduction helpers (round, scale2n).
#pragma once

#include <cstdint>

// GCC 12 warns that the undefined source of some AVX-512 intrinsics (min, max, roundscale,
// scalef, reduce) is uninitialised: GCC bug 105593, fixed in GCC 13; the value is never used.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

namespace bstack::kernels::detail {
namespace {

struct F64 {
  using T = double;
  using reg = __m512d;
  using mask = __mmask8;
  static constexpr int W = 8;
  static reg zero() { return _mm512_setzero_pd(); }
  static reg load(const T* p) { return _mm512_load_pd(p); }
  static reg loadu(const T* p) { return _mm512_loadu_pd(p); }
  static void storeu(T* p, reg x) { _mm512_storeu_pd(p, x); }
  static reg maskz_loadu(mask m, const T* p) { return _mm512_maskz_loadu_pd(m, p); }
  static void mask_storeu(T* p, mask m, reg x) { _mm512_mask_storeu_pd(p, m, x); }
  static reg set1(T x) { return _mm512_set1_pd(x); }
  static reg fma(reg a, reg b, reg c) { return _mm512_fmadd_pd(a, b, c); }
  static reg mul(reg a, reg b) { return _mm512_mul_pd(a, b); }
  static reg add(reg a, reg b) { return _mm512_add_pd(a, b); }
  static T hsum(reg x) { return _mm512_reduce_add_pd(x); }
};

struct F32 {
  using T = float;
  using reg = __m512;
  using ireg = __m512i;
  using mask = __mmask16;
  using Lanes = __mmask16;
  static constexpr int W = 16;
  static constexpr int kRegs = 32;  // vector registers (zmm0-31)

  static reg zero() { return _mm512_setzero_ps(); }
  static reg load(const T* p) { return _mm512_load_ps(p); }
  static reg loadu(const T* p) { return _mm512_loadu_ps(p); }
  static void storeu(T* p, reg x) { _mm512_storeu_ps(p, x); }
  static reg set1(T x) { return _mm512_set1_ps(x); }
  static reg fma(reg a, reg b, reg c) { return _mm512_fmadd_ps(a, b, c); }
  static reg fnmadd(reg a, reg b, reg c) { return _mm512_fnmadd_ps(a, b, c); }
  static reg mul(reg a, reg b) { return _mm512_mul_ps(a, b); }
  static reg add(reg a, reg b) { return _mm512_add_ps(a, b); }
  static reg sub(reg a, reg b) { return _mm512_sub_ps(a, b); }
  static reg div(reg a, reg b) { return _mm512_div_ps(a, b); }
  // min/max return their second operand when either is NaN (vminps/vmaxps).
  static reg min(reg a, reg b) { return _mm512_min_ps(a, b); }
  static reg max(reg a, reg b) { return _mm512_max_ps(a, b); }
  static reg sqrt(reg a) { return _mm512_sqrt_ps(a); }
  static reg and_(reg a, reg b) { return _mm512_and_ps(a, b); }
  static reg or_(reg a, reg b) { return _mm512_or_ps(a, b); }
  static reg xor_(reg a, reg b) { return _mm512_xor_ps(a, b); }
  static reg andnot(reg a, reg b) { return _mm512_andnot_ps(a, b); }  // ~a & b
  static T hsum(reg x) { return _mm512_reduce_add_ps(x); }
  static T hmax(reg x) { return _mm512_reduce_max_ps(x); }

  // exp's range reduction: the nearest integer, and p * 2^n for integral n in [-150, 128]
  // (vscalefps: exact, overflows to inf and rounds once into the subnormals by itself).
  static reg round(reg x) {
    return _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  static reg scale2n(reg p, reg n) { return _mm512_scalef_ps(p, n); }
  static reg scale2n_normal(reg p, reg n) { return scale2n(p, n); }  // n in [-126, 127]

  // ---- lane predicates: a bit per lane
  static mask all() { return 0xFFFF; }
  // Lanes l of the block starting at `start` with lo <= start + l < hi.
  static mask range(int64_t start, int64_t lo, int64_t hi) {
    const int64_t a = clamp_lane(lo - start), b = clamp_lane(hi - start);
    if (b <= a) return 0;
    return static_cast<mask>(((1u << b) - 1u) & ~((1u << a) - 1u));
  }
  static mask mask_and(mask a, mask b) { return a & b; }
  static bool any(mask m) { return m != 0; }
  static mask lt(reg a, reg b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
  static mask gt(reg a, reg b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
  static mask ge(reg a, reg b) { return _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ); }
  // !(a <= b): a > b, or either is NaN.
  static mask nle(reg a, reg b) { return _mm512_cmp_ps_mask(a, b, _CMP_NLE_UQ); }
  static mask ordered(reg a, reg b) { return _mm512_cmp_ps_mask(a, b, _CMP_ORD_Q); }
  static reg maskz_loadu(mask m, const T* p) { return _mm512_maskz_loadu_ps(m, p); }
  static void mask_storeu(T* p, mask m, reg x) { _mm512_mask_storeu_ps(p, m, x); }
  static reg keep(reg x, mask m) { return _mm512_maskz_mov_ps(m, x); }  // 0 outside m
  static reg select(mask m, reg a, reg b) { return _mm512_mask_blend_ps(m, a, b); }  // m ? b : a

  // ---- row blocks: full blocks take the unmasked load/store (masked stores are slow on some
  // cores); all_lanes() is a constant, so the test folds away where blocks() passes it.
  static Lanes all_lanes() { return 0xFFFF; }
  static Lanes first_lanes(int64_t r) { return static_cast<mask>((1u << r) - 1u); }  // 1..W
  static reg loadu(const T* p, Lanes k) {
    return k == all_lanes() ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(k, p);
  }
  static void storeu(T* p, reg x, Lanes k) {
    if (k == all_lanes()) {
      _mm512_storeu_ps(p, x);
    } else {
      _mm512_mask_storeu_ps(p, k, x);
    }
  }
  static reg keep_lanes(reg x, Lanes k) { return k == all_lanes() ? x : keep(x, k); }
  static reg add_lanes(reg s, reg x, Lanes k) { return _mm512_mask_add_ps(s, k, s, x); }
  static reg max_lanes(reg m, reg x, Lanes k) { return _mm512_mask_max_ps(m, k, m, x); }

  // ---- int32 lanes
  static ireg iota() {
    return _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  }
  static ireg izero() { return _mm512_setzero_si512(); }
  static ireg iset1(int32_t x) { return _mm512_set1_epi32(x); }
  static ireg iadd(ireg a, ireg b) { return _mm512_add_epi32(a, b); }
  static ireg imul(ireg a, ireg b) { return _mm512_mullo_epi32(a, b); }
  static ireg iselect(mask m, ireg a, ireg b) { return _mm512_mask_blend_epi32(m, a, b); }
  static void mask_storeu(int32_t* p, mask m, ireg x) { _mm512_mask_storeu_epi32(p, m, x); }

  // Lanes widened to double: the low and high halves of a vector, and of its mask.
  static F64::reg widen_lo(reg v) { return _mm512_cvtps_pd(_mm512_castps512_ps256(v)); }
  static F64::reg widen_hi(reg v) {
    return _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
  }
  static F64::mask widen_lo(mask m) { return static_cast<F64::mask>(m); }
  static F64::mask widen_hi(mask m) { return static_cast<F64::mask>(m >> 8); }

  // The even lanes of the 2W floats lo:hi, in order (one two-source permute).
  static reg even_lanes(reg lo, reg hi) {
    return _mm512_permutex2var_ps(lo, _mm512_slli_epi32(iota(), 1), hi);
  }

 private:
  static int64_t clamp_lane(int64_t v) { return v < 0 ? 0 : v > W ? W : v; }
};

#include "kernels/simd_math.inc"

}  // namespace
}  // namespace bstack::kernels::detail
