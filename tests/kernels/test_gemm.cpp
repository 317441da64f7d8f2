// Packed GEMM against the reference GEMM: odd sizes, every transpose and layout of every operand,
// strides wider than the rows, misaligned pointers, alpha/beta (beta = 0 must ignore NaN in C),
// epilogues, every micro-kernel variant of the active ISA path, small block sizes that exercise
// every loop of the five, both thread splits, and strided-batched GEMM.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu.h"
#include "kernels/gemm.h"
#include "kernels/gemm_ref.h"
#include "kernels/parallel.h"
#include "src/random.h"

using namespace bstack;
using namespace bstack::kernels;

namespace {

struct Layout {
  bool trans;  // stored transposed (column-major)
  int64_t pad; // extra elements per leading dimension
  int64_t off; // misalignment in elements
};

template <class T>
struct Mat {
  std::vector<T> buf;
  T* p;
  int64_t rs, cs;
  Mat(int64_t rows, int64_t cols, Layout l, Generator& g) {
    const int64_t ld = (l.trans ? rows : cols) + l.pad;
    const int64_t outer = l.trans ? cols : rows;
    buf.resize(static_cast<size_t>(outer * ld + l.off + 1));
    for (auto& v : buf) v = static_cast<T>(g.uniform() * 2 - 1);
    p = buf.data() + l.off;
    rs = l.trans ? 1 : ld;
    cs = l.trans ? ld : 1;
  }
};

template <class T>
double tol() { return std::is_same_v<T, float> ? 2e-5 : 1e-12; }

template <class T>
void check(int64_t M, int64_t N, int64_t K, Layout la, Layout lb, Layout lc, T alpha, T beta,
           const GemmConfig& cfg, const Epilogue<T>& epi = {}, uint64_t seed = 1) {
  Generator g(seed);
  Mat<T> A(M, K, la, g), B(K, N, lb, g), C(M, N, lc, g);
  if (beta == T(0))
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C.p[i * C.rs + j * C.cs] = std::numeric_limits<T>::quiet_NaN();
  std::vector<T> ref(static_cast<size_t>(M * N));
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) ref[i * N + j] = beta == T(0) ? T(0) : C.p[i * C.rs + j * C.cs];
  gemm_ref<T>(M, N, K, alpha, A.p, A.rs, A.cs, B.p, B.rs, B.cs, beta, ref.data(), N, 1);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      T& r = ref[i * N + j];
      if (epi.bias) r += epi.bias[j];
      if (epi.act == Activation::relu) r = r > 0 ? r : 0;
      if (epi.act == Activation::gelu)
        r = T(0.5) * r * (1 + std::tanh(T(0.7978845608028654) * (r + T(0.044715) * r * r * r)));
    }
  gemm<T>(M, N, K, alpha, A.p, A.rs, A.cs, B.p, B.rs, B.cs, beta, C.p, C.rs, C.cs, epi, cfg);
  double worst = 0;
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      const double got = C.p[i * C.rs + j * C.cs], want = ref[i * N + j];
      const double err = std::abs(got - want) / (1.0 + std::abs(want)) / std::sqrt(double(K) + 1);
      if (!(err <= worst)) worst = std::isnan(err) ? INFINITY : err;
    }
  EXPECT_LE(worst, tol<T>()) << "M=" << M << " N=" << N << " K=" << K << " ta=" << la.trans
                             << " tb=" << lb.trans << " tc=" << lc.trans << " alpha=" << alpha
                             << " beta=" << beta << " variant=" << cfg.variant << " mc=" << cfg.mc
                             << " kc=" << cfg.kc << " nc=" << cfg.nc << " threads=" << cfg.threads
                             << " split=" << int(cfg.split) << " isa=" << isa_name(isa());
}

template <class T>
class GemmTest : public ::testing::Test {};
using Types = ::testing::Types<float, double>;
TYPED_TEST_SUITE(GemmTest, Types);

const int64_t kSizes[] = {1, 7, 63, 65, 130};

TYPED_TEST(GemmTest, OddSizesAllLayouts) {
  using T = TypeParam;
  for (int64_t M : kSizes)
    for (int64_t N : kSizes)
      for (int64_t K : {int64_t{1}, int64_t{17}, int64_t{65}})
        for (int t = 0; t < 8; ++t) {
          const Layout la{bool(t & 1), 0, 0}, lb{bool(t & 2), 0, 0}, lc{bool(t & 4), 0, 0};
          check<T>(M, N, K, la, lb, lc, T(1), T(0), GemmConfig{}, {}, M * 1000 + N * 10 + K);
        }
}

TYPED_TEST(GemmTest, PaddedMisalignedAlphaBeta) {
  using T = TypeParam;
  for (int t = 0; t < 8; ++t) {
    const Layout la{bool(t & 1), 3, 1}, lb{bool(t & 2), 5, 3}, lc{bool(t & 4), 2, 7};
    check<T>(67, 45, 33, la, lb, lc, T(0.5), T(-1.5), GemmConfig{});
    check<T>(9, 131, 257, la, lb, lc, T(-2), T(1), GemmConfig{});
  }
}

TYPED_TEST(GemmTest, EveryVariantBlockingAndSplit) {
  using T = TypeParam;
  const int variants = gemm_variant_count<T>(isa());
  ASSERT_GE(variants, 1);
  for (int v = 0; v < variants; ++v)
    for (int threads : {1, 2})
      for (GemmSplit split : {GemmSplit::ic, GemmSplit::jr}) {
        GemmConfig cfg;
        cfg.variant = v;
        cfg.threads = threads;
        cfg.split = split;
        // Tiny blocks: several jc, pc and ic iterations with partial blocks in each.
        cfg.mc = 1;  // rounded up to MR
        cfg.kc = 7;
        cfg.nc = 1;  // rounded up to NR
        check<T>(97, 101, 50, {false, 0, 0}, {false, 0, 0}, {false, 0, 0}, T(1), T(0.5), cfg);
        cfg.mc = 2 * gemm_variant<T>(isa(), v).mr;
        cfg.kc = 64;
        cfg.nc = 3 * gemm_variant<T>(isa(), v).nr;
        check<T>(257, 129, 200, {true, 0, 0}, {false, 1, 0}, {false, 0, 0}, T(1), T(0), cfg);
        check<T>(3, 300, 70, {false, 0, 0}, {true, 0, 0}, {false, 0, 0}, T(1), T(0), cfg);
      }
}

TYPED_TEST(GemmTest, Epilogues) {
  using T = TypeParam;
  std::vector<T> bias(200);
  for (size_t j = 0; j < bias.size(); ++j) bias[j] = T(0.01) * T(j) - T(0.5);
  for (Activation act : {Activation::none, Activation::relu, Activation::gelu})
    for (int t = 0; t < 2; ++t) {
      Epilogue<T> epi{bias.data(), act};
      GemmConfig cfg;
      cfg.kc = 16;  // the epilogue must run once, after the last K block
      check<T>(70, 130, 40, {false, 0, 0}, {bool(t), 0, 0}, {bool(t), 0, 0}, T(1), T(0), cfg, epi);
      check<T>(5, 33, 3, {false, 0, 0}, {false, 0, 0}, {false, 0, 0}, T(1), T(1), GemmConfig{}, epi);
      Epilogue<T> act_only{nullptr, act};
      check<T>(20, 20, 20, {false, 0, 0}, {false, 0, 0}, {false, 0, 0}, T(1), T(0), GemmConfig{}, act_only);
    }
}

TYPED_TEST(GemmTest, DegenerateK) {
  using T = TypeParam;
  std::vector<T> C(6, T(2));
  gemm<T>(2, 3, 0, T(1), nullptr, 0, 1, nullptr, 3, 1, T(3), C.data(), 3, 1);
  for (T c : C) EXPECT_EQ(c, T(6));
  gemm<T>(2, 3, 0, T(1), nullptr, 0, 1, nullptr, 3, 1, T(0), C.data(), 3, 1);
  for (T c : C) EXPECT_EQ(c, T(0));
}

TYPED_TEST(GemmTest, BatchedAndBlasStyle) {
  using T = TypeParam;
  Generator g(7);
  const int64_t batch = 5, M = 33, N = 17, K = 29;
  std::vector<T> A(batch * M * K), B(batch * K * N), C(batch * M * N), R(batch * M * N);
  for (auto& v : A) v = T(g.uniform() - 0.5);
  for (auto& v : B) v = T(g.uniform() - 0.5);
  for (size_t i = 0; i < C.size(); ++i) C[i] = R[i] = T(g.uniform());
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    std::vector<T> Cw = C, Rw = R;
    gemm_batched<T>(batch, M, N, K, T(1.5), A.data(), 1, M, M * K, B.data(), N, 1, K * N, T(0.5),
                    Cw.data(), N, 1, M * N);
    for (int64_t b = 0; b < batch; ++b)
      gemm_ref<T>(M, N, K, T(1.5), A.data() + b * M * K, 1, M, B.data() + b * K * N, N, 1, T(0.5),
                  Rw.data() + b * M * N, N, 1);
    for (size_t i = 0; i < Cw.size(); ++i) EXPECT_NEAR(Cw[i], Rw[i], 1e-4) << i;
  }
  set_num_threads(0);
  // BLAS-style: C = A^T B^T with leading dimensions.
  std::vector<T> At(K * 40), Bt(N * 31), Cb(M * 20, T(0)), Rb(M * 20, T(0));
  for (auto& v : At) v = T(g.uniform());
  for (auto& v : Bt) v = T(g.uniform());
  if constexpr (std::is_same_v<T, float>)
    sgemm('T', 'T', M, N, K, 1.0f, At.data(), 40, Bt.data(), 31, 0.0f, Cb.data(), 20);
  else
    dgemm('T', 'T', M, N, K, 1.0, At.data(), 40, Bt.data(), 31, 0.0, Cb.data(), 20);
  gemm_ref<T>(M, N, K, T(1), At.data(), 1, 40, Bt.data(), 1, 31, T(0), Rb.data(), 20, 1);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) EXPECT_NEAR(Cb[i * 20 + j], Rb[i * 20 + j], 1e-4);
}

TEST(Cpu, IsaIsSupportedAndNamed) {
  EXPECT_LE(static_cast<int>(isa()), static_cast<int>(best_isa()));
  const char* want = std::getenv("BSTACK_ISA");
  if (want) {
    const int wanted = std::string(want) == "avx512" ? 2 : std::string(want) == "avx2" ? 1 : 0;
    if (static_cast<int>(best_isa()) >= wanted) {
      EXPECT_STREQ(isa_name(isa()), want);
    }
  }
  EXPECT_FALSE(cpu_model().empty());
  std::printf("ISA path: %s (best %s), CPU: %s, variant 0: %s\n", isa_name(isa()),
              isa_name(best_isa()), cpu_model().c_str(), gemm_variant<float>(isa(), 0).name);
}

}  // namespace
