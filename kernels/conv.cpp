// Convolution and pooling kernels (see conv.h for the layouts and contracts).
//
// Convolution, general case: im2col + GEMM per image (Chellapilla et al. 2006). Per image n and
// group g, with K = C/groups*KH*KW and L = OH*OW:
//   forward   Y_n[g] (OC/g, L)  = W[g] (OC/g, K) @ cols_n[g] (K, L) + bias  (bias in the GEMM
//             epilogue, while each tile is in L1)
//   backward  dW[g]            += dY_n[g] @ cols_n[g]^T
//             dcols_n[g]        = W[g]^T @ dY_n[g],  then dx_n = col2im(dcols_n)
//             dbias             = sum over n and L of dY
// A 1x1, stride-1, unpadded convolution needs no im2col: the image already is the (C, H*W)
// matrix. cols for one image (K x L) is small enough to stay in L2 between its im2col and its
// GEMM, which is why the lowering is done per image rather than for the whole batch.
//
// Threads: with at least as many images as threads, each thread takes whole images with its own
// cols buffer and runs single-threaded GEMMs (no fork/join per GEMM, no shared packing); with
// fewer images (inference, batch 1), images run one after another and the GEMM uses the threads.
// dW sums over the batch: the batch is cut into a fixed number of slots (a function of the shape
// and the machine's core count, never of the thread setting); each slot accumulates its images
// in order into its own partial dW, and the partials are added in slot order, so dW is the same
// for any number of threads. The alternative, one GEMM over the whole batch (K = N*L), was no
// faster for the GEMM alone (0.83 ms either way, cnn conv2, batch 64, 1 thread) and would need
// the batch's cols (7 MB there) and a transposed copy of dY.
//
// Depthwise (groups == C, any channel multiplier, C == 1 included): a direct convolution per
// output plane, vectorised along the output row with the accumulators in registers (the direct
// formulation of Georganas et al., "Anatomy of high-performance deep learning convolutions on
// SIMD architectures", SC18). Measured on the cnn's first layer (1 -> 16 channels, 28x28,
// batch 64, AVX-512, 1 thread) against im2col + GEMM: forward 0.22 vs 0.27 ms, dW 0.29 vs 1.0 ms.
#include "kernels/conv.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <cstdlib>
#include <memory>
#include <new>
#include <type_traits>
#include <vector>

#include "kernels/cpu.h"
#include "kernels/gemm.h"
#include "kernels/parallel.h"

namespace bstack::kernels {

int64_t Conv2dShape::OH() const { return (H + 2 * PH - DH * (KH - 1) - 1) / SH + 1; }
int64_t Conv2dShape::OW() const { return (W + 2 * PW - DW * (KW - 1) - 1) / SW + 1; }

bool Conv2dShape::valid() const {
  return N >= 0 && C > 0 && H > 0 && W > 0 && OC > 0 && KH > 0 && KW > 0 && SH > 0 && SW > 0 &&
         PH >= 0 && PW >= 0 && DH > 0 && DW > 0 && groups > 0 && C % groups == 0 &&
         OC % groups == 0 && H + 2 * PH >= DH * (KH - 1) + 1 && W + 2 * PW >= DW * (KW - 1) + 1;
}

bool Conv2dShape::depthwise() const { return groups == C && OC % C == 0; }

int64_t Pool2dShape::OH() const { return (H - KH) / SH + 1; }
int64_t Pool2dShape::OW() const { return (W - KW) / SW + 1; }
bool Pool2dShape::valid() const {
  return planes >= 0 && KH > 0 && KW > 0 && SH > 0 && SW > 0 && H >= KH && W >= KW;
}

namespace {

// The output positions [lo, hi) of one axis whose input position o*stride - pad + offset lies
// in [0, in) (offset = kernel tap * dilation). Outside it the tap reads padding.
struct Span {
  int64_t lo, hi;
};
Span valid_span(int64_t out, int64_t in, int64_t stride, int64_t pad, int64_t offset) {
  const int64_t a = pad - offset;       // o*stride >= a
  const int64_t b = in + pad - offset;  // o*stride <  b
  int64_t lo = a <= 0 ? 0 : (a + stride - 1) / stride;
  int64_t hi = b <= 0 ? 0 : (b + stride - 1) / stride;
  hi = std::min(hi, out);
  lo = std::min(lo, hi);
  return {lo, hi};
}

int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

bool is_pointwise(const Conv2dShape& s) {
  return s.KH == 1 && s.KW == 1 && s.SH == 1 && s.SW == 1 && s.PH == 0 && s.PW == 0;
}

// Per-thread scratch that outlives the call (as gemm.cpp's packing buffers): the im2col
// buffers and dW partials are allocated once per thread, not once per call. glibc serves large
// blocks (aligned ones always) with fresh mmap pages, and first-touching a page cost ~17 us on
// the VM this was developed on (13 ms for 3.2 MB, more than the cnn's whole conv2 forward).
// Blocks above kKeepBytes are only borrowed for the call. get() returns nullptr when out of
// memory: callers inside an OpenMP region must not throw, so they throw after the region.
constexpr int64_t kKeepBytes = int64_t{64} << 20;

class Scratch {
 public:
  // slot 0: im2col buffers, slot 1: dW partials (both may be in use at once).
  template <class T>
  T* get(int slot, int64_t count) {
    const int64_t bytes = std::max<int64_t>(count, 1) * static_cast<int64_t>(sizeof(T));
    const int64_t need = round_up(bytes, 4096);
    Block& b = need > kKeepBytes ? temp_[slot] : kept()[slot];
    if (b.bytes < need) {
      std::free(b.p);
      b.p = std::aligned_alloc(64, static_cast<size_t>(need));
      b.bytes = b.p ? need : 0;
    }
    return static_cast<T*>(b.p);
  }

 private:
  struct Block {
    void* p = nullptr;
    int64_t bytes = 0;
    ~Block() { std::free(p); }
  };
  static Block* kept() {
    thread_local Block blocks[2];
    return blocks;
  }
  Block temp_[2];  // freed when the Scratch (one per call and thread) goes
};

// Work (FLOPs) below which the whole convolution runs on one thread.
constexpr double kConvParallelFlops = 1 << 20;

// The GEMM configuration for a row-major M x N product: `threads` (0 = the caller's count) and
// the micro-kernel whose tiles waste the least of M x N (the padding of the last row and column
// panels), the default on ties. Convolutions have small M (OC/groups): the default 14-row tile
// computes 28 rows for M = 16 and 42 for M = 32 where an 8-row one computes 16 and 32; on the
// cnn's shapes that made the forward GEMM 15% and the dW GEMM 40% faster (measured, AVX-512).
template <class T>
GemmConfig gemm_config(int64_t M, int64_t N, int threads) {
  GemmConfig cfg;
  cfg.threads = threads;
  const Isa path = isa();
  int64_t best_area = -1;
  for (int v = 0; v < gemm_variant_count<T>(path); ++v) {
    const GemmVariant g = gemm_variant<T>(path, v);
    const int64_t area = (M + g.mr - 1) / g.mr * g.mr * ((N + g.nr - 1) / g.nr * g.nr);
    if (best_area < 0 || area < best_area) {
      best_area = area;
      cfg.variant = v;
    }
  }
  return cfg;
}

}  // namespace

// ---- im2col / col2im ------------------------------------------------------------------------

template <class T>
void im2col(const Conv2dShape& s, const T* x, T* cols) {
  const int64_t OH = s.OH(), OW = s.OW(), L = OH * OW, plane = s.H * s.W;
  // Stride 1 with OW == W (a "same" convolution): a cols row is the input plane shifted by
  // one offset, so it is one long copy followed by zeroing the columns that read padding.
  const bool flat = s.SH == 1 && s.SW == 1 && OW == s.W;
  for (int64_t c = 0; c < s.C; ++c) {
    const T* img = x + c * plane;
    for (int64_t i = 0; i < s.KH; ++i) {
      const Span hs = valid_span(OH, s.H, s.SH, s.PH, i * s.DH);
      for (int64_t j = 0; j < s.KW; ++j) {
        T* row = cols + ((c * s.KH + i) * s.KW + j) * L;
        const Span ws = valid_span(OW, s.W, s.SW, s.PW, j * s.DW);
        std::fill(row, row + hs.lo * OW, T(0));
        std::fill(row + hs.hi * OW, row + L, T(0));
        const int64_t hoff = i * s.DH - s.PH, woff = j * s.DW - s.PW;
        if (flat) {
          const int64_t delta = hoff * s.W + woff;  // src index = dst index + delta
          const int64_t d0 = std::max(hs.lo * OW, -delta), d1 = std::min(hs.hi * OW, plane - delta);
          if (d1 > d0) std::memcpy(row + d0, img + d0 + delta, sizeof(T) * (d1 - d0));
          // The few border columns, column by column: filling them row by row would be a
          // memset call of one or two elements per row (a tenth of the forward's time).
          for (int64_t ow = 0; ow < ws.lo; ++ow)
            for (int64_t oh = hs.lo; oh < hs.hi; ++oh) row[oh * OW + ow] = T(0);
          for (int64_t ow = ws.hi; ow < OW; ++ow)
            for (int64_t oh = hs.lo; oh < hs.hi; ++oh) row[oh * OW + ow] = T(0);
          continue;
        }
        for (int64_t oh = hs.lo; oh < hs.hi; ++oh) {
          T* r = row + oh * OW;
          const T* src = img + (oh * s.SH + hoff) * s.W;
          std::fill(r, r + ws.lo, T(0));
          std::fill(r + ws.hi, r + OW, T(0));
          if (s.SW == 1) {
            for (int64_t ow = ws.lo; ow < ws.hi; ++ow) r[ow] = src[ow + woff];
          } else {
            for (int64_t ow = ws.lo; ow < ws.hi; ++ow) r[ow] = src[ow * s.SW + woff];
          }
        }
      }
    }
  }
}

template <class T>
void col2im(const Conv2dShape& s, const T* cols, T* x) {
  const int64_t OH = s.OH(), OW = s.OW(), L = OH * OW, plane = s.H * s.W;
  const bool flat = s.SH == 1 && s.SW == 1 && OW == s.W;  // as in im2col
  for (int64_t c = 0; c < s.C; ++c) {
    T* img = x + c * plane;
    for (int64_t i = 0; i < s.KH; ++i) {
      const Span hs = valid_span(OH, s.H, s.SH, s.PH, i * s.DH);
      for (int64_t j = 0; j < s.KW; ++j) {
        const T* row = cols + ((c * s.KH + i) * s.KW + j) * L;
        const Span ws = valid_span(OW, s.W, s.SW, s.PW, j * s.DW);
        const int64_t hoff = i * s.DH - s.PH, woff = j * s.DW - s.PW;
        if (flat && ws.lo == 0 && ws.hi == OW) {  // no column reads padding: one long add
          const int64_t delta = hoff * s.W + woff;
          const int64_t d0 = std::max(hs.lo * OW, -delta), d1 = std::min(hs.hi * OW, plane - delta);
          T* dst = img + delta;
          for (int64_t d = d0; d < d1; ++d) dst[d] += row[d];
          continue;
        }
        for (int64_t oh = hs.lo; oh < hs.hi; ++oh) {
          const T* r = row + oh * OW;
          T* dst = img + (oh * s.SH + hoff) * s.W;
          if (s.SW == 1) {
            for (int64_t ow = ws.lo; ow < ws.hi; ++ow) dst[ow + woff] += r[ow];
          } else {
            for (int64_t ow = ws.lo; ow < ws.hi; ++ow) dst[ow * s.SW + woff] += r[ow];
          }
        }
      }
    }
  }
}

namespace {

// col2im for conv2d_backward's own dcols buffer, which it may overwrite. In the flat case the
// entries that read padding are zeroed first, so that every row is one long add instead of
// OH short ones (on the cnn's 14x14 planes most cols rows touch a border).
template <class T>
void col2im_scratch(const Conv2dShape& s, T* cols, T* x) {
  const int64_t OH = s.OH(), OW = s.OW(), L = OH * OW, plane = s.H * s.W;
  if (!(s.SH == 1 && s.SW == 1 && OW == s.W)) return col2im(s, cols, x);
  for (int64_t c = 0; c < s.C; ++c) {
    T* img = x + c * plane;
    for (int64_t i = 0; i < s.KH; ++i) {
      const Span hs = valid_span(OH, s.H, s.SH, s.PH, i * s.DH);
      for (int64_t j = 0; j < s.KW; ++j) {
        T* row = cols + ((c * s.KH + i) * s.KW + j) * L;
        const Span ws = valid_span(OW, s.W, s.SW, s.PW, j * s.DW);
        for (int64_t ow = 0; ow < ws.lo; ++ow)  // border columns, as in im2col
          for (int64_t oh = hs.lo; oh < hs.hi; ++oh) row[oh * OW + ow] = T(0);
        for (int64_t ow = ws.hi; ow < OW; ++ow)
          for (int64_t oh = hs.lo; oh < hs.hi; ++oh) row[oh * OW + ow] = T(0);
        const int64_t delta = (i * s.DH - s.PH) * s.W + j * s.DW - s.PW;
        const int64_t d0 = std::max(hs.lo * OW, -delta), d1 = std::min(hs.hi * OW, plane - delta);
        T* dst = img + delta;
        for (int64_t d = d0; d < d1; ++d) dst[d] += row[d];
      }
    }
  }
}

}  // namespace

// ---- im2col + GEMM ----------------------------------------------------------------------------

template <class T>
void conv2d_forward(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y) {
  if (s.N == 0) return;
  if (s.depthwise()) return depthwise_conv2d_forward(s, x, w, bias, y);
  const int64_t G = s.groups, OCg = s.OC / G, Kg = s.C / G * s.KH * s.KW;
  const int64_t L = s.OH() * s.OW(), in_img = s.C * s.H * s.W, out_img = s.OC * L;
  const bool direct = is_pointwise(s);
  // Y_n[g] = W[g] @ cols[g] + bias[g], asked of gemm() as its transpose Y^T = cols^T @ W^T with
  // a column-major C: gemm() turns that back into the row-major product, and the epilogue's
  // per-column bias of the transposed problem is the per-output-channel bias we want.
  auto image = [&](int64_t n, T* cols, int threads) {
    const GemmConfig cfg = gemm_config<T>(OCg, L, threads);  // the product gemm() runs
    const T* xn = x + n * in_img;
    if (!direct) im2col(s, xn, cols);
    const T* cn = direct ? xn : cols;
    T* yn = y + n * out_img;
    for (int64_t g = 0; g < G; ++g) {
      Epilogue<T> epi;
      epi.bias = bias ? bias + g * OCg : nullptr;
      gemm<T>(L, OCg, Kg, T(1), cn + g * Kg * L, 1, L, w + g * OCg * Kg, 1, Kg, T(0),
              yn + g * OCg * L, 1, L, epi, cfg);
    }
  };
  const int nt = num_threads();
  const double flops = 2.0 * static_cast<double>(s.N) * s.OC * L * Kg;
  const int teams = nt > 1 && s.N >= nt && flops >= kConvParallelFlops ? nt : 1;
  const int64_t per = direct ? 0 : G * Kg * L;
  bool failed = false;
  if (teams > 1) {
#pragma omp parallel num_threads(teams) reduction(|| : failed)
    {
      Scratch scratch;
      T* cols = per ? scratch.get<T>(0, per) : nullptr;
      failed = per && !cols;
#pragma omp for schedule(dynamic, 1)
      for (int64_t n = 0; n < s.N; ++n)
        if (!failed) image(n, cols, 1);
    }
  } else {
    Scratch scratch;
    T* cols = per ? scratch.get<T>(0, per) : nullptr;
    failed = per && !cols;
    for (int64_t n = 0; n < s.N && !failed; ++n) image(n, cols, 0);
  }
  if (failed) throw std::bad_alloc();
}

namespace {

// dbias[o] = sum over n and the plane of dy; each channel summed by one thread, images in order.
template <class T>
void bias_backward(int64_t N, int64_t OC, int64_t L, const T* dy, T* dbias) {
  parallel_for(OC, N * L, [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o) {
      T acc = T(0);
      for (int64_t n = 0; n < N; ++n) {
        const T* p = dy + (n * OC + o) * L;
        T part = T(0);
#pragma omp simd reduction(+ : part)
        for (int64_t l = 0; l < L; ++l) part += p[l];
        acc += part;
      }
      dbias[o] = acc;
    }
  });
}

// The number of dW partial sums the batch is cut into: enough for every core to take some, few
// enough that the partials stay small (at most 64 MiB together). Depends on the shape and the
// machine only, so dW does not change with set_num_threads().
int64_t dw_slots(int64_t N, int64_t dw_elems, int64_t elem_bytes) {
  const int64_t want = std::max<int64_t>(16, 2 * static_cast<int64_t>(max_threads()));
  const int64_t bytes = std::max<int64_t>(1, dw_elems * elem_bytes);
  const int64_t fit = std::max<int64_t>(1, (int64_t{64} << 20) / bytes);
  return std::max<int64_t>(1, std::min({N, want, fit}));
}

}  // namespace

template <class T>
void conv2d_backward(const Conv2dShape& s, const T* x, const T* w, const T* dy, T* dx, T* dw,
                     T* dbias) {
  const int64_t L = s.OH() * s.OW();
  if (s.N == 0) {
    if (dw) std::fill(dw, dw + s.OC * (s.C / s.groups) * s.KH * s.KW, T(0));
    if (dbias) std::fill(dbias, dbias + s.OC, T(0));
    return;
  }
  if (s.depthwise()) return depthwise_conv2d_backward(s, x, w, dy, dx, dw, dbias);
  if (dbias) bias_backward(s.N, s.OC, L, dy, dbias);
  if (!dx && !dw) return;
  const int64_t G = s.groups, OCg = s.OC / G, Kg = s.C / G * s.KH * s.KW;
  const int64_t in_img = s.C * s.H * s.W, out_img = s.OC * L, dw_size = s.OC * Kg;
  const bool direct = is_pointwise(s);
  const int64_t S = dw ? dw_slots(s.N, dw_size, sizeof(T)) : std::min<int64_t>(s.N, 16);
  // Slot 0 accumulates straight into dw; slots 1.. into partials added at the end.
  Scratch caller;
  T* partials = dw && S > 1 ? caller.get<T>(1, (S - 1) * dw_size) : nullptr;
  if (dw && S > 1 && !partials) throw std::bad_alloc();
  // dW's GEMM reads cols^T as its B operand: packing a transposed B gathers with a stride, so
  // on the SIMD paths cols is transposed first in registers (16 x 16 blocks) and the GEMM packs
  // contiguous rows: the dW GEMM got 1.6x faster on the cnn's conv2 (measured, AVX-512).
  void (*transpose)(int64_t, int64_t, const float*, int64_t, float*, int64_t) = nullptr;
  if (std::is_same_v<T, float> && isa() == Isa::avx512) transpose = avx512::transpose;
  if (std::is_same_v<T, float> && isa() == Isa::avx2) transpose = avx2::transpose;
  const int64_t K = G * Kg;
  auto slot = [&](int64_t k, T* cols, T* cols_t, T* dcols, int threads) {
    const GemmConfig dw_cfg = gemm_config<T>(OCg, Kg, threads);
    const GemmConfig dx_cfg = gemm_config<T>(Kg, L, threads);
    T* dwk = k == 0 ? dw : partials + (k - 1) * dw_size;
    const int64_t n0 = s.N * k / S, n1 = s.N * (k + 1) / S;
    for (int64_t n = n0; n < n1; ++n) {
      const T* xn = x + n * in_img;
      const T* dyn = dy + n * out_img;
      if (dw) {
        if (!direct) im2col(s, xn, cols);
        const T* cn = direct ? xn : cols;
        const T beta = n == n0 ? T(0) : T(1);
        if constexpr (std::is_same_v<T, float>) {
          if (transpose) {
            transpose(K, L, cn, L, cols_t, K);  // cols^T: (L, K)
            for (int64_t g = 0; g < G; ++g)
              gemm<T>(OCg, Kg, L, T(1), dyn + g * OCg * L, L, 1, cols_t + g * Kg, K, 1, beta,
                      dwk + g * OCg * Kg, Kg, 1, Epilogue<T>{}, dw_cfg);
          }
        }
        if (!transpose)
          for (int64_t g = 0; g < G; ++g)
            gemm<T>(OCg, Kg, L, T(1), dyn + g * OCg * L, L, 1, cn + g * Kg * L, 1, L, beta,
                    dwk + g * OCg * Kg, Kg, 1, Epilogue<T>{}, dw_cfg);
      }
      if (dx) {
        T* dxn = dx + n * in_img;
        T* dc = direct ? dxn : dcols;
        for (int64_t g = 0; g < G; ++g)
          gemm<T>(Kg, L, OCg, T(1), w + g * OCg * Kg, 1, Kg, dyn + g * OCg * L, L, 1, T(0),
                  dc + g * Kg * L, L, 1, Epilogue<T>{}, dx_cfg);
        if (!direct) {
          std::fill(dxn, dxn + in_img, T(0));
          col2im_scratch(s, dcols, dxn);
        }
      }
    }
  };
  const int nt = num_threads();
  const double flops =
      2.0 * static_cast<double>(s.N) * s.OC * L * Kg * ((dx ? 1 : 0) + (dw ? 1 : 0));
  // Per-thread scratch: cols, cols^T, dcols.
  const int teams = nt > 1 && S >= nt && flops >= kConvParallelFlops ? nt : 1;
  const int64_t cols_size = direct || !dw ? 0 : round_up(G * Kg * L, 16);
  const int64_t cols_t_size = dw && transpose ? round_up(K * L, 16) : 0;
  const int64_t dcols_size = direct || !dx ? 0 : round_up(G * Kg * L, 16);
  const int64_t per = cols_size + cols_t_size + dcols_size;
  bool failed = false;
  // Every thread of the team reaches the worksharing loop, even one whose scratch failed.
  auto run_slots = [&](Scratch& scratch, bool parallel) -> bool {
    T* base = per ? scratch.get<T>(0, per) : nullptr;
    const bool ok = !per || base;
    auto one = [&](int64_t k) {
      if (ok) slot(k, base, base + cols_size, base + cols_size + cols_t_size, parallel ? 1 : 0);
    };
    if (parallel) {
#pragma omp for schedule(dynamic, 1)
      for (int64_t k = 0; k < S; ++k) one(k);
    } else {
      for (int64_t k = 0; k < S; ++k) one(k);
    }
    return ok;
  };
  if (teams > 1) {
#pragma omp parallel num_threads(teams) reduction(|| : failed)
    {
      Scratch scratch;
      failed = !run_slots(scratch, true);
    }
  } else {
    failed = !run_slots(caller, false);
  }
  if (failed) throw std::bad_alloc();
  if (dw && S > 1) {
    const T* p = partials;
    parallel_for(dw_size, S, [&](int64_t e0, int64_t e1) {
      for (int64_t k = 1; k < S; ++k) {
        const T* src = p + (k - 1) * dw_size;
        for (int64_t e = e0; e < e1; ++e) dw[e] += src[e];
      }
    });
  }
}

// ---- depthwise: a direct stencil per plane ----------------------------------------------------
//
// Output channel o = c*m + q (m = OC/C) reads input channel c only, through its own KH x KW
// filter. Each output row is built in L1 by KH*KW shifted multiply-adds of input rows, the loop
// the compiler vectorises along the row. Backward: dx plane c gathers the transposed stencil of
// its m output planes; dw[o] is a dot product of dy[o] with shifted x[c], summed over the batch
// in order (one thread per output channel, so the result does not depend on the thread count).

namespace {

template <class T>
void depthwise_plane_forward(const Conv2dShape& s, const Span* ws, const T* xp, const T* wk,
                             T b, T* yp) {
  const int64_t OH = s.OH(), OW = s.OW();
  for (int64_t oh = 0; oh < OH; ++oh) {
    T* yr = yp + oh * OW;
    for (int64_t ow = 0; ow < OW; ++ow) yr[ow] = b;
    for (int64_t i = 0; i < s.KH; ++i) {
      const int64_t h = oh * s.SH - s.PH + i * s.DH;
      if (h < 0 || h >= s.H) continue;
      const T* xr = xp + h * s.W;
      for (int64_t j = 0; j < s.KW; ++j) {
        const T wv = wk[i * s.KW + j];
        const int64_t off = j * s.DW - s.PW;
        if (s.SW == 1) {
#pragma omp simd
          for (int64_t ow = ws[j].lo; ow < ws[j].hi; ++ow) yr[ow] += wv * xr[ow + off];
        } else {
          for (int64_t ow = ws[j].lo; ow < ws[j].hi; ++ow) yr[ow] += wv * xr[ow * s.SW + off];
        }
      }
    }
  }
}

// dx plane += transposed stencil of one dy plane.
template <class T>
void depthwise_plane_backward_input(const Conv2dShape& s, const Span* ws, const T* dyp,
                                    const T* wk, T* dxp) {
  const int64_t OH = s.OH(), OW = s.OW();
  for (int64_t oh = 0; oh < OH; ++oh) {
    const T* dyr = dyp + oh * OW;
    for (int64_t i = 0; i < s.KH; ++i) {
      const int64_t h = oh * s.SH - s.PH + i * s.DH;
      if (h < 0 || h >= s.H) continue;
      T* dxr = dxp + h * s.W;
      for (int64_t j = 0; j < s.KW; ++j) {
        const T wv = wk[i * s.KW + j];
        const int64_t off = j * s.DW - s.PW;
        if (s.SW == 1) {
#pragma omp simd
          for (int64_t ow = ws[j].lo; ow < ws[j].hi; ++ow) dxr[ow + off] += wv * dyr[ow];
        } else {
          for (int64_t ow = ws[j].lo; ow < ws[j].hi; ++ow) dxr[ow * s.SW + off] += wv * dyr[ow];
        }
      }
    }
  }
}

// dwk[i, j] += sum over the plane of dy * shifted x.
template <class T>
void depthwise_plane_backward_weight(const Conv2dShape& s, const Span* ws, const T* xp,
                                     const T* dyp, T* dwk) {
  const int64_t OH = s.OH(), OW = s.OW();
  for (int64_t oh = 0; oh < OH; ++oh) {
    const T* dyr = dyp + oh * OW;
    for (int64_t i = 0; i < s.KH; ++i) {
      const int64_t h = oh * s.SH - s.PH + i * s.DH;
      if (h < 0 || h >= s.H) continue;
      const T* xr = xp + h * s.W;
      for (int64_t j = 0; j < s.KW; ++j) {
        const int64_t off = j * s.DW - s.PW;
        T acc = T(0);
        if (s.SW == 1) {
#pragma omp simd reduction(+ : acc)
          for (int64_t ow = ws[j].lo; ow < ws[j].hi; ++ow) acc += dyr[ow] * xr[ow + off];
        } else {
          for (int64_t ow = ws[j].lo; ow < ws[j].hi; ++ow) acc += dyr[ow] * xr[ow * s.SW + off];
        }
        dwk[i * s.KW + j] += acc;
      }
    }
  }
}

std::vector<Span> width_spans(const Conv2dShape& s) {
  std::vector<Span> ws(static_cast<size_t>(s.KW));
  for (int64_t j = 0; j < s.KW; ++j) ws[j] = valid_span(s.OW(), s.W, s.SW, s.PW, j * s.DW);
  return ws;
}

}  // namespace

namespace {

// The float plane kernels of the active ISA path (conv.h), or nullptr for the portable loops.
struct DepthwiseSimd {
  void (*forward)(const Conv2dShape&, int64_t, const float*, const float*, const float*, float*);
  void (*backward_input)(const Conv2dShape&, int64_t, const float*, const float*, float*);
  void (*backward_weight)(const Conv2dShape&, int64_t, const float*, const float*, float*);
};
const DepthwiseSimd kDepthwiseAvx2 = {avx2::depthwise_forward_planes,
                                      avx2::depthwise_backward_input_plane,
                                      avx2::depthwise_backward_weight_planes};
const DepthwiseSimd kDepthwiseAvx512 = {avx512::depthwise_forward_planes,
                                        avx512::depthwise_backward_input_plane,
                                        avx512::depthwise_backward_weight_planes};

template <class T>
const DepthwiseSimd* depthwise_simd(const Conv2dShape& s) {
  if (!std::is_same_v<T, float> || s.SW != 1 || s.KW > kDepthwiseMaxKW) return nullptr;
  switch (isa()) {
    case Isa::avx512: return &kDepthwiseAvx512;
    case Isa::avx2: return &kDepthwiseAvx2;
    default: return nullptr;
  }
}

}  // namespace

template <class T>
void depthwise_conv2d_forward(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y) {
  const int64_t m = s.OC / s.C, KK = s.KH * s.KW, L = s.OH() * s.OW(), plane = s.H * s.W;
  const std::vector<Span> ws = width_spans(s);
  const DepthwiseSimd* simd = depthwise_simd<T>(s);
  // One unit of work = the m output planes of one input plane (they share its loads).
  parallel_for(s.N * s.C, m * L * KK, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t o0 = p % s.C * m;  // first output channel of input channel p % C
      const T* xp = x + p * plane;
      T* yp = y + p * m * L;
      if constexpr (std::is_same_v<T, float>) {
        if (simd) {
          simd->forward(s, m, xp, w + o0 * KK, bias ? bias + o0 : nullptr, yp);
          continue;
        }
      }
      for (int64_t q = 0; q < m; ++q)
        depthwise_plane_forward(s, ws.data(), xp, w + (o0 + q) * KK, bias ? bias[o0 + q] : T(0),
                                yp + q * L);
    }
  });
}

template <class T>
void depthwise_conv2d_backward(const Conv2dShape& s, const T* x, const T* w, const T* dy, T* dx,
                               T* dw, T* dbias) {
  const int64_t m = s.OC / s.C, KK = s.KH * s.KW, L = s.OH() * s.OW(), plane = s.H * s.W;
  const std::vector<Span> ws = width_spans(s);
  const DepthwiseSimd* simd = depthwise_simd<T>(s);
  if (dbias) bias_backward(s.N, s.OC, L, dy, dbias);
  if (dx)
    parallel_for(s.N * s.C, m * L * KK, [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        const int64_t n = p / s.C, c = p % s.C;
        T* dxp = dx + p * plane;
        const T* dyp = dy + (n * s.OC + c * m) * L;  // the m planes of channel c
        if constexpr (std::is_same_v<T, float>) {
          if (simd) {
            simd->backward_input(s, m, dyp, w + c * m * KK, dxp);
            continue;
          }
        }
        std::fill(dxp, dxp + plane, T(0));
        for (int64_t q = 0; q < m; ++q)
          depthwise_plane_backward_input(s, ws.data(), dyp + q * L, w + (c * m + q) * KK, dxp);
      }
    });
  // dw: one unit of work = up to 4 output channels of one input channel (they share its
  // loads), each summed over the batch in image order.
  if (dw) {
    const int64_t qb = std::min<int64_t>(m, 4), blocks = (m + qb - 1) / qb;
    parallel_for(s.C * blocks, s.N * qb * L * KK, [&](int64_t u0, int64_t u1) {
      for (int64_t u = u0; u < u1; ++u) {
        const int64_t c = u / blocks, o0 = c * m + u % blocks * qb;
        const int64_t q = std::min(qb, (c + 1) * m - o0);
        T* dwk = dw + o0 * KK;
        std::fill(dwk, dwk + q * KK, T(0));
        for (int64_t n = 0; n < s.N; ++n) {
          const T* xp = x + (n * s.C + c) * plane;
          const T* dyp = dy + (n * s.OC + o0) * L;
          if constexpr (std::is_same_v<T, float>) {
            if (simd) {
              simd->backward_weight(s, q, xp, dyp, dwk);
              continue;
            }
          }
          for (int64_t k = 0; k < q; ++k)
            depthwise_plane_backward_weight(s, ws.data(), xp, dyp + k * L, dwk + k * KK);
        }
      }
    });
  }
}

// ---- the naive definition -----------------------------------------------------------------------

template <class T>
void conv2d_forward_ref(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y) {
  const int64_t OH = s.OH(), OW = s.OW(), Cg = s.C / s.groups, OCg = s.OC / s.groups;
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t o = 0; o < s.OC; ++o)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          T acc = bias ? bias[o] : T(0);
          const int64_t g = o / OCg;
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t i = 0; i < s.KH; ++i)
              for (int64_t j = 0; j < s.KW; ++j) {
                const int64_t h = oh * s.SH - s.PH + i * s.DH, ww = ow * s.SW - s.PW + j * s.DW;
                if (h < 0 || h >= s.H || ww < 0 || ww >= s.W) continue;
                acc += w[((o * Cg + c) * s.KH + i) * s.KW + j] *
                       x[((n * s.C + g * Cg + c) * s.H + h) * s.W + ww];
              }
          y[((n * s.OC + o) * OH + oh) * OW + ow] = acc;
        }
}

template <class T>
void conv2d_backward_ref(const Conv2dShape& s, const T* x, const T* w, const T* dy, T* dx, T* dw,
                         T* dbias) {
  const int64_t OH = s.OH(), OW = s.OW(), Cg = s.C / s.groups, OCg = s.OC / s.groups;
  if (dx) std::fill(dx, dx + s.N * s.C * s.H * s.W, T(0));
  if (dw) std::fill(dw, dw + s.OC * Cg * s.KH * s.KW, T(0));
  if (dbias) std::fill(dbias, dbias + s.OC, T(0));
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t o = 0; o < s.OC; ++o)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          const T g_out = dy[((n * s.OC + o) * OH + oh) * OW + ow];
          if (dbias) dbias[o] += g_out;
          const int64_t g = o / OCg;
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t i = 0; i < s.KH; ++i)
              for (int64_t j = 0; j < s.KW; ++j) {
                const int64_t h = oh * s.SH - s.PH + i * s.DH, ww = ow * s.SW - s.PW + j * s.DW;
                if (h < 0 || h >= s.H || ww < 0 || ww >= s.W) continue;
                const int64_t wi = ((o * Cg + c) * s.KH + i) * s.KW + j;
                const int64_t xi = ((n * s.C + g * Cg + c) * s.H + h) * s.W + ww;
                if (dx) dx[xi] += w[wi] * g_out;
                if (dw) dw[wi] += x[xi] * g_out;
              }
        }
}

// ---- pooling ----------------------------------------------------------------------------------

namespace {
template <class T>
bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) {
    return v != v;
  } else {
    return false;
  }
}
}  // namespace

template <class T>
void max_pool2d_forward(const Pool2dShape& s, const T* x, T* y, int32_t* argmax) {
  const int64_t OH = s.OH(), OW = s.OW(), L = OH * OW, plane = s.H * s.W;
  void (*simd)(const Pool2dShape&, const float*, float*, int32_t*) = nullptr;
  if (std::is_same_v<T, float> && (s.SW == 1 || s.SW == 2) && s.KW <= kDepthwiseMaxKW) {
    if (isa() == Isa::avx512) simd = avx512::max_pool_plane;
    if (isa() == Isa::avx2) simd = avx2::max_pool_plane;
  }
  parallel_for(s.planes, L * s.KH * s.KW, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const T* xp = x + p * plane;
      int32_t* ap = argmax ? argmax + p * L : nullptr;
      if constexpr (std::is_same_v<T, float>) {
        if (simd) {
          simd(s, xp, y + p * L, ap);
          continue;
        }
      }
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          int64_t best = oh * s.SH * s.W + ow * s.SW;
          T v = xp[best];
          for (int64_t i = 0; i < s.KH; ++i)
            for (int64_t j = 0; j < s.KW; ++j) {
              const int64_t idx = (oh * s.SH + i) * s.W + ow * s.SW + j;
              const T u = xp[idx];
              // Strictly greater keeps the first maximum; a NaN wins and stays (as torch).
              // Selects, not a branch: on real data the winner is unpredictable.
              const bool take = u > v || (is_nan(u) && !is_nan(v));
              v = take ? u : v;
              best = take ? idx : best;
            }
          y[p * L + oh * OW + ow] = v;
          if (ap) ap[oh * OW + ow] = static_cast<int32_t>(best);
        }
    }
  });
}

template <class T>
void max_pool2d_backward(const Pool2dShape& s, const T* dy, const int32_t* argmax, T* dx) {
  const int64_t L = s.OH() * s.OW(), plane = s.H * s.W;
  parallel_for(s.planes, L + plane, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      T* dxp = dx + p * plane;
      std::fill(dxp, dxp + plane, T(0));
      for (int64_t l = 0; l < L; ++l) dxp[argmax[p * L + l]] += dy[p * L + l];
    }
  });
}

template <class T>
void avg_pool2d_forward(const Pool2dShape& s, const T* x, T* y) {
  const int64_t OH = s.OH(), OW = s.OW(), L = OH * OW, plane = s.H * s.W;
  const T scale = T(1) / static_cast<T>(s.KH * s.KW);
  parallel_for(s.planes, L * s.KH * s.KW, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const T* xp = x + p * plane;
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          T acc = T(0);
          for (int64_t i = 0; i < s.KH; ++i)
            for (int64_t j = 0; j < s.KW; ++j) acc += xp[(oh * s.SH + i) * s.W + ow * s.SW + j];
          y[p * L + oh * OW + ow] = acc * scale;
        }
    }
  });
}

template <class T>
void avg_pool2d_backward(const Pool2dShape& s, const T* dy, T* dx) {
  const int64_t OH = s.OH(), OW = s.OW(), L = OH * OW, plane = s.H * s.W;
  const T scale = T(1) / static_cast<T>(s.KH * s.KW);
  parallel_for(s.planes, L * s.KH * s.KW + plane, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      T* dxp = dx + p * plane;
      std::fill(dxp, dxp + plane, T(0));
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          const T g = dy[p * L + oh * OW + ow] * scale;
          for (int64_t i = 0; i < s.KH; ++i)
            for (int64_t j = 0; j < s.KW; ++j) dxp[(oh * s.SH + i) * s.W + ow * s.SW + j] += g;
        }
    }
  });
}

#define BSTACK_CONV_INSTANTIATE(T)                                                                 \
  template void im2col<T>(const Conv2dShape&, const T*, T*);                                       \
  template void col2im<T>(const Conv2dShape&, const T*, T*);                                       \
  template void conv2d_forward<T>(const Conv2dShape&, const T*, const T*, const T*, T*);           \
  template void conv2d_backward<T>(const Conv2dShape&, const T*, const T*, const T*, T*, T*, T*);  \
  template void depthwise_conv2d_forward<T>(const Conv2dShape&, const T*, const T*, const T*, T*); \
  template void depthwise_conv2d_backward<T>(const Conv2dShape&, const T*, const T*, const T*, T*, \
                                             T*, T*);                                              \
  template void conv2d_forward_ref<T>(const Conv2dShape&, const T*, const T*, const T*, T*);       \
  template void conv2d_backward_ref<T>(const Conv2dShape&, const T*, const T*, const T*, T*, T*,   \
                                       T*);                                                        \
  template void max_pool2d_backward<T>(const Pool2dShape&, const T*, const int32_t*, T*);          \
  template void avg_pool2d_forward<T>(const Pool2dShape&, const T*, T*);                           \
  template void avg_pool2d_backward<T>(const Pool2dShape&, const T*, T*);
BSTACK_CONV_INSTANTIATE(float)
BSTACK_CONV_INSTANTIATE(double)
#undef BSTACK_CONV_INSTANTIATE

// unfold2d (src/) lowers tensors of every dtype.
template void im2col<int8_t>(const Conv2dShape&, const int8_t*, int8_t*);
template void im2col<int32_t>(const Conv2dShape&, const int32_t*, int32_t*);
template void im2col<int64_t>(const Conv2dShape&, const int64_t*, int64_t*);
template void max_pool2d_forward<float>(const Pool2dShape&, const float*, float*, int32_t*);
template void max_pool2d_forward<double>(const Pool2dShape&, const double*, double*, int32_t*);
template void max_pool2d_forward<int8_t>(const Pool2dShape&, const int8_t*, int8_t*, int32_t*);
template void max_pool2d_forward<int32_t>(const Pool2dShape&, const int32_t*, int32_t*, int32_t*);
template void max_pool2d_forward<int64_t>(const Pool2dShape&, const int64_t*, int64_t*, int32_t*);

}  // namespace bstack::kernels
