// Tiled scaled-dot-product attention, forward and backward, that never materialises the
// Tq x Tk score matrix: FlashAttention-2 (Dao, "FlashAttention-2: Faster Attention with Better
// Parallelism and Work Partitioning", 2023), itself after FlashAttention (Dao et al. 2022) and
// the online softmax of Milakov & Gimelshein ("Online normalizer calculation for softmax", 2018).
//
//   forward   for each block of Br query rows: for each block of Bc key rows it may see,
//             S = scale * Q_i K_j^T (Br x Bc, in a per-thread buffer), fold S into the running
//             row max m and row sum l (rescaling the output accumulator when m grows), and add
//             exp(S - m) V_j to it. At the end O_i = acc / l and L_i = m + log(l), the per-row
//             log-sum-exp that the backward needs (FA2 Algorithm 1).
//   backward  D_i = rowsum(dO_i * O_i), then per key block j (dK_j, dV_j stay local) and each query
//             block i that sees it: recompute P = exp(S - L_i) from q, k and L, then
//             dV_j += P^T dO_i, dP = dO_i V_j^T, dS = P * (dP - D_i), dK_j += scale dS^T Q_i,
//             dQ_i += scale dS K_j (FA2 Algorithm 2).
//
// Memory: the kernel allocates per thread O(Br*Bc + (Br + Bc)*D) elements, independent of the
// sequence length, plus (backward only) D_i: Tq values per (batch, head). Every allocation is
// counted in AttentionStats::workspace_bytes, so callers can show that memory grows linearly
// with context length (bench/bench_attention.cpp does) rather than as Tq * Tk.
//
// Layout: operands are (B, H, T, D) with any batch, head and row strides but unit stride along
// D, so head slices of a fused (B, T, 3*H*D) qkv projection are read in place: element
// (b, h, t, d) lives at data[b*sb + h*sh + t*st + d]. Keys sit at absolute positions 0..Tk-1,
// queries at q_offset..q_offset+Tq-1 (q_offset > 0 for a KV cache); causal means query i sees
// keys j <= q_offset + i. f32 runs on the AVX-512 / AVX2 / scalar path of kernels::isa();
// f64 (for gradient checks) always runs the portable scalar path.
//
// Leaves out on purpose: dropout, attention bias / arbitrary masks, grouped-query heads.
#pragma once

#include <cstdint>

namespace bstack::kernels {

template <class T>
struct AttnTensor {
  T* data = nullptr;
  int64_t sb = 0, sh = 0, st = 0;  // strides in elements of batch, head and row; D is unit-stride
};

struct AttentionDims {
  int64_t B = 1, H = 1;      // batch, heads
  int64_t Tq = 0, Tk = 0;    // query rows, key/value rows
  int64_t D = 0;             // head dimension (>= 1)
  bool causal = true;
  int64_t q_offset = 0;      // absolute position of query row 0 (>= 0)
  double scale = 0;          // 0 = 1/sqrt(D)
};

// How the backward splits work between threads. per_head: one (batch, head) per task, which
// owns dQ, dK and dV of that head (one pass, 5 block products per block pair). two_pass: tasks
// over (batch, head, key block) compute dK, dV, then tasks over (batch, head, query block)
// compute dQ, recomputing S and dP (7 products instead of 5, but as many tasks as blocks, for
// B*H smaller than the thread count). automatic picks per_head when B*H >= threads.
enum class AttnBackwardSplit : int { automatic = 0, per_head = 1, two_pass = 2 };

struct AttentionConfig {
  int br = 0, bc = 0;  // query rows and key rows per block; 0 = default (attention_resolve)
  int threads = 0;     // 0 = num_threads()
  AttnBackwardSplit split = AttnBackwardSplit::automatic;
};

struct AttentionStats {
  int64_t workspace_bytes = 0;  // bytes the call allocated (all threads together)
  int tasks = 0, threads = 0;   // work items and threads used (the last pass, for backward)
};

// Block sizes for head dimension D and element size `elem` (bytes): cfg's non-zero fields, else
// Bc so that one K^T (or V) block of Bc x D fills about half of L1 (it is re-read for every row
// strip of the block product), a multiple of 16 in [16, 256]; Br = 64 rows (the Q block and the
// Br x D output accumulator stay in L2 across the key loop).
AttentionConfig attention_resolve(int64_t D, int64_t elem, AttentionConfig cfg = {});

// out = softmax(scale * q k^T, masked) v. lse, when not null, receives the row log-sum-exp of
// the scaled, masked scores: lse[(b*H + h)*Tq + i] (-inf for a row that sees no key, whose
// output is 0). T = float or double.
template <class T>
void attention_forward(const AttentionDims& dims, AttnTensor<const T> q, AttnTensor<const T> k,
                       AttnTensor<const T> v, AttnTensor<T> out, T* lse,
                       const AttentionConfig& cfg = {}, AttentionStats* stats = nullptr);

// Gradients of sum(out * dout) with respect to q, k and v (overwritten), from the forward's
// out and lse; dq, dk, dv must not alias the inputs or each other.
template <class T>
void attention_backward(const AttentionDims& dims, AttnTensor<const T> q, AttnTensor<const T> k,
                        AttnTensor<const T> v, AttnTensor<const T> out, AttnTensor<const T> dout,
                        const T* lse, AttnTensor<T> dq, AttnTensor<T> dk, AttnTensor<T> dv,
                        const AttentionConfig& cfg = {}, AttentionStats* stats = nullptr);

// Query/key pairs that the mask lets through: the unit the profiler counts FLOPs per.
int64_t attention_visible_pairs(const AttentionDims& dims);

namespace detail {
// The inner loops, one table per ISA path (attention.cpp: scalar; attention_avx2.cpp,
// attention_avx512.cpp: vectorised over the key block and over D). Blocks are row-major with
// unit-stride rows, except A in gemm, whose element (i, p) is a[i*rsa + p*csa] (so P^T and
// dS^T need no transposed copy).
template <class T>
struct AttnOps {
  // C (m x n) = alpha * A (m x k) @ B (k x n), or C += that when accumulate.
  void (*gemm)(int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t rsa, int64_t csa,
               const T* b, int64_t ldb, bool accumulate, T* c, int64_t ldc);
  T (*max)(const T* x, int64_t n);                      // n >= 1
  T (*exp_sum)(T* x, int64_t n, T shift);               // x = exp(x - shift); returns the sum
  void (*ds)(T* dp, const T* p, int64_t n, T di);       // dp = p * (dp - di)
};
const AttnOps<float>* attn_ops_avx2_f32();
const AttnOps<float>* attn_ops_avx512_f32();
}  // namespace detail

}  // namespace bstack::kernels
