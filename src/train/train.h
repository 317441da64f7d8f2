// The training loop behind `bstack train`: data, model from the zoo, optimizer, epochs with a
// progress bar, validation each epoch, a final test evaluation, atomic checkpoints and
// bit-identical resume (model, optimizer state and the epoch are saved; batch order depends
// only on (seed, epoch); same seed and thread count give the same numbers).
//
// Data (--data): "digits" (the shipped data/digits.csv.gz, the default for image models), a
// digits-layout CSV path, "idx:IMAGES,LABELS" (MNIST / Fashion-MNIST), "cifar10:F1[,F2...]";
// for gpt-tiny a text file (default /usr/share/common-licenses/GPL-3).
#pragma once

#include "src/tensor.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace bstack {
class Profiler;
namespace nn { class Module; }
namespace optim { class Optimizer; }
}  // namespace bstack

namespace bstack::train {

// What a data-parallel runtime plugs into the loop (dist::DataParallel implements it; src/ knows
// no MPI). With one, every rank runs this loop on its shard of each global batch (the loader's
// shard()), gradients are averaged across ranks inside backward(), and rank 0 alone prints,
// checkpoints and writes the trace at the given path (rank r > 0: PATH.rank<r>.h5).
class Parallel {
 public:
  using MakeOptimizer = std::function<std::unique_ptr<optim::Optimizer>(std::vector<Tensor>)>;
  virtual ~Parallel() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Once, before the first step: compares `signature` (model, data, settings, parameter shapes)
  // across ranks and throws naming the ranks and the fields that differ; makes every rank's
  // parameters rank 0's; may replace the optimizer (ZeRO-1 shards its state), using `make`.
  virtual void setup(nn::Module& model, std::unique_ptr<optim::Optimizer>& opt, const std::string& signature,
                     const MakeOptimizer& make) = 0;
  // loss.backward(); the parameters' gradients are the average over ranks when it returns.
  virtual void backward(const Tensor& loss) = 0;
  // Elementwise sum over ranks, in place (metrics).
  virtual void sum(std::vector<double>& v) = 0;
  // After each training step: adds the step's communication to the profiler (may be null).
  virtual void end_step(Profiler* prof) = 0;
  virtual std::string describe() const = 0;  // "2 ranks, mpi (ring), 1 MiB buckets, overlap"
  // Totals over the run so far: seconds spent in backward (compute and communication in flight)
  // and seconds waited for communication after backward ended.
  virtual double backward_seconds() const = 0;
  virtual double exposed_seconds() const = 0;
};

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
  Parallel* parallel = nullptr;  // data-parallel over ranks (dist/); null: this process alone
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
  int64_t ranks = 1;
  // Data-parallel runs: ms per step in backward, and waited for communication after it.
  double backward_ms_per_step = 0, exposed_comm_ms_per_step = 0;
  // The bstack allocator's peak during the training steps (forward, loss, backward, optimizer
  // step; evaluation excluded), above what the data set held before the model was built
  // (data_memory_bytes: the loaded data and its splits, resident for the whole run). What "will it
  // fit" predicts (calibrate/model_workload.h) and is checked against.
  int64_t peak_memory_bytes = 0, data_memory_bytes = 0;
  std::vector<EpochStats> history;
  // gpt-tiny only: the unigram entropy of the training text (nats/char) and a generated sample.
  double unigram_entropy = 0;
  std::string sample;
};

// Where the shipped data lives (the source tree's data/, or $BSTACK_DATA_DIR).
std::string data_dir();

TrainResult run_training(const TrainConfig& cfg);

// One batch's forward pass as the training step runs it: the mean cross-entropy of the logits
// (over the last dim) against y, and how many predictions are correct (argmax, no gradient).
// Shared with calibrate's ops section, which times exactly what a training step runs.
std::pair<Tensor, int64_t> loss_and_correct(nn::Module& m, const Tensor& x, const Tensor& y);

}  // namespace bstack::train
