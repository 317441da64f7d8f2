// AVX2 integer micro-kernels for gemm_u8s8s32 (kernels/gemm_int8.h): an exact vpmaddwd kernel
// for any AVX2 CPU, and an AVX-VNNI kernel for CPUs that have the 256-bit vpdpbusd. The loops
// are gemm_int8_ukernel.inc's (Widen, Dot; it explains why not vpmaddubsw); this file gives them
// 256-bit register operations. Only the AVX-VNNI kernel carries target("avxvnni"), and it is
// reached only when cpu_features().avx_vnni is true.
#include <immintrin.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <utility>

#include "kernels/gemm_int8.h"

namespace bstack::kernels::detail {
namespace {

#define BSTACK_INT8_DOT_TARGET "avxvnni"
#include "kernels/gemm_int8_ukernel.inc"
#undef BSTACK_INT8_DOT_TARGET

// C[0:n] (+)= r for the first min(n, 8) columns; n <= 0 stores nothing.
inline void store8(int32_t* c, __m256i r, int n, bool load_c) {
  if (n >= 8) {
    auto* cp = reinterpret_cast<__m256i*>(c);
    if (load_c) r = _mm256_add_epi32(r, _mm256_loadu_si256(cp));
    _mm256_storeu_si256(cp, r);
  } else if (n > 0) {
    const __m256i m =
        _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    if (load_c) r = _mm256_add_epi32(r, _mm256_maskload_epi32(c, m));
    _mm256_maskstore_epi32(c, m, r);
  }
}

// ---- AVX2: widen 16 bytes of B (4 columns) per register -------------------------------------
// Pairs of 4-column quarters are summed once per tile with vphaddd (which wraps, unlike
// vphaddsw): hadd gives [c0 c1 c4 c5 | c2 c3 c6 c7], vpermq puts the columns in order.
// 2 rows x 1 column group: 8 accumulators (4 quarters per row) + 4 widened B + 1 broadcast A +
// a product fit the 16 ymm registers without spills.
struct Avx2Ops {
  using reg = __m256i;
  static constexpr int W = 8, kBytes = 16;
  static reg zero() { return _mm256_setzero_si256(); }
  static reg widen_b(const int8_t* p) {
    return _mm256_cvtepi8_epi16(_mm_load_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static reg bcast4(uint32_t a4) {
    return _mm256_broadcastq_epi64(_mm_cvtepu8_epi16(_mm_cvtsi32_si128(static_cast<int>(a4))));
  }
  static reg madd_add(reg acc, reg a, reg b) {
    return _mm256_add_epi32(acc, _mm256_madd_epi16(a, b));
  }
  static reg pair_sum(reg lo, reg hi) {
    return _mm256_permute4x64_epi64(_mm256_hadd_epi32(lo, hi), 0xD8);
  }
  static void store_c(int32_t* c, reg r, int n, bool load_c) { store8(c, r, n, load_c); }
};
constexpr int kMr = 2, kNv = 1;
template <int MR, int NV>
using Avx2 = Widen<Avx2Ops, MR, NV>;

// ---- AVX-VNNI: the 256-bit, VEX-encoded vpdpbusd (Alder Lake and later, Zen 5) -------------
// Two 32-byte loads of B per 16-column group. Exact, and no widening. 6 x 1 group:
// 12 accumulators + 2 B + 1 A of 16 ymm.
struct AvxVnniOps {
  using reg = __m256i;
  static constexpr int W = 8, kBytes = 32;
  static reg zero() { return _mm256_setzero_si256(); }
  static reg load_b(const int8_t* p) {
    return _mm256_load_si256(reinterpret_cast<const __m256i*>(p));
  }
  static reg bcast(uint32_t a4) { return _mm256_set1_epi32(static_cast<int>(a4)); }
  __attribute__((target("avxvnni"))) static reg dpbusd(reg acc, reg a, reg b) {
    return _mm256_dpbusd_avx_epi32(acc, a, b);
  }
  static void store_c(int32_t* c, reg r, int n, bool load_c) { store8(c, r, n, load_c); }
};
constexpr int kVnniMr = 6, kVnniNv = 1;
template <int MR, int NV>
using AvxVnni = Dot<AvxVnniOps, MR, NV>;

constexpr auto kTable = make_table<Avx2, kMr, kNv>(std::make_integer_sequence<int, kMr * kNv>());
constexpr auto kVnniTable =
    make_table<AvxVnni, kVnniMr, kVnniNv>(std::make_integer_sequence<int, kVnniMr * kVnniNv>());

}  // namespace

Int8Tile int8_tile_avx2() { return {kMr, kNv}; }
Int8Ukr int8_ukr_avx2(int m, int nv) { return kTable[(m - 1) * kNv + nv - 1]; }
Int8Tile int8_tile_avx_vnni() { return {kVnniMr, kVnniNv}; }
Int8Ukr int8_ukr_avx_vnni(int m, int nv) { return kVnniTable[(m - 1) * kVnniNv + nv - 1]; }

}  // namespace bstack::kernels::detail
