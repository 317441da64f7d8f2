// Tiled attention (kernels/attention.h) against a direct double-precision reference that forms
// each row's scores, softmax and weighted sum, and its analytic gradients (P = softmax(S),
// dV = P^T dO, dP = dO V^T, dS = P * (dP - rowsum(P * dP)), dQ = scale dS K, dK = scale dS^T Q).
// Odd sizes (T in 1, 7, 63, 65, 130; D in 1, 8, 64, 65), causal and not, q_offset > 0 with
// Tq < Tk (a KV cache), strided head slices of a fused qkv buffer at odd offsets, block sizes
// that do not divide T, 1 vs 2 threads, both backward splits, and the workspace counter (flat
// in T for the forward). Runs once per ISA path (ctest sets BSTACK_ISA).
//
// Tolerance: max |a - r| <= tol * max(1, max |r|) per tensor, tol = 1e-12 in f64 and 2e-6 in
// f32 (scaled up for large scores: see tolerance()).
#include "kernels/attention.h"
#include "kernels/cpu.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

using namespace bstack::kernels;

namespace {

struct Case {
  int64_t B = 1, H = 2, Tq = 7, Tk = 7, D = 8;
  bool causal = true;
  int64_t q_offset = 0;
  int br = 0, bc = 0, threads = 0;
  AttnBackwardSplit split = AttnBackwardSplit::automatic;
  bool fused = false;     // q, k, v, out, dout: head slices of one (B, T, 3, H, D+pad) buffer
  double amplitude = 1;   // scales q: large scores make the running max move between key blocks
  std::string str() const {
    return "B=" + std::to_string(B) + " H=" + std::to_string(H) + " Tq=" + std::to_string(Tq) +
           " Tk=" + std::to_string(Tk) + " D=" + std::to_string(D) +
           (causal ? " causal" : " full") +
           " q_offset=" + std::to_string(q_offset) + " br=" + std::to_string(br) +
           " bc=" + std::to_string(bc) + " threads=" + std::to_string(threads) +
           " split=" + std::to_string(static_cast<int>(split)) + (fused ? " fused" : "") +
           " amp=" + std::to_string(amplitude) + " isa=" + isa_name(isa());
  }
  AttentionDims dims() const {
    AttentionDims d;
    d.B = B, d.H = H, d.Tq = Tq, d.Tk = Tk, d.D = D, d.causal = causal, d.q_offset = q_offset;
    return d;
  }
  AttentionConfig cfg() const {
    AttentionConfig c;
    c.br = br, c.bc = bc, c.threads = threads, c.split = split;
    return c;
  }
};

// Canonical (B, H, T, D) values in double; index ((b*H + h)*T + t)*D + d.
using Canon = std::vector<double>;

Canon randn(int64_t n, uint32_t seed, double amp = 1) {
  std::mt19937 g(seed);
  std::normal_distribution<double> nd;
  Canon x(n);
  for (auto& v : x) v = amp * nd(g);
  return x;
}

// A (B, H, T, D) operand of type T in memory: contiguous, or the slice `which` of a fused
// (B, T, 3, H, D) buffer whose rows carry 3 extra elements and which starts 5 elements in
// (odd strides and offsets: no alignment assumed).
template <class T>
struct Operand {
  std::vector<T> mem;
  AttnTensor<T> t;
  int64_t B, H, T_, D;
  Operand(int64_t B_, int64_t H_, int64_t Tn, int64_t D_, bool fused, int which)
      : B(B_), H(H_), T_(Tn), D(D_) {
    if (!fused) {
      mem.assign(std::max<int64_t>(1, B * H * Tn * D), T(0));
      t = {mem.data(), H * Tn * D, Tn * D, D};
    } else {
      const int64_t row = 3 * H * D + 3, off = 5;
      mem.assign(off + B * Tn * row + 1, T(0));
      t = {mem.data() + off + which * H * D, Tn * row, D, row};
    }
  }
  T* at(int64_t b, int64_t h, int64_t i) const { return t.data + b * t.sb + h * t.sh + i * t.st; }
  void fill(const Canon& c) {
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t i = 0; i < T_; ++i)
          for (int64_t d = 0; d < D; ++d)
            at(b, h, i)[d] = static_cast<T>(c[((b * H + h) * T_ + i) * D + d]);
  }
  Canon read() const {
    Canon c(B * H * T_ * D);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t i = 0; i < T_; ++i)
          for (int64_t d = 0; d < D; ++d) c[((b * H + h) * T_ + i) * D + d] = at(b, h, i)[d];
    return c;
  }
  AttnTensor<const T> c() const { return {t.data, t.sb, t.sh, t.st}; }
};

struct Ref {
  Canon out, lse, dq, dk, dv;
};

// The direct computation, one row at a time, in double.
Ref reference(const Case& cs, const Canon& q, const Canon& k, const Canon& v, const Canon& dout) {
  const int64_t BH = cs.B * cs.H, Tq = cs.Tq, Tk = cs.Tk, D = cs.D;
  const double scale = 1 / std::sqrt(static_cast<double>(D));
  Ref r;
  r.out.assign(BH * Tq * D, 0);
  r.lse.assign(BH * Tq, -std::numeric_limits<double>::infinity());
  r.dq.assign(BH * Tq * D, 0);
  r.dk.assign(BH * Tk * D, 0);
  r.dv.assign(BH * Tk * D, 0);
  for (int64_t bh = 0; bh < BH; ++bh)
    for (int64_t i = 0; i < Tq; ++i) {
      const int64_t n = cs.causal ? std::min(Tk, cs.q_offset + i + 1) : Tk;
      if (n == 0) continue;
      const double* qi = &q[(bh * Tq + i) * D];
      const double* gi = &dout[(bh * Tq + i) * D];
      std::vector<double> p(n), dp(n);
      double mx = -std::numeric_limits<double>::infinity(), z = 0;
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t d = 0; d < D; ++d) s += qi[d] * k[(bh * Tk + j) * D + d];
        p[j] = s * scale;
        mx = std::max(mx, p[j]);
      }
      for (auto& x : p) z += std::exp(x - mx);
      for (auto& x : p) x = std::exp(x - mx) / z;
      r.lse[bh * Tq + i] = mx + std::log(z);
      double pdp = 0;
      for (int64_t j = 0; j < n; ++j) {
        const double* vj = &v[(bh * Tk + j) * D];
        double g = 0;
        for (int64_t d = 0; d < D; ++d) {
          r.out[(bh * Tq + i) * D + d] += p[j] * vj[d];
          r.dv[(bh * Tk + j) * D + d] += p[j] * gi[d];
          g += gi[d] * vj[d];
        }
        dp[j] = g;
        pdp += p[j] * g;
      }
      for (int64_t j = 0; j < n; ++j) {
        const double ds = p[j] * (dp[j] - pdp) * scale;
        for (int64_t d = 0; d < D; ++d) {
          r.dq[(bh * Tq + i) * D + d] += ds * k[(bh * Tk + j) * D + d];
          r.dk[(bh * Tk + j) * D + d] += ds * qi[d];
        }
      }
    }
  return r;
}

// f32: measured worst 8.7e-7 at amplitude 1 on every ISA path. A score s in f32 carries an
// error of ~|s| * 6e-8 that exp turns into a relative error of the same size, so the bound
// grows with the scores' amplitude (40: scores up to ~150, measured worst 8.7e-6).
template <class T>
double tolerance(const Case& cs) {
  return std::is_same_v<T, double> ? 1e-12 : 2e-6 * std::max(1.0, cs.amplitude / 4);
}

// Max |a - r| / max(1, max |r|) over a tensor; reports the first mismatch.
void expect_close(const Canon& a, const Canon& r, double tol, const std::string& what,
                  const Case& cs) {
  ASSERT_EQ(a.size(), r.size());
  double scale = 1, worst = 0;
  size_t at = 0;
  for (double x : r) scale = std::max(scale, std::fabs(x));
  for (size_t i = 0; i < a.size(); ++i) {
    const double e = std::fabs(a[i] - r[i]) / scale;
    if (!(e <= worst)) {
      worst = e;
      at = i;
    }
  }
  EXPECT_LE(worst, tol) << what << " (" << cs.str() << "): max rel err " << worst << " at [" << at
                        << "]: " << a[at] << " vs " << r[at];
}

template <class T>
void run_case(const Case& cs, bool backward = true) {
  const int64_t BH = cs.B * cs.H;
  const Canon q = randn(BH * cs.Tq * cs.D, 1, cs.amplitude), k = randn(BH * cs.Tk * cs.D, 2),
              v = randn(BH * cs.Tk * cs.D, 3), g = randn(BH * cs.Tq * cs.D, 4);
  Operand<T> oq(cs.B, cs.H, cs.Tq, cs.D, cs.fused, 0), ok(cs.B, cs.H, cs.Tk, cs.D, cs.fused, 1),
      ov(cs.B, cs.H, cs.Tk, cs.D, cs.fused, 2), oo(cs.B, cs.H, cs.Tq, cs.D, cs.fused, 1),
      og(cs.B, cs.H, cs.Tq, cs.D, cs.fused, 2), odq(cs.B, cs.H, cs.Tq, cs.D, cs.fused, 0),
      odk(cs.B, cs.H, cs.Tk, cs.D, cs.fused, 1), odv(cs.B, cs.H, cs.Tk, cs.D, cs.fused, 2);
  oq.fill(q);
  ok.fill(k);
  ov.fill(v);
  og.fill(g);
  // Poison outputs: every element must be written.
  for (auto* o : {&oo, &odq, &odk, &odv}) o->fill(Canon(BH * o->T_ * cs.D, 1e30));
  std::vector<T> lse(BH * cs.Tq, T(1e30));
  Ref r = reference(cs, q, k, v, g);
  AttentionStats st;
  attention_forward<T>(cs.dims(), oq.c(), ok.c(), ov.c(), oo.t, lse.data(), cs.cfg(), &st);
  expect_close(oo.read(), r.out, tolerance<T>(cs), "out", cs);
  Canon l(lse.begin(), lse.end());
  for (size_t i = 0; i < l.size(); ++i) {
    if (std::isinf(r.lse[i])) {
      EXPECT_TRUE(std::isinf(l[i]) && l[i] < 0) << cs.str();
      l[i] = r.lse[i] = 0;
    }
  }
  expect_close(l, r.lse, tolerance<T>(cs), "lse", cs);
  if (!backward) return;
  attention_backward<T>(cs.dims(), oq.c(), ok.c(), ov.c(), oo.c(), og.c(), lse.data(), odq.t,
                        odk.t, odv.t, cs.cfg(), &st);
  expect_close(odq.read(), r.dq, tolerance<T>(cs), "dq", cs);
  expect_close(odk.read(), r.dk, tolerance<T>(cs), "dk", cs);
  expect_close(odv.read(), r.dv, tolerance<T>(cs), "dv", cs);
}

}  // namespace

TEST(Attention, OddSizesMatchReference) {
  for (int64_t T : {1, 7, 63, 65, 130})
    for (int64_t D : {1, 8, 64, 65})
      for (bool causal : {true, false}) {
        Case cs;
        cs.Tq = cs.Tk = T;
        cs.D = D;
        cs.causal = causal;
        run_case<float>(cs);
        run_case<double>(cs);
      }
}

TEST(Attention, KvCacheOffsetsMatchReference) {
  // Tq < Tk: a prefix of q_offset keys is cached; q_offset + Tq < Tk leaves keys nobody sees
  // (their dk, dv must be 0); q_offset + Tq > Tk lets the last rows see every key.
  for (auto [Tq, Tk, off] : std::vector<std::array<int64_t, 3>>{
           {1, 130, 129}, {7, 130, 123}, {7, 65, 20}, {65, 130, 65}, {3, 10, 9}, {63, 65, 1}}) {
    for (bool causal : {true, false}) {
      Case cs;
      cs.Tq = Tq, cs.Tk = Tk, cs.q_offset = off, cs.D = 65, cs.causal = causal;
      run_case<float>(cs);
      run_case<double>(cs);
    }
  }
}

TEST(Attention, StridedFusedQkvSlices) {
  for (int64_t T : {7, 65, 130})
    for (int64_t D : {8, 65}) {
      Case cs;
      cs.B = 2, cs.H = 3, cs.Tq = cs.Tk = T, cs.D = D, cs.fused = true;
      run_case<float>(cs);
      run_case<double>(cs);
    }
  Case kv;  // a KV-cache step reading fused q against a longer key range
  kv.B = 2, kv.Tq = 5, kv.Tk = 70, kv.q_offset = 65, kv.D = 16, kv.fused = true;
  run_case<float>(kv);
}

TEST(Attention, BlockSizesThreadsAndSplits) {
  for (auto [br, bc] : std::vector<std::array<int, 2>>{{1, 1}, {7, 5}, {16, 16}, {13, 48},
                                                       {64, 32}, {32, 96}, {200, 200}})
    for (auto split : {AttnBackwardSplit::per_head, AttnBackwardSplit::two_pass})
      for (int threads : {1, 2}) {
        Case cs;
        cs.B = 2, cs.H = 1, cs.Tq = cs.Tk = 130, cs.D = 24;
        cs.br = br, cs.bc = bc, cs.split = split, cs.threads = threads;
        run_case<float>(cs);
        cs.causal = false;
        cs.Tq = 65, cs.q_offset = 3;
        run_case<float>(cs);
      }
  // Scores of +-40: the running max jumps between key blocks, exercising the rescaling.
  Case big;
  big.Tq = big.Tk = 130, big.D = 16, big.bc = 16, big.amplitude = 40;
  run_case<float>(big);
  run_case<double>(big);
}

TEST(Attention, EmptyAndTinyShapes) {
  Case none;  // no keys: out = 0, lse = -inf, dq = 0
  none.Tq = 3, none.Tk = 0, none.causal = false;
  run_case<float>(none);
  run_case<double>(none);
  Case noq;  // no queries: dk = dv = 0
  noq.Tq = 0, noq.Tk = 5;
  run_case<float>(noq);
  Case one;
  one.B = 3, one.H = 1, one.Tq = one.Tk = 1, one.D = 1;
  run_case<float>(one);
}

TEST(Attention, ThreadCountDoesNotChangeBits) {
  // Each task owns its output rows and sums in a fixed order: results are bitwise the same
  // for any thread count.
  const int64_t B = 1, H = 3, T = 130, D = 33;
  const Canon q = randn(B * H * T * D, 5), k = randn(B * H * T * D, 6), v = randn(B * H * T * D, 7);
  std::vector<float> fq(q.begin(), q.end()), fk(k.begin(), k.end()), fv(v.begin(), v.end());
  AttentionDims d;
  d.B = B, d.H = H, d.Tq = d.Tk = T, d.D = D;
  const AttnTensor<const float> tq{fq.data(), H * T * D, T * D, D},
      tk{fk.data(), H * T * D, T * D, D}, tv{fv.data(), H * T * D, T * D, D};
  std::vector<float> o1(q.size()), o2(q.size()), l1(B * H * T), l2(B * H * T);
  std::vector<float> g1[3], g2[3];
  for (int i = 0; i < 3; ++i) g1[i] = g2[i] = std::vector<float>(q.size());
  for (int threads : {1, 2}) {
    auto& o = threads == 1 ? o1 : o2;
    auto& l = threads == 1 ? l1 : l2;
    auto* g = threads == 1 ? g1 : g2;
    AttentionConfig cfg;
    cfg.threads = threads;
    cfg.split = AttnBackwardSplit::two_pass;
    attention_forward<float>(d, tq, tk, tv, {o.data(), H * T * D, T * D, D}, l.data(), cfg);
    attention_backward<float>(d, tq, tk, tv, {o.data(), H * T * D, T * D, D}, tv, l.data(),
                              {g[0].data(), H * T * D, T * D, D},
                              {g[1].data(), H * T * D, T * D, D},
                              {g[2].data(), H * T * D, T * D, D}, cfg);
  }
  EXPECT_EQ(o1, o2);
  EXPECT_EQ(l1, l2);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(g1[i], g2[i]) << "gradient " << i;
}

TEST(Attention, CausalOutputIgnoresFutureKeys) {
  // Changing key/value rows after a query's position leaves that query's output bit-identical
  // (masked keys are never read into the sum, not merely weighted by a tiny number).
  const int64_t T = 70, D = 16;
  Canon q = randn(T * D, 8), k = randn(T * D, 9), v = randn(T * D, 10);
  auto run = [&](const Canon& kk, const Canon& vv) {
    std::vector<float> fq(q.begin(), q.end()), fk(kk.begin(), kk.end()), fv(vv.begin(), vv.end());
    std::vector<float> o(T * D), l(T);
    AttentionDims d;
    d.Tq = d.Tk = T, d.D = D;
    attention_forward<float>(d, {fq.data(), 0, 0, D}, {fk.data(), 0, 0, D}, {fv.data(), 0, 0, D},
                             {o.data(), 0, 0, D}, l.data());
    return o;
  };
  const auto o1 = run(k, v);
  for (int64_t d = 0; d < D; ++d) {
    k[(T - 1) * D + d] = 1e3;
    v[(T - 1) * D + d] = -1e3;
  }
  const auto o2 = run(k, v);
  EXPECT_TRUE(std::equal(o1.begin(), o1.begin() + (T - 1) * D, o2.begin()));
  EXPECT_NE(o1[(T - 1) * D], o2[(T - 1) * D]);
}

TEST(Attention, WorkspaceIsFlatInSequenceLength) {
  // The forward allocates per thread O(Br*Bc + (Br+Bc)*D), whatever T; the backward adds D_i
  // (Tq values per head): linear in T, never Tq * Tk.
  auto bytes = [](int64_t T, bool backward) {
    const int64_t H = 2, D = 64;
    std::vector<float> x(H * T * D, 0.5f), o(H * T * D), l(H * T), g1(H * T * D), g2(H * T * D),
        g3(H * T * D);
    AttentionDims d;
    d.H = H, d.Tq = d.Tk = T, d.D = D;
    AttentionConfig cfg;
    cfg.threads = 1;
    const AttnTensor<const float> in{x.data(), H * T * D, T * D, D};
    AttentionStats st;
    attention_forward<float>(d, in, in, in, {o.data(), H * T * D, T * D, D}, l.data(), cfg, &st);
    if (backward)
      attention_backward<float>(d, in, in, in, {o.data(), H * T * D, T * D, D}, in, l.data(),
                                {g1.data(), H * T * D, T * D, D}, {g2.data(), H * T * D, T * D, D},
                                {g3.data(), H * T * D, T * D, D}, cfg, &st);
    return st.workspace_bytes;
  };
  const int64_t f64 = bytes(64, false), f512 = bytes(512, false);
  EXPECT_GT(f64, 0);
  EXPECT_EQ(f64, f512);
  const AttentionConfig c = attention_resolve(64, 4, {});
  // K^T and S with ld = Bc in whole cache lines (16 floats) plus one, the Br x D accumulator,
  // m and l, each rounded to cache lines, and one line of alignment slack.
  auto lines = [](int64_t n) { return (n + 15) / 16 * 16; };
  const int64_t ld = lines(c.bc) + 16;
  EXPECT_EQ(f64, 4 * ((64 + c.br) * ld + lines(c.br * 64) + 2 * lines(c.br) + 16));
  const int64_t b64 = bytes(64, true), b512 = bytes(512, true);
  EXPECT_EQ(b512 - b64, 2 * (512 - 64) * 4);  // D_i: H * T floats
  EXPECT_LT(b512, 512 * 512 * 4);             // far below one head's T x T scores
}

TEST(Attention, VisiblePairsCount) {
  for (auto [Tq, Tk, off] : std::vector<std::array<int64_t, 3>>{
           {7, 7, 0}, {1, 130, 129}, {7, 65, 20}, {10, 5, 0}, {3, 10, 9}, {0, 4, 0}}) {
    AttentionDims d;
    d.B = 2, d.H = 3, d.Tq = Tq, d.Tk = Tk, d.q_offset = off;
    int64_t n = 0;
    for (int64_t i = 0; i < Tq; ++i) n += std::min(Tk, off + i + 1);
    EXPECT_EQ(attention_visible_pairs(d), 6 * n) << Tq << " " << Tk << " " << off;
    d.causal = false;
    EXPECT_EQ(attention_visible_pairs(d), 6 * Tq * Tk);
  }
}
