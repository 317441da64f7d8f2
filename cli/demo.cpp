// `bstack demo`: runs what bstack can do so far on this machine, with data it makes itself.
// The foundation first, then the loop the project is built around (measure -> predict -> run ->
// compare):
//   1. autograd: logistic regression on two seeded Gaussian blobs, full-batch gradient descent
//   2. gradient check: autograd vs central finite differences in f64
//   3. matmul throughput of the reference GEMM (best of 5 after a warm-up)
//   4. checkpoint: the weights written to HDF5 (temp file + rename) and read back
//   5. calibrate --quick: this machine's profile (DIR/profile.h5, plots in DIR/)
//   6. train the cnn on the shipped digits with a per-op trace (DIR/cnn-trace.h5)
//   7. walls compare: the trace's step predicted from the profile beside the measured one, the
//      binding wall, a roofline with every measured op class (DIR/roofline-cnn.svg)
#include "cli/demo.h"

#include "bstack_build_info.h"
#include "calibrate/calibrate.h"
#include "calibrate/compare.h"
#include "calibrate/plot.h"
#include "calibrate/profile.h"
#include "src/profile/profiler.h"
#include "src/train/train.h"
#include "kernels/parallel.h"
#include "src/io/h5.h"
#include "src/ops.h"
#include "src/random.h"
#include "src/util/progress.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

namespace bstack::cli {

namespace {

using Clock = std::chrono::steady_clock;

struct Blobs {
  Tensor x;  // (n, 2)
  Tensor y;  // (n, 1), 0 or 1
};

// Two Gaussian blobs, centres (-1, -1) and (1, 1), standard deviation 0.8.
Blobs make_blobs(int64_t n, DType dtype, Generator& gen) {
  Tensor x = randn({n, 2}, gen, DType::f64) * 0.8;
  std::vector<double> labels(n);
  for (int64_t i = 0; i < n; ++i) labels[i] = static_cast<double>(i % 2);
  Tensor y = from_vector(labels, {n, 1});
  x = x + (y * 2.0 - 1.0);  // shift each point to its class centre
  return {x.to(dtype), y.to(dtype)};
}

// Mean binary cross-entropy from logits, stable for any z: max(z,0) - z y + log(1 + e^-|z|).
Tensor bce_with_logits(const Tensor& z, const Tensor& y) {
  return mean(relu(z) - z * y + log(1.0 + exp(-abs(z))));
}

double accuracy(const Tensor& z, const Tensor& y) {
  NoGradGuard ng;
  Tensor pred = gt(z, scalar_tensor(0, z.dtype())).to(y.dtype());
  return mean(eq(pred, y).to(DType::f64)).item();
}

}  // namespace

int run_demo(const GlobalOptions& opts, const DemoOptions& d) {
  std::FILE* out = opts.json ? stderr : stdout;  // human text; JSON goes to stdout
  nlohmann::json j;
  j["bstack_version"] = BSTACK_VERSION;
  j["threads"] = kernels::num_threads();
  const int nt = kernels::num_threads();
  fmt::print(out, "bstack demo: the foundation, then measure -> train -> predict vs measured on this machine ({} thread{})\n\n", nt,
             nt == 1 ? "" : "s");

  // 1. Logistic regression by autograd and gradient descent.
  Generator gen(0);
  const int64_t n = 512, steps = 300;
  const double lr = 0.5;
  Blobs data = make_blobs(n, DType::f32, gen);
  Tensor w = zeros({2, 1}).requires_grad_();
  Tensor b = zeros({1}).requires_grad_();
  double first_loss = 0, last_loss = 0;
  {
    Progress bar("train", steps);
    bar.set_unit("steps/s");
    for (int64_t s = 0; s < steps; ++s) {
      Tensor loss = bce_with_logits(matmul(data.x, w) + b, data.y);
      loss.backward();
      last_loss = loss.item();
      if (s == 0) first_loss = last_loss;
      {
        NoGradGuard ng;
        w.copy_(w - w.grad() * lr);
        b.copy_(b - b.grad() * lr);
      }
      w.zero_grad();
      b.zero_grad();
      bar.update(s + 1, fmt::format("loss {:.4f}", last_loss));
    }
    bar.finish();
  }
  const double acc = accuracy(matmul(data.x, w) + b, data.y);
  fmt::print(out, "1. autograd: logistic regression on {} points, {} steps of gradient descent\n",
             n, steps);
  fmt::print(out, "   loss {:.4f} -> {:.4f}, train accuracy {:.1f}%\n", first_loss, last_loss,
             100 * acc);
  j["logistic_regression"] = {{"points", n},          {"steps", steps},
                              {"initial_loss", first_loss}, {"final_loss", last_loss},
                              {"train_accuracy", acc}};

  // 2. Gradient check in f64 at the trained weights, perturbed so no gradient is ~0.
  Blobs d64 = make_blobs(64, DType::f64, gen);
  Tensor w64 = (w.detach().to(DType::f64) + randn({2, 1}, gen, DType::f64) * 0.3).requires_grad_();
  Tensor b64 = b.detach().to(DType::f64).clone().requires_grad_();
  auto loss_at = [&] { return bce_with_logits(matmul(d64.x, w64) + b64, d64.y); };
  loss_at().backward();
  double max_rel = 0;
  const double eps = 1e-6;
  for (const Tensor& p : {w64, b64}) {
    for (int64_t i = 0; i < p.numel(); ++i) {
      NoGradGuard ng;
      const Shape idx = p.dim() == 2 ? Shape{i, 0} : Shape{i};
      const double v = p.get(idx);
      p.set(idx, v + eps);
      const double fp = loss_at().item();
      p.set(idx, v - eps);
      const double fm = loss_at().item();
      p.set(idx, v);
      const double numeric = (fp - fm) / (2 * eps);
      const double analytic = p.grad().get(idx);
      max_rel = std::max(max_rel, std::abs(analytic - numeric) / std::max(1.0, std::abs(numeric)));
    }
  }
  fmt::print(out, "2. gradient check: autograd vs central differences (f64): max rel err {:.1e}\n",
             max_rel);
  j["gradcheck_max_rel_err"] = max_rel;

  // 3. Reference GEMM throughput.
  const int64_t m = 256;
  Tensor a = randn({m, m}, gen), c = randn({m, m}, gen);
  (void)matmul(a, c);  // warm-up
  double best = 1e30;
  for (int r = 0; r < 5; ++r) {
    const auto t0 = Clock::now();
    Tensor p = matmul(a, c);
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  const double gflops = 2.0 * m * m * m / best / 1e9;
  fmt::print(out, "3. matmul (reference GEMM, f32, {}^3): {:.1f} GFLOP/s (best of 5 after warm-up)\n",
             m, gflops);
  j["matmul_f32_256_flops_per_s"] = gflops * 1e9;

  // 4. Checkpoint round trip through HDF5.
  const auto path = std::filesystem::temp_directory_path() /
                    fmt::format("bstack-demo-{}.h5", static_cast<long>(::getpid()));
  {
    H5Writer wr(path.string(), "bstack-demo", 1);
    wr.write("model/w", w.detach().to_vector_as<float>(), w.shape());
    wr.write("model/b", b.detach().to_vector_as<float>(), b.shape());
    wr.attr("model", "final_loss", last_loss);
    wr.commit();
  }
  bool same = false;
  {
    H5Reader rd(path.string(), "bstack-demo", 1, 1);
    same = rd.read_vector<float>("model/w") == w.detach().to_vector_as<float>() &&
           rd.read_vector<float>("model/b") == b.detach().to_vector_as<float>() &&
           rd.attr_double("model", "final_loss") == last_loss;
  }
  std::filesystem::remove(path);
  fmt::print(out, "4. checkpoint: weights written to HDF5 and read back: {}\n",
             same ? "identical" : "MISMATCH");
  j["checkpoint_roundtrip_identical"] = same;

  // 5. calibrate --quick: the profile every prediction below reads.
  std::filesystem::create_directories(d.dir);
  const std::string profile_path = (std::filesystem::path(d.dir) / "profile.h5").string();
  const auto c0 = Clock::now();
  calibrate::Options co;
  co.quick = true;
  calibrate::MachineProfile prof;
  {
    Progress cbar("calibrate --quick", 1000, progress_default_enabled() && !opts.json);
    cbar.set_unit("‰");
    prof = calibrate::calibrate(co, [&](double f, const std::string& what) {
      cbar.update(static_cast<int64_t>(f * 1000), what);
    });
    cbar.finish();
  }
  calibrate::write_profile(profile_path, prof);
  const double cal_s = std::chrono::duration<double>(Clock::now() - c0).count();
  fmt::print(out, "5. calibrate --quick ({:.0f} s): peak {:.1f} GFLOP/s, DRAM triad {:.1f} GB/s, "
                  "dispatch {:.2f} us per op -> {}\n",
             cal_s, prof.value_or("peak_flops_fp32", 0) * 1e-9,
             prof.value_or("dram_triad_bytes_per_s", 0) * 1e-9, prof.value_or("dispatch_s", 0) * 1e6,
             profile_path);
  j["profile"] = profile_path;
  j["calibrate_seconds"] = cal_s;

  // 6. Train the cnn on digits with a per-op trace.
  train::TrainConfig tc;
  tc.model = "cnn";
  tc.epochs = 3;
  tc.batch = 32;
  tc.trace = (std::filesystem::path(d.dir) / "cnn-trace.h5").string();
  tc.progress = !opts.json;
  const train::TrainResult tr = train::run_training(tc);
  fmt::print(out, "6. train cnn on digits: {} epochs, {} steps of batch {}, test accuracy {:.1f}%, "
                  "{:.2f} ms/step -> {}\n",
             tr.epochs, tr.steps, tc.batch, 100 * tr.test_accuracy, tr.ms_per_step, tc.trace);
  j["train"] = {{"model", tc.model}, {"steps", tr.steps}, {"test_accuracy", tr.test_accuracy},
                {"ms_per_step", tr.ms_per_step}, {"trace", tc.trace}};

  // 7. walls compare: predicted from the profile and the trace's FLOPs and bytes only.
  const Trace t = read_trace(tc.trace);
  const calibrate::CompareResult r = calibrate::compare_trace(prof, t);
  static const char* kWall[] = {"-", "compute", "memory", "software"};
  const char* binds = r.binding_wall >= 1 && r.binding_wall <= 3 ? kWall[r.binding_wall] : "-";
  fmt::print(out, "7. walls compare: step predicted {:.3f} ms, measured {:.3f} ms ({:+.1f}%); binding "
                  "wall {} ({}: compute {:.3f} ms, memory {:.3f} ms, dispatch {:.3f} ms)\n",
             r.predicted_step_s * 1e3, r.measured_step_s * 1e3, 100 * r.step_error, r.binding_wall,
             binds, r.compute_s * 1e3, r.memory_s * 1e3, r.dispatch_s * 1e3);
  j["compare"] = {{"predicted_step_s", r.predicted_step_s}, {"measured_step_s", r.measured_step_s},
                  {"step_error", r.step_error}, {"binding_wall", r.binding_wall}};
  if (calibrate::gnuplot_available()) {
    std::vector<std::string> plots = calibrate::plot_profile(prof, d.dir);
    const std::string roof = (std::filesystem::path(d.dir) / "roofline-cnn.svg").string();
    calibrate::plot_roofline(prof, r.points, "cnn on " + r.machine.name, roof);
    plots.push_back(roof);
    fmt::print(out, "   plots: {}\n", fmt::join(plots, ", "));
    j["plots"] = plots;
  } else {
    fmt::print(out, "   (no plots: gnuplot not found; scripts/install-deps installs gnuplot-nox)\n");
  }
  fmt::print(out, "   per op class: bstack walls compare --profile {} --trace {}\n", profile_path,
             tc.trace);

  if (opts.json) fmt::print("{}\n", j.dump());
  return same ? 0 : 1;
}

}  // namespace bstack::cli
