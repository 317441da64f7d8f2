// Compute sections of bstack calibrate: the core clock, FMA throughput per ISA path and the
// theoretical peak beside it (wall 1's Peak), int8 dot throughput, tuned GEMM across sizes (wall
// 3's software efficiency eta = achieved / peak) and the framework's per-op dispatch tax.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "calibrate/calibrate.h"
#include "calibrate/util.h"
#include "kernels/cpu.h"
#include "kernels/gemm.h"
#include "kernels/gemm_int8.h"
#include "kernels/parallel.h"
#include "kernels/peak.h"
#include "src/ops.h"
#include "src/tensor.h"

namespace bstack::calibrate {
namespace {

// Runs f() once as a warm-up, then `repeats` times (at least), until `min_total` seconds have been
// spent timing; returns the best (smallest) time of one call.
template <class F>
double best_time(F&& f, int repeats, double min_total) {
  f();
  double best = 1e30, total = 0;
  for (int r = 0; r < repeats || total < min_total; ++r) {
    const auto t0 = Clock::now();
    f();
    const double dt = seconds_since(t0);
    best = std::min(best, dt);
    total += dt;
    if (r > 1000) break;
  }
  return best;
}

// Restores the kernels' thread count when it goes out of scope.
struct ThreadScope {
  int prev;
  explicit ThreadScope(int n) : prev(kernels::num_threads()) { kernels::set_num_threads(n); }
  ~ThreadScope() { kernels::set_num_threads(prev); }
};

int all_threads(const Options& o) { return o.threads > 0 ? o.threads : kernels::num_threads(); }

// 32 dependent register-register adds per loop trip (1 cycle latency each on every x86-64 core
// since the P6); the loop's own counter and branch run on other ports in parallel. Cycles /
// seconds is the clock the core really runs at, turbo included (method: lmbench's `mhz`, which
// times chains of instructions of known latency). Not `add $imm, reg`: Golden Cove and later
// fold immediate adds at rename and run such a chain at several per cycle (measured here: an
// apparent 23 GHz).
double add_chain(int64_t iters) {
  uint64_t x = 0;
  const uint64_t y = 1;
  for (int64_t i = 0; i < iters; ++i) {
#define BSTACK_ADD4 "add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\t"
    asm volatile(BSTACK_ADD4 BSTACK_ADD4 BSTACK_ADD4 BSTACK_ADD4 BSTACK_ADD4 BSTACK_ADD4 BSTACK_ADD4
                     BSTACK_ADD4
                 : "+r"(x)
                 : "r"(y));
#undef BSTACK_ADD4
  }
  return static_cast<double>(iters) * 32;
}

// The nominal clock the OS reports (/proc/cpuinfo "cpu MHz"), 0 when absent.
double nominal_clock_hz() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("cpu MHz", 0) == 0) {
      const size_t c = line.find(':');
      if (c != std::string::npos) return std::atof(line.c_str() + c + 1) * 1e6;
    }
  return 0;
}

int lanes_fp32(kernels::Isa path) {
  return path == kernels::Isa::avx512 ? 16 : path == kernels::Isa::avx2 ? 8 : 1;
}

}  // namespace

double measure_clock_hz(double seconds) {
  const int64_t iters = 1 << 16;
  add_chain(iters);
  double best = 1e30;
  const auto t0 = Clock::now();
  int64_t trips = 0;
  while (seconds_since(t0) < seconds || trips < 5) {
    const auto t1 = Clock::now();
    add_chain(iters);
    best = std::min(best, seconds_since(t1));
    ++trips;
  }
  return static_cast<double>(iters) * 32 / best;
}

void calibrate_compute(const Options& o, MachineProfile& p, const ProgressFn& progress) {
  const int nt = all_threads(o);
  const double sec = o.quick ? 0.02 : 0.05;
  const int reps = 3;  // per pass (a full run makes 3 passes)
  const std::string how = fmt::format(
      "register-only loop, 12 independent accumulator chains, best of {} after a warm-up, ~{:.0f} "
      "ms per run, every thread its own loop",
      reps, sec * 1e3);

  progress(0.0, "core clock");
  double clock = measure_clock_hz(o.quick ? 0.05 : 0.2);  // recorded after the passes below
  const double nominal = nominal_clock_hz();
  if (nominal > 0)
    p.set({"nominal_clock_hz", nominal, "Hz", "OS report: /proc/cpuinfo 'cpu MHz'"});

  // Every FMA and int8 loop (ISA path x precision x threads) is one job; a full run goes
  // round the jobs `passes` times and keeps each job's best, so a job's repeats are seconds
  // apart and a burst of noise from a shared host spoils one pass, not the figure.
  struct Job {
    std::vector<std::string> keys;  // the parameters this figure is (may be none: series only)
    std::string unit, method;
    Series* series;
    std::vector<double> row;  // the series row, the figure appended
    std::function<double()> run;
    double best = 0;
  };
  std::vector<Job> jobs;
  Series fma{"compute/fma", {"isa", "bits", "threads", "flops_per_s"}, {}, "FMA peak: " + how};
  Series i8{"compute/int8", {"kernel", "threads", "ops_per_s"}, {}, "int8 dot: " + how};
  const kernels::Isa best = kernels::isa();
  const std::vector<int> thread_counts = nt > 1 ? std::vector<int>{1, nt} : std::vector<int>{1};
  for (int i = 0; i <= static_cast<int>(best); ++i) {
    const kernels::Isa path = static_cast<kernels::Isa>(i);
    for (int bits : {32, 64})
      for (int threads : thread_counts) {
        const std::string prec = bits == 32 ? "fp32" : "fp64";
        Job j;
        j.unit = "FLOP/s";
        j.method = fmt::format("FMA loop, {} path, {} thread(s): {}", kernels::isa_name(path), threads, how);
        if (threads == 1) j.keys.push_back(fmt::format("peak_flops_{}_{}_1t", prec, kernels::isa_name(path)));
        if (path == best && threads == 1) j.keys.push_back(fmt::format("peak_flops_{}_1t", prec));
        if (path == best && threads == nt) j.keys.push_back(fmt::format("peak_flops_{}", prec));
        j.series = &fma;
        j.row = {static_cast<double>(path), static_cast<double>(bits), static_cast<double>(threads)};
        j.run = [=] {
          return bits == 32 ? kernels::fma_peak_flops<float>(path, threads, sec, reps)
                            : kernels::fma_peak_flops<double>(path, threads, sec, reps);
        };
        jobs.push_back(std::move(j));
      }
  }
  const kernels::Int8Kernel best8 = kernels::int8_kernel_best();
  for (kernels::Int8Kernel k : {kernels::Int8Kernel::avx512vnni, kernels::Int8Kernel::avx_vnni,
                                kernels::Int8Kernel::avx512bw, kernels::Int8Kernel::avx2,
                                kernels::Int8Kernel::scalar}) {
    if (!kernels::int8_kernel_available(k)) continue;
    for (int threads : thread_counts) {
      Job j;
      j.unit = "OP/s";
      j.method = fmt::format("int8 dot loop, {} kernel, {} thread(s), 2 OP per u8 x s8 "
                             "multiply-accumulate: {}", kernels::int8_kernel_name(k), threads, how);
      if (threads == 1) j.keys.push_back(fmt::format("peak_ops_int8_{}_1t", kernels::int8_kernel_name(k)));
      if (k == best8 && threads == 1) j.keys.push_back("peak_ops_int8_1t");
      if (k == best8 && threads == nt) j.keys.push_back("peak_ops_int8");
      j.series = &i8;
      j.row = {static_cast<double>(k), static_cast<double>(threads)};
      j.run = [=] { return kernels::int8_peak_ops(k, threads, sec, reps); };
      jobs.push_back(std::move(j));
    }
  }
  const int passes = o.quick ? 1 : 3;
  for (int pass = 0; pass < passes; ++pass) {
    // The clock again each pass: a shared host moves it over seconds (3.5-4.1 GHz seen here);
    // the highest reading is the clock the loops could run at.
    if (pass > 0) clock = std::max(clock, measure_clock_hz(0.2));
    for (size_t i = 0; i < jobs.size(); ++i) {
      progress(0.1 + 0.85 * double(pass * jobs.size() + i) / double(passes * jobs.size()),
               fmt::format("{} (pass {}/{})", jobs[i].method.substr(0, jobs[i].method.find(':')), pass + 1, passes));
      jobs[i].best = std::max(jobs[i].best, jobs[i].run());
    }
  }
  p.set({"clock_hz", clock, "Hz",
         fmt::format("chains of 32 dependent register adds (1-cycle latency), best of many (lmbench "
                     "mhz method){}", passes > 1 ? fmt::format(", highest of {} readings seconds apart", passes) : "")});
  for (Job& j : jobs) {
    j.row.push_back(j.best);
    j.series->add_row(j.row);
    const std::string m = passes > 1 ? fmt::format("{}; best of {} passes round all loops", j.method, passes) : j.method;
    for (const std::string& key : j.keys) p.set({key, j.best, j.unit, m});
  }
  p.add_series(std::move(fma));
  p.add_series(std::move(i8));

  // The theoretical peak: clock x lanes x FMA units x 2 FLOP per FMA x cores.
  const int fma_units = 2;
  const int lanes = lanes_fp32(best);
  const double theo32 = clock * lanes * fma_units * 2 * nt;
  const std::string assume = fmt::format(
      "clock x lanes x FMA units x 2 x cores = {:.2f} GHz (measured, the one the add chain ran at) "
      "x {} fp32 lanes ({}) x {} FMA units per core (assumed: Intel Xeon Scalable Gold/Platinum "
      "and later server cores issue two 512-bit FMAs per cycle; AMD Zen 4 one) x 2 x {} cores",
      clock / 1e9, lanes, kernels::isa_name(best), fma_units, nt);
  p.set({"theoretical_peak_flops_fp32", theo32, "FLOP/s", assume});
  p.set({"theoretical_peak_flops_fp64", theo32 / 2, "FLOP/s", assume + "; fp64 has half the lanes"});
  const double ratio = p.value("peak_flops_fp32") / theo32;
  p.set({"peak_fraction_fp32", ratio, "1", "measured FMA peak / theoretical peak (all threads)"});
  p.set({"peak_fraction_fp32_1t", p.value("peak_flops_fp32_1t") / (theo32 / nt), "1",
         "measured FMA peak / theoretical peak (1 thread, one core's share)"});
  if (nt > 1 && p.value("peak_flops_fp32") < 1.3 * p.value("peak_flops_fp32_1t"))
    p.note(fmt::format("compute: {} threads reach only {:.2f}x one thread's FMA peak: the threads "
                       "share FMA units (hyperthreads of one core, or vCPUs the host schedules on "
                       "one core), or other work ran on the machine meanwhile",
                       nt, p.value("peak_flops_fp32") / p.value("peak_flops_fp32_1t")));
  const double ratio_1t = p.value("peak_fraction_fp32_1t");
  if (ratio_1t < 0.6)
    p.note(fmt::format("compute: one thread's fp32 FMA peak is {:.0f}% of one core's theoretical figure with "
                       "{} FMA units per core: this core likely issues one {}-lane FMA per cycle "
                       "(one FMA unit, or 512-bit FMAs split in two halves), or runs vector code "
                       "at a lower clock than the add chain",
                       ratio_1t * 100, fma_units, lanes));
  else if (ratio_1t > 1.05)
    p.note(fmt::format("compute: one thread's fp32 FMA peak is {:.0f}% of the theoretical figure: "
                       "the clock under FMA load is higher than the add chain saw", ratio_1t * 100));
  else if (ratio_1t < 0.95)
    p.note(fmt::format("compute: one thread's fp32 FMA peak is {:.0f}% of the theoretical figure: "
                       "cores lower their clock under 512-bit FMA load (the AVX-512 frequency "
                       "licence) below the {:.2f} GHz the scalar add chain ran at",
                       ratio_1t * 100, clock / 1e9));
  if (nominal > 0 && clock > nominal * 1.1)
    p.note(fmt::format("compute: the core runs at {:.2f} GHz while the OS reports {:.2f} GHz "
                       "(turbo, or a VM that reports the base clock)", clock / 1e9, nominal / 1e9));

  progress(1.0, "compute done");
}

void calibrate_gemm(const Options& o, MachineProfile& p, const ProgressFn& progress) {
  const int nt = all_threads(o);
  struct Shape { int64_t m, n, k; };
  std::vector<Shape> shapes;
  if (o.quick) {
    shapes = {{128, 128, 128}, {512, 512, 512}, {1024, 1024, 1024}};
  } else {
    shapes = {{64, 64, 64},    {128, 128, 128},  {256, 256, 256},   {512, 512, 512},
              {1024, 1024, 1024}, {2048, 2048, 2048}, {512, 768, 3072}, {512, 3072, 768},
              {64, 256, 784}};
  }
  const int reps = o.quick ? 3 : 5;
  const double min_total = o.quick ? 0.05 : 0.2;
  const std::string timing = fmt::format(
      "(tuned when `bstack tune` has run, else the analytical blocking), row-major C = A B, beta = "
      "0, 2MNK FLOP, best of >= {} after a warm-up and >= {:.0f} ms of timing", reps, min_total * 1e3);
  const std::string how = "bstack SGEMM " + timing, how64 = "bstack DGEMM " + timing;
  Series s{"gemm/sgemm", {"m", "n", "k", "threads", "flops_per_s", "efficiency"}, {}, how};
  Series d{"gemm/dgemm", {"m", "n", "k", "threads", "flops_per_s", "efficiency"}, {}, how64};
  const double peak32 = p.value_or("peak_flops_fp32", 0), peak32_1t = p.value_or("peak_flops_fp32_1t", 0);
  const double peak64 = p.value_or("peak_flops_fp64", 0), peak64_1t = p.value_or("peak_flops_fp64_1t", 0);
  size_t job = 0;
  const size_t jobs = shapes.size() * 2 + 2;
  double big32 = 0, big32_1t = 0;
  for (const Shape& sh : shapes) {
    std::vector<float> A(sh.m * sh.k, 0.5f), B(sh.k * sh.n, 0.25f), C(sh.m * sh.n);
    for (int threads : {1, nt}) {
      progress(static_cast<double>(job++) / jobs, fmt::format("SGEMM {}x{}x{} {}t", sh.m, sh.n, sh.k, threads));
      ThreadScope ts(threads);
      const double t = best_time([&] {
        kernels::sgemm('N', 'N', sh.m, sh.n, sh.k, 1.f, A.data(), sh.k, B.data(), sh.n, 0.f, C.data(), sh.n);
      }, reps, min_total);
      const double f = 2.0 * sh.m * sh.n * sh.k / t;
      const double peak = threads == 1 ? peak32_1t : peak32;
      s.add_row({double(sh.m), double(sh.n), double(sh.k), double(threads), f, peak > 0 ? f / peak : NAN});
      if (sh.m == sh.n && sh.n == sh.k && sh.m >= (o.quick ? 1024 : 2048)) (threads == 1 ? big32_1t : big32) = f;
    }
  }
  // DGEMM at one mid-size square (fp64 efficiency for the walls' fp64 workloads).
  const int64_t nd = o.quick ? 512 : 1024;
  std::vector<double> A(nd * nd, 0.5), B(nd * nd, 0.25), C(nd * nd);
  double dg = 0, dg_1t = 0;
  for (int threads : {1, nt}) {
    progress(static_cast<double>(job++) / jobs, fmt::format("DGEMM {}^3 {}t", nd, threads));
    ThreadScope ts(threads);
    const double t = best_time([&] {
      kernels::dgemm('N', 'N', nd, nd, nd, 1.0, A.data(), nd, B.data(), nd, 0.0, C.data(), nd);
    }, reps, min_total);
    const double f = 2.0 * nd * nd * nd / t;
    const double peak = threads == 1 ? peak64_1t : peak64;
    d.add_row({double(nd), double(nd), double(nd), double(threads), f, peak > 0 ? f / peak : NAN});
    (threads == 1 ? dg_1t : dg) = f;
  }
  const std::string at = fmt::format("{0}x{0}x{0}: ", o.quick ? 1024 : 2048);
  p.set({"gemm_flops_fp32", big32, "FLOP/s", at + how + fmt::format(", {} threads", nt)});
  p.set({"gemm_flops_fp32_1t", big32_1t, "FLOP/s", at + how + ", 1 thread"});
  p.set({"gemm_flops_fp64", dg, "FLOP/s", fmt::format("{0}x{0}x{0}, {1} threads: ", nd, nt) + how64});
  p.set({"gemm_flops_fp64_1t", dg_1t, "FLOP/s", fmt::format("{0}x{0}x{0}, 1 thread: ", nd) + how64});
  if (peak32 > 0)
    p.set({"gemm_efficiency_fp32", big32 / peak32, "1",
           "wall 3's software efficiency eta = gemm_flops_fp32 / peak_flops_fp32 (measured FMA peak)"});
  if (peak32_1t > 0)
    p.set({"gemm_efficiency_fp32_1t", big32_1t / peak32_1t, "1",
           "eta on 1 thread = gemm_flops_fp32_1t / peak_flops_fp32_1t"});
  p.add_series(std::move(s));
  p.add_series(std::move(d));
  progress(1.0, "GEMM done");
}

void calibrate_dispatch(const Options& o, MachineProfile& p, const ProgressFn& progress) {
  // The dispatch tax: what one tensor op costs when its math is free (1-element tensors), i.e.
  // shape checks, output allocation, dtype dispatch, and with autograd the graph node and its
  // backward call. Method: loops of `n` ops, best of `reps` loops after a warm-up, divided by n.
  const int n = o.quick ? 2000 : 10000;
  const int reps = o.quick ? 5 : 21;
  Tensor a = full({1}, 1.0), b = full({1}, 1e-6);
  progress(0.0, "dispatch: op without autograd");
  double t_fwd = 0;
  {
    NoGradGuard ng;
    t_fwd = best_time([&] {
      Tensor x = a;
      for (int i = 0; i < n; ++i) x = add(x, b);
    }, reps, 0) / n;
  }
  progress(0.5, "dispatch: op with autograd, forward + backward");
  Tensor w = full({1}, 1.0);
  w.requires_grad_(true);
  const int chain = std::min(n, 1000);  // graph depth kept small (backward recursion/stack)
  const double t_ag = best_time([&] {
    Tensor x = w;
    for (int i = 0; i < chain; ++i) x = add(x, b);
    x.backward();
    w.zero_grad();
  }, reps, 0) / chain;
  const std::string m = fmt::format(
      "element-wise add of two 1-element f32 tensors, {} ops per loop, best of {} loops after a "
      "warm-up, time / ops", n, reps);
  p.set({"dispatch_s", t_fwd, "s", m + " (no autograd)"});
  p.set({"dispatch_autograd_s", t_ag, "s",
         fmt::format("as dispatch_s but recording the graph over a chain of {} ops, then backward "
                     "through it: forward + backward per op", chain)});
  progress(1.0, "dispatch done");
}

}  // namespace bstack::calibrate
