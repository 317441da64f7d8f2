// AVX-512 integer micro-kernels for gemm_u8s8s32 (kernels/gemm_int8.h): the VNNI kernel, and
// an exact AVX-512BW kernel for CPUs with AVX-512 but without VNNI (Skylake-SP/X).
//
// This file is compiled with the AVX-512 F/BW/VL/DQ flags only. The VNNI kernel alone carries
// __attribute__((target("avx512vnni"))), so no other function here can contain a VNNI
// instruction: a compiler is free to fuse the BW kernel's vpmaddwd + vpaddd into VNNI's
// vpdpwssd when the whole file is built with -mavx512vnni, which would crash the very CPUs that
// kernel exists for. The VNNI kernel is reached only when cpu_features().avx512_vnni is true.
//
// Packed B (PackedB8): per 16-column group, 64 bytes per k-group of 4, column c at bytes
// 4c..4c+3. A: unpacked u8 rows.

// GCC 12 warns about the deliberately undefined pass-through operand inside its own AVX-512
// intrinsics (_mm512_undefined_epi32; GCC bug 105593, fixed in GCC 13).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <array>
#include <cstdint>
#include <cstring>
#include <utility>

#include "kernels/gemm_int8.h"

namespace bstack::kernels::detail {
namespace {

using Args = Int8UkrArgs;

inline uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// The last 1-3 bytes of a row, zero-padded (B's rows past K are zero too): reading 4 bytes
// there could run past the end of A.
inline uint32_t load_tail(const uint8_t* p, int n) {
  uint32_t v = 0;
  for (int t = 0; t < n; ++t) v |= uint32_t{p[t]} << (8 * t);  // no memcpy call: it clobbers zmm
  return v;
}

inline __mmask16 col_mask(int n) { return n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1); }

// A table of kernels for every (m, nv) tile up to (MR, NV), so M and N tails run the same code
// with fewer rows / column groups, their loops fully unrolled.
template <template <int, int> class K, int MR, int NV, int... I>
constexpr std::array<Int8Ukr, MR * NV> make_table(std::integer_sequence<int, I...>) {
  return {&K<I / NV + 1, I % NV + 1>::run...};
}

// ---- VNNI: vpdpbusd -------------------------------------------------------------------------
// Per k-group of 4: NV aligned 64-byte loads of B, MR 4-byte broadcasts of A, MR x NV vpdpbusd,
// each a 16-lane x 4-deep u8 x s8 dot product added to an int32 accumulator (Intel SDM,
// VPDPBUSD: no saturation, sums wrap). 8 x 3 keeps 24 accumulators + 3 B + 1 A in the 32 zmm
// registers (enough independent chains to cover latency x throughput), and 8 A row pointers +
// 3 B pointers in general registers.
constexpr int kVnniMr = 8, kVnniNv = 3;

template <int MR, int NV>
struct Vnni {
  __attribute__((target("avx512vnni"))) static void run(const Args& p) {
    const uint8_t* a[MR];
    const int8_t* b[NV];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) a[i] = p.a + i * p.lda;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) b[v] = p.b + v * p.gs;
    __m512i acc[MR][NV];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_si512();
    const int64_t kg = p.k / 4;
    const int kt = static_cast<int>(p.k % 4);
    // The K tail first: the sums commute, and GCC keeps the accumulators in registers through
    // the main loop only when no second copy of the loop body follows it.
    if (kt) {
      __m512i bv[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) bv[v] = _mm512_load_si512(b[v] + 64 * kg);
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        const __m512i ai = _mm512_set1_epi32(static_cast<int>(load_tail(a[i] + 4 * kg, kt)));
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_dpbusd_epi32(acc[i][v], ai, bv[v]);
      }
    }
    for (int64_t g = 0; g < kg; ++g) {
      __m512i bv[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) bv[v] = _mm512_load_si512(b[v] + 64 * g);
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        const __m512i ai = _mm512_set1_epi32(static_cast<int>(load_u32(a[i] + 4 * g)));
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_dpbusd_epi32(acc[i][v], ai, bv[v]);
      }
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      int32_t* c = p.c + i * p.ldc;
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        const __mmask16 m = col_mask(p.n - 16 * v);
        __m512i r = acc[i][v];
        if (p.load_c) r = _mm512_add_epi32(r, _mm512_maskz_loadu_epi32(m, c + 16 * v));
        _mm512_mask_storeu_epi32(c + 16 * v, m, r);
      }
    }
  }
};

// ---- AVX-512BW without VNNI: widen to int16, vpmaddwd ----------------------------------------
// vpmaddubsw would multiply u8 x s8 directly, but it adds each pair of products into a
// *saturating* int16 (255*127 + 255*127 = 64770 > 32767), so its results are wrong for large
// inputs. Instead both operands are widened to int16 and vpmaddwd multiplies and adds pairs into
// int32, which is exact (|255 * -128| * 2 < 2^31).
//
// Widening B's k-group layout: vpmovsxbw of 32 bytes (8 columns x 4 k) gives 16 dword lanes,
// lane 2c holding the int16 pair (b0, b1) of column c and lane 2c+1 the pair (b2, b3). A's 4
// bytes widened to 4 words and broadcast as one qword give (a0, a1), (a2, a3) in alternate
// lanes, so vpmaddwd yields a0*b0 + a1*b1 and a2*b2 + a3*b3 side by side; the two are summed
// once per tile, after the k loop (add the odd lane into the even one, then vpmovqd).
// 4 x 2 groups: 16 accumulators (two 8-column halves per group) + 4 widened B + A + product;
// 6 x 2 spilled accumulators to the stack inside the k loop (GCC 12).
constexpr int kBwMr = 4, kBwNv = 2;

template <int MR, int NV>
struct Bw {
  static void run(const Args& p) {
    constexpr int NH = 2 * NV;  // 8-column halves
    const uint8_t* a[MR];
    const int8_t* b[NV];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) a[i] = p.a + i * p.lda;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) b[v] = p.b + v * p.gs;
    __m512i acc[MR][NH];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int h = 0; h < NH; ++h) acc[i][h] = _mm512_setzero_si512();
    // One k-group: a4(i) gives row i's 4 bytes (zero-padded past K in the tail group).
    auto step = [&](int64_t g, auto a4) {
      __m512i bw[NH];
#pragma GCC unroll 4
      for (int h = 0; h < NH; ++h)
        bw[h] = _mm512_cvtepi8_epi16(_mm256_load_si256(
            reinterpret_cast<const __m256i*>(b[h / 2] + 64 * g + 32 * (h % 2))));
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        const __m512i ai = _mm512_broadcastq_epi64(
            _mm_cvtepu8_epi16(_mm_cvtsi32_si128(static_cast<int>(a4(i)))));
#pragma GCC unroll 4
        for (int h = 0; h < NH; ++h)
          acc[i][h] = _mm512_add_epi32(acc[i][h], _mm512_madd_epi16(ai, bw[h]));
      }
    };
    const int64_t kg = p.k / 4;
    if (const int kt = static_cast<int>(p.k % 4))  // tail first (see the VNNI kernel)
      step(kg, [&](int i) { return load_tail(a[i] + 4 * kg, kt); });
    for (int64_t g = 0; g < kg; ++g) step(g, [&](int i) { return load_u32(a[i] + 4 * g); });
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      int32_t* c = p.c + i * p.ldc;
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        const __m512i lo = acc[i][2 * v], hi = acc[i][2 * v + 1];
        const __m256i s0 = _mm512_cvtepi64_epi32(_mm512_add_epi32(lo, _mm512_srli_epi64(lo, 32)));
        const __m256i s1 = _mm512_cvtepi64_epi32(_mm512_add_epi32(hi, _mm512_srli_epi64(hi, 32)));
        __m512i r = _mm512_inserti64x4(_mm512_castsi256_si512(s0), s1, 1);
        const __mmask16 m = col_mask(p.n - 16 * v);
        if (p.load_c) r = _mm512_add_epi32(r, _mm512_maskz_loadu_epi32(m, c + 16 * v));
        _mm512_mask_storeu_epi32(c + 16 * v, m, r);
      }
    }
  }
};

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
