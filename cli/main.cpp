// bstack: the command line. Parses arguments (CLI11) and calls the libraries; nothing else.
// Exit codes: 0 success, 1 runtime error (bstack::Error and friends), 2 usage error.
#include "bstack_build_info.h"
#include "cli/calibrate_cmd.h"
#include "cli/demo.h"
#include "cli/train_cmd.h"
#include "cli/tune_cmd.h"
#include "cli/walls_cmd.h"
#include "cli/walls_predict.h"
#include "dist/comm.h"
#include "src/io/tune_cache.h"
#include "kernels/parallel.h"
#include "src/error.h"
#include "src/util/progress.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <exception>
#include <string>

namespace {

std::string version_text() {
  return fmt::format("bstack {}\nbuild: {}, {}; CUDA {}, NCCL {}; sanitizers: {}\n", BSTACK_VERSION,
                     BSTACK_BUILD_TYPE, BSTACK_COMPILER, BSTACK_BUILD_CUDA, BSTACK_BUILD_NCCL,
                     std::string(BSTACK_BUILD_SANITIZE).empty() ? "none" : BSTACK_BUILD_SANITIZE);
}

int report_error(const std::string& message, bool json) {
  fmt::print(stderr, "bstack: error: {}\n", message);
  if (json) fmt::print("{}\n", nlohmann::json{{"error", message}}.dump());
  return 1;
}

// Whether --json was asked for, read from argv itself: after a parse error the parsed
// options may not have got that far, yet the caller still expects one JSON object.
bool json_requested(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--") break;
    if (a == "--json") return true;
  }
  return false;
}

// A usage error (exit 2): the message on stderr as CLI11 printed it, and under --json also
// {"error": ..., "usage": true} on stdout.
int usage_error(const std::string& message, bool json) {
  if (json) fmt::print("{}\n", nlohmann::json{{"error", message}, {"usage", true}}.dump());
  return 2;
}

// After an error on one rank of an mpirun job, the other ranks would wait for it in a collective
// forever: end them all (MPI_Abort) instead. Without a launcher: just the exit code.
int end_all_ranks(int code) {
  if (bstack::dist::Communicator::under_launcher() && bstack::dist::Communicator::world().size() > 1)
    bstack::dist::Communicator::world().abort(code);
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  bstack::cli::GlobalOptions opts;
  CLI::App app{"bstack: the ML-systems stack from board to cluster: a multithreaded tensor\n"
               "library with autograd, measured on the machine it runs on."};
  app.name("bstack");
  app.set_version_flag("--version", version_text());
  app.add_flag("--json", opts.json, "Print one JSON object on stdout (human text goes to stderr)");
  app.add_option("--threads", opts.threads, "Threads for bstack's kernels (default: all cores)")
      ->check(CLI::Range(1, 4096));
  app.require_subcommand(0, 1);
  app.fallthrough();

  bstack::cli::DemoOptions demo_opts;
  CLI::App* demo = app.add_subcommand(
      "demo", "The whole loop on this machine in about a minute: autograd and a gradient check,\n"
              "then calibrate --quick -> train the cnn on digits with a trace -> walls compare\n"
              "(step time predicted vs measured, the binding wall, a roofline plot)");
  demo->add_option("--dir", demo_opts.dir, "Where the profile, the trace and the plots go")
      ->capture_default_str();

  bstack::cli::TrainOptions train_cfg;
  CLI::App* train = app.add_subcommand(
      "train", "Train a zoo model (perceptron, mlp, cnn on the shipped digits; gpt-tiny on text)\n"
               "with a progress bar, validation each epoch, test accuracy, checkpoints and resume;\n"
               "under `mpirun -np P` data-parallel over the ranks (MPI or NCCL)");
  bstack::cli::add_train_options(train, train_cfg);

  bstack::cli::TuneOptions tune_opts;
  CLI::App* tune = app.add_subcommand(
      "tune", "Autotune the kernels for this machine (GEMM block sizes, micro-kernel, threads)\n"
              "and write the tuning cache every later run uses automatically");
  bstack::cli::add_tune_options(tune, tune_opts);

  bstack::cli::CalibrateOptions calibrate_opts;
  CLI::App* calibrate = app.add_subcommand(
      "calibrate", "Measure this machine (memory bandwidth and latency, FMA and int8 peaks, GEMM\n"
                   "efficiency, dispatch tax, data path; under mpirun the interconnect and the\n"
                   "ranks' slowdown of each other) and write the profile walls/ predicts from");
  bstack::cli::add_calibrate_options(calibrate, calibrate_opts);

  bstack::cli::WallsOptions walls_opts;
  CLI::App* walls = app.add_subcommand(
      "walls", "The 22 systems walls (MLSys-im): list them, or explain one and the profile fields\n"
               "that feed it");
  const bstack::cli::WallsCommands walls_cmds = bstack::cli::add_walls_commands(walls, walls_opts);
  bstack::cli::WallsPredictOptions walls_predict_opts;
  const bstack::cli::WallsPredictCommands walls_predict_cmds =
      bstack::cli::add_walls_predict_commands(walls, walls_predict_opts);

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, --version
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);  // prints the message and "Run with --help for more information."
    return usage_error(e.what(), json_requested(argc, argv));
  }

  bstack::set_progress_quiet(opts.json);
  if (opts.threads > 0) bstack::kernels::set_num_threads(opts.threads);
  try {
    if (!tune->parsed()) bstack::load_tuning_cache_quietly();
    if (tune->parsed()) return bstack::cli::run_tune(opts, tune_opts);
    if (calibrate->parsed()) return bstack::cli::run_calibrate(opts, calibrate_opts);
    if (demo->parsed()) return bstack::cli::run_demo(opts, demo_opts);
    if (train->parsed()) return bstack::cli::run_train(opts, train_cfg);
    if (walls_cmds.list->parsed()) return bstack::cli::run_walls_list(opts);
    if (walls_cmds.show->parsed()) return bstack::cli::run_walls_show(opts, walls_opts);
    if (walls_predict_cmds.predict->parsed())
      return bstack::cli::run_walls_predict(opts, walls_predict_opts);
    if (walls_predict_cmds.sensitivity->parsed())
      return bstack::cli::run_walls_sensitivity(opts, walls_predict_opts);
    if (walls_predict_cmds.synthesis->parsed())
      return bstack::cli::run_walls_synthesis(opts, walls_predict_opts);
    if (walls_cmds.compare->parsed()) return bstack::cli::run_walls_compare(opts, walls_opts);
  } catch (const bstack::Error& e) {
    return end_all_ranks(report_error(e.what(), opts.json));
  } catch (const std::exception& e) {
    return end_all_ranks(report_error(fmt::format("unexpected failure: {}", e.what()), opts.json));
  }
  fmt::print(stderr, "{}\nbstack: error: a command is required (see the list above)\n", app.help());
  return usage_error("a command is required", opts.json);
}
