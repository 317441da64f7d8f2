// Packed GEMM in the BLIS/Goto structure (Goto & van de Geijn 2008; Van Zee & van de Geijn,
// "BLIS", TOMS 2015): five loops around an MR x NR register micro-kernel, with A packed into
// MR-row micro-panels that stay in L2 and B into NR-column micro-panels that stay in L3/L1.
// Block sizes (MC, KC, NC), the micro-kernel variant and the loop that threads split are data
// (GemmConfig): the tuning cache supplies them per machine and shape class, and analytical
// defaults derived from the cache sizes (Low et al., "Analytical Modeling Is Enough for
// High-Performance BLIS", TOMS 2016) are used without one.
//
// Every operand has a row and a column stride, so transposed, sliced and column-major views
// need no copy: element (i, j) of X lives at X[i*rs + j*cs]. C = alpha * A @ B + beta * C,
// with A (M x K), B (K x N), C (M x N); beta == 0 overwrites C without reading it.
#pragma once

#include <cstdint>

#include "kernels/cpu.h"

namespace bstack::kernels {

// Applied to each C tile right after its last K block, while the tile is still in L1:
// C = act(C + bias[j]) saves the separate pass over C that a bias add and activation would take.
enum class Activation : int { none = 0, relu = 1, gelu = 2 };

template <class T>
struct Epilogue {
  const T* bias = nullptr;  // length N (per column of C), or nullptr
  Activation act = Activation::none;
};

// Which loop the threads split: the ic loop (each thread packs its own A block: best when M has
// many MC blocks) or the jr loop inside one A block (threads share the packed A: best for small M).
enum class GemmSplit : int { automatic = 0, ic = 1, jr = 2 };

struct GemmConfig {
  int mc = 0, kc = 0, nc = 0;  // block sizes; 0 = analytical default
  int variant = -1;            // micro-kernel index into gemm_variants(); -1 = the ISA default
  int threads = 0;             // 0 = num_threads()
  GemmSplit split = GemmSplit::automatic;
};

struct GemmVariant {
  const char* name;  // e.g. "avx512_14x32"
  int mr, nr;
};

// The micro-kernels this ISA path offers for T (float or double), default first.
template <class T>
int gemm_variant_count(Isa isa);
template <class T>
GemmVariant gemm_variant(Isa isa, int index);

// The configuration gemm() would use for this shape: cfg's non-zero fields, then the tuning
// cache's entry for the shape class, then the analytical defaults. Every field filled.
// The analytical defaults alone (no tuning table), for the given variant.
template <class T>
GemmConfig gemm_defaults(int64_t M, int64_t N, int64_t K, int variant = 0);

template <class T>
GemmConfig gemm_resolve(int64_t M, int64_t N, int64_t K, GemmConfig cfg = {});

template <class T>
void gemm(int64_t M, int64_t N, int64_t K, T alpha,
          const T* A, int64_t rs_a, int64_t cs_a,
          const T* B, int64_t rs_b, int64_t cs_b,
          T beta, T* C, int64_t rs_c, int64_t cs_c,
          const Epilogue<T>& epi = {}, const GemmConfig& cfg = {});

// Strided-batched: for b in [0, batch): C_b = alpha * A_b @ B_b + beta * C_b, X_b = X + b * stride_x.
template <class T>
void gemm_batched(int64_t batch, int64_t M, int64_t N, int64_t K, T alpha,
                  const T* A, int64_t rs_a, int64_t cs_a, int64_t stride_a,
                  const T* B, int64_t rs_b, int64_t cs_b, int64_t stride_b,
                  T beta, T* C, int64_t rs_c, int64_t cs_c, int64_t stride_c);

// BLAS-style row-major entry points (as cblas_sgemm with CblasRowMajor): trans 'N' or 'T'.
void sgemm(char transa, char transb, int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
           int64_t ldc);
void dgemm(char transa, char transb, int64_t M, int64_t N, int64_t K, double alpha,
           const double* A, int64_t lda, const double* B, int64_t ldb, double beta, double* C,
           int64_t ldc);

}  // namespace bstack::kernels
