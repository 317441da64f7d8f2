// Integer GEMM (u8 x s8 -> s32, kernels/gemm_int8.h) beside our fp32 GEMM (kernels::gemm<float>)
// at the same shapes, 1 and 2 threads, in one run: square 256..1024, a batch-1 and a batch-64
// linear layer, and a transformer MLP shape. Both count 2*M*N*K operations (a multiply and an
// add per term), so the ratio int8 GOP/s / fp32 GFLOP/s is the speed-up quantisation buys.
// Two int8 variants: `int8` packs B inside every call (gemm_u8s8s32 with a raw B), `int8_prepacked`
// reuses a PackedB8 (weights packed once, as inference does).
//
// Method (as bench_gemm.cpp): each benchmark validates its result, calls once more to warm up,
// then Google Benchmark iterates for --benchmark_min_time; the figure is the BEST single-call time
// (best-of-N: the machine is shared and noisy, the minimum is the stable statistic). The fp32
// GEMM uses the tuning cache when one is installed, as bench_gemm does.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "kernels/cpu.h"
#include "kernels/gemm.h"
#include "kernels/gemm_int8.h"
#include "kernels/parallel.h"
#include "src/io/tune_cache.h"

namespace {

namespace bk = bstack::kernels;
using Clock = std::chrono::steady_clock;

struct Shape {
  int64_t m, n, k;
};

enum Impl { kInt8, kInt8Prepacked, kF32, kImpls };
const char* kImplName[] = {"int8", "int8_prepacked", "f32"};

// (shape label, threads) -> best G(FL)OP/s per impl
std::map<std::pair<std::string, int>, double> g_results[kImpls];

struct Mats {
  Shape s;
  std::vector<uint8_t> a8;
  std::vector<int8_t> b8;
  std::vector<int32_t> c32;
  std::vector<float> af, bf, cf;
  bk::PackedB8 packed;
  explicit Mats(const Shape& sh, Impl impl) : s(sh) {
    if (impl == kF32) {
      af.resize(static_cast<size_t>(s.m * s.k));
      bf.resize(static_cast<size_t>(s.k * s.n));
      cf.resize(static_cast<size_t>(s.m * s.n));
      for (size_t i = 0; i < af.size(); ++i) af[i] = static_cast<float>((i * 7 % 13) - 6) / 13.0f;
      for (size_t i = 0; i < bf.size(); ++i) bf[i] = static_cast<float>((i * 5 % 11) - 5) / 11.0f;
      return;
    }
    a8.resize(static_cast<size_t>(s.m * s.k));
    b8.resize(static_cast<size_t>(s.k * s.n));
    c32.resize(static_cast<size_t>(s.m * s.n));
    for (size_t i = 0; i < a8.size(); ++i) a8[i] = static_cast<uint8_t>(i * 37 % 256);
    for (size_t i = 0; i < b8.size(); ++i)
      b8[i] = static_cast<int8_t>(static_cast<int>(i * 53 % 256) - 128);
    if (impl == kInt8Prepacked) packed = bk::PackedB8(s.k, s.n, b8.data(), s.n, 1);
  }
  void call(Impl impl) {
    switch (impl) {
      case kInt8:
        bk::gemm_u8s8s32(s.m, s.n, s.k, a8.data(), s.k, b8.data(), s.n, c32.data(), s.n);
        break;
      case kInt8Prepacked: bk::gemm_u8s8s32(s.m, a8.data(), s.k, packed, c32.data(), s.n); break;
      case kF32:
        bk::gemm<float>(s.m, s.n, s.k, 1.0f, af.data(), s.k, 1, bf.data(), s.n, 1, 0.0f,
                        cf.data(), s.n, 1);
        break;
      default: break;
    }
  }
  // Spot-checks 64 entries of the int8 result against an int64 dot product.
  bool int8_ok() const {
    for (int t = 0; t < 64; ++t) {
      const int64_t i = (t * 7919) % s.m, j = (t * 104729) % s.n;
      int64_t want = 0;
      for (int64_t k = 0; k < s.k; ++k) want += int64_t{a8[i * s.k + k]} * b8[k * s.n + j];
      if (c32[i * s.n + j] != static_cast<int32_t>(want)) return false;
    }
    return true;
  }
};

void BM_Gemm(benchmark::State& state, Impl impl, Shape s, std::string label) {
  const int threads = static_cast<int>(state.range(0));
  bk::set_num_threads(threads);
  omp_set_num_threads(threads);
  Mats x(s, impl);
  x.call(impl);
  if (impl != kF32 && !x.int8_ok()) {
    state.SkipWithError("int8 result differs from the int64 reference");
    return;
  }
  x.call(impl);  // warm-up
  double best = 1e30;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    x.call(impl);
    benchmark::DoNotOptimize(impl == kF32 ? static_cast<void*>(x.cf.data()) : x.c32.data());
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  const double gops = 2.0 * s.m * s.n * s.k / best / 1e9;
  state.counters["best_GOPs"] = gops;
  auto& slot = g_results[impl][{label, threads}];
  slot = std::max(slot, gops);
  bk::set_num_threads(0);
}

}  // namespace

int main(int argc, char** argv) {
  const bool tuned = bstack::load_tuning_cache_quietly();
  std::vector<std::pair<std::string, Shape>> shapes;
  for (int64_t n : {256, 512, 1024}) shapes.push_back({std::to_string(n) + "^3", {n, n, n}});
  shapes.push_back({"1x1024x1024", {1, 1024, 1024}});
  shapes.push_back({"64x1024x1024", {64, 1024, 1024}});
  shapes.push_back({"512x3072x768", {512, 3072, 768}});
  for (auto& [label, s] : shapes)
    for (int impl = 0; impl < kImpls; ++impl)
      benchmark::RegisterBenchmark(
          ("BM_Gemm_" + std::string(kImplName[impl]) + "/" + label).c_str(), BM_Gemm, Impl(impl),
          s, label)
          ->ArgName("threads")
          ->Arg(1)
          ->Arg(2)
          ->Unit(benchmark::kMicrosecond);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  std::printf("bstack int8 GEMM benchmark. Method: validate, one warm-up call, then Google "
              "Benchmark iterations; figure = best single-call time (best-of-N); "
              "G(FL)OP/s = 2MNK / time / 1e9.\n");
  std::printf("CPU %s, ISA path %s, int8 kernel %s, fp32 micro-kernel %s, tuning cache %s\n",
              bk::cpu_model().c_str(), bk::isa_name(bk::isa()),
              bk::int8_kernel_name(bk::int8_kernel_best()),
              bk::gemm_variant<float>(bk::isa(), 0).name,
              tuned ? "loaded" : "absent (analytical defaults)");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();

  std::printf("\n%-14s %3s %10s %10s %10s %8s %8s\n", "shape", "thr", "int8", "int8_pre", "f32",
              "ratio", "ratio_pre");
  for (auto& [label, s] : shapes)
    for (int t : {1, 2}) {
      double v[kImpls];
      bool all = true;
      for (int impl = 0; impl < kImpls; ++impl) {
        auto it = g_results[impl].find({label, t});
        all = all && it != g_results[impl].end();
        v[impl] = all ? it->second : 0;
      }
      if (!all) continue;
      std::printf("%-14s %3d %10.1f %10.1f %10.1f %7.2fx %7.2fx\n", label.c_str(), t, v[kInt8],
                  v[kInt8Prepacked], v[kF32], v[kInt8] / v[kF32], v[kInt8Prepacked] / v[kF32]);
    }
  std::printf("(GOP/s; ratio = int8 GOP/s / fp32 GFLOP/s at the same shape and threads, > 1 means "
              "int8 is faster; _pre = B packed once outside the timed call)\n");
  return 0;
}
