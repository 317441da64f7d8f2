// Training-step benchmark: one forward + backward + Adam step of the zoo's mlp (784-256-128-10,
// batch 64), cnn (1x28x28 inputs, batch 64) and gpt-tiny (vocab 65, batch 16 x 64 tokens), at 1
// and 2 threads. When libtorch was found (cmake -DBSTACK_BENCH_PEERS=ON, `make bench`), the same
// models in libtorch run side by side in the same process and a ratio table
// (bstack time / libtorch time; below 1 means bstack is faster) closes the output.
// Method: Google Benchmark, adaptive iteration count after 2 warm-up steps; each step is timed
// and the BEST step time (best-of-N, the statistic that is stable on a shared, noisy machine) is
// reported as best_ms and used for the ratios; the mean is printed beside it. The peer's BLAS
// (OpenBLAS) gets the same thread count.
// Peer at its best: libtorch's CPU allocator is plain malloc, and on this VM a page fault costs
// ~17 us, so with glibc's default mmap threshold libtorch's step depends on what the process
// freed before (measured: cnn 1 thread 9.7 ms after bstack's frees raised glibc's dynamic
// threshold, 40 ms when run alone). main() therefore sets M_MMAP_THRESHOLD to 256 MiB and
// M_TRIM_THRESHOLD to 1 GiB, so both libraries get memory that is already mapped (bstack keeps
// its own cache of freed blocks, src/storage.h). Run with OPENBLAS_CORETYPE and
// OPENBLAS_L2_SIZE unset (make bench does) so OpenBLAS uses its best kernels.
#include "kernels/parallel.h"
#include "src/nn/loss.h"
#include "src/nn/zoo.h"
#include "src/ops.h"
#include "src/optim/optim.h"

#ifdef BSTACK_HAS_TORCH
#include "bench/torch_peer.h"
#endif

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <malloc.h>

#include <chrono>
#include <map>

using namespace bstack;

extern "C" void openblas_set_num_threads(int) __attribute__((weak));

namespace {

struct BstackStep {
  std::shared_ptr<nn::Module> model;
  std::unique_ptr<optim::Adam> opt;
  Tensor x, y;
  void step() {
    opt->zero_grad();
    Tensor logits = model->forward(x);
    Tensor loss = nn::cross_entropy(logits.reshape({-1, logits.size(-1)}), y.reshape({-1}));
    loss.backward();
    opt->step();
  }
};

BstackStep make_bstack_step(const std::string& name) {
  Generator g(0);
  BstackStep s;
  nn::ModelSpec spec{name, {1, 28, 28}, 10, 65};
  s.model = nn::make_model(spec, g);
  s.opt = std::make_unique<optim::Adam>(s.model->parameters(), optim::AdamOptions{.lr = 1e-3});
  if (name == "gpt-tiny") {
    s.x = uniform({16, 64}, 0, 65, g, DType::f64).to(DType::i64);
    s.y = uniform({16, 64}, 0, 65, g, DType::f64).to(DType::i64);
  } else {
    s.x = randn({64, 1, 28, 28}, g);
    s.y = uniform({64}, 0, 10, g, DType::f64).to(DType::i64);
  }
  return s;
}

void BM_TrainStep_bstack(benchmark::State& state, const std::string& model) {
  kernels::set_num_threads(static_cast<int>(state.range(0)));
  BstackStep s = make_bstack_step(model);
  for (int i = 0; i < 2; ++i) s.step();  // warm-up
  double best = 1e30;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    s.step();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  state.counters["best_ms"] = best * 1e3;
  state.counters["steps/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  kernels::set_num_threads(0);
}

#ifdef BSTACK_HAS_TORCH
void BM_TrainStep_libtorch(benchmark::State& state, const std::string& model) {
  const int threads = static_cast<int>(state.range(0));
  if (openblas_set_num_threads) openblas_set_num_threads(threads);
  auto s = bench::make_torch_step(model, threads);
  for (int i = 0; i < 2; ++i) s->step();
  double best = 1e30;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    s->step();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  state.counters["best_ms"] = best * 1e3;
  state.counters["steps/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
#endif

// Collects real times per (model, threads) to print bstack / peer ratios at the end.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& r : runs) {
      auto it = r.counters.find("best_ms");
      times_[r.benchmark_name()] = {it == r.counters.end() ? 0.0 : double(it->second), r.GetAdjustedRealTime()};
    }
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    bool header = false;
    for (const auto& [name, t] : times_) {
      const auto pos = name.find("_bstack");
      if (pos == std::string::npos) continue;
      std::string peer = name;
      peer.replace(pos, 7, "_libtorch");
      auto it = times_.find(peer);
      if (it == times_.end()) continue;
      if (!header) {
        fmt::print("\nratio bstack / libtorch (best step time, and mean; < 1 = bstack faster)\n");
        header = true;
      }
      fmt::print("  {:<34} best {:7.3f} ms vs {:7.3f} ms  ratio {:.2f}   (mean ratio {:.2f})\n",
                 name.substr(0, pos) + name.substr(pos + 7), t.first, it->second.first,
                 t.first / it->second.first, t.second / it->second.second);
    }
  }

 private:
  std::map<std::string, std::pair<double, double>> times_;  // best ms, mean real time
};

}  // namespace

int main(int argc, char** argv) {
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  for (const std::string m : {"mlp", "cnn", "gpt-tiny"}) {
    benchmark::RegisterBenchmark(("BM_TrainStep_" + m + "_bstack").c_str(), BM_TrainStep_bstack, m)
        ->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
#ifdef BSTACK_HAS_TORCH
    benchmark::RegisterBenchmark(("BM_TrainStep_" + m + "_libtorch").c_str(), BM_TrainStep_libtorch, m)
        ->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
#endif
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("method", "best-of-N step time (forward + backward + Adam), adaptive "
                                        "iterations after 2 warm-up steps; /N = threads");
#ifdef BSTACK_HAS_TORCH
  benchmark::AddCustomContext("peer", "libtorch (Debian libtorch-dev) with OpenBLAS at the same thread count; "
                                      "glibc M_MMAP_THRESHOLD 256 MiB, M_TRIM_THRESHOLD 1 GiB");
#else
  benchmark::AddCustomContext("peer", "none (configure with -DBSTACK_BENCH_PEERS=ON and libtorch-dev installed)");
#endif
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
