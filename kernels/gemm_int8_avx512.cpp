// AVX-512 integer micro-kernels for gemm_u8s8s32 (kernels/gemm_int8.h): the VNNI kernel, and
// an exact AVX-512BW kernel for CPUs with AVX-512 but without VNNI (Skylake-SP/X). The loops are
// gemm_int8_ukernel.inc's (Dot, Widen); this file gives them 512-bit register operations.
//
// This file is compiled with the AVX-512 F/BW/VL/DQ flags only. The VNNI kernel alone carries
// __attribute__((target("avx512vnni"))), so no other function here can contain a VNNI
// instruction: a compiler is free to fuse the BW kernel's vpmaddwd + vpaddd into VNNI's
// vpdpwssd when the whole file is built with -mavx512vnni, which would crash the very CPUs that
// kernel exists for. The VNNI kernel is reached only when cpu_features().avx512_vnni is true.

#include <array>
#include <cstdint>
#include <cstring>
#include <utility>

#include "kernels/gemm_int8.h"
#include "kernels/simd_avx512.h"  // immintrin.h, without GCC 12's warnings about its own code

namespace bstack::kernels::detail {
namespace {

#define BSTACK_INT8_DOT_TARGET "avx512vnni"
#include "kernels/gemm_int8_ukernel.inc"
#undef BSTACK_INT8_DOT_TARGET

// C[0:n] (+)= r for the first min(n, 16) columns, a masked load and store. n >= 1: a register
// here is a whole 16-column group, and every group of a tile holds a column.
void store16(int32_t* c, __m512i r, int n, bool load_c) {
  const __mmask16 m = n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1);
  if (load_c) r = _mm512_add_epi32(r, _mm512_maskz_loadu_epi32(m, c));
  _mm512_mask_storeu_epi32(c, m, r);
}

// ---- VNNI: vpdpbusd on 16 lanes, one aligned 64-byte load of B per 16-column group ---------
// 8 x 3 keeps 24 accumulators + 3 B + 1 A in the 32 zmm registers (enough independent chains to
// cover latency x throughput), and 8 A row pointers + 3 B pointers in general registers.
struct VnniOps {
  using reg = __m512i;
  static constexpr int W = 16, kBytes = 64;
  static reg zero() { return _mm512_setzero_si512(); }
  static reg load_b(const int8_t* p) { return _mm512_load_si512(p); }
  static reg bcast(uint32_t a4) { return _mm512_set1_epi32(static_cast<int>(a4)); }
  __attribute__((target("avx512vnni"))) static reg dpbusd(reg acc, reg a, reg b) {
    return _mm512_dpbusd_epi32(acc, a, b);
  }
  static void store_c(int32_t* c, reg r, int n, bool load_c) { store16(c, r, n, load_c); }
};
constexpr int kVnniMr = 8, kVnniNv = 3;
template <int MR, int NV>
using Vnni = Dot<VnniOps, MR, NV>;

// ---- AVX-512BW without VNNI: widen 32 bytes of B (8 columns) per register -------------------
// The two 8-column halves of a group are summed into one register per tile: add the odd lane
// into the even one, then vpmovqd. 4 x 2 groups: 16 accumulators (two 8-column halves per group)
// + 4 widened B + A + product; 6 x 2 spilled accumulators to the stack inside the k loop (GCC 12).
struct BwOps {
  using reg = __m512i;
  static constexpr int W = 16, kBytes = 32;
  static reg zero() { return _mm512_setzero_si512(); }
  static reg widen_b(const int8_t* p) {
    return _mm512_cvtepi8_epi16(_mm256_load_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static reg bcast4(uint32_t a4) {
    return _mm512_broadcastq_epi64(_mm_cvtepu8_epi16(_mm_cvtsi32_si128(static_cast<int>(a4))));
  }
  static reg madd_add(reg acc, reg a, reg b) {
    return _mm512_add_epi32(acc, _mm512_madd_epi16(a, b));
  }
  static reg pair_sum(reg lo, reg hi) {
    const __m256i s0 = _mm512_cvtepi64_epi32(_mm512_add_epi32(lo, _mm512_srli_epi64(lo, 32)));
    const __m256i s1 = _mm512_cvtepi64_epi32(_mm512_add_epi32(hi, _mm512_srli_epi64(hi, 32)));
    return _mm512_inserti64x4(_mm512_castsi256_si512(s0), s1, 1);
  }
  static void store_c(int32_t* c, reg r, int n, bool load_c) { store16(c, r, n, load_c); }
};
constexpr int kBwMr = 4, kBwNv = 2;
template <int MR, int NV>
using Bw = Widen<BwOps, MR, NV>;

constexpr auto kVnniTable =
    make_table<Vnni, kVnniMr, kVnniNv>(std::make_integer_sequence<int, kVnniMr * kVnniNv>());
constexpr auto kBwTable =
    make_table<Bw, kBwMr, kBwNv>(std::make_integer_sequence<int, kBwMr * kBwNv>());

}  // namespace

Int8Tile int8_tile_avx512vnni() { return {kVnniMr, kVnniNv}; }
Int8Ukr int8_ukr_avx512vnni(int m, int nv) { return kVnniTable[(m - 1) * kVnniNv + nv - 1]; }
Int8Tile int8_tile_avx512bw() { return {kBwMr, kBwNv}; }
Int8Ukr int8_ukr_avx512bw(int m, int nv) { return kBwTable[(m - 1) * kBwNv + nv - 1]; }

}  // namespace bstack::kernels::detail
