// The training loop behind `bstack train`: data, model from the zoo, optimizer, epochs with a
// progress bar, validation each epoch, a final test evaluation, atomic checkpoints and
// bit-identical resume (model, optimizer state and the epoch are saved; batch order depends
// only on (seed, epoch); same seed and thread count give the same numbers).
//
// Data (--data): "digits" (the shipped data/digits.csv.gz, the default for image models), a
// digits-layout CSV path, "idx:IMAGES,LABELS" (MNIST / Fashion-MNIST), "cifar10:F1[,F2...]";
// for gpt-tiny a text file (default /usr/share/common-licenses/GPL-3).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bstack::train {

struct TrainConfig {
  std::string model = "mlp";
  std::string data;  // empty = the model's default
  int64_t epochs = 10, batch = 32;
  double lr = 1e-3, weight_decay = 0;
  std::string optimizer = "adam";  // adam | adamw | sgd (momentum 0.9)
  uint64_t seed = 0;
  double val_frac = 0.1, test_frac = 0.2;
  std::string save, resume;
  std::string trace;  // per-op profile of every training step (HDF5, format bstack-trace)
  int64_t max_steps_per_epoch = 0;  // 0 = all (gpt-tiny's corpus is large)
  bool progress = true;
};

struct EpochStats {
  int64_t epoch = 0;
  double train_loss = 0, train_accuracy = 0, val_loss = 0, val_accuracy = 0, seconds = 0;
};

struct TrainResult {
  std::string model, data;
  int64_t parameters = 0, epochs = 0, steps = 0, train_size = 0, val_size = 0, test_size = 0;
  double test_accuracy = 0, test_loss = 0, final_train_loss = 0;
  double ms_per_step = 0, samples_per_s = 0;
  std::vector<EpochStats> history;
  // gpt-tiny only: the unigram entropy of the training text (nats/char) and a generated sample.
  double unigram_entropy = 0;
  std::string sample;
};

// Where the shipped data lives (the source tree's data/, or $BSTACK_DATA_DIR).
std::string data_dir();

TrainResult run_training(const TrainConfig& cfg);

}  // namespace bstack::train
