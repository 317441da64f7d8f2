// Integer GEMM (u8 x s8 -> s32) against a naive int64 reference, bit for bit, on every
// micro-kernel this ISA path allows: odd sizes (K not a multiple of 4), leading dimensions
// wider than the rows, misaligned pointers, accumulate on and off, small block sizes that run
// every loop, both thread splits, extreme values (A = 255 with B = -128 would saturate a
// vpmaddubsw path), int32 wrap-around past K = 65793, prepacked and transposed weights.
// Requantisation against hand-computed TFLite values; qlinear_s8 against an integer reference
// of TFLite's formula (exact) and a float one of the same formula (within 1).
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <vector>

#include "kernels/gemm_int8.h"
#include "kernels/parallel.h"
#include "src/random.h"

using namespace bstack;
using namespace bstack::kernels;

namespace {

std::vector<Int8Kernel> kernels_here() {
  std::vector<Int8Kernel> ks;
  for (Int8Kernel k : {Int8Kernel::scalar, Int8Kernel::avx2, Int8Kernel::avx_vnni,
                       Int8Kernel::avx512bw, Int8Kernel::avx512vnni})
    if (int8_kernel_available(k)) ks.push_back(k);
  return ks;
}

struct Case {
  int64_t M, N, K;
  int64_t pad = 0;  // extra elements per row of A, B and C
  int64_t off = 0;  // misalignment of A, B (bytes) and C (elements)
  bool accumulate = false;
};

// The int32 the hardware gives for an int64 sum: its value modulo 2^32 (C++20 conversion).
int32_t wrap(int64_t v) { return static_cast<int32_t>(v); }

// Runs the case on every kernel this ISA path allows (cfg.kernel is overwritten), each against
// the same int64 reference.
template <class FillA, class FillB>
void check(const Case& c, GemmInt8Config cfg, FillA fill_a, FillB fill_b, uint64_t seed = 1) {
  Generator g(seed);
  const int64_t lda = c.K + c.pad, ldb = c.N + c.pad, ldc = c.N + c.pad;
  std::vector<uint8_t> abuf(static_cast<size_t>(c.M * lda + c.off + 1));
  std::vector<int8_t> bbuf(static_cast<size_t>(c.K * ldb + c.off + 1));
  std::vector<int32_t> before(static_cast<size_t>(c.M * ldc + c.off + 1));
  const uint8_t* A = abuf.data() + c.off;
  const int8_t* B = bbuf.data() + c.off;
  for (auto& v : abuf) v = fill_a(g);
  for (auto& v : bbuf) v = fill_b(g);
  for (auto& v : before) v = static_cast<int32_t>(g.below(2001)) - 1000;
  std::vector<int32_t> want(static_cast<size_t>(c.M * c.N));
  for (int64_t i = 0; i < c.M; ++i)
    for (int64_t j = 0; j < c.N; ++j) {
      int64_t w = c.accumulate ? before[static_cast<size_t>(c.off + i * ldc + j)] : 0;
      for (int64_t k = 0; k < c.K; ++k) w += int64_t{A[i * lda + k]} * B[k * ldb + j];
      want[i * c.N + j] = wrap(w);
    }

  for (Int8Kernel kern : kernels_here()) {
    cfg.kernel = kern;
    std::vector<int32_t> cbuf = before;
    int32_t* C = cbuf.data() + c.off;
    gemm_u8s8s32(c.M, c.N, c.K, A, lda, B, ldb, C, ldc, c.accumulate, cfg);
    int bad = 0;
    for (int64_t i = 0; i < c.M; ++i)
      for (int64_t j = 0; j < c.N; ++j)
        if (C[i * ldc + j] != want[i * c.N + j] && ++bad <= 10)
          ADD_FAILURE() << "gemm_u8s8s32[" << int8_kernel_name(kern) << "] M=" << c.M
                        << " N=" << c.N << " K=" << c.K << " pad=" << c.pad << " off=" << c.off
                        << " acc=" << c.accumulate << " kc=" << cfg.kc << " mc=" << cfg.mc
                        << " threads=" << num_threads() << ": C[" << i << "][" << j
                        << "] = " << C[i * ldc + j] << ", want " << want[i * c.N + j];
    // Nothing outside C's M x N window was written (padding columns, elements before and after).
    for (size_t e = 0; e < cbuf.size(); ++e) {
      const int64_t rel = static_cast<int64_t>(e) - c.off;
      const bool inside = rel >= 0 && rel / ldc < c.M && rel % ldc < c.N;
      if (!inside && cbuf[e] != before[e] && ++bad <= 10)
        ADD_FAILURE() << "gemm_u8s8s32[" << int8_kernel_name(kern) << "] M=" << c.M
                      << " N=" << c.N << " K=" << c.K << ": wrote outside C at element " << rel;
    }
  }
}

uint8_t rand_u8(Generator& g) { return static_cast<uint8_t>(g.below(256)); }
int8_t rand_s8(Generator& g) { return static_cast<int8_t>(static_cast<int>(g.below(256)) - 128); }

void check_random(const Case& c, const GemmInt8Config& cfg = {}, uint64_t seed = 1) {
  check(c, cfg, rand_u8, rand_s8, seed);
}

}  // namespace

TEST(GemmInt8, OddSizes) {
  const int64_t sizes[] = {1, 3, 7, 17, 63, 65};
  uint64_t seed = 1;
  for (int64_t M : sizes)
    for (int64_t N : sizes)
      for (int64_t K : sizes) check_random({M, N, K}, {}, seed++);
  // 257 in each position, with the others odd.
  for (const Case& c : {Case{257, 17, 63}, Case{17, 257, 65}, Case{63, 17, 257},
                        Case{257, 257, 7}, Case{7, 65, 257}})
    check_random(c, {}, seed++);
}

TEST(GemmInt8, LeadingDimensionsMisalignmentAccumulate) {
  for (bool acc : {false, true})
    for (int64_t pad : {0, 5})
      for (int64_t off : {0, 1, 3})
        for (const Case& c : {Case{7, 17, 63}, Case{65, 33, 17}, Case{3, 65, 7}, Case{1, 1, 1}}) {
          Case d = c;
          d.pad = pad;
          d.off = off;
          d.accumulate = acc;
          check_random(d, {}, static_cast<uint64_t>(pad * 7 + off + acc));
        }
}

TEST(GemmInt8, SmallBlocksRunEveryLoop) {
  // kc = 8 and 12 split K into several blocks with a 1-3 element tail; mc smaller than M runs
  // the ic loop, also with a partial last block.
  for (int kc : {8, 12})
    for (int mc : {1, 5, 16}) {
      GemmInt8Config cfg;
      cfg.kc = kc;
      cfg.mc = mc;
      for (const Case& c : {Case{17, 65, 63}, Case{33, 7, 65, 2, 1, true}, Case{9, 50, 4}})
        check_random(c, cfg, static_cast<uint64_t>(kc + mc));
    }
}

TEST(GemmInt8, BothThreadSplits) {
  const int saved = num_threads();
  for (int t : {1, 2, 3}) {
    set_num_threads(t);
    check_random({5, 257, 129}, {}, 11);          // many column groups: split over N
    check_random({257, 17, 129, 1, 1}, {}, 12);   // two column groups: split over rows
    check_random({100, 40, 300, 0, 0, true}, {}, 13);
  }
  set_num_threads(saved);
}

TEST(GemmInt8, ExtremeValuesDoNotSaturate) {
  // 255 * -128 = -32640 per product: any two of them overflow int16 (vpmaddubsw would clamp the
  // pair to -32768), and K = 4099 sums to -133.8 M, well inside int32.
  auto a255 = [](Generator&) { return uint8_t{255}; };
  auto bmin = [](Generator&) { return int8_t{-128}; };
  auto bmax = [](Generator&) { return int8_t{127}; };
  auto balt = [](Generator& g) { return g.below(2) ? int8_t{127} : int8_t{-128}; };
  for (int64_t K : {1, 2, 3, 4, 5, 63, 4099}) {
    check({9, 33, K}, {}, a255, bmin);
    check({9, 33, K}, {}, a255, bmax);
    check({9, 33, K, 0, 0, true}, {}, a255, balt);
  }
}

TEST(GemmInt8, Int32WrapsPastK65793) {
  // 32640 * 70001 > 2^31: the sum wraps modulo 2^32 on every path (vpdpbusd does not saturate).
  auto a255 = [](Generator&) { return uint8_t{255}; };
  auto bmin = [](Generator&) { return int8_t{-128}; };
  for (int kc : {0, 1 << 20}) {  // default K blocks, and one block (the register sum wraps)
    GemmInt8Config cfg;
    cfg.kc = kc;
    check({2, 17, 70001}, cfg, a255, bmin);
  }
}

TEST(GemmInt8, ZeroSizes) {
  std::vector<int32_t> C(12, 7);
  const uint8_t a[4] = {};
  const int8_t b[4] = {};
  gemm_u8s8s32(3, 4, 0, a, 1, b, 4, C.data(), 4);  // K = 0: C = 0
  for (int32_t v : C) EXPECT_EQ(v, 0);
  std::fill(C.begin(), C.end(), 7);
  gemm_u8s8s32(3, 4, 0, a, 1, b, 4, C.data(), 4, true);  // K = 0, accumulate: unchanged
  for (int32_t v : C) EXPECT_EQ(v, 7);
  gemm_u8s8s32(0, 4, 4, a, 4, b, 4, C.data(), 4);
  gemm_u8s8s32(3, 0, 4, a, 4, b, 4, C.data(), 4);
  for (int32_t v : C) EXPECT_EQ(v, 7);
}

TEST(GemmInt8, PackedAndTransposedWeights) {
  // W stored as (N x K) output-channel rows, packed with strides (1, ldw): same result as the
  // row-major K x N copy, and the column sums are those of W.
  const int64_t M = 13, N = 37, K = 71, ldw = K + 3;
  Generator g(5);
  std::vector<int8_t> w(static_cast<size_t>(N * ldw)), b(static_cast<size_t>(K * N));
  std::vector<uint8_t> a(static_cast<size_t>(M * K));
  for (auto& v : w) v = rand_s8(g);
  for (auto& v : a) v = rand_u8(g);
  for (int64_t k = 0; k < K; ++k)
    for (int64_t j = 0; j < N; ++j) b[k * N + j] = w[j * ldw + k];
  const PackedB8 packed(K, N, w.data(), 1, ldw);
  ASSERT_EQ(packed.k(), K);
  ASSERT_EQ(packed.n(), N);
  for (int64_t j = 0; j < N; ++j) {
    int64_t s = 0;
    for (int64_t k = 0; k < K; ++k) s += w[j * ldw + k];
    EXPECT_EQ(packed.col_sums()[j], s) << "column " << j;
  }
  for (Int8Kernel k : kernels_here()) {
    GemmInt8Config cfg;
    cfg.kernel = k;
    std::vector<int32_t> c1(static_cast<size_t>(M * N)), c2(c1.size());
    gemm_u8s8s32(M, a.data(), K, packed, c1.data(), N, false, cfg);
    gemm_u8s8s32(M, N, K, a.data(), K, b.data(), N, c2.data(), N, false, cfg);
    EXPECT_EQ(c1, c2) << int8_kernel_name(k);
  }
}

TEST(GemmInt8, BadArgumentsThrow) {
  std::vector<uint8_t> a(64);
  std::vector<int8_t> b(64);
  std::vector<int32_t> c(64);
  EXPECT_THROW(gemm_u8s8s32(4, 4, 8, a.data(), 7, b.data(), 4, c.data(), 4), std::invalid_argument);
  EXPECT_THROW(gemm_u8s8s32(4, 4, 4, a.data(), 4, b.data(), 3, c.data(), 4), std::invalid_argument);
  EXPECT_THROW(gemm_u8s8s32(4, 4, 4, a.data(), 4, b.data(), 4, c.data(), 3), std::invalid_argument);
  EXPECT_THROW(gemm_u8s8s32(-1, 4, 4, a.data(), 4, b.data(), 4, c.data(), 4),
               std::invalid_argument);
  for (Int8Kernel k : {Int8Kernel::avx2, Int8Kernel::avx_vnni, Int8Kernel::avx512bw,
                       Int8Kernel::avx512vnni}) {
    if (int8_kernel_available(k)) continue;
    GemmInt8Config cfg;
    cfg.kernel = k;
    EXPECT_THROW(gemm_u8s8s32(4, 4, 4, a.data(), 4, b.data(), 4, c.data(), 4, false, cfg),
                 std::invalid_argument)
        << int8_kernel_name(k);
  }
}

// ---- requantisation ---------------------------------------------------------------------------

TEST(Requantize, QuantizeMultiplierAsTflite) {
  const QuantizedMultiplier q1 = quantize_multiplier(0.25);
  EXPECT_EQ(q1.multiplier, 1 << 30);
  EXPECT_EQ(q1.shift, -1);
  const QuantizedMultiplier q2 = quantize_multiplier(0.75);
  EXPECT_EQ(q2.multiplier, 1610612736);  // round(0.75 * 2^31)
  EXPECT_EQ(q2.shift, 0);
  const QuantizedMultiplier q3 = quantize_multiplier(1.0);
  EXPECT_EQ(q3.multiplier, 1 << 30);
  EXPECT_EQ(q3.shift, 1);
  // Mantissa that rounds up to 1.0: renormalised to 2^30 with shift + 1.
  const QuantizedMultiplier q4 = quantize_multiplier(std::nextafter(1.0, 0.0));
  EXPECT_EQ(q4.multiplier, 1 << 30);
  EXPECT_EQ(q4.shift, 1);
  const QuantizedMultiplier q5 = quantize_multiplier(0.0);
  EXPECT_EQ(q5.multiplier, 0);
  EXPECT_EQ(q5.shift, 0);
  const QuantizedMultiplier q6 = quantize_multiplier(1e-12);  // below 2^-32: flushed to zero
  EXPECT_EQ(q6.multiplier, 0);
  EXPECT_THROW(quantize_multiplier(-0.5), std::invalid_argument);
}

TEST(Requantize, MultiplyByQuantizedMultiplierRoundsAsGemmlowp) {
  // m = 0.5 (2^30, shift 0): the high-mul rounds ties up.
  EXPECT_EQ(multiply_by_quantized_multiplier(3, 1 << 30, 0), 2);    // 1.5 -> 2
  EXPECT_EQ(multiply_by_quantized_multiplier(-3, 1 << 30, 0), -1);  // -1.5 -> -1
  EXPECT_EQ(multiply_by_quantized_multiplier(5, 1 << 30, 0), 3);    // 2.5 -> 3
  EXPECT_EQ(multiply_by_quantized_multiplier(-5, 1 << 30, 0), -2);  // -2.5 -> -2
  // m = 0.25 (2^30, shift -1): the right shift rounds ties away from zero.
  EXPECT_EQ(multiply_by_quantized_multiplier(6, 1 << 30, -1), 2);    // 1.5 -> 2
  EXPECT_EQ(multiply_by_quantized_multiplier(-6, 1 << 30, -1), -2);  // -1.5 -> -2
  EXPECT_EQ(multiply_by_quantized_multiplier(-2, 1 << 30, -1), -1);  // -0.5 -> -1
  // Double rounding: 5 * 0.25 = 1.25, but 5 * 0.5 = 2.5 -> 3 first, then 3 / 2 = 1.5 -> 2.
  EXPECT_EQ(multiply_by_quantized_multiplier(5, 1 << 30, -1), 2);
  // m = 2 (2^30, shift 2): left shift first.
  EXPECT_EQ(multiply_by_quantized_multiplier(7, 1 << 30, 2), 14);
  EXPECT_EQ(multiply_by_quantized_multiplier(-7, 1 << 30, 2), -14);
  // The one saturating case of the high-mul, and a saturating left shift.
  EXPECT_EQ(multiply_by_quantized_multiplier(INT32_MIN, INT32_MIN, 0), INT32_MAX);
  EXPECT_EQ(multiply_by_quantized_multiplier(INT32_MAX, 1 << 30, 3), (INT32_MAX / 2) + 1);
}

namespace {

struct QCase {
  int64_t M, N, K;
  int32_t zx, zo;
  bool per_channel, with_bias;
  int32_t act_min = -128, act_max = 127;
  bool extreme = false;  // x = -128 with zx = 127, W = -128: the largest |x - zx| * |w|
};

void check_qlinear(const QCase& q, const GemmInt8Config& cfg, uint64_t seed) {
  Generator g(seed);
  const int64_t ldx = q.K + 2, ldw = q.K + 1, ldy = q.N + 3;
  std::vector<int8_t> x(static_cast<size_t>(q.M * ldx)), w(static_cast<size_t>(q.N * ldw));
  for (auto& v : x) v = q.extreme ? int8_t{-128} : rand_s8(g);
  for (auto& v : w) v = q.extreme ? int8_t{-128} : rand_s8(g);
  std::vector<int32_t> bias(static_cast<size_t>(q.N)), mult, shift;
  std::vector<double> real;
  for (auto& v : bias) v = static_cast<int32_t>(g.below(200001)) - 100000;
  const int64_t nch = q.per_channel ? q.N : 1;
  for (int64_t j = 0; j < nch; ++j) {
    // Typical s_x * s_w / s_y, with a wide acc range so that outputs span and clip int8.
    const double r = (q.extreme ? 1e-6 : 2e-4) * std::pow(2.0, g.uniform() * 6);
    const QuantizedMultiplier qm = quantize_multiplier(r);
    mult.push_back(qm.multiplier);
    shift.push_back(qm.shift);
    real.push_back(std::ldexp(static_cast<double>(qm.multiplier), qm.shift - 31));
  }
  QLinearParams p;
  p.input_zero_point = q.zx;
  p.output_zero_point = q.zo;
  p.bias = q.with_bias ? bias.data() : nullptr;
  p.multiplier = mult.data();
  p.shift = shift.data();
  p.per_channel = q.per_channel;
  p.act_min = q.act_min;
  p.act_max = q.act_max;
  const PackedB8 packed(q.K, q.N, w.data(), 1, ldw);  // W as (N x K) rows
  std::vector<int8_t> y(static_cast<size_t>(q.M * ldy), int8_t{99});
  qlinear_s8(q.M, x.data(), ldx, packed, p, y.data(), ldy, cfg);

  int bad = 0, off_by_one = 0;
  for (int64_t i = 0; i < q.M; ++i)
    for (int64_t j = 0; j < q.N; ++j) {
      int64_t acc = q.with_bias ? bias[j] : 0;
      for (int64_t k = 0; k < q.K; ++k) acc += (int64_t{x[i * ldx + k]} - q.zx) * w[j * ldw + k];
      const int64_t ch = q.per_channel ? j : 0;
      // TFLite's integer formula, on the exact accumulator.
      const int32_t scaled =
          multiply_by_quantized_multiplier(static_cast<int32_t>(acc), mult[ch], shift[ch]);
      const int64_t yi = std::clamp<int64_t>(int64_t{scaled} + q.zo, q.act_min, q.act_max);
      // The same formula in floating point, rounded once.
      const double yf = std::clamp(std::round(static_cast<double>(acc) * real[ch]) + q.zo,
                                   double(q.act_min), double(q.act_max));
      const int got = y[i * ldy + j];
      if ((got != yi || std::abs(got - yf) > 1) && ++bad <= 10)
        ADD_FAILURE() << "qlinear_s8[" << int8_kernel_name(cfg.kernel) << "] M=" << q.M
                      << " N=" << q.N << " K=" << q.K << " zx=" << q.zx << " zo=" << q.zo
                      << ": y[" << i << "][" << j << "] = " << got << ", integer ref " << yi
                      << ", float ref " << yf << " (acc " << acc << ")";
      off_by_one += got != static_cast<int>(yf);
    }
  // Double rounding differs from the float result only near ties.
  EXPECT_LE(off_by_one, std::max<int64_t>(2, q.M * q.N / 50))
      << "M=" << q.M << " N=" << q.N << " K=" << q.K;
  for (int64_t i = 0; i < q.M; ++i)
    for (int64_t j = q.N; j < ldy; ++j) EXPECT_EQ(y[i * ldy + j], 99) << "wrote past N";
}

}  // namespace

TEST(QLinear, MatchesTfliteFormula) {
  const QCase cases[] = {
      {1, 10, 64, 0, 0, false, true},
      {7, 17, 63, -128, 5, true, true},
      {17, 65, 257, 127, -128, true, false},
      {63, 3, 7, 33, -7, false, true},
      {65, 33, 1, -5, 0, true, true, 0, 127},     // fused ReLU
      {9, 40, 100, 10, -128, true, true, -128, -28},  // ReLU6-like upper clamp
      {5, 19, 301, 127, 0, true, false, -128, 127, true},
  };
  uint64_t seed = 100;
  for (Int8Kernel k : kernels_here()) {
    GemmInt8Config cfg;
    cfg.kernel = k;
    for (const QCase& q : cases) check_qlinear(q, cfg, seed++);
  }
}

TEST(QLinear, BadParamsThrow) {
  const int8_t w[4] = {1, 2, 3, 4};
  const PackedB8 packed(2, 2, w, 2, 1);
  int8_t x[2] = {}, y[4] = {};
  const int32_t m = 1 << 30, s = 0;
  QLinearParams p;
  EXPECT_THROW(qlinear_s8(1, x, 2, packed, p, y, 2), std::invalid_argument);  // no multiplier
  p.multiplier = &m;
  p.shift = &s;
  EXPECT_NO_THROW(qlinear_s8(1, x, 2, packed, p, y, 2));
  p.input_zero_point = 128;
  EXPECT_THROW(qlinear_s8(1, x, 2, packed, p, y, 2), std::invalid_argument);
  p.input_zero_point = 0;
  p.act_min = 10;
  p.act_max = 5;
  EXPECT_THROW(qlinear_s8(1, x, 2, packed, p, y, 2), std::invalid_argument);
}
