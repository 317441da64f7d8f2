// AVX2 integer micro-kernels for gemm_u8s8s32 (kernels/gemm_int8.h): an exact vpmaddwd kernel
// for any AVX2 CPU, and an AVX-VNNI kernel (below) for CPUs that have the 256-bit vpdpbusd.
//
// Why not vpmaddubsw (u8 x s8, the usual AVX2 int8 instruction): it adds each pair of products
// into a saturating int16, and 255*127 + 255*127 = 64770 > 32767, so large inputs give wrong
// sums (oneDNN and FBGEMM accept that, or restrict activations to 7 bits). Here both operands
// are widened to int16 and vpmaddwd multiplies and adds pairs into int32, which is exact
// (|255 * -128| * 2 < 2^31), at half the multiply-adds per instruction.
//
// Widening B's k-group layout (PackedB8: per 16-column group, 64 bytes per k-group of 4,
// column c at bytes 4c..4c+3): vpmovsxbw of 16 bytes (4 columns x 4 k) gives 8 dword lanes,
// lane 2c holding the int16 pair (b0, b1) of column c and lane 2c+1 the pair (b2, b3). A's 4
// bytes widened to 4 words and broadcast as a qword give (a0, a1), (a2, a3) in alternate lanes,
// so vpmaddwd yields a0*b0 + a1*b1 and a2*b2 + a3*b3 side by side; they are summed once per
// tile after the k loop with vphaddd (which wraps, unlike vphaddsw).
#include <immintrin.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <utility>

#include "kernels/gemm_int8.h"

namespace bstack::kernels::detail {
namespace {

using Args = Int8UkrArgs;

// 2 rows x 1 column group: 8 accumulators (4 quarters of 4 columns per row) + 4 widened B +
// 1 broadcast A + a product fit the 16 ymm registers without spills.
constexpr int kMr = 2, kNv = 1;

inline uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// The last 1-3 bytes of a row, zero-padded: reading 4 bytes could run past the end of A.
inline uint32_t load_tail(const uint8_t* p, int n) {
  uint32_t v = 0;
  for (int t = 0; t < n; ++t) v |= uint32_t{p[t]} << (8 * t);  // no memcpy call: it clobbers ymm
  return v;
}

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

template <int MR, int NV>
struct Avx2 {
  static void run(const Args& p) {
    constexpr int NQ = 4 * NV;  // 4-column quarters
    const uint8_t* a[MR];
    const int8_t* b[NV];
    for (int i = 0; i < MR; ++i) a[i] = p.a + i * p.lda;
    for (int v = 0; v < NV; ++v) b[v] = p.b + v * p.gs;
    __m256i acc[MR][NQ];
    for (int i = 0; i < MR; ++i)
      for (int q = 0; q < NQ; ++q) acc[i][q] = _mm256_setzero_si256();
    // One k-group: a4(i) gives row i's 4 bytes (zero-padded past K in the tail group).
    auto step = [&](int64_t g, auto a4) {
      __m256i bw[NQ];
      for (int q = 0; q < NQ; ++q)
        bw[q] = _mm256_cvtepi8_epi16(
            _mm_load_si128(reinterpret_cast<const __m128i*>(b[q / 4] + 64 * g + 16 * (q % 4))));
      for (int i = 0; i < MR; ++i) {
        const __m256i ai = _mm256_broadcastq_epi64(
            _mm_cvtepu8_epi16(_mm_cvtsi32_si128(static_cast<int>(a4(i)))));
        for (int q = 0; q < NQ; ++q)
          acc[i][q] = _mm256_add_epi32(acc[i][q], _mm256_madd_epi16(ai, bw[q]));
      }
    };
    const int64_t kg = p.k / 4;
    // The K tail first: GCC keeps the accumulators in registers only when no second copy of
    // the loop body follows the main loop.
    if (const int kt = static_cast<int>(p.k % 4))
      step(kg, [&](int i) { return load_tail(a[i] + 4 * kg, kt); });
    for (int64_t g = 0; g < kg; ++g) step(g, [&](int i) { return load_u32(a[i] + 4 * g); });
    for (int i = 0; i < MR; ++i) {
      int32_t* c = p.c + i * p.ldc;
      for (int h = 0; h < 2 * NV; ++h) {  // 8-column halves
        // hadd of quarters (c0..3 pairs, c4..7 pairs) -> [c0 c1 c4 c5 | c2 c3 c6 c7]; reorder.
        __m256i r = _mm256_permute4x64_epi64(
            _mm256_hadd_epi32(acc[i][2 * h], acc[i][2 * h + 1]), 0xD8);
        store8(c + 8 * h, r, p.n - 8 * h, p.load_c);
      }
    }
  }
};

// ---- AVX-VNNI: the 256-bit, VEX-encoded vpdpbusd (Alder Lake and later, Zen 5) -------------
// The same instruction as the AVX-512 VNNI kernel on 8 lanes: per k-group, one 32-byte load of
// B per 8 columns is the s8 operand as packed, A's 4 bytes broadcast are the u8 one. Exact, and
// no widening. Only this kernel carries target("avxvnni"), and it is reached only when
// cpu_features().avx_vnni is true. 6 x 1 group: 12 accumulators + 2 B + 1 A of 16 ymm.
constexpr int kVnniMr = 6, kVnniNv = 1;

template <int MR, int NV>
struct AvxVnni {
  __attribute__((target("avxvnni"))) static void run(const Args& p) {
    constexpr int NH = 2 * NV;  // 8-column halves
    const uint8_t* a[MR];
    const int8_t* b[NV];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) a[i] = p.a + i * p.lda;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) b[v] = p.b + v * p.gs;
    __m256i acc[MR][NH];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int h = 0; h < NH; ++h) acc[i][h] = _mm256_setzero_si256();
    const int64_t kg = p.k / 4;
    const int kt = static_cast<int>(p.k % 4);
    if (kt) {  // tail first, so the accumulators stay in registers through the main loop
      __m256i bv[NH];
#pragma GCC unroll 4
      for (int h = 0; h < NH; ++h)
        bv[h] = _mm256_load_si256(
            reinterpret_cast<const __m256i*>(b[h / 2] + 64 * kg + 32 * (h % 2)));
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        const __m256i ai = _mm256_set1_epi32(static_cast<int>(load_tail(a[i] + 4 * kg, kt)));
#pragma GCC unroll 4
        for (int h = 0; h < NH; ++h) acc[i][h] = _mm256_dpbusd_avx_epi32(acc[i][h], ai, bv[h]);
      }
    }
    for (int64_t g = 0; g < kg; ++g) {
      __m256i bv[NH];
#pragma GCC unroll 4
      for (int h = 0; h < NH; ++h)
        bv[h] = _mm256_load_si256(
            reinterpret_cast<const __m256i*>(b[h / 2] + 64 * g + 32 * (h % 2)));
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        const __m256i ai = _mm256_set1_epi32(static_cast<int>(load_u32(a[i] + 4 * g)));
#pragma GCC unroll 4
        for (int h = 0; h < NH; ++h) acc[i][h] = _mm256_dpbusd_avx_epi32(acc[i][h], ai, bv[h]);
      }
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int h = 0; h < NH; ++h)
        store8(p.c + i * p.ldc + 8 * h, acc[i][h], p.n - 8 * h, p.load_c);
  }
};

template <template <int, int> class K, int MR, int NV, int... I>
constexpr std::array<Int8Ukr, MR * NV> make_table(std::integer_sequence<int, I...>) {
  return {&K<I / NV + 1, I % NV + 1>::run...};
}
constexpr auto kTable = make_table<Avx2, kMr, kNv>(std::make_integer_sequence<int, kMr * kNv>());
constexpr auto kVnniTable =
    make_table<AvxVnni, kVnniMr, kVnniNv>(std::make_integer_sequence<int, kVnniMr * kVnniNv>());

}  // namespace

Int8Tile int8_tile_avx2() { return {kMr, kNv}; }
Int8Ukr int8_ukr_avx2(int m, int nv) { return kTable[(m - 1) * kNv + nv - 1]; }
Int8Tile int8_tile_avx_vnni() { return {kVnniMr, kVnniNv}; }
Int8Ukr int8_ukr_avx_vnni(int m, int nv) { return kVnniTable[(m - 1) * kVnniNv + nv - 1]; }

}  // namespace bstack::kernels::detail
