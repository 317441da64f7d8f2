// Causal attention, tiled (scaled_dot_product_attention over kernels/attention.h, FlashAttention-2
// style) against the naive formulation it replaced in CausalSelfAttention (matmul + where +
// softmax + matmul through Tensor ops, which stores (T, T) scores per head), for B=1, H=4, D=64,
// T = 256 .. 4096, f32.
//
// First a table, side by side in one process:
//   memory   the tiled kernel's workspace (AttentionStats::workspace_bytes: every byte it
//            allocates, forward and backward) and the per-row log-sum-exp it saves, against the
//            T*T*4 bytes of one head's naive score matrix (B*H of them are live at once), and
//            the measured peak resident-memory growth of one forward + backward of each (VmHWM
//            after resetting it through /proc/self/clear_refs, in a forked child process whose
//            malloc returns freed tensors to the OS; see peak_rss_growth).
//   time     best-of-N wall time after one warm-up run, tiled and naive alternating so that both
//            see the same machine load; forward under NoGradGuard, forward + backward as
//            y.backward(dy). The outputs are compared before timing.
// Then Google Benchmark cases BM_Attention_{Fwd,FwdBwd}_F32_{tiled,naive}/T (real time, GFLOP/s
// on the op's FLOP definition: 4D+5 forward, 14D+8 forward+backward per visible pair).
//
// Flags (besides Google Benchmark's): --attn_max_t=N (largest T, default 4096), --attn_reps=N
// (best of N, default 5), --attn_table=0 (skip the table). A smoke run (--benchmark_min_time
// below 0.01, as ctest passes) stops at T=256 with N=1.
#include "kernels/attention.h"
#include "kernels/cpu.h"
#include "kernels/parallel.h"
#include "src/ops.h"
#include "src/random.h"

#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <string>
#include <vector>

using namespace bstack;

namespace {

constexpr int64_t kB = 1, kH = 4, kD = 64;

struct Inputs {
  Tensor q, k, v, dy;
  explicit Inputs(int64_t T) {
    Generator g(static_cast<uint64_t>(T));
    q = randn({kB, kH, T, kD}, g);
    k = randn({kB, kH, T, kD}, g);
    v = randn({kB, kH, T, kD}, g);
    dy = randn({kB, kH, T, kD}, g);
  }
};

// The formulation CausalSelfAttention::attend used before the tiled op.
Tensor naive_attention(const Tensor& q, const Tensor& k, const Tensor& v) {
  const int64_t T = q.size(2), D = q.size(3);
  Tensor scores = matmul(q, k.transpose(-1, -2)) / std::sqrt(static_cast<double>(D));
  Tensor qi = arange(0, static_cast<double>(T), 1, DType::i64).reshape({T, 1});
  Tensor kj = arange(0, static_cast<double>(T), 1, DType::i64).reshape({1, T});
  scores = where(le(kj, qi), scores,
                 scalar_tensor(-std::numeric_limits<double>::infinity(), scores.dtype()));
  return matmul(softmax(scores, -1), v);
}

Tensor tiled_attention(const Tensor& q, const Tensor& k, const Tensor& v) {
  return scaled_dot_product_attention(q, k, v, true, 0);
}

using AttnFn = Tensor (*)(const Tensor&, const Tensor&, const Tensor&);

void run_forward(AttnFn f, const Inputs& in) {
  NoGradGuard ng;
  Tensor y = f(in.q, in.k, in.v);
  benchmark::DoNotOptimize(y.data_ptr());
}

void run_forward_backward(AttnFn f, const Inputs& in) {
  const Tensor q = in.q.detach().requires_grad_(), k = in.k.detach().requires_grad_(),
               v = in.v.detach().requires_grad_();
  f(q, k, v).backward(in.dy);
  benchmark::DoNotOptimize(q.grad().data_ptr());
}

double seconds(const std::function<void()>& fn) {
  const auto t0 = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// ---- measured peak memory -------------------------------------------------------------------

int64_t proc_status_kb(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  const size_t n = std::strlen(key);
  while (std::getline(f, line))
    if (line.compare(0, n, key) == 0) return std::atoll(line.c_str() + n + 1);
  return -1;
}

// Peak resident-set growth of one forward + backward of `f` at length T, measured in a forked
// child so that its malloc setting stays out of the timings: the child fixes malloc's mmap
// threshold at 64 KiB (freed tensors leave the resident set), runs on one thread, makes the
// inputs, resets VmHWM to VmRSS (/proc/self/clear_refs, Linux >= 4.0), runs, and reports
// VmHWM - VmRSS. Called before this process starts any OpenMP team, so the child inherits none.
// -1 where the system cannot say.
int64_t peak_rss_growth(AttnFn f, int64_t T) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  std::fflush(stdout);
  const pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    close(fds[0]);
    mallopt(M_MMAP_THRESHOLD, 64 * 1024);
    kernels::set_num_threads(1);
    int64_t r = -1;
    const Inputs in(T);
    malloc_trim(0);
    std::ofstream clear("/proc/self/clear_refs");
    clear << "5" << std::flush;
    const int64_t base = proc_status_kb("VmRSS:");
    if (clear && base >= 0) {
      run_forward_backward(f, in);
      const int64_t peak = proc_status_kb("VmHWM:");
      if (peak >= 0) r = (peak - base) * 1024;
    }
    const bool ok = write(fds[1], &r, sizeof r) == sizeof r;
    _exit(ok ? 0 : 1);
  }
  close(fds[1]);
  int64_t r = -1;
  if (read(fds[0], &r, sizeof r) != sizeof r) r = -1;
  close(fds[0]);
  waitpid(pid, nullptr, 0);
  return r;
}

std::string mib(double bytes) {
  if (bytes < 0) return "n/a";
  return fmt::format("{:.2f}", bytes / (1024.0 * 1024.0));
}

// The tiled kernel's own workspace counter for one forward and one backward at this T.
std::pair<int64_t, int64_t> kernel_workspace(const Inputs& in) {
  const int64_t T = in.q.size(2);
  kernels::AttentionDims d;
  d.B = kB, d.H = kH, d.Tq = d.Tk = T, d.D = kD;
  auto c = [](const Tensor& t) {
    return kernels::AttnTensor<const float>{t.data<float>(), t.strides()[0], t.strides()[1],
                                            t.strides()[2]};
  };
  Tensor out = empty(in.q.shape()), lse = empty({kB, kH, T});
  Tensor dq = empty(in.q.shape()), dk = empty(in.q.shape()), dv = empty(in.q.shape());
  auto m = [](const Tensor& t) {
    return kernels::AttnTensor<float>{t.data<float>(), t.strides()[0], t.strides()[1],
                                      t.strides()[2]};
  };
  kernels::AttentionStats fs, bs;
  kernels::attention_forward<float>(d, c(in.q), c(in.k), c(in.v), m(out), lse.data<float>(), {},
                                    &fs);
  kernels::attention_backward<float>(d, c(in.q), c(in.k), c(in.v), c(out), c(in.dy),
                                     lse.data<float>(), m(dq), m(dk), m(dv), {}, &bs);
  return {fs.workspace_bytes, bs.workspace_bytes};
}

double max_rel_diff(const Tensor& a, const Tensor& b) {
  const auto x = a.to_vector(), y = b.to_vector();
  double e = 0, s = 1;
  for (size_t i = 0; i < x.size(); ++i) {
    e = std::max(e, std::fabs(x[i] - y[i]));
    s = std::max(s, std::fabs(y[i]));
  }
  return e / s;
}

void print_table(const std::vector<int64_t>& Ts, int reps) {
  const auto cfg = kernels::attention_resolve(kD, 4);
  fmt::print("causal attention, f32, B={} H={} D={}, {} threads, ISA {}, blocks Br={} Bc={}\n", kB,
             kH, kD, kernels::num_threads(), kernels::isa_name(kernels::isa()), cfg.br, cfg.bc);
  fmt::print("memory (MiB): tiled kernel workspace (its own counter: all bytes it allocates) and "
             "saved LSE, vs the naive (T, T) f32 scores;\n  peak = measured resident-set growth "
             "of one forward + backward (VmHWM after clear_refs)\n");
  fmt::print("{:>6} {:>12} {:>12} {:>10} {:>14} {:>16} {:>12} {:>12}\n", "T", "ws fwd", "ws bwd",
             "LSE", "naive T*T*4", "naive B*H*T*T*4", "peak tiled", "peak naive");
  std::vector<std::pair<int64_t, int64_t>> peaks;  // first, while no OpenMP team exists
  for (int64_t T : Ts)
    peaks.emplace_back(peak_rss_growth(tiled_attention, T), peak_rss_growth(naive_attention, T));
  for (size_t i = 0; i < Ts.size(); ++i) {
    const int64_t T = Ts[i];
    const Inputs in(T);
    const auto [wf, wb] = kernel_workspace(in);
    const auto [pt, pn] = peaks[i];
    fmt::print("{:>6} {:>12} {:>12} {:>10} {:>14} {:>16} {:>12} {:>12}\n", T, mib(wf), mib(wb),
               mib(4.0 * kB * kH * T), mib(4.0 * T * T), mib(4.0 * kB * kH * T * T), mib(pt),
               mib(pn));
  }
  fmt::print("\ntime (ms): best of {} after 1 warm-up, tiled and naive alternating; ratio = "
             "naive / tiled (> 1: tiled faster)\n", reps);
  fmt::print("{:>6} {:>10} {:>10} {:>7} {:>12} {:>12} {:>7} {:>10}\n", "T", "fwd tiled",
             "fwd naive", "ratio", "f+b tiled", "f+b naive", "ratio", "max|diff|");
  for (int64_t T : Ts) {
    const Inputs in(T);
    double diff;
    {
      NoGradGuard ng;
      diff = max_rel_diff(tiled_attention(in.q, in.k, in.v), naive_attention(in.q, in.k, in.v));
    }
    double best[4];
    std::fill(best, best + 4, std::numeric_limits<double>::infinity());
    const std::function<void()> runs[4] = {
        [&] { run_forward(tiled_attention, in); }, [&] { run_forward(naive_attention, in); },
        [&] { run_forward_backward(tiled_attention, in); },
        [&] { run_forward_backward(naive_attention, in); }};
    for (auto& r : runs) r();  // warm-up
    for (int rep = 0; rep < reps; ++rep)
      for (int i = 0; i < 4; ++i) best[i] = std::min(best[i], seconds(runs[i]));
    fmt::print("{:>6} {:>10.3f} {:>10.3f} {:>7.2f} {:>12.3f} {:>12.3f} {:>7.2f} {:>10.1e}\n", T,
               1e3 * best[0], 1e3 * best[1], best[1] / best[0], 1e3 * best[2], 1e3 * best[3],
               best[3] / best[2], diff);
  }
  fmt::print("\n");
  std::fflush(stdout);
}

void BM_Attention(benchmark::State& state, AttnFn f, bool backward) {
  const int64_t T = state.range(0);
  const Inputs in(T);
  if (backward) {
    run_forward_backward(f, in);  // warm-up
    for (auto _ : state) run_forward_backward(f, in);
  } else {
    run_forward(f, in);
    for (auto _ : state) run_forward(f, in);
  }
  const double pairs = kB * kH * T * (T + 1) / 2.0;
  const double flops = pairs * (backward ? 14.0 * kD + 8 : 4.0 * kD + 5);
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9 * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
}

// Removes --name=value from argv and returns value (or `def`).
std::string take_flag(int& argc, char** argv, const std::string& name, const std::string& def) {
  const std::string prefix = "--" + name + "=";
  std::string value = def;
  int w = 1;
  for (int r = 1; r < argc; ++r) {
    if (std::strncmp(argv[r], prefix.c_str(), prefix.size()) == 0)
      value = argv[r] + prefix.size();
    else
      argv[w++] = argv[r];
  }
  argc = w;
  return value;
}

}  // namespace

int main(int argc, char** argv) {
  bool smoke = false;
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], "--benchmark_min_time=", 21) == 0)
      smoke = std::atof(argv[i] + 21) < 0.01;
  const int64_t max_t = std::stoll(take_flag(argc, argv, "attn_max_t", smoke ? "256" : "4096"));
  const int reps = std::stoi(take_flag(argc, argv, "attn_reps", smoke ? "1" : "5"));
  const bool table = take_flag(argc, argv, "attn_table", "1") != "0";
  std::vector<int64_t> Ts;
  for (int64_t T = 256; T <= max_t; T *= 2) Ts.push_back(T);

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (table) print_table(Ts, reps);

  const std::pair<const char*, AttnFn> variants[] = {{"tiled", tiled_attention},
                                                     {"naive", naive_attention}};
  for (bool backward : {false, true})
    for (const auto& [name, fn] : variants) {
      auto* b = benchmark::RegisterBenchmark(
          fmt::format("BM_Attention_{}_F32_{}", backward ? "FwdBwd" : "Fwd", name).c_str(),
          BM_Attention, fn, backward);
      for (int64_t T : Ts) b->Arg(T);
      b->UseRealTime()->Unit(benchmark::kMillisecond);
    }
  benchmark::AddCustomContext("method", "causal attention B=1 H=4 D=64 f32: real time, adaptive "
                                        "iterations after 1 warm-up run; /T = sequence length");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
