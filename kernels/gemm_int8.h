// Integer GEMM for quantised inference: C (int32) = A (uint8) @ B (int8), the product that
// VNNI's vpdpbusd computes, plus the quantised linear layer built on it (int8 in, int8 out,
// zero points and fixed-point requantisation as TFLite and CMSIS-NN define them). edge/ uses
// this as the host reference of its MCU kernels, so the integer results are exact, not close.
//
// Layout: row-major with leading dimensions. A (M x K) at A[i*lda + k], B (K x N) at
// B[k*ldb + j], C (M x N) at C[i*ldc + j].
//
// Exactness: every path (scalar, AVX2, AVX-VNNI, AVX-512BW, AVX-512 VNNI) returns the same bits.
// Each product u8 * s8 lies in [-32640, 32385], so a dot product of length K fits in int32 while
// 32640 * K < 2^31, i.e. K <= 65793; beyond that, and when accumulating into C, int32 sums wrap
// modulo 2^32 on every path (as vpdpbusd does), never saturate. No path uses vpmaddubsw, whose
// int16 pair sums saturate (255*127*2 > 32767); see gemm_int8_avx2.cpp.
//
// Left out on purpose: a transposed or column-strided B in gemm_u8s8s32 (pack it into PackedB8,
// which takes both strides), an s8 x s8 GEMM (qlinear_s8 shifts int8 activations to u8 and
// corrects with B's column sums instead), and weights with a non-zero zero point, which
// TFLite's int8 spec forbids.
#pragma once

#include <cstdint>
#include <memory>

namespace bstack::kernels {

// The micro-kernel families. `automatic` picks the best one this CPU (and BSTACK_ISA) allows:
// avx512vnni, then avx_vnni (the VEX-encoded 256-bit vpdpbusd of Alder Lake and Zen 5, usable
// on the AVX2 path), then avx512bw, avx2, scalar.
enum class Int8Kernel : int {
  automatic = -1, scalar = 0, avx2 = 1, avx_vnni = 2, avx512bw = 3, avx512vnni = 4
};

const char* int8_kernel_name(Int8Kernel k);
bool int8_kernel_available(Int8Kernel k);  // CPU has it and kernels::isa() allows it
Int8Kernel int8_kernel_best();

struct GemmInt8Config {
  int kc = 0;  // K block (rounded to a multiple of 4); 0 = from the L2 size (gemm_int8.cpp)
  int mc = 0;  // M block; 0 = the A block takes half of L2
  Int8Kernel kernel = Int8Kernel::automatic;
  int threads = 0;  // 0 = num_threads()
};

// B packed for the integer micro-kernels, once per weight matrix (the "prepack" of oneDNN and
// FBGEMM). The layout is the VNNI one and is the same for every ISA path:
//   16-column groups q = 0 .. ceil(N/16)-1, each holding ceil(K/4) k-groups of 64 bytes;
//   within a k-group, column c of the group stores B[4g .. 4g+3][16q + c] in 4 consecutive
//   bytes, so one 64-byte load is the int8 operand of one vpdpbusd (16 int32 lanes x 4 k).
// Rows past K and columns past N are zero, so the kernels never need a K or N tail for B.
// Also keeps the column sums of B, which qlinear_s8 needs for its zero-point correction.
class PackedB8 {
 public:
  PackedB8() = default;
  // B(k, j) at B[k*rs_b + j*cs_b]: (ldb, 1) for row-major K x N, (1, ldw) for a weight stored
  // as (N x K) rows of output channels, as PyTorch's Linear and TFLite's FullyConnected keep it.
  PackedB8(int64_t K, int64_t N, const int8_t* B, int64_t rs_b, int64_t cs_b);

  int64_t k() const { return K_; }
  int64_t n() const { return N_; }
  int64_t k_groups() const { return (K_ + 3) / 4; }
  int64_t n_groups() const { return (N_ + 15) / 16; }
  int64_t group_stride() const { return k_groups() * 64; }  // bytes between column groups
  const int8_t* data() const { return data_.get(); }
  const int32_t* col_sums() const { return col_sums_.get(); }  // sum over k of B(k, j), length N

 private:
  struct Free {
    void operator()(void* p) const;
  };
  int64_t K_ = 0, N_ = 0;
  std::unique_ptr<int8_t[], Free> data_;  // 64-byte aligned
  std::unique_ptr<int32_t[], Free> col_sums_;
};

// C = A @ B (accumulate == false) or C += A @ B. Packs B on every call; use the PackedB8
// overload when B is reused (weights).
void gemm_u8s8s32(int64_t M, int64_t N, int64_t K, const uint8_t* A, int64_t lda,
                  const int8_t* B, int64_t ldb, int32_t* C, int64_t ldc, bool accumulate = false,
                  const GemmInt8Config& cfg = {});
void gemm_u8s8s32(int64_t M, const uint8_t* A, int64_t lda, const PackedB8& B, int32_t* C,
                  int64_t ldc, bool accumulate = false, const GemmInt8Config& cfg = {});

// ---- requantisation, as TFLite's integer kernels and CMSIS-NN do it --------------------------
// A real multiplier 0 < m < 1 (typically s_in * s_w / s_out) is stored as a Q31 fixed-point
// mantissa and a power-of-two exponent: m ~= multiplier * 2^(shift - 31), multiplier in
// [2^30, 2^31). Sources: TFLite's QuantizeMultiplier (tensorflow/lite/kernels/internal/
// quantization_util.cc), MultiplyByQuantizedMultiplier (internal/common.h), gemmlowp's
// SaturatingRoundingDoublingHighMul and RoundingDivideByPOT (fixedpoint/fixedpoint.h), and
// CMSIS-NN's arm_nn_requantize (the same double rounding); the int8 scheme is the TFLite
// "quantization spec" (https://www.tensorflow.org/lite/performance/quantization_spec).
struct QuantizedMultiplier {
  int32_t multiplier = 0;
  int shift = 0;  // > 0: left shift before the multiply; < 0: rounding right shift after it
};
QuantizedMultiplier quantize_multiplier(double real_multiplier);
// x * multiplier * 2^(shift-31), rounded twice as gemmlowp does: the doubling high-mul rounds
// ties up (toward +inf), then the right shift rounds ties away from zero. So 5 * 0.25 gives 2,
// not 1: this is TFLite's (and CMSIS-NN's default) double rounding, kept bit for bit.
int32_t multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int shift);

// A fully connected int8 layer (TFLite FullyConnected / CMSIS-NN arm_fully_connected_s8):
//   acc[i][j] = bias[j] + sum_k (x[i][k] - input_zero_point) * W(k, j)
//   y[i][j]   = clamp(output_zero_point + MBQM(acc, multiplier[j], shift[j]), act_min, act_max)
// with W symmetric (zero point 0, the spec's rule for int8 weights), bias int32 at scale
// s_x * s_w[j] with zero point 0, and per-channel (per_channel = true: arrays of length N) or
// per-tensor (length 1) multipliers.
struct QLinearParams {
  int32_t input_zero_point = 0;   // in [-128, 127]
  int32_t output_zero_point = 0;  // in [-128, 127]
  const int32_t* bias = nullptr;  // length N, or nullptr
  const int32_t* multiplier = nullptr;
  const int32_t* shift = nullptr;
  bool per_channel = false;
  int32_t act_min = -128, act_max = 127;  // fused ReLU / ReLU6 narrow this
};

// x: (M x K) int8 at x[i*ldx + k]; w: the packed weights W (K x N); y: (M x N) int8 at
// y[i*ldy + j].
void qlinear_s8(int64_t M, const int8_t* x, int64_t ldx, const PackedB8& w,
                const QLinearParams& p, int8_t* y, int64_t ldy, const GemmInt8Config& cfg = {});

// ---- internal: the micro-kernel interface that gemm_int8_{avx2,avx512}.cpp implement --------
namespace detail {

// One tile C[0:m, 0:n] (+)= A[0:m, 0:k] @ B[0:k, 0:n], m <= mr, n <= 16 * nv.
// a: row i at a + i*lda (unpacked; k bytes per row are read, never more). b: the tile's first
// column group at its first k-group (PackedB8 layout, 64-byte aligned); group v at b + v*gs.
// load_c: add to C instead of overwriting it. Sums wrap modulo 2^32.
struct Int8UkrArgs {
  int64_t k;
  const uint8_t* a;
  int64_t lda;
  const int8_t* b;
  int64_t gs;
  int32_t* c;
  int64_t ldc;
  int m, n;
  bool load_c;
};
using Int8Ukr = void (*)(const Int8UkrArgs&);
struct Int8Tile {
  int mr, nv;  // rows, 16-column groups
};
// The kernel for an m-row, nv-group tile (1 <= m <= mr, 1 <= nv <= tile nv).
Int8Tile int8_tile_avx2();
Int8Ukr int8_ukr_avx2(int m, int nv);
Int8Tile int8_tile_avx_vnni();
Int8Ukr int8_ukr_avx_vnni(int m, int nv);
Int8Tile int8_tile_avx512bw();
Int8Ukr int8_ukr_avx512bw(int m, int nv);
Int8Tile int8_tile_avx512vnni();
Int8Ukr int8_ukr_avx512vnni(int m, int nv);

}  // namespace detail
}  // namespace bstack::kernels
