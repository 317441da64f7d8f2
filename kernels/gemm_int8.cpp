// Integer GEMM driver: B packing, block sizes, threading, dispatch to the ISA micro-kernels,
// the portable scalar micro-kernel, and the TFLite-style requantisation of qlinear_s8.
//
// Loop structure (BLIS, Van Zee & van de Geijn 2015, with A left unpacked as in oneDNN's
// brgemm: its rows are already contiguous in k, and a u8 row is read 4 bytes at a time):
//   threads split the 16-column groups of C (or its rows when there are too few groups)
//   pc: K blocks of kc      -- B micro-panel kc x 16*nv stays in L1
//     ic: M blocks of mc    -- A block mc x kc stays in L2
//       jr: nv-group panels of the packed B
//         ir: mr-row tiles  -- the micro-kernel, accumulators in registers
#include "kernels/gemm_int8.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "kernels/cpu.h"
#include "kernels/parallel.h"

namespace bstack::kernels {
namespace {

[[noreturn]] void fail(const std::string& msg) { throw std::invalid_argument(msg); }

void* aligned_bytes(int64_t n) {
  const size_t bytes = (static_cast<size_t>(n) + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, bytes == 0 ? 64 : bytes);
  if (!p) throw std::bad_alloc();
  return p;
}

// ---- scalar micro-kernel: portable C++, the same packed layout --------------------------------
// Unsigned arithmetic so that int32 overflow wraps (as vpdpbusd does) instead of being UB.
constexpr int kScalarMr = 4;

template <int MR>
void ukr_scalar(const detail::Int8UkrArgs& p) {
  uint32_t acc[MR][16] = {};
  const int64_t kg = (p.k + 3) / 4;
  for (int64_t g = 0; g < kg; ++g) {
    // De-interleave the k-group into 4 rows of 16 int16 (shared by the MR rows of A), so the
    // column loop below is unit-stride and the compiler vectorises it with SSE2.
    const int8_t* b = p.b + 64 * g;
    int16_t bt[4][16];
    for (int c = 0; c < 16; ++c)
      for (int t = 0; t < 4; ++t) bt[t][c] = b[4 * c + t];
    const int64_t kn = std::min<int64_t>(4, p.k - 4 * g);
    for (int i = 0; i < MR; ++i) {
      // Row i's 4 bytes, zero past K (B is zero there too).
      const uint8_t* a = p.a + i * p.lda + 4 * g;
      const int16_t a0 = a[0], a1 = kn > 1 ? a[1] : 0, a2 = kn > 2 ? a[2] : 0,
                    a3 = kn > 3 ? a[3] : 0;
      // Each product fits int16 (|255 * -128| < 2^15) and the 4-term sum int32.
      for (int c = 0; c < 16; ++c)
        acc[i][c] += static_cast<uint32_t>(a0 * bt[0][c] + a1 * bt[1][c] + a2 * bt[2][c] +
                                           a3 * bt[3][c]);
    }
  }
  for (int i = 0; i < MR; ++i) {
    int32_t* c = p.c + i * p.ldc;
    for (int j = 0; j < p.n; ++j) {
      const uint32_t prev = p.load_c ? static_cast<uint32_t>(c[j]) : 0u;
      c[j] = static_cast<int32_t>(prev + acc[i][j]);  // C++20: modular conversion
    }
  }
}

detail::Int8Ukr ukr_scalar_for(int m) {
  static constexpr std::array<detail::Int8Ukr, kScalarMr> table = {
      &ukr_scalar<1>, &ukr_scalar<2>, &ukr_scalar<3>, &ukr_scalar<4>};
  return table[m - 1];
}

// ---- dispatch -------------------------------------------------------------------------------
detail::Int8Tile tile_of(Int8Kernel k) {
  switch (k) {
    case Int8Kernel::avx512vnni: return detail::int8_tile_avx512vnni();
    case Int8Kernel::avx512bw: return detail::int8_tile_avx512bw();
    case Int8Kernel::avx_vnni: return detail::int8_tile_avx_vnni();
    case Int8Kernel::avx2: return detail::int8_tile_avx2();
    default: return {kScalarMr, 1};
  }
}

detail::Int8Ukr ukr_of(Int8Kernel k, int m, int nv) {
  switch (k) {
    case Int8Kernel::avx512vnni: return detail::int8_ukr_avx512vnni(m, nv);
    case Int8Kernel::avx512bw: return detail::int8_ukr_avx512bw(m, nv);
    case Int8Kernel::avx_vnni: return detail::int8_ukr_avx_vnni(m, nv);
    case Int8Kernel::avx2: return detail::int8_ukr_avx2(m, nv);
    default: return ukr_scalar_for(m);
  }
}

Int8Kernel resolve_kernel(Int8Kernel k) {
  if (k == Int8Kernel::automatic) return int8_kernel_best();
  if (!int8_kernel_available(k))
    fail(std::string("gemm_u8s8s32: kernel ") + int8_kernel_name(k) +
         " is not available on this CPU (or BSTACK_ISA forbids it)");
  return k;
}

// Block sizes from the cache sizes (after Low et al. 2016), with one int8-specific change: kc is
// large. Every K block re-reads and re-writes all of C, 4 bytes per element against 1 byte of A
// and B, and the int8 kernel does 4x the work per instruction of an fp32 one, so C traffic
// that an fp32 GEMM hides costs int8 20-30% at 2048^3 with kc = 512 (measured on Zen 5). The
// B micro-panel (kc x 16*nv bytes) then lives in L2, not L1: the kernel reads 192 B of it per
// 24 vpdpbusd, well within L2 bandwidth. So kc is capped by L2/8 for the B micro-panel, K is
// split into equal blocks under that cap, and the A block (mc x kc) takes half of L2.
std::pair<int64_t, int64_t> block_sizes(const GemmInt8Config& cfg, detail::Int8Tile t,
                                        int64_t K) {
  const CacheSizes& cs = cache_sizes();
  const int64_t l2 = cs.l2 > 0 ? cs.l2 : 256 * 1024;
  int64_t kc = cfg.kc;
  if (kc <= 0) {
    const int64_t kmax = std::clamp<int64_t>(l2 / 8 / (16 * t.nv), 256, 4096);
    const int64_t blocks = (K + kmax - 1) / kmax;
    kc = (K + blocks - 1) / blocks + 3;
  }
  kc = std::max<int64_t>(4, kc / 4 * 4);
  int64_t mc = cfg.mc;
  if (mc <= 0) mc = std::max<int64_t>(t.mr, l2 / 2 / std::min(kc, K) / t.mr * t.mr);
  return {kc, mc};
}

// C[i0:i1, column groups q0:q1] (+)= A @ B, on the calling thread.
void gemm_block(int64_t i0, int64_t i1, int64_t q0, int64_t q1, const uint8_t* A, int64_t lda,
                const PackedB8& B, int32_t* C, int64_t ldc, bool accumulate, Int8Kernel kern,
                detail::Int8Tile t, int64_t kc, int64_t mc) {
  const int64_t K = B.k(), N = B.n(), gs = B.group_stride();
  for (int64_t pc = 0; pc < K; pc += kc) {
    const int64_t kb = std::min(kc, K - pc);
    const bool load_c = accumulate || pc > 0;
    for (int64_t ic = i0; ic < i1; ic += mc) {
      const int64_t ie = std::min(i1, ic + mc);
      for (int64_t q = q0; q < q1; q += t.nv) {
        const int nv = static_cast<int>(std::min<int64_t>(t.nv, q1 - q));
        const int n = static_cast<int>(std::min<int64_t>(16 * nv, N - 16 * q));
        const detail::Int8Ukr full = ukr_of(kern, t.mr, nv);
        detail::Int8UkrArgs args{kb, nullptr, lda, B.data() + q * gs + pc / 4 * 64, gs, nullptr,
                                 ldc, t.mr, n, load_c};
        for (int64_t ir = ic; ir < ie; ir += t.mr) {
          args.a = A + ir * lda + pc;
          args.c = C + ir * ldc + 16 * q;
          args.m = static_cast<int>(std::min<int64_t>(t.mr, ie - ir));
          (args.m == t.mr ? full : ukr_of(kern, args.m, nv))(args);
        }
      }
    }
  }
}

}  // namespace

// ---- kernel selection -----------------------------------------------------------------------
const char* int8_kernel_name(Int8Kernel k) {
  switch (k) {
    case Int8Kernel::automatic: return "automatic";
    case Int8Kernel::scalar: return "scalar";
    case Int8Kernel::avx2: return "avx2";
    case Int8Kernel::avx_vnni: return "avx_vnni";
    case Int8Kernel::avx512bw: return "avx512bw";
    case Int8Kernel::avx512vnni: return "avx512vnni";
  }
  return "?";
}

bool int8_kernel_available(Int8Kernel k) {
  switch (k) {
    case Int8Kernel::automatic:
    case Int8Kernel::scalar: return true;
    case Int8Kernel::avx2: return isa() >= Isa::avx2;
    case Int8Kernel::avx_vnni: return isa() >= Isa::avx2 && cpu_features().avx_vnni;
    case Int8Kernel::avx512bw: return isa() >= Isa::avx512;
    case Int8Kernel::avx512vnni: return isa() >= Isa::avx512 && cpu_features().avx512_vnni;
  }
  return false;
}

Int8Kernel int8_kernel_best() {
  for (Int8Kernel k : {Int8Kernel::avx512vnni, Int8Kernel::avx_vnni, Int8Kernel::avx512bw,
                       Int8Kernel::avx2})
    if (int8_kernel_available(k)) return k;
  return Int8Kernel::scalar;
}

// ---- PackedB8 -------------------------------------------------------------------------------
void PackedB8::Free::operator()(void* p) const { std::free(p); }

PackedB8::PackedB8(int64_t K, int64_t N, const int8_t* B, int64_t rs_b, int64_t cs_b)
    : K_(K), N_(N) {
  if (K < 0 || N < 0)
    fail("PackedB8: negative size K=" + std::to_string(K) + " N=" + std::to_string(N));
  if (K > 0 && N > 0 && !B) fail("PackedB8: B is null");
  const int64_t ng = n_groups(), gs = group_stride();
  data_.reset(static_cast<int8_t*>(aligned_bytes(ng * gs)));
  col_sums_.reset(static_cast<int32_t*>(aligned_bytes(std::max<int64_t>(N, 1) * 4)));
  // Element (k, 16q + c) goes to byte 64*(k/4) + 4c + k%4 of group q. Threads take column
  // groups; each walks k-groups outermost so that the 4 source rows it interleaves are read
  // contiguously (a 4 x 16 byte transpose per group, which the compiler vectorises).
  parallel_for(ng, K * 16 + 1, [&](int64_t q0, int64_t q1) {
    static const int8_t kZeros[16] = {};
    int32_t* sums = col_sums_.get();
    for (int64_t j = 16 * q0; j < std::min(N, 16 * q1); ++j) sums[j] = 0;
    for (int64_t g = 0; g < (K + 3) / 4; ++g) {
      for (int64_t q = q0; q < q1; ++q) {
        const int64_t nc = std::min<int64_t>(16, N - 16 * q);
        int8_t* d = data_.get() + q * gs + 64 * g;
        if (cs_b == 1 && nc == 16) {
          const int8_t* r[4];
          for (int t = 0; t < 4; ++t)
            r[t] = 4 * g + t < K ? B + (4 * g + t) * rs_b + 16 * q : kZeros;
          int32_t* s = sums + 16 * q;
          for (int c = 0; c < 16; ++c) {
            d[4 * c] = r[0][c];
            d[4 * c + 1] = r[1][c];
            d[4 * c + 2] = r[2][c];
            d[4 * c + 3] = r[3][c];
            s[c] += r[0][c] + r[1][c] + r[2][c] + r[3][c];
          }
        } else {  // strided columns or the last, partial group: element by element
          std::memset(d, 0, 64);
          for (int64_t t = 0; t < 4 && 4 * g + t < K; ++t) {
            const int8_t* src = B + (4 * g + t) * rs_b + 16 * q * cs_b;
            for (int64_t c = 0; c < nc; ++c) {
              d[4 * c + t] = src[c * cs_b];
              sums[16 * q + c] += src[c * cs_b];
            }
          }
        }
      }
    }
  });
}

// ---- GEMM -----------------------------------------------------------------------------------
void gemm_u8s8s32(int64_t M, const uint8_t* A, int64_t lda, const PackedB8& B, int32_t* C,
                  int64_t ldc, bool accumulate, const GemmInt8Config& cfg) {
  const int64_t N = B.n(), K = B.k();
  if (M < 0) fail("gemm_u8s8s32: negative M=" + std::to_string(M));
  if (M == 0 || N == 0) return;
  if (ldc < N)
    fail("gemm_u8s8s32: ldc (" + std::to_string(ldc) + ") < N (" + std::to_string(N) + ")");
  if (K > 0 && lda < K)
    fail("gemm_u8s8s32: lda (" + std::to_string(lda) + ") < K (" + std::to_string(K) + ")");
  if (!C || (K > 0 && !A)) fail("gemm_u8s8s32: null operand");
  if (K == 0) {
    if (!accumulate)
      for (int64_t i = 0; i < M; ++i) std::memset(C + i * ldc, 0, static_cast<size_t>(N) * 4);
    return;
  }
  const Int8Kernel kern = resolve_kernel(cfg.kernel);
  const detail::Int8Tile t = tile_of(kern);
  const auto [kc, mc] = block_sizes(cfg, t, K);

  // Split the column groups across threads when there are enough of them for an even share,
  // else the rows (in whole tiles): whichever leaves the busiest thread less work.
  const int64_t ng = B.n_groups(), mt = (M + t.mr - 1) / t.mr;
  const int64_t nt = std::max(1, num_threads());
  auto busiest = [nt](int64_t units) {  // fraction of all work on the busiest thread
    const int64_t per = (units + std::min(nt, units) - 1) / std::min(nt, units);
    return static_cast<double>(per) / static_cast<double>(units);
  };
  const int64_t cost = mt * t.mr * ng * 16 * K;  // multiply-adds, padded
  if (busiest(ng) <= busiest(mt)) {
    parallel_for(ng, cost / ng, [&](int64_t q0, int64_t q1) {
      gemm_block(0, M, q0, q1, A, lda, B, C, ldc, accumulate, kern, t, kc, mc);
    });
  } else {
    parallel_for(mt, cost / mt, [&](int64_t r0, int64_t r1) {
      gemm_block(r0 * t.mr, std::min(M, r1 * t.mr), 0, ng, A, lda, B, C, ldc, accumulate, kern,
                 t, kc, mc);
    });
  }
}

void gemm_u8s8s32(int64_t M, int64_t N, int64_t K, const uint8_t* A, int64_t lda,
                  const int8_t* B, int64_t ldb, int32_t* C, int64_t ldc, bool accumulate,
                  const GemmInt8Config& cfg) {
  if (M < 0 || N < 0 || K < 0)
    fail("gemm_u8s8s32: negative size M=" + std::to_string(M) + " N=" + std::to_string(N) +
         " K=" + std::to_string(K));
  if (M == 0 || N == 0) return;
  if (K > 1 && ldb < N)
    fail("gemm_u8s8s32: ldb (" + std::to_string(ldb) + ") < N (" + std::to_string(N) + ")");
  const PackedB8 packed(K, N, B, ldb, 1);
  gemm_u8s8s32(M, A, lda, packed, C, ldc, accumulate, cfg);
}

// ---- requantisation (TFLite / gemmlowp) -------------------------------------------------------
QuantizedMultiplier quantize_multiplier(double real_multiplier) {
  // tensorflow/lite/kernels/internal/quantization_util.cc, QuantizeMultiplier.
  if (!(real_multiplier >= 0.0) || !std::isfinite(real_multiplier))
    fail("quantize_multiplier: multiplier must be finite and >= 0, got " +
         std::to_string(real_multiplier));
  QuantizedMultiplier q;
  if (real_multiplier == 0.0) return q;
  int shift = 0;
  const double mant = std::frexp(real_multiplier, &shift);  // in [0.5, 1)
  int64_t fixed = std::llround(mant * static_cast<double>(int64_t{1} << 31));
  if (fixed == (int64_t{1} << 31)) {  // mant rounded up to 1.0
    fixed /= 2;
    ++shift;
  }
  if (shift < -31) {  // too small to represent: flush to zero, as TFLite does
    shift = 0;
    fixed = 0;
  }
  if (shift > 31)
    fail("quantize_multiplier: multiplier " + std::to_string(real_multiplier) + " >= 2^31");
  q.multiplier = static_cast<int32_t>(fixed);
  q.shift = shift;
  return q;
}

int32_t multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int shift) {
  // TFLite internal/common.h MultiplyByQuantizedMultiplier (the default double-rounding form,
  // also CMSIS-NN's arm_nn_requantize):
  //   RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x << left, m), right)
  // The left shift saturates here (TFLite's reference overflows int32 there; its NEON path
  // uses the saturating vqshl), the only place the two can differ.
  const int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
  int64_t xl = static_cast<int64_t>(x) * (int64_t{1} << std::min(left, 31));
  xl = std::clamp<int64_t>(xl, std::numeric_limits<int32_t>::min(),
                           std::numeric_limits<int32_t>::max());
  const int32_t a = static_cast<int32_t>(xl);
  // gemmlowp SaturatingRoundingDoublingHighMul: round(a * m / 2^31), ties toward +inf (the same
  // value as CMSIS-NN's arm_nn_doubling_high_mult_no_sat, (ab + 2^30) >> 31).
  int32_t hi;
  if (a == multiplier && a == std::numeric_limits<int32_t>::min()) {
    hi = std::numeric_limits<int32_t>::max();
  } else {
    const int64_t ab = static_cast<int64_t>(a) * multiplier;
    const int64_t nudge = ab >= 0 ? (int64_t{1} << 30) : 1 - (int64_t{1} << 30);
    hi = static_cast<int32_t>((ab + nudge) / (int64_t{1} << 31));  // truncating division
  }
  // gemmlowp RoundingDivideByPOT: arithmetic shift, rounding half away from zero.
  if (right <= 0) return hi;
  if (right > 31) return 0;
  const int32_t mask = static_cast<int32_t>((int64_t{1} << right) - 1);
  const int32_t rem = hi & mask, threshold = (mask >> 1) + (hi < 0 ? 1 : 0);
  return (hi >> right) + (rem > threshold ? 1 : 0);
}

// ---- quantised linear layer -------------------------------------------------------------------
// TFLite's int8 FullyConnected needs sum_k (x - zx) * w with x, zx int8; the VNNI product wants
// an unsigned left operand. With u = x + 128 (in [0, 255]; bitwise x ^ 0x80):
//   sum_k (x[k] - zx) * w[k][j] = sum_k u[k] * w[k][j] - (128 + zx) * sum_k w[k][j]
// so one u8 x s8 GEMM plus a per-column constant, (128 + zx) * colsum(W)[j], folded into the
// bias once per call (the trick of gemmlowp's "offsets" and oneDNN's s8s8 compensation). All of
// it is computed modulo 2^32, so the result is exact whenever the true accumulator fits int32.
void qlinear_s8(int64_t M, const int8_t* x, int64_t ldx, const PackedB8& w,
                const QLinearParams& p, int8_t* y, int64_t ldy, const GemmInt8Config& cfg) {
  const int64_t N = w.n(), K = w.k();
  if (M < 0) fail("qlinear_s8: negative M=" + std::to_string(M));
  if (M == 0 || N == 0) return;
  if (!p.multiplier || !p.shift) fail("qlinear_s8: multiplier and shift are required");
  if (p.input_zero_point < -128 || p.input_zero_point > 127 || p.output_zero_point < -128 ||
      p.output_zero_point > 127)
    fail("qlinear_s8: zero points must be in [-128, 127], got input " +
         std::to_string(p.input_zero_point) + ", output " + std::to_string(p.output_zero_point));
  if (p.act_min > p.act_max || p.act_min < -128 || p.act_max > 127)
    fail("qlinear_s8: activation range [" + std::to_string(p.act_min) + ", " +
         std::to_string(p.act_max) + "] is not inside [-128, 127]");
  if (ldy < N)
    fail("qlinear_s8: ldy (" + std::to_string(ldy) + ") < N (" + std::to_string(N) + ")");
  if (K > 0 && ldx < K)
    fail("qlinear_s8: ldx (" + std::to_string(ldx) + ") < K (" + std::to_string(K) + ")");

  std::vector<int32_t> bias(static_cast<size_t>(N));
  const int64_t offset = 128 + p.input_zero_point;
  for (int64_t j = 0; j < N; ++j)
    bias[j] = static_cast<int32_t>((p.bias ? int64_t{p.bias[j]} : 0) - offset * w.col_sums()[j]);

  std::vector<uint8_t> u(static_cast<size_t>(M * K));
  std::vector<int32_t> acc(static_cast<size_t>(M * N));
  parallel_for(M, K + 1, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i)
      for (int64_t k = 0; k < K; ++k) u[i * K + k] = static_cast<uint8_t>(x[i * ldx + k] ^ 0x80);
  });
  gemm_u8s8s32(M, u.data(), K, w, acc.data(), N, false, cfg);
  parallel_for(M, 8 * N, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i)
      for (int64_t j = 0; j < N; ++j) {
        const int64_t ch = p.per_channel ? j : 0;
        const int32_t a = static_cast<int32_t>(static_cast<uint32_t>(acc[i * N + j]) +
                                               static_cast<uint32_t>(bias[j]));
        const int64_t v =
            int64_t{multiply_by_quantized_multiplier(a, p.multiplier[ch], p.shift[ch])} +
            p.output_zero_point;
        y[i * ldy + j] = static_cast<int8_t>(std::clamp<int64_t>(v, p.act_min, p.act_max));
      }
  });
}

}  // namespace bstack::kernels
