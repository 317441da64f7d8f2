// Convolution and pooling ops: the old composite formulation (unfold2d + matmul + bias add, and
// unfold2d + max/mean for pooling: kept here verbatim as it was in src/ops_conv.cpp) against the
// conv2d / max_pool2d primitives over kernels/conv.h, on the layer shapes of the zoo's cnn
// (src/nn/zoo.cpp, 1x28x28 inputs) at batch 64, on 1 and 2 threads. Two modes: forward only
// (inference, no autograd) and train (forward + backward, with the gradients the cnn needs: the
// first conv's input needs none). A ratio table old / new closes the output.
// Method: Google Benchmark, adaptive iteration count after one warm-up call whose result is
// validated (new vs old); the BEST call time (best-of-N: on a shared machine, and with large
// fresh tensors paying page faults at random, the stable statistic; bench_train does the same)
// is reported as best_ms and used for the ratios and the GFLOP/s counter (2*N*OC*OH*OW*C*KH*KW
// per forward, that again for each of dx and dW in training).
#include "kernels/parallel.h"
#include "src/ops.h"
#include "src/random.h"

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <stdexcept>

using namespace bstack;

namespace {

// ---- the old formulation (src/ops_conv.cpp before kernels/conv.h) -----------------------------
Tensor conv2d_old(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dArgs& a) {
  const int64_t G = a.groups, N = x.size(0), C = x.size(1), OC = w.size(0);
  const int64_t KH = w.size(2), KW = w.size(3);
  const Shape hw = conv2d_output_hw(x.shape(), KH, KW, a);
  const int64_t L = hw[0] * hw[1], K = C / G * KH * KW;
  Tensor cols = unfold2d(x, KH, KW, a).view({N, G, K, L});
  Tensor out = matmul(w.reshape({G, OC / G, K}), cols).reshape({N, OC, hw[0], hw[1]});
  if (b.defined()) out = out + b.view({1, OC, 1, 1});
  return out;
}

Tensor max_pool2d_old(const Tensor& x, int64_t k) {
  const int64_t N = x.size(0), C = x.size(1);
  Conv2dArgs a;
  a.stride_h = a.stride_w = k;
  const Shape hw = conv2d_output_hw(x.shape(), k, k, a);
  Tensor cols = unfold2d(x.reshape({N * C, 1, x.size(2), x.size(3)}), k, k, a);
  return max(cols, {1}).reshape({N, C, hw[0], hw[1]});
}

// ---- the cnn's layers -----------------------------------------------------------------------
struct Layer {
  const char* name;
  int64_t C, HW, OC;  // OC = 0: a 2x2 max pool
  bool input_grad;    // does the layer's input need a gradient in training?
};
const Layer kLayers[] = {
    {"conv1_1x16_28", 1, 28, 16, false},
    {"pool1_16_28", 16, 28, 0, true},
    {"conv2_16x32_14", 16, 14, 32, true},
    {"pool2_32_14", 32, 14, 0, true},
};
constexpr int64_t kBatch = 64;

struct Inputs {
  Tensor x, w, b, gy;
};

Inputs make_inputs(const Layer& l, bool train) {
  Generator g(1);
  Inputs in;
  in.x = randn({kBatch, l.C, l.HW, l.HW}, g);
  if (l.OC) {
    in.w = randn({l.OC, l.C, 3, 3}, g) * 0.2;
    in.b = randn({l.OC}, g);
    if (train) {
      in.w.requires_grad_();
      in.b.requires_grad_();
    }
  }
  if (train && l.input_grad) in.x.requires_grad_();
  return in;
}

Tensor run_layer(const Layer& l, const Inputs& in, bool old) {
  Conv2dArgs a;
  a.pad_h = a.pad_w = 1;
  if (l.OC) return old ? conv2d_old(in.x, in.w, in.b, a) : conv2d(in.x, in.w, in.b, a);
  return old ? max_pool2d_old(in.x, 2) : max_pool2d(in.x, 2);
}

// One call: forward (no grad), or forward + backward with the output's gradient `gy`.
// Returns the output and the gradients, for validation.
std::vector<Tensor> step(const Layer& l, Inputs& in, bool old, bool train) {
  if (!train) {
    NoGradGuard ng;
    return {run_layer(l, in, old)};
  }
  for (Tensor* t : {&in.x, &in.w, &in.b})
    if (t->defined() && t->requires_grad()) t->zero_grad();
  Tensor y = run_layer(l, in, old);
  if (!in.gy.defined()) in.gy = ones(y.shape());
  y.backward(in.gy);
  std::vector<Tensor> r = {y.detach()};
  for (Tensor* t : {&in.x, &in.w, &in.b})
    if (t->defined() && t->requires_grad()) r.push_back(t->grad());
  return r;
}

double max_rel_err(const Tensor& a, const Tensor& b) {
  const auto va = a.to_vector(), vb = b.to_vector();
  double worst = 0;
  for (size_t i = 0; i < va.size(); ++i)
    worst = std::max(worst, std::abs(va[i] - vb[i]) / (1 + std::abs(vb[i])));
  return worst;
}

void BM_Conv(benchmark::State& state, const Layer& l, bool train, bool old) {
  kernels::set_num_threads(static_cast<int>(state.range(0)));
  Inputs in = make_inputs(l, train);
  {  // warm-up, and validate new against old before timing
    Inputs other = make_inputs(l, train);
    const auto mine = step(l, in, old, train), theirs = step(l, other, !old, train);
    for (size_t i = 0; i < mine.size(); ++i)
      if (max_rel_err(mine[i], theirs[i]) > 1e-3) {
        state.SkipWithError(
            fmt::format("{}: result {} differs between old and new", l.name, i).c_str());
        kernels::set_num_threads(0);
        return;
      }
  }
  double best = 1e30;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    step(l, in, old, train);
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - t0;
    best = std::min(best, took.count());
  }
  state.counters["best_ms"] = best * 1e3;
  if (l.OC) {
    const double fwd = 2.0 * kBatch * l.OC * l.HW * l.HW * l.C * 9;
    state.counters["GFLOP/s"] = (train ? fwd * (l.input_grad ? 3 : 2) : fwd) / best / 1e9;
  }
  kernels::set_num_threads(0);
}

// Prints old / new per (layer, mode, threads) after the usual table.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& r : runs) {
      auto it = r.counters.find("best_ms");
      if (it != r.counters.end()) times_[r.benchmark_name()] = it->second.value;
    }
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    bool header = false;
    for (const auto& [name, t] : times_) {
      const auto pos = name.find("_new");
      if (pos == std::string::npos) continue;
      std::string old = name;
      old.replace(pos, 4, "_old");
      auto it = times_.find(old);
      if (it == times_.end()) continue;
      if (!header) {
        fmt::print("\nratio old / new (best time per call; > 1 = new is faster)\n");
        header = true;
      }
      fmt::print("  {:<44} {:8.3f} ms vs {:8.3f} ms  ratio {:.2f}\n",
                 name.substr(0, pos) + name.substr(pos + 4), it->second, t, it->second / t);
    }
  }

 private:
  std::map<std::string, double> times_;
};

}  // namespace

int main(int argc, char** argv) {
  for (const Layer& l : kLayers)
    for (bool train : {false, true})
      for (bool old : {true, false}) {
        const std::string name = fmt::format("BM_Conv_{}_{}_{}", l.name, train ? "train" : "fwd",
                                             old ? "old" : "new");
        benchmark::RegisterBenchmark(name.c_str(), BM_Conv, l, train, old)
            ->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
      }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("method", "best-of-N time per call after a validated warm-up; batch "
                                        "64; /N = threads; old = unfold2d + matmul (+ add / max)");
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
