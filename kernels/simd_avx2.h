// Vector traits for AVX2 code: include ONLY from files compiled with the AVX2 flags
// (kernels/*_avx2.cpp). Everything here has internal linkage (an anonymous namespace), so no
// AVX2 instruction can leak into code that runs on other CPUs through the linker's choice of
// one copy of an inline function. The names and contracts are those of simd_avx512.h (read its
// list); what differs is how, on 8 lanes without mask registers:
//   - a lane predicate (mask) is a vector with all-ones lanes; masked loads and stores are
//     vmaskmovps, which never touches (nor faults on) the lanes outside the mask;
//   - a row block's Lanes carry a flag for the full case, tested where vmaskmov would be slower;
//   - 2^n for exp is built in the exponent field (no vscalefps).
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace bstack::kernels::detail {
namespace {

struct F64 {
  using T = double;
  using reg = __m256d;
  using mask = __m256i;  // 64-bit lanes
  static constexpr int W = 4;
  static reg zero() { return _mm256_setzero_pd(); }
  static reg load(const T* p) { return _mm256_load_pd(p); }
  static reg loadu(const T* p) { return _mm256_loadu_pd(p); }
  static void storeu(T* p, reg x) { _mm256_storeu_pd(p, x); }
  static reg maskz_loadu(mask m, const T* p) { return _mm256_maskload_pd(p, m); }
  static void mask_storeu(T* p, mask m, reg x) { _mm256_maskstore_pd(p, m, x); }
  static reg set1(T x) { return _mm256_set1_pd(x); }
  static reg fma(reg a, reg b, reg c) { return _mm256_fmadd_pd(a, b, c); }
  static reg mul(reg a, reg b) { return _mm256_mul_pd(a, b); }
  static reg add(reg a, reg b) { return _mm256_add_pd(a, b); }
  static T hsum(reg x) {
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(x), _mm256_extractf128_pd(x, 1));
    s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
    return _mm_cvtsd_f64(s);
  }
};

struct F32 {
  using T = float;
  using reg = __m256;
  using ireg = __m256i;
  using mask = __m256i;  // 32-bit lanes, all ones where true
  struct Lanes {
    bool full;
    mask m;  // read only when !full
  };
  static constexpr int W = 8;
  static constexpr int kRegs = 16;  // vector registers (ymm0-15)

  static reg zero() { return _mm256_setzero_ps(); }
  static reg load(const T* p) { return _mm256_load_ps(p); }
  static reg loadu(const T* p) { return _mm256_loadu_ps(p); }
  static void storeu(T* p, reg x) { _mm256_storeu_ps(p, x); }
  static reg set1(T x) { return _mm256_set1_ps(x); }
  static reg fma(reg a, reg b, reg c) { return _mm256_fmadd_ps(a, b, c); }
  static reg fnmadd(reg a, reg b, reg c) { return _mm256_fnmadd_ps(a, b, c); }
  static reg mul(reg a, reg b) { return _mm256_mul_ps(a, b); }
  static reg add(reg a, reg b) { return _mm256_add_ps(a, b); }
  static reg sub(reg a, reg b) { return _mm256_sub_ps(a, b); }
  static reg div(reg a, reg b) { return _mm256_div_ps(a, b); }
  static reg min(reg a, reg b) { return _mm256_min_ps(a, b); }
  static reg max(reg a, reg b) { return _mm256_max_ps(a, b); }
  static reg sqrt(reg a) { return _mm256_sqrt_ps(a); }
  static reg and_(reg a, reg b) { return _mm256_and_ps(a, b); }
  static reg or_(reg a, reg b) { return _mm256_or_ps(a, b); }
  static reg xor_(reg a, reg b) { return _mm256_xor_ps(a, b); }
  static reg andnot(reg a, reg b) { return _mm256_andnot_ps(a, b); }  // ~a & b
  static T hsum(reg x) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static T hmax(reg x) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }

  static reg round(reg x) {
    return _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  // p * 2^n for integral n in [-150, 128], as two normal powers 2^(n/2) and 2^(n - n/2) built in
  // the exponent field (each half in [-75, 64]): the second multiply rounds once into the
  // subnormal range or overflows to inf, as vscalefps would.
  static reg scale2n(reg p, reg n) {
    const __m256i ni = _mm256_cvtps_epi32(n);
    const __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
    const __m256i bias = _mm256_set1_epi32(127);
    const __m256 p1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
    const __m256 p2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, p1), p2);
  }
  // p * 2^n for integral n in [-126, 127]: 2^n is a normal float, built in one step.
  static reg scale2n_normal(reg p, reg n) {
    const __m256i e =
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
  }

  // ---- lane predicates: all-ones lanes
  static mask all() { return _mm256_set1_epi32(-1); }
  // Lanes l of the block starting at `start` with lo <= start + l < hi.
  static mask range(int64_t start, int64_t lo, int64_t hi) {
    const int64_t a = lo - start, b = hi - start;
    const int32_t a32 = a < -1 ? -1 : a > W ? W : static_cast<int32_t>(a);
    const int32_t b32 = b < 0 ? 0 : b > W ? W : static_cast<int32_t>(b);
    const __m256i ge_a = _mm256_cmpgt_epi32(iota(), _mm256_set1_epi32(a32 - 1));
    const __m256i lt_b = _mm256_cmpgt_epi32(_mm256_set1_epi32(b32), iota());
    return _mm256_and_si256(ge_a, lt_b);
  }
  static mask mask_and(mask a, mask b) { return _mm256_and_si256(a, b); }
  static bool any(mask m) { return !_mm256_testz_si256(m, m); }
  static mask lt(reg a, reg b) { return _mm256_castps_si256(_mm256_cmp_ps(a, b, _CMP_LT_OQ)); }
  static mask gt(reg a, reg b) { return _mm256_castps_si256(_mm256_cmp_ps(a, b, _CMP_GT_OQ)); }
  static mask ge(reg a, reg b) { return _mm256_castps_si256(_mm256_cmp_ps(a, b, _CMP_GE_OQ)); }
  static mask nle(reg a, reg b) { return _mm256_castps_si256(_mm256_cmp_ps(a, b, _CMP_NLE_UQ)); }
  static mask ordered(reg a, reg b) { return _mm256_castps_si256(_mm256_cmp_ps(a, b, _CMP_ORD_Q)); }
  static reg maskz_loadu(mask m, const T* p) { return _mm256_maskload_ps(p, m); }
  static void mask_storeu(T* p, mask m, reg x) { _mm256_maskstore_ps(p, m, x); }
  static reg keep(reg x, mask m) { return _mm256_and_ps(x, _mm256_castsi256_ps(m)); }
  static reg select(mask m, reg a, reg b) { return _mm256_blendv_ps(a, b, _mm256_castsi256_ps(m)); }

  // ---- row blocks
  static Lanes all_lanes() { return {true, _mm256_set1_epi32(-1)}; }
  static Lanes first_lanes(int64_t r) {  // 1..W
    alignas(32) static const int32_t table[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                                  0,  0,  0,  0,  0,  0,  0,  0};
    return {false, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(table + W - r))};
  }
  static reg loadu(const T* p, const Lanes& k) {
    return k.full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, k.m);
  }
  static void storeu(T* p, reg x, const Lanes& k) {
    if (k.full) {
      _mm256_storeu_ps(p, x);
    } else {
      _mm256_maskstore_ps(p, k.m, x);
    }
  }
  static reg keep_lanes(reg x, const Lanes& k) { return k.full ? x : keep(x, k.m); }
  static reg add_lanes(reg s, reg x, const Lanes& k) { return _mm256_add_ps(s, keep_lanes(x, k)); }
  static reg max_lanes(reg m, reg x, const Lanes& k) {
    const __m256 ninf = _mm256_set1_ps(-__builtin_inff());
    return _mm256_max_ps(m, k.full ? x : _mm256_blendv_ps(ninf, x, _mm256_castsi256_ps(k.m)));
  }

  // ---- int32 lanes
  static ireg iota() { return _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7); }
  static ireg izero() { return _mm256_setzero_si256(); }
  static ireg iset1(int32_t x) { return _mm256_set1_epi32(x); }
  static ireg iadd(ireg a, ireg b) { return _mm256_add_epi32(a, b); }
  static ireg imul(ireg a, ireg b) { return _mm256_mullo_epi32(a, b); }
  static ireg iselect(mask m, ireg a, ireg b) {
    return _mm256_castps_si256(
        _mm256_blendv_ps(_mm256_castsi256_ps(a), _mm256_castsi256_ps(b), _mm256_castsi256_ps(m)));
  }
  static void mask_storeu(int32_t* p, mask m, ireg x) { _mm256_maskstore_epi32(p, m, x); }

  static F64::reg widen_lo(reg v) { return _mm256_cvtps_pd(_mm256_castps256_ps128(v)); }
  static F64::reg widen_hi(reg v) { return _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)); }
  static F64::mask widen_lo(mask m) { return _mm256_cvtepi32_epi64(_mm256_castsi256_si128(m)); }
  static F64::mask widen_hi(mask m) {
    return _mm256_cvtepi32_epi64(_mm256_extracti128_si256(m, 1));
  }

  // The even lanes of the 2W floats lo:hi, in order: one in-lane shuffle and one cross-lane
  // permute.
  static reg even_lanes(reg lo, reg hi) {
    const __m256 ev = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(ev), _MM_SHUFFLE(3, 1, 2, 0)));
  }
};

#include "kernels/simd_math.inc"

}  // namespace
}  // namespace bstack::kernels::detail
