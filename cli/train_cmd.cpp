#include "cli/train_cmd.h"

#include "kernels/parallel.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace bstack::cli {

void add_train_options(CLI::App* cmd, train::TrainConfig& c) {
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
  cmd->add_option("--resume", c.resume, "continue from a checkpoint written by --save")->check(CLI::ExistingFile);
}

int run_train(const GlobalOptions& opts, train::TrainConfig cfg) {
  cfg.progress = !opts.json;
  std::FILE* out = opts.json ? stderr : stdout;
  fmt::print(out, "training {} ({} threads), seed {}\n", cfg.model, kernels::num_threads(), cfg.seed);
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
  if (!r.sample.empty()) {
    fmt::print(out, "unigram entropy of the text: {:.4f} nats/char (validation loss above)\n", r.unigram_entropy);
    fmt::print(out, "sample:\n{}\n", r.sample);
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
                        {"samples_per_s", r.samples_per_s}};
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
