// The tiled attention drivers (block loops, online softmax, task scheduling) and the portable
// scalar inner loops; the AVX2 / AVX-512 inner loops live in attention_avx2.cpp and
// attention_avx512.cpp and are reached through the AttnOps table of kernels::isa(). The
// algorithm and its references are described in attention.h.
//
// Shapes used below, per (batch, head) bh:
//   q, out, dout, dq: rows i of D values, row stride st;  k, v, dk, dv: rows j likewise;
//   a query block is rows i0 .. i0+rows-1 (rows <= Br), a key block j0 .. j0+n-1 (n <= Bc);
//   S, P, dP: row-major rows x n blocks with leading dimension ld = Bc + pad (per-thread
//   workspace); K^T, V^T: D x n, packed per key block (leading dimension ld) so that the score
//   product S = Q K^T is a plain row-major product whose inner loop runs over the key block.
#include "kernels/attention.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "kernels/cpu.h"
#include "kernels/parallel.h"

namespace bstack::kernels {
namespace {

// ---- portable inner loops ------------------------------------------------------------------

template <class T>
void gemm_scalar(int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t rsa, int64_t csa,
                 const T* b, int64_t ldb, bool accumulate, T* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i) {
    T* ci = c + i * ldc;
    if (!accumulate) std::fill(ci, ci + n, T(0));
    for (int64_t p = 0; p < k; ++p) {
      const T aip = alpha * a[i * rsa + p * csa];
      const T* bp = b + p * ldb;
      for (int64_t j = 0; j < n; ++j) ci[j] += aip * bp[j];
    }
  }
}

template <class T>
T max_scalar(const T* x, int64_t n) {
  T m = x[0];
  for (int64_t j = 1; j < n; ++j) m = std::max(m, x[j]);
  return m;
}

template <class T>
T exp_sum_scalar(T* x, int64_t n, T shift) {
  T s = 0;
  for (int64_t j = 0; j < n; ++j) {
    x[j] = std::exp(x[j] - shift);
    s += x[j];
  }
  return s;
}

template <class T>
void ds_scalar(T* dp, const T* p, int64_t n, T di) {
  for (int64_t j = 0; j < n; ++j) dp[j] = p[j] * (dp[j] - di);
}

template <class T>
constexpr detail::AttnOps<T> kScalarOps = {gemm_scalar<T>, max_scalar<T>, exp_sum_scalar<T>,
                                           ds_scalar<T>};

template <class T>
const detail::AttnOps<T>& ops_for();
template <>
const detail::AttnOps<double>& ops_for<double>() {
  return kScalarOps<double>;  // f64 is for gradient checks: the reference path only
}
template <>
const detail::AttnOps<float>& ops_for<float>() {
  switch (isa()) {
    case Isa::avx512: return *detail::attn_ops_avx512_f32();
    case Isa::avx2: return *detail::attn_ops_avx2_f32();
    default: return kScalarOps<float>;
  }
}

// ---- geometry ------------------------------------------------------------------------------

template <class U>
U* row_ptr(const AttnTensor<U>& x, int64_t bh, int64_t H, int64_t t) {
  return x.data + (bh / H) * x.sb + (bh % H) * x.sh + t * x.st;
}

// One past the last key query row i sees.
int64_t key_end(const AttentionDims& d, int64_t i) {
  return d.causal ? std::min(d.Tk, d.q_offset + i + 1) : d.Tk;
}

// First query row that sees key j.
int64_t first_query(const AttentionDims& d, int64_t j) {
  return d.causal ? std::max<int64_t>(0, j - d.q_offset) : 0;
}

// dst (D x n, leading dimension ld) = the transpose of n rows of D values, row stride st.
template <class T>
void pack_transposed(const T* src, int64_t st, int64_t n, int64_t D, T* dst, int64_t ld) {
  for (int64_t c = 0; c < n; ++c)
    for (int64_t p = 0; p < D; ++p) dst[p * ld + c] = src[c * st + p];
}

// Per-thread buffers, allocated once per worker (not per task). Every block starts on a cache
// line, and blocks with Bc columns (S, P, dP, K^T, V^T) have leading dimension ld = Bc rounded
// up to a cache line, plus one line: rows then start on cache lines (no load splits a line) and
// ld is never a power of two (rows a power of two apart share a few L1 sets and evict each
// other: Bc = 256 ran 3x slower without the pad).
template <class T>
struct Workspace {
  static constexpr int64_t kLine = 64 / sizeof(T);  // elements per cache line
  static int64_t lines(int64_t n) { return (n + kLine - 1) / kLine * kLine; }

  std::vector<T> buf;
  int64_t ld = 0, used = 0;
  T *kt = nullptr, *vt = nullptr, *s = nullptr, *dp = nullptr, *acc = nullptr, *m = nullptr,
    *l = nullptr;

  // `rows` blocks of ld columns (each a cache-line multiple) and `other` blocks of given sizes.
  Workspace(int64_t bc, int64_t rows, std::initializer_list<int64_t> other)
      : ld(lines(bc) + kLine) {
    int64_t n = rows * ld + kLine;  // + the alignment slack
    for (int64_t o : other) n += lines(o);
    buf.assign(n, T(0));
    const auto addr = reinterpret_cast<uintptr_t>(buf.data());
    used = static_cast<int64_t>(((addr + 63) / 64 * 64 - addr) / sizeof(T));
  }
  T* take(int64_t n) {
    T* p = buf.data() + used;
    used += lines(n);
    return p;
  }
  int64_t bytes() const { return static_cast<int64_t>(buf.size() * sizeof(T)); }
};

// Forward: K^T (D x ld), S (Br x ld), the output accumulator (Br x D), row max m and sum l.
template <class T>
Workspace<T> forward_workspace(int64_t br, int64_t bc, int64_t D) {
  Workspace<T> w(bc, D + br, {br * D, br, br});
  w.kt = w.take(D * w.ld);
  w.s = w.take(br * w.ld);
  w.acc = w.take(br * D);
  w.m = w.take(br);
  w.l = w.take(br);
  return w;
}

// Backward: K^T and V^T (D x ld each), P and dP/dS (Br x ld each).
template <class T>
Workspace<T> backward_workspace(int64_t br, int64_t bc, int64_t D) {
  Workspace<T> w(bc, 2 * D + 2 * br, {});
  w.kt = w.take(D * w.ld);
  w.vt = w.take(D * w.ld);
  w.s = w.take(br * w.ld);
  w.dp = w.take(br * w.ld);
  return w;
}

// Runs body(ws, task) for tasks 0..ntasks-1 on up to `threads` workers that each take the
// next task from a shared counter (tasks are numbered heaviest first, so this is the
// longest-processing-time-first list schedule: causal tasks differ in cost by up to Tk/Bc).
// Each worker makes one workspace; the bytes of all of them are added to *bytes.
template <class MakeWs, class Body>
int run_tasks(int64_t ntasks, int threads, int64_t work_per_task, MakeWs make_ws, Body body,
              std::atomic<int64_t>* bytes) {
  if (ntasks <= 0) return 0;
  const int64_t workers = std::max<int64_t>(1, std::min<int64_t>(threads, ntasks));
  std::atomic<int64_t> next{0};
  std::atomic<int> used{0};
  parallel_for(workers, std::max<int64_t>(1, work_per_task * ntasks / workers),
               [&](int64_t, int64_t) {
                 auto ws = make_ws();
                 bytes->fetch_add(ws.bytes());
                 used.fetch_add(1);
                 for (int64_t t; (t = next.fetch_add(1)) < ntasks;) body(ws, t);
               });
  return used.load();
}

template <class T>
T resolved_scale(const AttentionDims& d) {
  return static_cast<T>(d.scale != 0 ? d.scale : 1.0 / std::sqrt(static_cast<double>(d.D)));
}

void check_dims(const AttentionDims& d) {
  if (d.B < 0 || d.H < 1 || d.Tq < 0 || d.Tk < 0 || d.D < 1 || d.q_offset < 0)
    throw std::invalid_argument("attention: bad dims (need B >= 0, H >= 1, Tq, Tk >= 0, D >= 1, "
                                "q_offset >= 0)");
}

// ---- forward -------------------------------------------------------------------------------

// One query block of one head (FA2 Algorithm 1, one outer iteration).
template <class T>
void forward_block(const AttentionDims& d, const detail::AttnOps<T>& ops, T scale, int64_t bc,
                   AttnTensor<const T> q, AttnTensor<const T> k, AttnTensor<const T> v,
                   AttnTensor<T> out, T* lse, int64_t bh, int64_t i0, int64_t rows,
                   Workspace<T>& w) {
  const int64_t D = d.D;
  const T* qi = row_ptr(q, bh, d.H, i0);
  const int64_t kend = key_end(d, i0 + rows - 1);
  std::fill(w.m, w.m + rows, -std::numeric_limits<T>::infinity());
  std::fill(w.l, w.l + rows, T(0));
  std::fill(w.acc, w.acc + rows * D, T(0));
  for (int64_t j0 = 0; j0 < kend; j0 += bc) {
    const int64_t n = std::min(bc, kend - j0);
    pack_transposed(row_ptr(k, bh, d.H, j0), k.st, n, D, w.kt, w.ld);
    ops.gemm(rows, n, D, scale, qi, q.st, 1, w.kt, w.ld, false, w.s, w.ld);  // S = scale Q K^T
    for (int64_t r = 0; r < rows; ++r) {
      T* sr = w.s + r * w.ld;
      const int64_t nv = std::clamp<int64_t>(key_end(d, i0 + r) - j0, 0, n);
      if (nv == 0) {  // the whole block is masked for this row: P = 0
        std::fill(sr, sr + n, T(0));
        continue;
      }
      // Online softmax: m grows to m_new, the old sum and accumulator scale by exp(m - m_new).
      const T m_new = std::max(w.m[r], ops.max(sr, nv));
      const T sum = ops.exp_sum(sr, nv, m_new);
      std::fill(sr + nv, sr + n, T(0));
      if (w.m[r] != m_new && w.l[r] != T(0)) {
        const T alpha = std::exp(w.m[r] - m_new);
        w.l[r] *= alpha;
        T* ar = w.acc + r * D;
        for (int64_t p = 0; p < D; ++p) ar[p] *= alpha;
      }
      w.l[r] += sum;
      w.m[r] = m_new;
    }
    ops.gemm(rows, D, n, T(1), w.s, w.ld, 1, row_ptr(v, bh, d.H, j0), v.st, true, w.acc, D);
  }
  for (int64_t r = 0; r < rows; ++r) {
    T* o = row_ptr(out, bh, d.H, i0 + r);
    const T* ar = w.acc + r * D;
    if (w.l[r] > T(0)) {
      const T inv = T(1) / w.l[r];
      for (int64_t p = 0; p < D; ++p) o[p] = ar[p] * inv;
      if (lse) lse[bh * d.Tq + i0 + r] = w.m[r] + std::log(w.l[r]);
    } else {
      std::fill(o, o + D, T(0));
      if (lse) lse[bh * d.Tq + i0 + r] = -std::numeric_limits<T>::infinity();
    }
  }
}

// ---- backward ------------------------------------------------------------------------------

template <class T>
struct BwdCtx {
  AttentionDims d;
  const detail::AttnOps<T>* ops;
  T scale;
  int64_t br, bc;
  AttnTensor<const T> q, k, v, dout;
  const T* lse;
  const T* di;  // (B*H, Tq): rowsum(dout * out)
  AttnTensor<T> dq, dk, dv;
};

// P = exp(S - L) for the block in w.s (rows x n), with masked entries 0; then dV_j += P^T dO_i,
// dP = dO_i V_j^T and dS = P * (dP - D_i) into w.dp. Shared by both backward passes.
template <class T>
void backward_ds(const BwdCtx<T>& c, Workspace<T>& w, int64_t bh, int64_t i0, int64_t rows,
                 int64_t j0, int64_t n, bool update_dv) {
  const detail::AttnOps<T>& ops = *c.ops;
  const int64_t D = c.d.D, ld = w.ld;
  const T* qi = row_ptr(c.q, bh, c.d.H, i0);
  const T* doi = row_ptr(c.dout, bh, c.d.H, i0);
  ops.gemm(rows, n, D, c.scale, qi, c.q.st, 1, w.kt, ld, false, w.s, ld);
  for (int64_t r = 0; r < rows; ++r) {
    T* pr = w.s + r * ld;
    const int64_t nv = std::clamp<int64_t>(key_end(c.d, i0 + r) - j0, 0, n);
    if (nv > 0) ops.exp_sum(pr, nv, c.lse[bh * c.d.Tq + i0 + r]);
    std::fill(pr + nv, pr + n, T(0));
  }
  if (update_dv)  // A = P^T: element (j, i) at s[i*ld + j]
    ops.gemm(n, D, rows, T(1), w.s, 1, ld, doi, c.dout.st, true, row_ptr(c.dv, bh, c.d.H, j0),
             c.dv.st);
  ops.gemm(rows, n, D, T(1), doi, c.dout.st, 1, w.vt, ld, false, w.dp, ld);
  for (int64_t r = 0; r < rows; ++r)
    ops.ds(w.dp + r * ld, w.s + r * ld, n, c.di[bh * c.d.Tq + i0 + r]);
}

template <class T>
void zero_rows(AttnTensor<T> x, int64_t bh, int64_t H, int64_t t0, int64_t n, int64_t D) {
  for (int64_t t = t0; t < t0 + n; ++t) {
    T* r = row_ptr(x, bh, H, t);
    std::fill(r, r + D, T(0));
  }
}

// One key block of one head: dK_j, dV_j (and dQ of every query block when with_dq).
template <class T>
void backward_key_block(const BwdCtx<T>& c, Workspace<T>& w, int64_t bh, int64_t j0,
                        bool with_dq) {
  const int64_t D = c.d.D, H = c.d.H, n = std::min(c.bc, c.d.Tk - j0);
  pack_transposed(row_ptr(c.k, bh, H, j0), c.k.st, n, D, w.kt, w.ld);
  pack_transposed(row_ptr(c.v, bh, H, j0), c.v.st, n, D, w.vt, w.ld);
  zero_rows(c.dk, bh, H, j0, n, D);
  zero_rows(c.dv, bh, H, j0, n, D);
  T* dkj = row_ptr(c.dk, bh, H, j0);
  const T* kj = row_ptr(c.k, bh, H, j0);
  for (int64_t i0 = first_query(c.d, j0); i0 < c.d.Tq; i0 += c.br) {
    const int64_t rows = std::min(c.br, c.d.Tq - i0);
    backward_ds(c, w, bh, i0, rows, j0, n, true);
    // dK_j += scale dS^T Q_i (A = dS^T: element (j, i) at dp[i*ld + j])
    c.ops->gemm(n, D, rows, c.scale, w.dp, 1, w.ld, row_ptr(c.q, bh, H, i0), c.q.st, true, dkj,
                c.dk.st);
    if (with_dq)  // dQ_i += scale dS K_j
      c.ops->gemm(rows, D, n, c.scale, w.dp, w.ld, 1, kj, c.k.st, true,
                  row_ptr(c.dq, bh, H, i0), c.dq.st);
  }
}

// One query block of one head: dQ_i over every key block it sees (the two-pass split).
template <class T>
void backward_query_block(const BwdCtx<T>& c, Workspace<T>& w, int64_t bh, int64_t i0,
                          int64_t rows) {
  const int64_t D = c.d.D, H = c.d.H;
  zero_rows(c.dq, bh, H, i0, rows, D);
  T* dqi = row_ptr(c.dq, bh, H, i0);
  const int64_t kend = key_end(c.d, i0 + rows - 1);
  for (int64_t j0 = 0; j0 < kend; j0 += c.bc) {
    const int64_t n = std::min(c.bc, kend - j0);
    pack_transposed(row_ptr(c.k, bh, H, j0), c.k.st, n, D, w.kt, w.ld);
    pack_transposed(row_ptr(c.v, bh, H, j0), c.v.st, n, D, w.vt, w.ld);
    backward_ds(c, w, bh, i0, rows, j0, n, false);
    c.ops->gemm(rows, D, n, c.scale, w.dp, w.ld, 1, row_ptr(c.k, bh, H, j0), c.k.st, true, dqi,
                c.dq.st);
  }
}

}  // namespace

AttentionConfig attention_resolve(int64_t D, int64_t elem, AttentionConfig cfg) {
  if (cfg.bc <= 0) {
    const int64_t l1 = cache_sizes().l1d > 0 ? cache_sizes().l1d : 32768;
    const int64_t bc = l1 / 2 / (std::max<int64_t>(D, 1) * std::max<int64_t>(elem, 1));
    cfg.bc = static_cast<int>(std::clamp<int64_t>(bc / 16 * 16, 16, 256));
  }
  if (cfg.br <= 0) cfg.br = 64;
  if (cfg.threads <= 0) cfg.threads = num_threads();
  return cfg;
}

int64_t attention_visible_pairs(const AttentionDims& d) {
  int64_t per_head = 0;
  if (!d.causal) {
    per_head = d.Tq * d.Tk;
  } else {
    // Rows i < Tk - q_offset see q_offset + i + 1 keys, the rest see all Tk.
    const int64_t partial = std::clamp<int64_t>(d.Tk - d.q_offset, 0, d.Tq);
    per_head = partial * (d.q_offset + 1) + partial * (partial - 1) / 2 + (d.Tq - partial) * d.Tk;
  }
  return d.B * d.H * per_head;
}

template <class T>
void attention_forward(const AttentionDims& d, AttnTensor<const T> q, AttnTensor<const T> k,
                       AttnTensor<const T> v, AttnTensor<T> out, T* lse,
                       const AttentionConfig& cfg_in, AttentionStats* stats) {
  check_dims(d);
  const AttentionConfig cfg = attention_resolve(d.D, sizeof(T), cfg_in);
  const detail::AttnOps<T>& ops = ops_for<T>();
  const T scale = resolved_scale<T>(d);
  const int64_t br = cfg.br, bc = cfg.bc, BH = d.B * d.H;
  const int64_t nqb = (d.Tq + br - 1) / br;
  // Task t: query block nqb-1 - t/BH of head t%BH. Later query blocks see more keys (causal),
  // so the numbering is heaviest first.
  std::atomic<int64_t> bytes{0};
  const int used = run_tasks(
      BH * nqb, cfg.threads, std::min(br, d.Tq) * std::max<int64_t>(d.Tk, 1) * d.D * 4,
      [&] { return forward_workspace<T>(br, bc, d.D); },
      [&](Workspace<T>& w, int64_t t) {
        const int64_t bh = t % BH, i0 = (nqb - 1 - t / BH) * br;
        forward_block(d, ops, scale, bc, q, k, v, out, lse, bh, i0, std::min(br, d.Tq - i0), w);
      },
      &bytes);
  if (stats) *stats = {bytes.load(), static_cast<int>(BH * nqb), used};
}

template <class T>
void attention_backward(const AttentionDims& d, AttnTensor<const T> q, AttnTensor<const T> k,
                        AttnTensor<const T> v, AttnTensor<const T> out, AttnTensor<const T> dout,
                        const T* lse, AttnTensor<T> dq, AttnTensor<T> dk, AttnTensor<T> dv,
                        const AttentionConfig& cfg_in, AttentionStats* stats) {
  check_dims(d);
  const AttentionConfig cfg = attention_resolve(d.D, sizeof(T), cfg_in);
  const int64_t br = cfg.br, bc = cfg.bc, BH = d.B * d.H, D = d.D;
  const int64_t nqb = (d.Tq + br - 1) / br, nkb = (d.Tk + bc - 1) / bc;
  std::atomic<int64_t> bytes{0};

  // D_i = rowsum(dO_i * O_i) (FA2 Algorithm 2, line 4), accumulated in double.
  std::vector<T> di(BH * d.Tq);
  bytes += static_cast<int64_t>(di.size() * sizeof(T));
  parallel_for(BH * d.Tq, 2 * D, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* o = row_ptr(out, r / d.Tq, d.H, r % d.Tq);
      const T* g = row_ptr(dout, r / d.Tq, d.H, r % d.Tq);
      double s = 0;
      for (int64_t p = 0; p < D; ++p) s += static_cast<double>(o[p]) * g[p];
      di[r] = static_cast<T>(s);
    }
  });

  const BwdCtx<T> c{d, &ops_for<T>(), resolved_scale<T>(d), br, bc, q, k, v, dout, lse,
                    di.data(), dq, dk, dv};
  auto make_ws = [&] { return backward_workspace<T>(br, bc, D); };
  const int64_t pair_work = std::min(br, d.Tq) * std::min(bc, d.Tk) * D * 10;
  AttnBackwardSplit split = cfg.split;
  if (split == AttnBackwardSplit::automatic)
    split = BH >= cfg.threads ? AttnBackwardSplit::per_head : AttnBackwardSplit::two_pass;

  int used = 0, tasks = 0;
  if (nkb == 0) {  // no keys: dq = 0 (dk, dv are empty)
    for (int64_t bh = 0; bh < BH; ++bh) zero_rows(dq, bh, d.H, 0, d.Tq, D);
  } else if (split == AttnBackwardSplit::per_head) {
    tasks = static_cast<int>(BH);
    used = run_tasks(BH, cfg.threads, pair_work * nqb * nkb, make_ws,
                     [&](Workspace<T>& w, int64_t bh) {
                       zero_rows(dq, bh, d.H, 0, d.Tq, D);
                       for (int64_t j0 = 0; j0 < d.Tk; j0 += bc)
                         backward_key_block(c, w, bh, j0, true);
                     },
                     &bytes);
  } else {
    // Pass 1, task t: key block t/BH of head t%BH (earlier key blocks are seen by more queries:
    // heaviest first). Pass 2, task t: query block nqb-1 - t/BH, as in the forward.
    run_tasks(BH * nkb, cfg.threads, pair_work * nqb, make_ws,
              [&](Workspace<T>& w, int64_t t) {
                backward_key_block(c, w, t % BH, (t / BH) * bc, false);
              },
              &bytes);
    tasks = static_cast<int>(BH * nqb);
    used = run_tasks(BH * nqb, cfg.threads, pair_work * nkb, make_ws,
                     [&](Workspace<T>& w, int64_t t) {
                       const int64_t i0 = (nqb - 1 - t / BH) * br;
                       backward_query_block(c, w, t % BH, i0, std::min(br, d.Tq - i0));
                     },
                     &bytes);
  }
  if (stats) *stats = {bytes.load(), tasks, used};
}

template void attention_forward<float>(const AttentionDims&, AttnTensor<const float>,
                                       AttnTensor<const float>, AttnTensor<const float>,
                                       AttnTensor<float>, float*, const AttentionConfig&,
                                       AttentionStats*);
template void attention_forward<double>(const AttentionDims&, AttnTensor<const double>,
                                        AttnTensor<const double>, AttnTensor<const double>,
                                        AttnTensor<double>, double*, const AttentionConfig&,
                                        AttentionStats*);
template void attention_backward<float>(const AttentionDims&, AttnTensor<const float>,
                                        AttnTensor<const float>, AttnTensor<const float>,
                                        AttnTensor<const float>, AttnTensor<const float>,
                                        const float*, AttnTensor<float>, AttnTensor<float>,
                                        AttnTensor<float>, const AttentionConfig&,
                                        AttentionStats*);
template void attention_backward<double>(const AttentionDims&, AttnTensor<const double>,
                                         AttnTensor<const double>, AttnTensor<const double>,
                                         AttnTensor<const double>, AttnTensor<const double>,
                                         const double*, AttnTensor<double>, AttnTensor<double>,
                                         AttnTensor<double>, const AttentionConfig&,
                                         AttentionStats*);

}  // namespace bstack::kernels
