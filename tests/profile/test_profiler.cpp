// The profiler's FLOP and byte counts against hand counts for Linear, Conv2d and attention
// (forward), the backward tag, and the trace file.
#include "src/io/h5.h"
#include "src/nn/layers.h"
#include "src/nn/transformer.h"
#include "src/optim/optim.h"
#include "src/profile/profiler.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

using namespace bstack;

namespace {
double flops_of(const Profiler& p, const std::string& name, bool backward = false) {
  double f = 0;
  for (const auto& r : p.ops)
    if (r.name == name && r.backward == backward) f += r.flops;
  return f;
}
}  // namespace

TEST(Profiler, LinearForwardMatchesHandCount) {
  Generator g(1);
  const int64_t B = 16, I = 32, O = 8;
  nn::Linear lin(I, O, g);
  Tensor x = randn({B, I}, g);
  Profiler p;
  {
    ProfileScope s(p);
    NoGradGuard ng;
    lin(x);
  }
  ASSERT_EQ(p.ops.size(), 1u);  // one fused op: GEMM with the bias in its epilogue
  EXPECT_EQ(p.ops[0].name, "linear");
  EXPECT_EQ(p.ops[0].flops, 2.0 * B * I * O + B * O);
  EXPECT_EQ(p.ops[0].bytes, 4.0 * (B * I + O * I + O + B * O));  // x, w, bias once, output
  EXPECT_EQ(p.total_flops(false), 2.0 * B * I * O + B * O);
  EXPECT_EQ(p.ops[0].signature(), "[16, 32] [8, 32] -> [16, 8]");
  EXPECT_GE(p.ops[0].seconds, 0.0);
}

TEST(Profiler, Conv2dForwardMatchesHandCount) {
  Generator g(2);
  const int64_t N = 2, C = 3, H = 8, W = 8, OC = 4, K = 3;
  nn::Conv2d conv(nn::Conv2dOptions(C, OC, K).padding(1), g);
  Tensor x = randn({N, C, H, W}, g);
  Profiler p;
  {
    ProfileScope s(p);
    NoGradGuard ng;
    conv(x);
  }
  const double L = H * W;  // padding 1 keeps 8x8
  ASSERT_EQ(p.ops.size(), 1u);  // one conv2d op (im2col + GEMM with the bias, inside the kernel)
  EXPECT_EQ(p.ops[0].name, "conv2d");
  EXPECT_EQ(p.ops[0].flops, 2.0 * N * OC * C * K * K * L + N * OC * L);
  EXPECT_EQ(p.ops[0].bytes, 4.0 * (N * C * H * W + OC * C * K * K + OC + N * OC * L));
}

TEST(Profiler, AttentionForwardMatchesHandCount) {
  Generator g(3);
  const int64_t B = 2, T = 5, C = 8, Hh = 2, D = C / Hh;
  nn::CausalSelfAttention att(C, Hh, g);
  Tensor x = randn({B, T, C}, g);
  Profiler p;
  {
    ProfileScope s(p);
    NoGradGuard ng;
    att(x);
  }
  const double qkv = 2.0 * B * T * C * 3 * C + B * T * 3 * C;
  // The tiled kernel does work only for the visible (causal) pairs, T (T + 1) / 2 per head: q.k
  // and p.v (2 D each) and the softmax's 5 per pair.
  const double pairs = B * Hh * T * (T + 1) / 2.0;
  const double attn = pairs * (4.0 * D + 5);
  const double proj = 2.0 * B * T * C * C + B * T * C;
  EXPECT_EQ(p.total_flops(false), qkv + attn + proj);
  EXPECT_EQ(flops_of(p, "scaled_dot_product_attention"), attn);
  EXPECT_EQ(flops_of(p, "linear"), qkv + proj);
}

TEST(Profiler, BackwardOpsAreTaggedAndTraceIsWritten) {
  Generator g(4);
  nn::Linear lin(4, 3, g);
  Tensor x = randn({2, 4}, g);
  Profiler p;
  {
    ProfileScope s(p);
    sum(lin(x)).backward();
    p.end_step(0.001);
  }
  EXPECT_GT(p.total_flops(true), 0.0);
  // Linear's backward: dW = g^T x, one (3x2)(2x4) GEMM = 48 FLOPs, and db = column sums of g
  // (6 adds); no dx, since x needs no gradient.
  bool found = false;
  for (const auto& r : p.ops) found = found || (r.backward && r.name == "linear" && r.flops == 54.0);
  EXPECT_TRUE(found);
  const std::string path = (std::filesystem::temp_directory_path() / ("bstack-trace-" + std::to_string(::getpid()) + ".h5")).string();
  p.save(path, "linear", 1);
  H5Reader r(path, "bstack-trace", 1, 1);
  EXPECT_EQ(r.read_vector<double>("ops/flops").size(), p.ops.size());
  EXPECT_EQ(r.read_vector<double>("steps/seconds"), std::vector<double>{0.001});
  EXPECT_NE(r.attr_string("ops", "names").find("linear\n"), std::string::npos);
  std::filesystem::remove(path);
  // Nothing is recorded without a scope.
  lin(x);
  EXPECT_EQ(p.ops.size(), r.read_vector<double>("ops/flops").size());
}

// read_trace gives back what save wrote (names, signatures, direction, FLOPs, bytes, steps), and
// names the file when it is not a trace; a fused Adam step is one adam_step record with the
// traffic the definition gives (p, g, m, v read; p, m, v written: 28 bytes per f32 parameter).
TEST(Profiler, TraceReadsBackAndAdamIsOneOp) {
  Generator g(5);
  nn::Linear lin(4, 3, g);
  optim::Adam opt(lin.parameters(), optim::AdamOptions{});
  Tensor x = randn({2, 4}, g);
  Profiler p;
  {
    ProfileScope s(p);
    sum(lin(x)).backward();
    opt.step();
    p.end_step(0.002);
  }
  double adam_bytes = 0;
  int adam_ops = 0;
  for (const auto& r : p.ops)
    if (r.name == "adam_step") adam_bytes += r.bytes, ++adam_ops;
  EXPECT_EQ(adam_ops, 2);                   // weight and bias
  EXPECT_DOUBLE_EQ(adam_bytes, 28.0 * 15);  // 12 + 3 parameters
  const std::string path = (std::filesystem::temp_directory_path() / ("bstack-trace-rt-" + std::to_string(::getpid()) + ".h5")).string();
  p.save(path, "linear", 1);
  const Trace t = read_trace(path);
  EXPECT_EQ(t.model, "linear");
  EXPECT_EQ(t.threads, 1);
  ASSERT_EQ(t.ops.size(), p.ops.size());
  for (size_t i = 0; i < p.ops.size(); ++i) {
    EXPECT_EQ(t.ops[i].name, p.ops[i].name);
    EXPECT_EQ(t.ops[i].signature, p.ops[i].signature());
    EXPECT_EQ(t.ops[i].backward, p.ops[i].backward);
    EXPECT_DOUBLE_EQ(t.ops[i].flops, p.ops[i].flops);
    EXPECT_DOUBLE_EQ(t.ops[i].bytes, p.ops[i].bytes);
  }
  EXPECT_EQ(t.step_seconds, std::vector<double>{0.002});
  {
    H5Writer w(path, "bstack-profile", 1);
    w.attr("/", "x", int64_t{1});
    w.commit();
  }
  try {
    read_trace(path);
    ADD_FAILURE() << "a profile was read as a trace";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
}
