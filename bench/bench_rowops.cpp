// Row kernels and vectorised elementwise kernels against the paths they replaced, side by side
// in one process: each BM_<Area>_<Op>_F32_old has a BM_..._new twin on the same data, and a
// speedup table (old best time / new best time; above 1 = the new path is faster) closes the
// output. The new result is checked against the old one before timing.
//   old (kernel level): the loops src ran before kernels/rowops.h and kernels/eltwise.h, copied
//     here: the row softmax (double sums, std::exp), the strided elementwise loop
//     (detail::for_each_strided), the sum that transposes to rows first.
//   old (op level): the composite ops LayerNorm and cross_entropy were built from, with their
//     autograd backward; note their primitives (exp, sum, add, ...) now run the new kernels
//     too, so these ratios understate the change.
// Method: Google Benchmark, adaptive iteration count after one warm-up call; every iteration is
// timed and the best (best-of-N: the statistic that is stable on a shared, noisy machine) is
// reported as best_us and used for the ratios; /T = threads. Rates: GB/s = 1e9 B/s of the
// minimum traffic (operands read once, results written once).
#include "kernels/eltwise.h"
#include "kernels/parallel.h"
#include "kernels/rowops.h"
#include "src/nn/loss.h"
#include "src/ops.h"
#include "src/ops_internal.h"
#include "src/random.h"

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>

using namespace bstack;

namespace {

// Times fn per iteration; reports best_us and GB/s from `bytes` per call.
template <class F>
void timed(benchmark::State& state, int64_t threads, double bytes, F&& fn) {
  kernels::set_num_threads(static_cast<int>(threads));
  fn();  // warm-up
  double best = 1e30;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    best = std::min(best,
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  state.counters["best_us"] = best * 1e6;
  state.counters["GB/s"] = bytes / best / 1e9;
  kernels::set_num_threads(0);
}

void check_close(benchmark::State& state, const float* a, const float* b, int64_t n, double tol) {
  for (int64_t i = 0; i < n; ++i)
    if (!(std::fabs(a[i] - b[i]) <= tol * (1 + std::fabs(b[i])))) {
      state.SkipWithError(fmt::format("new result differs at {}: {} vs {}", i, a[i], b[i]).c_str());
      return;
    }
}

// ---- softmax (rows, n): the old src row loop vs kernels::softmax_forward ----------------------

void softmax_old(int64_t rows, int64_t n, const float* in, float* out) {
  kernels::parallel_for(rows, 8 * n, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const float* x = in + i * n;
      float* y = out + i * n;
      double m = -std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < n; ++j) m = std::max<double>(m, x[j]);
      double s = 0;
      for (int64_t j = 0; j < n; ++j) s += std::exp(x[j] - m);
      for (int64_t j = 0; j < n; ++j) y[j] = static_cast<float>(std::exp(x[j] - m) / s);
    }
  });
}

void BM_RowOps_Softmax(benchmark::State& state, bool use_new) {
  const int64_t rows = state.range(0), n = state.range(1);
  Generator g(1);
  const Tensor x = randn({rows, n}, g) * 3.0;
  Tensor y = empty({rows, n}), ref = empty({rows, n});
  const float* px = x.data<float>();
  softmax_old(rows, n, px, ref.data<float>());
  kernels::softmax_forward<float>(rows, n, px, y.data<float>());
  check_close(state, y.data<float>(), ref.data<float>(), rows * n, 1e-5);
  timed(state, state.range(2), 8.0 * rows * n, [&] {
    if (use_new) {
      kernels::softmax_forward<float>(rows, n, px, y.data<float>());
    } else {
      softmax_old(rows, n, px, y.data<float>());
    }
  });
}

// ---- layer norm (rows, n), forward + backward: composite ops vs the fused op ------------------

void BM_RowOps_LayerNormFwdBwd(benchmark::State& state, bool use_new) {
  const int64_t rows = state.range(0), n = state.range(1);
  Generator g(2);
  const Tensor x = (randn({rows, n}, g) + 1.0).requires_grad_();
  const Tensor w = (randn({n}, g) * 0.1 + 1.0).requires_grad_(), b = randn({n}, g).requires_grad_();
  const Tensor dy = randn({rows, n}, g);
  auto composite = [&] {
    Tensor m = mean(x, {-1}, true), v = var(x, {-1}, true, 0);
    return (x - m) / sqrt(v + 1e-5) * w + b;
  };
  {
    const Tensor a = layer_norm(x, w, b, 1e-5).detach(), r = composite().detach();
    check_close(state, a.data<float>(), r.data<float>(), rows * n, 1e-4);
  }
  timed(state, state.range(2), 4.0 * 4 * rows * n,
        [&] {  // x, y forward; x, dy, dx backward (at least)
          Tensor y = use_new ? layer_norm(x, w, b, 1e-5) : composite();
          y.backward(dy);
          x.zero_grad();
          w.zero_grad();
          b.zero_grad();
        });
}

// ---- cross-entropy (rows, classes), forward + backward ----------------------------------------

void BM_RowOps_CrossEntropyFwdBwd(benchmark::State& state, bool use_new) {
  const int64_t rows = state.range(0), c = state.range(1);
  Generator g(3);
  const Tensor x = randn({rows, c}, g).requires_grad_();
  const Tensor t = uniform({rows}, 0, static_cast<double>(c), g, DType::f64).to(DType::i64);
  auto composite = [&] { return -mean(gather(log_softmax(x, 1), 1, t.unsqueeze(1))); };
  {
    const float a = static_cast<float>(nn::cross_entropy(x, t).item());
    const float r = static_cast<float>(composite().item());
    check_close(state, &a, &r, 1, 1e-5);
  }
  timed(state, state.range(2), 4.0 * 2 * rows * c, [&] {
    Tensor loss = use_new ? nn::cross_entropy(x, t) : composite();
    loss.backward();
    x.zero_grad();
  });
}

// ---- add: the old strided loop vs kernels::binary (same shape, and a bias row) ----------------

void add_old(const Tensor& a, const Tensor& b, Tensor& out) {
  const Shape shape = out.shape();
  const Shape so = out.strides(), sa = detail::broadcast_strides(a, shape),
              sb = detail::broadcast_strides(b, shape);
  float* po = out.data<float>();
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  detail::for_each_strided<3>(
      shape, {&so, &sa, &sb},
      [&](const std::array<int64_t, 3>& off, int64_t n, const std::array<int64_t, 3>& inc) {
        float* o = po + off[0];
        const float* x = pa + off[1];
        const float* y = pb + off[2];
        for (int64_t k = 0; k < n; ++k) o[k * inc[0]] = x[k * inc[1]] + y[k * inc[2]];
      });
}

// range(0) rows, range(1) cols; the second operand is (cols) when range(2) is 1 (bias add).
void BM_Eltwise_Add(benchmark::State& state, bool use_new) {
  const int64_t rows = state.range(0), cols = state.range(1);
  const bool bias = state.range(2) != 0;
  Generator g(4);
  const Tensor a = randn({rows, cols}, g), b = bias ? randn({cols}, g) : randn({rows, cols}, g);
  Tensor out = empty({rows, cols}), ref = empty({rows, cols});
  add_old(a, b, ref);
  auto run_new = [&] {
    kernels::binary<float>(kernels::BinaryOp::add, rows, cols, a.data<float>(), cols, 1,
                           b.data<float>(), bias ? 0 : cols, 1, out.data<float>());
  };
  run_new();
  check_close(state, out.data<float>(), ref.data<float>(), rows * cols, 0);
  timed(state, state.range(3), 4.0 * (2 * rows * cols + b.numel()), [&] {
    if (use_new) {
      run_new();
    } else {
      add_old(a, b, out);
    }
  });
}

// ---- bias gradient: sum of (rows, cols) over rows ---------------------------------------------

void BM_Reduce_BiasGrad(benchmark::State& state, bool use_new) {
  const int64_t rows = state.range(0), cols = state.range(1);
  Generator g(5);
  const Tensor x = randn({rows, cols}, g);
  Tensor out = empty({cols}), ref = empty({cols});
  auto run_old = [&] {  // old sum(): move the reduced axis last (a transposing copy), row sums
    const Tensor t = x.t().contiguous();
    const float* p = t.data<float>();
    float* o = ref.data<float>();
    kernels::parallel_for(cols, rows, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        double acc = 0;
        for (int64_t j = 0; j < rows; ++j) acc += p[i * rows + j];
        o[i] = static_cast<float>(acc);
      }
    });
  };
  run_old();
  kernels::col_sum<float>(rows, cols, x.data<float>(), out.data<float>());
  check_close(state, out.data<float>(), ref.data<float>(), cols, 1e-6);
  timed(state, state.range(2), 4.0 * (rows * cols + cols), [&] {
    if (use_new) {
      kernels::col_sum<float>(rows, cols, x.data<float>(), out.data<float>());
    } else {
      run_old();
    }
  });
}

// ---- GELU forward: the old strided loop (std::tanh) vs kernels::gelu_forward ------------------

void BM_Eltwise_Gelu(benchmark::State& state, bool use_new) {
  const int64_t n = state.range(0);
  Generator g(6);
  const Tensor x = randn({n}, g) * 2.0;
  Tensor out = empty({n}), ref = empty({n});
  auto run_old = [&](Tensor& o) {
    const Shape so = o.strides(), sx = x.strides();
    float* po = o.data<float>();
    const float* px = x.data<float>();
    detail::for_each_strided<2>(
        x.shape(), {&so, &sx},
        [&](const std::array<int64_t, 2>& off, int64_t m, const std::array<int64_t, 2>& inc) {
          for (int64_t k = 0; k < m; ++k) {
            const float v = px[off[1] + k * inc[1]];
            po[off[0] + k * inc[0]] = static_cast<float>(
                0.5 * v * (1 + std::tanh(0.7978845608028654 * (v + 0.044715 * v * v * v))));
          }
        });
  };
  run_old(ref);
  kernels::gelu_forward<float>(n, x.data<float>(), out.data<float>());
  check_close(state, out.data<float>(), ref.data<float>(), n, 1e-5);
  timed(state, state.range(1), 8.0 * n, [&] {
    if (use_new) {
      kernels::gelu_forward<float>(n, x.data<float>(), out.data<float>());
    } else {
      run_old(out);
    }
  });
}

// Collects best times to print old / new speedups at the end.
class SpeedupReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& r : runs) {
      auto it = r.counters.find("best_us");
      if (it != r.counters.end() && !r.error_occurred) best_[r.benchmark_name()] = it->second;
    }
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    fmt::print("\nspeedup old / new (best time; > 1 = new faster)\n");
    for (const auto& [name, t] : best_) {
      const auto pos = name.find("_old");
      if (pos == std::string::npos) continue;
      std::string twin = name;
      twin.replace(pos, 4, "_new");
      auto it = best_.find(twin);
      if (it == best_.end()) continue;
      fmt::print("  {:<46} old {:9.1f} us  new {:9.1f} us  speedup {:6.2f}\n",
                 name.substr(0, pos) + name.substr(pos + 4), t, it->second, t / it->second);
    }
  }

 private:
  std::map<std::string, double> best_;
};

}  // namespace

int main(int argc, char** argv) {
  for (const char* v : {"old", "new"}) {
    const bool is_new = std::string(v) == "new";
    auto reg = [&](const std::string& name, void (*fn)(benchmark::State&, bool)) {
      return benchmark::RegisterBenchmark(fmt::format("BM_{}_F32_{}", name, v).c_str(), fn, is_new)
          ->UseRealTime()
          ->Unit(benchmark::kMicrosecond);
    };
    // Args: shape..., threads (last).
    reg("RowOps_Softmax", BM_RowOps_Softmax)->Args({512, 1000, 1})->Args({512, 1000, 2});
    reg("RowOps_LayerNormFwdBwd", BM_RowOps_LayerNormFwdBwd)
        ->Args({512, 768, 1})
        ->Args({512, 768, 2});
    reg("RowOps_CrossEntropyFwdBwd", BM_RowOps_CrossEntropyFwdBwd)
        ->Args({256, 10, 1})
        ->Args({256, 10, 2})
        ->Args({1024, 65, 1})
        ->Args({1024, 65, 2});
    reg("Eltwise_Add", BM_Eltwise_Add)
        ->Args({1, 1 << 20, 0, 1})
        ->Args({1, 1 << 20, 0, 2})
        ->Args({512, 1024, 1, 1})
        ->Args({512, 1024, 1, 2});
    reg("Reduce_BiasGrad", BM_Reduce_BiasGrad)->Args({512, 1024, 1})->Args({512, 1024, 2});
    reg("Eltwise_Gelu", BM_Eltwise_Gelu)->Args({1 << 20, 1})->Args({1 << 20, 2});
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("method",
                              "best-of-N time per call after one warm-up call; last "
                              "argument = threads; old = the path the new kernel replaced");
  SpeedupReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
