// SGEMM side by side with its peers in one run: bstack's packed GEMM (autotuned when a tuning
// cache is installed, analytical defaults otherwise), OpenBLAS (cblas_sgemm), Eigen and oneDNN
// (dnnl_sgemm), row-major C = A @ B, square N = 64..2048 and two transformer shapes, 1 and 2
// threads. Prints GFLOP/s, the ratio to each peer, and the machine's FMA peak from a register-only
// FMA loop (kernels/peak.h) with each GEMM's share of it.
//
// Method: each benchmark calls its GEMM once to warm up (packing buffers, thread pools), then
// Google Benchmark iterates for --benchmark_min_time; the figure is the BEST single-call time
// (best-of-N: these machines are shared and noisy, the minimum is the stable statistic).
// Peers at their best: run with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (make bench does);
// the OpenBLAS kernel in use is printed. Threads: bstack set_num_threads, openblas_set_num_threads,
// Eigen::setNbThreads, omp_set_num_threads for oneDNN; nothing is pinned.
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
#include "kernels/parallel.h"
#include "kernels/peak.h"
#include "src/io/tune_cache.h"

#ifdef BSTACK_HAS_OPENBLAS
#include <cblas.h>
extern "C" char* openblas_get_corename();
extern "C" void openblas_set_num_threads(int);
#endif
#ifdef BSTACK_HAS_EIGEN
#include <Eigen/Core>
#endif
#ifdef BSTACK_HAS_DNNL
#include <dnnl.h>
#endif

namespace {

using Clock = std::chrono::steady_clock;

struct Shape {
  int64_t m, n, k;
};

struct Mats {
  std::vector<float> a, b, c;
  Mats(const Shape& s)
      : a(static_cast<size_t>(s.m * s.k)), b(static_cast<size_t>(s.k * s.n)),
        c(static_cast<size_t>(s.m * s.n)) {
    for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>((i * 7 % 13) - 6) / 13.0f;
    for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>((i * 5 % 11) - 5) / 11.0f;
  }
};

enum Impl { kBstack, kOpenBlas, kEigen, kDnnl, kImpls };
const char* kImplName[] = {"bstack", "openblas", "eigen", "onednn"};

// (shape label, threads) -> best GFLOP/s per impl
std::map<std::pair<std::string, int>, double> g_results[kImpls];

void call(Impl impl, const Shape& s, Mats& x) {
  switch (impl) {
    case kBstack:
      bstack::kernels::sgemm('N', 'N', s.m, s.n, s.k, 1.0f, x.a.data(), s.k, x.b.data(), s.n,
                             0.0f, x.c.data(), s.n);
      break;
#ifdef BSTACK_HAS_OPENBLAS
    case kOpenBlas:
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(s.m), int(s.n), int(s.k), 1.0f,
                  x.a.data(), int(s.k), x.b.data(), int(s.n), 0.0f, x.c.data(), int(s.n));
      break;
#endif
#ifdef BSTACK_HAS_EIGEN
    case kEigen: {
      using RM = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
      Eigen::Map<const RM> A(x.a.data(), s.m, s.k), B(x.b.data(), s.k, s.n);
      Eigen::Map<RM> C(x.c.data(), s.m, s.n);
      C.noalias() = A * B;
      break;
    }
#endif
#ifdef BSTACK_HAS_DNNL
    case kDnnl:
      dnnl_sgemm('N', 'N', s.m, s.n, s.k, 1.0f, x.a.data(), s.k, x.b.data(), s.n, 0.0f,
                 x.c.data(), s.n);
      break;
#endif
    default: break;
  }
}

void set_threads(Impl impl, int t) {
  bstack::kernels::set_num_threads(t);
  omp_set_num_threads(t);
#ifdef BSTACK_HAS_OPENBLAS
  if (impl == kOpenBlas) openblas_set_num_threads(t);
#endif
#ifdef BSTACK_HAS_EIGEN
  if (impl == kEigen) Eigen::setNbThreads(t);
#endif
  (void)impl;
}

void BM_Sgemm(benchmark::State& state, Impl impl, Shape s, std::string label) {
  const int threads = static_cast<int>(state.range(0));
  set_threads(impl, threads);
  Mats x(s);
  call(impl, s, x);  // warm-up
  double best = 1e30;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    call(impl, s, x);
    benchmark::DoNotOptimize(x.c.data());
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  const double gflops = 2.0 * s.m * s.n * s.k / best / 1e9;
  state.counters["best_GFLOPs"] = gflops;
  auto& slot = g_results[impl][{label, threads}];
  slot = std::max(slot, gflops);
}

bool available(Impl impl) {
  switch (impl) {
    case kBstack: return true;
#ifdef BSTACK_HAS_OPENBLAS
    case kOpenBlas: return true;
#endif
#ifdef BSTACK_HAS_EIGEN
    case kEigen: return true;
#endif
#ifdef BSTACK_HAS_DNNL
    case kDnnl: return true;
#endif
    default: return false;
  }
}

}  // namespace

int main(int argc, char** argv) {
  const bool tuned = bstack::load_tuning_cache_quietly();
  std::vector<std::pair<std::string, Shape>> shapes;
  for (int64_t n : {64, 128, 256, 512, 1024, 2048})
    shapes.push_back({std::to_string(n) + "^3", {n, n, n}});
  shapes.push_back({"512x3072x768", {512, 3072, 768}});
  shapes.push_back({"512x768x3072", {512, 768, 3072}});
  for (auto& [label, s] : shapes)
    for (int impl = 0; impl < kImpls; ++impl) {
      if (!available(Impl(impl))) continue;
      benchmark::RegisterBenchmark(("sgemm/" + label + "/" + kImplName[impl]).c_str(), BM_Sgemm,
                                   Impl(impl), s, label)
          ->ArgName("threads")
          ->Arg(1)
          ->Arg(2)
          ->Unit(benchmark::kMillisecond);
    }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  std::printf("bstack SGEMM benchmark. Method: one warm-up call, then Google Benchmark iterations; "
              "figure = best single-call time (best-of-N), GFLOP/s = 2MNK / time / 1e9.\n");
  std::printf("CPU %s, ISA path %s, micro-kernel %s, tuning cache %s\n",
              bstack::kernels::cpu_model().c_str(), bstack::kernels::isa_name(bstack::kernels::isa()),
              bstack::kernels::gemm_variant<float>(bstack::kernels::isa(), 0).name,
              tuned ? "loaded" : "absent (analytical defaults)");
#ifdef BSTACK_HAS_OPENBLAS
  std::printf("OpenBLAS core: %s (OPENBLAS_CORETYPE=%s)\n", openblas_get_corename(),
              std::getenv("OPENBLAS_CORETYPE") ? std::getenv("OPENBLAS_CORETYPE") : "unset");
#endif
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();

  double peak[3] = {0, 0, 0};
  for (int t : {1, 2})
    peak[t] = bstack::kernels::fma_peak_flops<float>(bstack::kernels::isa(), t) / 1e9;
  std::printf("\nFMA peak (register-only FMA loop, %s, best of 5): %.1f GFLOP/s on 1 thread, %.1f on 2\n",
              bstack::kernels::isa_name(bstack::kernels::isa()), peak[1], peak[2]);
  std::printf("\n%-14s %3s %9s", "shape", "thr", "bstack");
  for (int impl = 1; impl < kImpls; ++impl)
    if (available(Impl(impl))) std::printf(" %9s %7s", kImplName[impl], "ratio");
  std::printf(" %7s\n", "%peak");
  for (auto& [label, s] : shapes)
    for (int t : {1, 2}) {
      auto it = g_results[kBstack].find({label, t});
      if (it == g_results[kBstack].end()) continue;
      const double ours = it->second;
      std::printf("%-14s %3d %9.1f", label.c_str(), t, ours);
      for (int impl = 1; impl < kImpls; ++impl) {
        if (!available(Impl(impl))) continue;
        auto jt = g_results[impl].find({label, t});
        if (jt == g_results[impl].end()) std::printf(" %9s %7s", "-", "-");
        else std::printf(" %9.1f %6.2fx", jt->second, ours / jt->second);
      }
      std::printf(" %6.1f%%\n", 100.0 * ours / peak[t]);
    }
  std::printf("(ratio = bstack GFLOP/s / peer GFLOP/s; > 1 means bstack is faster)\n");
  return 0;
}
