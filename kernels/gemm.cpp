// The five loops of the BLIS/Goto GEMM around the register micro-kernels (gemm_ukernels.h):
//
//   for jc in N step NC            B block (KC x NC) lives in L3, packed once per (jc, pc)
//     for pc in K step KC
//       pack B[pc, jc]   -> Bp      NR-column micro-panels; threads pack disjoint panels
//       for ic in M step MC        A block (MC x KC) lives in L2, packed per (ic, pc)
//         pack A[ic, pc] -> Ap      MR-row micro-panels
//         for jr in NC step NR     B micro-panel stays in L1 across the ir loop
//           for ir in MC step MR
//             micro-kernel(Ap[ir], Bp[jr]) -> C[ic+ir, jc+jr]
//
// Threads split either the ic loop (each thread owns a contiguous range of rows of C and packs
// its own A: nothing is done twice) or the jr loop of a shared A block (for M too small to give
// every thread rows). Partial edge tiles are computed into a local tile and copied out, so the
// micro-kernels only ever see full tiles. The epilogue (bias, activation) runs on each tile after
// its last K block, while the tile is in L1.
#include "kernels/gemm.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

#include "kernels/gemm_ref.h"
#include "kernels/gemm_ukernels.h"
#include "kernels/parallel.h"
#include "kernels/tune.h"

namespace bstack::kernels {
namespace detail {
namespace {

// Portable micro-kernel: plain loops over a small tile the compiler keeps in registers.
template <class T, int MR, int NR>
void ukernel_scalar(int64_t kc, const T* a, const T* b, T* c, int64_t ldc, T alpha, T beta) {
  T acc[MR][NR] = {};
  for (int64_t p = 0; p < kc; ++p) {
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) acc[i][j] += a[i] * b[j];
    a += MR;
    b += NR;
  }
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) {
      T& out = c[i * ldc + j];
      out = beta == T(0) ? alpha * acc[i][j] : alpha * acc[i][j] + beta * out;
    }
}

const GemmUkernel<float> kScalarF32[] = {{"scalar_4x8", 4, 8, ukernel_scalar<float, 4, 8>}};
const GemmUkernel<double> kScalarF64[] = {{"scalar_4x4", 4, 4, ukernel_scalar<double, 4, 4>}};

}  // namespace

const GemmUkernel<float>* gemm_ukernels_scalar_f32(int* count) {
  *count = 1;
  return kScalarF32;
}
const GemmUkernel<double>* gemm_ukernels_scalar_f64(int* count) {
  *count = 1;
  return kScalarF64;
}

}  // namespace detail

namespace {

using detail::GemmUkernel;

template <class T>
const GemmUkernel<T>* ukernels(Isa path, int* count) {
  if constexpr (std::is_same_v<T, float>) {
    switch (path) {
      case Isa::avx512: return detail::gemm_ukernels_avx512_f32(count);
      case Isa::avx2: return detail::gemm_ukernels_avx2_f32(count);
      default: return detail::gemm_ukernels_scalar_f32(count);
    }
  } else {
    switch (path) {
      case Isa::avx512: return detail::gemm_ukernels_avx512_f64(count);
      case Isa::avx2: return detail::gemm_ukernels_avx2_f64(count);
      default: return detail::gemm_ukernels_scalar_f64(count);
    }
  }
}

int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

// 64-byte aligned scratch that lives as long as the thread: packing buffers are reused across
// calls instead of allocated per call (an allocation per GEMM costs more than a small GEMM).
template <class T>
T* scratch(int slot, int64_t count) {
  struct Buf {
    void* p = nullptr;
    int64_t bytes = 0;
    ~Buf() { std::free(p); }
  };
  thread_local Buf bufs[2];
  Buf& b = bufs[slot];
  const int64_t need = round_up(count * static_cast<int64_t>(sizeof(T)) + 64, 4096);
  if (b.bytes < need) {
    std::free(b.p);
    b.p = std::aligned_alloc(64, static_cast<size_t>(need));
    if (!b.p) throw std::bad_alloc();
    b.bytes = need;
  }
  return static_cast<T*>(b.p);
}

// Packs the mc x kc block of A at A (strides rs, cs) into MR-row micro-panels, zero-padding the
// last panel's missing rows: Ap[panel][p][i].
template <class T>
void pack_a(int64_t mc, int64_t kc, const T* A, int64_t rs, int64_t cs, int mr, T* Ap) {
  for (int64_t i0 = 0; i0 < mc; i0 += mr) {
    const int64_t rows = std::min<int64_t>(mr, mc - i0);
    T* dst = Ap + i0 * kc;
    const T* src = A + i0 * rs;
    if (rows < mr) std::memset(dst, 0, sizeof(T) * static_cast<size_t>(kc * mr));
    if (rs == 1) {  // A^T in memory: the mr values of one column are contiguous
      for (int64_t p = 0; p < kc; ++p)
        for (int64_t i = 0; i < rows; ++i) dst[p * mr + i] = src[p * cs + i];
    } else {
      for (int64_t i = 0; i < rows; ++i)
        for (int64_t p = 0; p < kc; ++p) dst[p * mr + i] = src[i * rs + p * cs];
    }
  }
}

// Packs panels [j_begin, j_end) (in units of NR columns) of the kc x nc block of B into
// NR-column micro-panels, zero-padding missing columns: Bp[panel][p][j].
template <class T>
void pack_b(int64_t kc, int64_t nc, const T* B, int64_t rs, int64_t cs, int nr, T* Bp,
            int64_t panel_begin, int64_t panel_end) {
  for (int64_t jp = panel_begin; jp < panel_end; ++jp) {
    const int64_t j0 = jp * nr, cols = std::min<int64_t>(nr, nc - j0);
    T* dst = Bp + j0 * kc;
    const T* src = B + j0 * cs;
    if (cs == 1 && cols == nr) {
      for (int64_t p = 0; p < kc; ++p)
        std::memcpy(dst + p * nr, src + p * rs, sizeof(T) * static_cast<size_t>(nr));
      continue;
    }
    if (cols < nr) std::memset(dst, 0, sizeof(T) * static_cast<size_t>(kc * nr));
    if (cs == 1) {
      for (int64_t p = 0; p < kc; ++p)
        for (int64_t j = 0; j < cols; ++j) dst[p * nr + j] = src[p * rs + j];
    } else if (rs == 1) {  // B^T in memory (a weight (N, K) used as x @ W^T): each column is
      // contiguous. Blocks of 16 k values keep both the 16 reads per column and the 16 x NR
      // writes within L1 (column after column over all of kc would touch kc lines per column).
      for (int64_t p0 = 0; p0 < kc; p0 += 16) {
        const int64_t pn = std::min<int64_t>(16, kc - p0);
        for (int64_t j = 0; j < cols; ++j) {
          const T* col = src + j * cs + p0;
          T* out = dst + p0 * nr + j;
          for (int64_t p = 0; p < pn; ++p) out[p * nr] = col[p];
        }
      }
    } else {
      for (int64_t j = 0; j < cols; ++j)
        for (int64_t p = 0; p < kc; ++p) dst[p * nr + j] = src[j * cs + p * rs];
    }
  }
}

template <class T>
T gelu_tanh(T x) {  // the tanh approximation (Hendrycks & Gimpel 2016), as src's gelu op
  const T k = T(0.7978845608028654), c = T(0.044715);
  return T(0.5) * x * (T(1) + std::tanh(k * (x + c * x * x * x)));
}

// bias[j] (or bias[i] when the problem was transposed) and the activation, on an m x n tile.
template <class T>
void apply_epilogue(const Epilogue<T>& epi, bool bias_per_row, int64_t i0, int64_t j0, int64_t m,
                    int64_t n, T* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i) {
    T* row = c + i * ldc;
    if (epi.bias) {
      if (bias_per_row) {
        const T bv = epi.bias[i0 + i];
        for (int64_t j = 0; j < n; ++j) row[j] += bv;
      } else {
        const T* bj = epi.bias + j0;
        for (int64_t j = 0; j < n; ++j) row[j] += bj[j];
      }
    }
    if (epi.act == Activation::relu) {
      for (int64_t j = 0; j < n; ++j) row[j] = row[j] > T(0) ? row[j] : T(0);
    } else if (epi.act == Activation::gelu) {
      for (int64_t j = 0; j < n; ++j) row[j] = gelu_tanh(row[j]);
    }
  }
}

// One problem, resolved: C has unit column stride (the caller transposes or copies otherwise).
template <class T>
struct Problem {
  int64_t M, N, K;
  T alpha, beta;
  const T* A;
  int64_t rs_a, cs_a;
  const T* B;
  int64_t rs_b, cs_b;
  T* C;
  int64_t ldc;
  Epilogue<T> epi;
  bool bias_per_row;
};

// Runs the block of C rows [m0, m1) for one (jc, pc) step with an already packed Bp: packs A
// blocks of at most mc rows into Ap and calls the micro-kernel on the panels [jp0, jp1).
template <class T>
void macro_block(const Problem<T>& P, const GemmUkernel<T>& uk, int64_t mc, int64_t m0,
                 int64_t m1, int64_t jc, int64_t nc, int64_t pc, int64_t kc, const T* Bp,
                 T* Ap, bool pack, int64_t jp0, int64_t jp1) {
  const int mr = uk.mr, nr = uk.nr;
  const bool first_k = pc == 0, last_k = pc + kc == P.K;
  const T beta = first_k ? P.beta : T(1);
  const bool epilogue = last_k && (P.epi.bias || P.epi.act != Activation::none);
  alignas(64) T tile[16 * 64];
  for (int64_t ic = m0; ic < m1; ic += mc) {
    const int64_t mcur = std::min(mc, m1 - ic);
    if (pack) pack_a(mcur, kc, P.A + ic * P.rs_a + pc * P.cs_a, P.rs_a, P.cs_a, mr, Ap);
    for (int64_t jp = jp0; jp < jp1; ++jp) {
      const int64_t jr = jp * nr, ncur = std::min<int64_t>(nr, nc - jr);
      const T* bpanel = Bp + jr * kc;
      for (int64_t ir = 0; ir < mcur; ir += mr) {
        const int64_t mrcur = std::min<int64_t>(mr, mcur - ir);
        T* c = P.C + (ic + ir) * P.ldc + (jc + jr);
        if (mrcur == mr && ncur == nr) {
          uk.fn(kc, Ap + ir * kc, bpanel, c, P.ldc, P.alpha, beta);
          if (epilogue) apply_epilogue(P.epi, P.bias_per_row, ic + ir, jc + jr, mr, nr, c, P.ldc);
        } else {
          uk.fn(kc, Ap + ir * kc, bpanel, tile, nr, T(1), T(0));
          for (int64_t i = 0; i < mrcur; ++i)
            for (int64_t j = 0; j < ncur; ++j) {
              T& out = c[i * P.ldc + j];
              out = beta == T(0) ? P.alpha * tile[i * nr + j]
                                 : P.alpha * tile[i * nr + j] + beta * out;
            }
          if (epilogue) apply_epilogue(P.epi, P.bias_per_row, ic + ir, jc + jr, mrcur, ncur, c, P.ldc);
        }
      }
    }
  }
}

// A reusable barrier for the threads of one OpenMP team (omp barrier cannot sit inside the
// branches below).
template <class T>
void run_packed(const Problem<T>& P, const GemmUkernel<T>& uk, const GemmConfig& cfg) {
  const int mr = uk.mr, nr = uk.nr;
  // K split into equal blocks of at most KC (784 with KC = 384 runs as 3 x 262, not
  // 384 + 384 + 16: a thin last block pays the C tile's loads and stores for little work).
  const int64_t kblocks = (P.K + cfg.kc - 1) / cfg.kc;
  const int64_t kc_max = (P.K + kblocks - 1) / kblocks, nc_max = round_up(cfg.nc, nr);
  const int nt = cfg.threads;
  const bool split_ic = cfg.split == GemmSplit::ic;
  // Shared B block; A blocks per thread (ic split) or one shared A block (jr split).
  const int64_t nc_alloc = std::min(nc_max, round_up(P.N, nr));
  const int64_t kc_alloc = std::min<int64_t>(kc_max, P.K);
  T* Bp = scratch<T>(0, nc_alloc * kc_alloc);
  const int64_t mc_eff = cfg.mc;
  T* Ap_shared = split_ic ? nullptr : scratch<T>(1, round_up(std::min(mc_eff, P.M), mr) * kc_alloc);

  auto body = [&](int tid, int nthreads) {
    T* Ap = split_ic ? scratch<T>(1, round_up(std::min(mc_eff, P.M), mr) * kc_alloc) : Ap_shared;
    // ic split: this thread's rows, a multiple of MR so threads never share a micro-tile.
    const int64_t mpanels = (P.M + mr - 1) / mr;
    const int64_t m0 = split_ic ? std::min(P.M, mpanels * tid / nthreads * mr) : 0;
    const int64_t m1 = split_ic ? std::min(P.M, mpanels * (tid + 1) / nthreads * mr) : P.M;
    for (int64_t jc = 0; jc < P.N; jc += nc_max) {
      const int64_t nc = std::min(nc_max, P.N - jc);
      const int64_t npanels = (nc + nr - 1) / nr;
      for (int64_t pc = 0; pc < P.K; pc += kc_max) {
        const int64_t kc = std::min(kc_max, P.K - pc);
        pack_b(kc, nc, P.B + pc * P.rs_b + jc * P.cs_b, P.rs_b, P.cs_b, nr, Bp,
               npanels * tid / nthreads, npanels * (tid + 1) / nthreads);
        if (nthreads > 1) {
#pragma omp barrier
        }
        if (split_ic) {
          macro_block(P, uk, mc_eff, m0, m1, jc, nc, pc, kc, Bp, Ap, true, 0, npanels);
        } else {
          for (int64_t ic = 0; ic < P.M; ic += mc_eff) {
            const int64_t mcur = std::min(mc_eff, P.M - ic);
            const int64_t apanels = (mcur + mr - 1) / mr;
            // Threads pack disjoint micro-panels of the shared A block.
            const int64_t a0 = apanels * tid / nthreads, a1 = apanels * (tid + 1) / nthreads;
            if (a1 > a0)
              pack_a(std::min<int64_t>(mcur - a0 * mr, (a1 - a0) * mr), kc,
                     P.A + (ic + a0 * mr) * P.rs_a + pc * P.cs_a, P.rs_a, P.cs_a, mr,
                     Ap + a0 * mr * kc);
            if (nthreads > 1) {
#pragma omp barrier
            }
            macro_block(P, uk, mc_eff, ic, ic + mcur, jc, nc, pc, kc, Bp, Ap, false,
                        npanels * tid / nthreads, npanels * (tid + 1) / nthreads);
            if (nthreads > 1) {
#pragma omp barrier
            }
          }
        }
        if (nthreads > 1) {
#pragma omp barrier
        }
      }
    }
  };
  if (nt <= 1) {
    body(0, 1);
  } else {
#pragma omp parallel num_threads(nt)
    body(omp_get_thread_num(), omp_get_num_threads());
  }
}

}  // namespace

template <class T>
int gemm_variant_count(Isa path) {
  int n = 0;
  ukernels<T>(path, &n);
  return n;
}

template <class T>
GemmVariant gemm_variant(Isa path, int index) {
  int n = 0;
  const GemmUkernel<T>* t = ukernels<T>(path, &n);
  if (index < 0 || index >= n) index = 0;
  return {t[index].name, t[index].mr, t[index].nr};
}

template <class T>
GemmConfig gemm_defaults(int64_t M, int64_t N, int64_t K, int variant) {
  const GemmVariant v = gemm_variant<T>(isa(), variant);
  const CacheSizes& cs = cache_sizes();
  const int64_t l2 = cs.l2 > 0 ? cs.l2 : 256 * 1024;
  const int64_t l3 = cs.l3 > 0 ? std::min<int64_t>(cs.l3, 32 << 20) : 8 << 20;
  const int64_t s = sizeof(T);
  // After Low et al. 2016: the B micro-panel (KC x NR) is reused across the whole ir loop, the
  // A block (MC x KC) across the jr loop, the B block (KC x NC) across ic. Their model keeps the
  // B micro-panel in L1; on Zen 4/5 (48 KiB L1, 1 MiB L2 that streams at nearly L1 speed) the
  // autotuner chose KC = K up to ~1000 on every shape class (bstack tune, 14 shapes), i.e. the
  // B micro-panel in L2 and fewer passes over C. So KC fills a quarter of L2 with the B
  // micro-panel, and MC x KC of A half of L2.
  GemmConfig c;
  c.variant = variant;
  c.kc = static_cast<int>(std::clamp<int64_t>(l2 / 4 / (v.nr * s) / 8 * 8, 64, 1024));
  c.mc = static_cast<int>(std::max<int64_t>(v.mr, l2 / 2 / (c.kc * s) / v.mr * v.mr));
  c.nc = static_cast<int>(std::clamp<int64_t>(l3 / 4 / (c.kc * s) / v.nr * v.nr, v.nr, 8192));
  (void)M;
  (void)N;
  (void)K;
  return c;
}

template <class T>
GemmConfig gemm_resolve(int64_t M, int64_t N, int64_t K, GemmConfig cfg) {
  if (cfg.variant < 0 || cfg.mc <= 0 || cfg.kc <= 0 || cfg.nc <= 0 || cfg.threads <= 0 ||
      cfg.split == GemmSplit::automatic) {
    GemmConfig tuned;
    const bool have = tune_lookup_gemm(sizeof(T) == 4 ? "sgemm" : "dgemm", M, N, K, &tuned);
    if (cfg.variant < 0) cfg.variant = have ? tuned.variant : 0;
    if (cfg.variant >= gemm_variant_count<T>(isa())) cfg.variant = 0;
    const GemmConfig d = gemm_defaults<T>(M, N, K, cfg.variant);
    const bool same_variant = have && tuned.variant == cfg.variant;
    if (cfg.mc <= 0) cfg.mc = same_variant && tuned.mc > 0 ? tuned.mc : d.mc;
    if (cfg.kc <= 0) cfg.kc = same_variant && tuned.kc > 0 ? tuned.kc : d.kc;
    if (cfg.nc <= 0) cfg.nc = same_variant && tuned.nc > 0 ? tuned.nc : d.nc;
    if (cfg.threads <= 0) cfg.threads = num_threads();
    if (cfg.split == GemmSplit::automatic) cfg.split = have ? tuned.split : GemmSplit::automatic;
  }
  const GemmVariant v = gemm_variant<T>(isa(), cfg.variant);
  cfg.mc = static_cast<int>(std::max<int64_t>(v.mr, cfg.mc / v.mr * v.mr));
  cfg.nc = static_cast<int>(std::max<int64_t>(v.nr, cfg.nc / v.nr * v.nr));
  cfg.kc = std::max(1, cfg.kc);
  // No more threads than there is work for (2 MFLOP per thread at least): a team costs a few
  // microseconds to wake, more than a small GEMM takes (the tuner chose 1 thread for every shape
  // class below that on the 2-core development machine).
  const double flops = 2.0 * static_cast<double>(M) * N * K;
  const int useful = static_cast<int>(std::max(1.0, flops / (1 << 21)));
  cfg.threads = std::max(1, std::min(cfg.threads, useful));
  if (cfg.split == GemmSplit::automatic)
    // Threads share one packed A block (jr) unless each has 64+ rows of its own: the tuner chose
    // jr for M = 64 (1.5-2x faster than ic) and ic from M = 256 up.
    cfg.split = M >= static_cast<int64_t>(cfg.threads) * 64 ? GemmSplit::ic : GemmSplit::jr;
  return cfg;
}

template <class T>
void gemm(int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t rs_a, int64_t cs_a,
          const T* B, int64_t rs_b, int64_t cs_b, T beta, T* C, int64_t rs_c, int64_t cs_c,
          const Epilogue<T>& epi, const GemmConfig& cfg_in) {
  if (M <= 0 || N <= 0) return;
  const bool has_epi = epi.bias || epi.act != Activation::none;
  if (K <= 0 || alpha == T(0)) {  // C = beta * C, then the epilogue
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        T& c = C[i * rs_c + j * cs_c];
        c = beta == T(0) ? T(0) : beta * c;
        if (has_epi) {
          if (epi.bias) c += epi.bias[j];
          if (epi.act == Activation::relu) c = c > T(0) ? c : T(0);
          if (epi.act == Activation::gelu) c = gelu_tanh(c);
        }
      }
    return;
  }
  Problem<T> P{M, N, K, alpha, beta, A, rs_a, cs_a, B, rs_b, cs_b, C, rs_c, epi, false};
  if (cs_c != 1) {
    if (rs_c == 1) {  // column-major C: compute C^T = B^T A^T, whose rows are contiguous
      P = Problem<T>{N, M, K, alpha, beta, B, cs_b, rs_b, A, cs_a, rs_a, C, cs_c, epi, true};
    } else {  // C with no unit stride: compute into a contiguous buffer, then scatter
      std::unique_ptr<T[]> tmp(new T[static_cast<size_t>(M * N)]);
      for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) tmp[i * N + j] = beta == T(0) ? T(0) : C[i * rs_c + j * cs_c];
      gemm(M, N, K, alpha, A, rs_a, cs_a, B, rs_b, cs_b, beta == T(0) ? T(0) : T(1), tmp.get(), N,
           int64_t{1}, epi, cfg_in);
      for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) C[i * rs_c + j * cs_c] = tmp[i * N + j];
      return;
    }
  }
  const GemmConfig cfg = gemm_resolve<T>(P.M, P.N, P.K, cfg_in);
  int count = 0;
  const GemmUkernel<T>* table = ukernels<T>(isa(), &count);
  run_packed(P, table[cfg.variant < count ? cfg.variant : 0], cfg);
}

template <class T>
void gemm_batched(int64_t batch, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                  int64_t rs_a, int64_t cs_a, int64_t stride_a, const T* B, int64_t rs_b,
                  int64_t cs_b, int64_t stride_b, T beta, T* C, int64_t rs_c, int64_t cs_c,
                  int64_t stride_c) {
  if (batch <= 0) return;
  const int nt = num_threads();
  const double flops = 2.0 * static_cast<double>(M) * N * K;
  // Many small problems: one thread each (no team per GEMM). Few large ones: threads inside.
  if (batch >= nt && nt > 1 && flops * batch >= (1 << 18)) {
    GemmConfig one;
    one.threads = 1;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (int64_t b = 0; b < batch; ++b)
      gemm(M, N, K, alpha, A + b * stride_a, rs_a, cs_a, B + b * stride_b, rs_b, cs_b, beta,
           C + b * stride_c, rs_c, cs_c, Epilogue<T>{}, one);
    return;
  }
  for (int64_t b = 0; b < batch; ++b)
    gemm(M, N, K, alpha, A + b * stride_a, rs_a, cs_a, B + b * stride_b, rs_b, cs_b, beta,
         C + b * stride_c, rs_c, cs_c);
}

namespace {
template <class T>
void blas_style(char transa, char transb, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  const bool ta = transa == 'T' || transa == 't' || transa == 'C' || transa == 'c';
  const bool tb = transb == 'T' || transb == 't' || transb == 'C' || transb == 'c';
  gemm(M, N, K, alpha, A, ta ? int64_t{1} : lda, ta ? lda : int64_t{1}, B, tb ? int64_t{1} : ldb,
       tb ? ldb : int64_t{1}, beta, C, ldc, int64_t{1});
}
}  // namespace

void sgemm(char transa, char transb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  blas_style(transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
void dgemm(char transa, char transb, int64_t M, int64_t N, int64_t K, double alpha,
           const double* A, int64_t lda, const double* B, int64_t ldb, double beta, double* C,
           int64_t ldc) {
  blas_style(transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

#define BSTACK_GEMM_INSTANTIATE(T)                                                              \
  template int gemm_variant_count<T>(Isa);                                                      \
  template GemmVariant gemm_variant<T>(Isa, int);                                               \
  template GemmConfig gemm_defaults<T>(int64_t, int64_t, int64_t, int);                         \
  template GemmConfig gemm_resolve<T>(int64_t, int64_t, int64_t, GemmConfig);                   \
  template void gemm<T>(int64_t, int64_t, int64_t, T, const T*, int64_t, int64_t, const T*,     \
                        int64_t, int64_t, T, T*, int64_t, int64_t, const Epilogue<T>&,          \
                        const GemmConfig&);                                                     \
  template void gemm_batched<T>(int64_t, int64_t, int64_t, int64_t, T, const T*, int64_t,       \
                                int64_t, int64_t, const T*, int64_t, int64_t, int64_t, T, T*,   \
                                int64_t, int64_t, int64_t);
BSTACK_GEMM_INSTANTIATE(float)
BSTACK_GEMM_INSTANTIATE(double)
#undef BSTACK_GEMM_INSTANTIATE

}  // namespace bstack::kernels
