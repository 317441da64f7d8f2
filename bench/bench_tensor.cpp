// Foundation benchmarks: the reference GEMM behind matmul, a broadcasting elementwise op, a
// reduction, and one autograd step of a small MLP. Method: Google Benchmark's adaptive
// iteration count after one warm-up run, reporting the mean; rates as counters (GFLOP and GB per second,
// GB/s as 1e9 bytes/s, bytes = reads + writes of the operands). These are the baselines the
// kernels issue replaces.
#include "kernels/parallel.h"
#include "src/ops.h"
#include "src/random.h"

#include <benchmark/benchmark.h>

using namespace bstack;

static void BM_Matmul_F32_ref(benchmark::State& state) {
  const int64_t n = state.range(0);
  Generator g(1);
  Tensor a = randn({n, n}, g), b = randn({n, n}, g);
  for (auto _ : state) benchmark::DoNotOptimize(matmul(a, b).data_ptr());
  state.counters["GFLOP"] = benchmark::Counter(2.0 * n * n * n * state.iterations() / 1e9,
                                                 benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Matmul_F32_ref)->Arg(64)->Arg(128)->Arg(256)->Arg(512)->Unit(benchmark::kMillisecond);

static void BM_Elementwise_AddBroadcast_F32(benchmark::State& state) {
  const int64_t n = state.range(0);
  Generator g(2);
  Tensor a = randn({n, n}, g), b = randn({n}, g);
  for (auto _ : state) benchmark::DoNotOptimize(add(a, b).data_ptr());
  state.counters["GB"] = benchmark::Counter((2.0 * n * n + n) * 4 * state.iterations() / 1e9,
                                              benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Elementwise_AddBroadcast_F32)->Arg(256)->Arg(1024)->Arg(2048);

static void BM_Reduce_SumRows_F32(benchmark::State& state) {
  const int64_t n = state.range(0);
  Generator g(3);
  Tensor a = randn({n, n}, g);
  for (auto _ : state) benchmark::DoNotOptimize(sum(a, {1}).data_ptr());
  state.counters["GB"] = benchmark::Counter((1.0 * n * n + n) * 4 * state.iterations() / 1e9,
                                              benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Reduce_SumRows_F32)->Arg(256)->Arg(2048);

// One forward + backward of a 784-256-10 MLP with softmax cross-entropy, batch 64.
static void BM_Autograd_MlpStep_F32(benchmark::State& state) {
  Generator g(4);
  Tensor x = randn({64, 784}, g);
  Tensor w1 = (randn({784, 256}, g) * 0.05).detach().requires_grad_();
  Tensor w2 = (randn({256, 10}, g) * 0.05).detach().requires_grad_();
  Tensor target = from_vector<int64_t>(std::vector<int64_t>(64, 3), {64, 1});
  for (auto _ : state) {
    Tensor logits = matmul(relu(matmul(x, w1)), w2);
    Tensor loss = -mean(gather(log_softmax(logits, 1), 1, target));
    loss.backward();
    w1.zero_grad();
    w2.zero_grad();
  }
  state.counters["steps/s"] = benchmark::Counter(state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Autograd_MlpStep_F32)->Unit(benchmark::kMillisecond);

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("bstack_threads", std::to_string(kernels::num_threads()));
  benchmark::AddCustomContext("method", "adaptive iterations after a warm-up run, mean time; "
                                        "GB/s = 1e9 B/s of operand reads + writes");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
