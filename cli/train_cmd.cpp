#include "cli/train_cmd.h"

#include "calibrate/model_workload.h"
#include "cli/units.h"
#include "kernels/parallel.h"
#include "walls/footprint.h"

#include <cmath>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

namespace bstack::cli {

namespace {
// "Will it fit?" before the run: the peak one rank's training step holds (calibrate/
// model_workload.h: parameters, gradients, optimizer state, activations, workspace, from shapes),
// against this machine's RAM. NaN when the model cannot be described (the run then reports its
// own error).
double predict_peak_memory(const train::TrainConfig& cfg, int ranks, std::FILE* out) {
  const int64_t local_batch = (cfg.batch + ranks - 1) / ranks;
  walls::Workload w;
  try {
    w = calibrate::model_workload({.model = cfg.model, .batch = local_batch, .optimizer = cfg.optimizer,
                                   .training = true, .data = cfg.data});
  } catch (const Error& e) {
    fmt::print(out, "memory: no prediction ({})\n", e.what());
    return std::nan("");
  }
  const walls::MemoryInventory& m = w.memory;
  const double ram = double(sysconf(_SC_PHYS_PAGES)) * double(sysconf(_SC_PAGESIZE));
  const walls::MemoryFit fit = walls::memory_fit(m.total(), ram);
  fmt::print(out, "memory: predicted peak {} (params {}, grads {}, optimizer {}, activations {}, workspace {}) of {} "
             "RAM{}\n", human(m.total(), "B"), human(m.parameter_bytes, "B"), human(m.gradient_bytes, "B"),
             human(m.optimizer_bytes, "B"), human(m.activation_bytes, "B"), human(m.workspace_bytes, "B"),
             human(ram, "B"), ranks > 1 ? fmt::format(" per rank (batch {})", local_batch) : std::string());
  if (!fit.fits)
    fmt::print(stderr, "warning: this run needs about {} at its peak, {:.2f} times this machine's {} of RAM: it "
               "will not fit (lower --batch)\n", human(m.total(), "B"), fit.times, human(ram, "B"));
  return m.total();
}
}  // namespace

void add_train_options(CLI::App* cmd, TrainOptions& o) {
  train::TrainConfig& c = o.cfg;
  cmd->add_option("--model", c.model, "perceptron | mlp | cnn | gpt-tiny")
      ->check(CLI::IsMember({"perceptron", "mlp", "cnn", "gpt-tiny"}))
      ->capture_default_str();
  cmd->add_option("--data", c.data,
                  "digits (shipped; default for image models) | PATH.csv[.gz] | idx:IMAGES,LABELS | "
                  "cifar10:F1[,F2..] | a text file for gpt-tiny (default GPL-3)");
  cmd->add_option("--epochs", c.epochs, "passes over the training split")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--batch", c.batch, "batch size")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--lr", c.lr, "learning rate")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--optimizer", c.optimizer, "adam | adamw | sgd (momentum 0.9)")
      ->check(CLI::IsMember({"adam", "adamw", "sgd"}))
      ->capture_default_str();
  cmd->add_option("--weight-decay", c.weight_decay, "L2 (adam, sgd) or decoupled (adamw)")->capture_default_str();
  cmd->add_option("--seed", c.seed, "seeds the split, the initial weights and the batch order")->capture_default_str();
  cmd->add_option("--max-steps", c.max_steps_per_epoch, "cap on steps per epoch (0 = all)")->capture_default_str();
  cmd->add_option("--save", c.save, "write a checkpoint (HDF5) after every epoch");
  cmd->add_option("--trace", c.trace, "write the per-op profile (FLOPs, bytes, time) of every step (HDF5)");
  cmd->add_option("--resume", c.resume, "continue from a checkpoint written by --save (with any number of ranks)")
      ->check(CLI::ExistingFile);
  auto* g = cmd->add_option_group("data-parallel", "under `mpirun -np P` (P > 1): --batch is the global batch, split "
                                  "over the ranks");
  g->add_option("--backend", o.dp.backend, "mpi | nccl (one GPU per rank)")
      ->check(CLI::IsMember({"mpi", "nccl"}))
      ->capture_default_str();
  g->add_option("--allreduce", o.allreduce, "the gradient all-reduce: ring | rd (recursive doubling) | "
                "rabenseifner (bstack's own, non-blocking) | mpi (MPI_Iallreduce); default ring (with --backend "
                "nccl: NCCL's own)")
      ->check(CLI::IsMember({"mpi", "ring", "rd", "recursive-doubling", "rabenseifner"}));
  g->add_option("--bucket-kb", o.bucket_kb, "gradient bucket size in KiB (0: one all-reduce after backward)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  g->add_flag("--no-overlap", o.no_overlap, "start the buckets' all-reduces after backward, not during it");
  g->add_flag("--zero", o.dp.zero1, "ZeRO-1: shard the optimizer state over the ranks (reduce-scatter + all-gather)");
  g->add_option("--dist-timeout", o.dp.timeout_s, "seconds a rank waits for the others' gradients before giving up")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
}

int run_train(const GlobalOptions& opts, TrainOptions o) {
  train::TrainConfig& cfg = o.cfg;
  cfg.progress = !opts.json;
  std::unique_ptr<dist::DataParallel> dp;
  dist::Communicator& world = dist::Communicator::world();
  if (world.size() > 1) {
    o.dp.algorithm = !o.allreduce.empty()     ? dist::parse_algorithm(o.allreduce)
                     : o.dp.backend == "nccl" ? dist::Algorithm::Mpi
                                              : dist::Algorithm::Ring;
    o.dp.bucket_bytes = static_cast<size_t>(o.bucket_kb * 1024);
    o.dp.overlap = !o.no_overlap;
    dp = std::make_unique<dist::DataParallel>(o.dp, world);
    cfg.parallel = dp.get();
  }
  // Rank 0 speaks for the job; the other ranks train silently (their errors still print).
  std::FILE* out = opts.json ? stderr : stdout;
  if (world.rank() != 0) {
    out = std::fopen("/dev/null", "w");
    BSTACK_CHECK(out != nullptr, "cannot open /dev/null");
  }
  fmt::print(out, "training {} ({} threads{}), seed {}\n", cfg.model, kernels::num_threads(),
             dp ? fmt::format(" per rank; {}", dp->describe()) : std::string(), cfg.seed);
  const double predicted_peak = predict_peak_memory(cfg, world.size(), out);
  const train::TrainResult r = train::run_training(cfg);
  fmt::print(out, "data: {} ({} train / {} validation / {} test), {} parameters\n", r.data, r.train_size,
             r.val_size, r.test_size, r.parameters);
  fmt::print(out, "{:>5} {:>10} {:>9} {:>10} {:>9} {:>8}\n", "epoch", "train loss", "train acc", "val loss",
             "val acc", "seconds");
  for (const auto& e : r.history)
    fmt::print(out, "{:>5} {:>10.4f} {:>9.4f} {:>10.4f} {:>9.4f} {:>8.2f}\n", e.epoch, e.train_loss,
               e.train_accuracy, e.val_loss, e.val_accuracy, e.seconds);
  fmt::print(out, "test: loss {:.4f}, accuracy {:.4f}; {:.2f} ms/step, {:.0f} samples/s\n", r.test_loss,
             r.test_accuracy, r.ms_per_step, r.samples_per_s);
  fmt::print(out, "memory: measured peak {} (allocator, training steps, above the data set's {}){}\n",
             human(static_cast<double>(r.peak_memory_bytes), "B"), human(static_cast<double>(r.data_memory_bytes), "B"),
             std::isnan(predicted_peak) || r.peak_memory_bytes <= 0
                 ? std::string()
                 : fmt::format("; predicted {} ({:+.1f}%)", human(predicted_peak, "B"),
                               100 * (predicted_peak - r.peak_memory_bytes) / r.peak_memory_bytes));
  if (dp)
    fmt::print(out, "rank 0 per step: backward {:.2f} ms (communication in flight), then {:.2f} ms waiting for "
               "the gradients' all-reduce\n", r.backward_ms_per_step, r.exposed_comm_ms_per_step);
  if (!r.sample.empty()) {
    fmt::print(out, "unigram entropy of the text: {:.4f} nats/char (validation loss above)\n", r.unigram_entropy);
    fmt::print(out, "sample:\n{}\n", r.sample);
  }
  if (world.rank() != 0) {
    std::fclose(out);
    return 0;
  }
  if (opts.json) {
    nlohmann::json j = {{"model", r.model},
                        {"data", r.data},
                        {"parameters", r.parameters},
                        {"threads", kernels::num_threads()},
                        {"epochs", r.epochs},
                        {"steps", r.steps},
                        {"test_accuracy", r.test_accuracy},
                        {"test_loss", r.test_loss},
                        {"final_train_loss", r.final_train_loss},
                        {"ms_per_step", r.ms_per_step},
                        {"samples_per_s", r.samples_per_s},
                        {"ranks", r.ranks},
                        {"peak_memory_bytes", r.peak_memory_bytes},
                        {"data_memory_bytes", r.data_memory_bytes}};
    if (!std::isnan(predicted_peak)) j["predicted_peak_memory_bytes"] = predicted_peak;
    if (dp) {
      j["backend"] = dp->describe();
      j["backward_ms_per_step"] = r.backward_ms_per_step;
      j["exposed_comm_ms_per_step"] = r.exposed_comm_ms_per_step;
    }
    nlohmann::json hist = nlohmann::json::array();
    for (const auto& e : r.history)
      hist.push_back({{"epoch", e.epoch}, {"train_loss", e.train_loss}, {"train_accuracy", e.train_accuracy},
                      {"val_loss", e.val_loss}, {"val_accuracy", e.val_accuracy}, {"seconds", e.seconds}});
    j["history"] = hist;
    if (!r.sample.empty()) {
      j["unigram_entropy"] = r.unigram_entropy;
      j["sample"] = r.sample;
    }
    fmt::print("{}\n", j.dump());
  }
  return 0;
}

}  // namespace bstack::cli
