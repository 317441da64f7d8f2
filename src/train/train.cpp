#include "src/train/train.h"
#include "src/util/strings.h"

#include "bstack_build_info.h"
#include "kernels/parallel.h"
#include "src/data/loader.h"
#include "src/io/tensor_io.h"
#include "src/nn/loss.h"
#include "src/nn/zoo.h"
#include "src/ops.h"
#include "src/optim/optim.h"
#include "src/profile/profiler.h"
#include "src/storage.h"
#include "src/util/progress.h"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fmt/format.h>
#include <map>
#include <optional>

namespace bstack::train {

std::pair<Tensor, int64_t> loss_and_correct(nn::Module& m, const Tensor& x, const Tensor& y) {
  Tensor logits = m.forward(x);
  const int64_t V = logits.size(-1);
  Tensor flat = logits.reshape({-1, V});
  Tensor target = y.reshape({-1});
  Tensor loss = nn::cross_entropy(flat, target);
  NoGradGuard ng;
  const int64_t correct = static_cast<int64_t>(sum(eq(argmax(flat.detach(), 1), target)).item());
  return {loss, correct};
}

using Clock = std::chrono::steady_clock;

std::string data_dir() {
  if (const char* d = std::getenv("BSTACK_DATA_DIR")) return d;
  return BSTACK_SOURCE_DIR "/data";
}

namespace {

struct Loaded {
  data::Dataset all;
  nn::ModelSpec spec;
  std::string source;
  data::CharTokenizer tok;
  double unigram_entropy = 0;
};

Loaded load(const TrainConfig& cfg) {
  Loaded l;
  l.spec.name = cfg.model;
  if (cfg.model == "gpt-tiny") {
    l.source = cfg.data.empty() ? "/usr/share/common-licenses/GPL-3" : cfg.data;
    const std::string text = data::read_file(l.source);
    l.tok = data::CharTokenizer(text);
    const std::vector<int64_t> ids = l.tok.encode(text);
    std::vector<double> count(l.tok.size(), 0);
    for (int64_t id : ids) count[id] += 1;
    for (double c : count)
      if (c > 0) l.unigram_entropy -= c / ids.size() * std::log(c / ids.size());
    l.all = data::text_windows(ids, nn::GPTConfig{}.context);
    l.spec.vocab = l.tok.size();
    return l;
  }
  const std::string d = cfg.data.empty() ? "digits" : cfg.data;
  if (d == "digits") {
    l.source = data_dir() + "/digits.csv.gz";
    l.all = data::load_digits(l.source);
  } else if (d.rfind("idx:", 0) == 0) {
    const auto parts = split_commas(d.substr(4));
    BSTACK_CHECK(parts.size() == 2, "--data idx:IMAGES,LABELS needs two files, got '{}'", d);
    l.source = d;
    l.all = data::load_idx(parts[0], parts[1]);
  } else if (d.rfind("cifar10:", 0) == 0) {
    l.source = d;
    l.all = data::load_cifar10(split_commas(d.substr(8)));
  } else {
    l.source = d;
    l.all = data::load_digits(d);
  }
  l.spec.input = Shape(l.all.x.shape().begin() + 1, l.all.x.shape().end());
  l.spec.classes = static_cast<int64_t>(max(l.all.y).item()) + 1;
  if (l.spec.classes < 2) l.spec.classes = 2;
  return l;
}

std::pair<Tensor, int64_t> loss_and_correct(nn::Module& m, const data::Batch& b) {
  return train::loss_and_correct(m, b.x, b.y);
}

std::pair<double, double> evaluate(nn::Module& m, const data::Dataset& d, int64_t batch) {
  if (d.size() == 0) return {0, 0};
  NoGradGuard ng;
  m.eval();
  data::DataLoader dl(d, batch, false, false, 0);
  dl.start_epoch(0);
  data::Batch b;
  double loss = 0;
  int64_t correct = 0, count = 0;
  while (dl.next(b)) {
    auto [l, c] = loss_and_correct(m, b);
    const int64_t n = b.y.numel();
    loss += l.item() * n;
    correct += c;
    count += n;
  }
  m.train();
  return {loss / count, static_cast<double>(correct) / count};
}

std::unique_ptr<optim::Optimizer> make_optimizer(const TrainConfig& c, std::vector<Tensor> params) {
  if (c.optimizer == "adam") return std::make_unique<optim::Adam>(params, optim::AdamOptions{.lr = c.lr, .weight_decay = c.weight_decay});
  if (c.optimizer == "adamw")
    return std::make_unique<optim::Adam>(params, optim::AdamOptions{.lr = c.lr, .weight_decay = c.weight_decay, .decoupled = true});
  if (c.optimizer == "sgd")
    return std::make_unique<optim::SGD>(params, optim::SGDOptions{.lr = c.lr, .momentum = 0.9, .weight_decay = c.weight_decay});
  fail("unknown optimizer '{}' (choose adam, adamw or sgd)", c.optimizer);
}

constexpr const char* kFormat = "bstack-checkpoint";

// `opt_state` is opt.state(), taken by the caller: under ZeRO-1 that call gathers the sharded
// state from every rank, so all ranks make it and rank 0 alone writes.
void write_training_checkpoint(const std::string& path, const TrainConfig& c, const nn::Module& m,
                               const optim::Optimizer& opt, const std::map<std::string, Tensor>& opt_state,
                               int64_t next_epoch, const data::CharTokenizer& tok) {
  H5Writer w(path, kFormat, 1);
  for (const auto& [n, t] : m.state_dict()) write_tensor(w, "state/" + n, t);
  for (const auto& [n, t] : opt_state) write_tensor(w, "optim/" + n, t);
  w.attr("/", "model", c.model);
  w.attr("train", "next_epoch", next_epoch);
  w.attr("train", "optimizer_steps", opt.steps());
  w.attr("train", "optimizer", c.optimizer);
  w.attr("train", "seed", static_cast<int64_t>(c.seed));
  w.attr("train", "batch", c.batch);
  w.attr("train", "vocab", tok.vocab());
  w.commit();
}

std::map<std::string, Tensor> read_group(const H5Reader& r, const std::string& group) {
  std::map<std::string, Tensor> out;
  if (!r.has(group)) return out;
  // Names may contain '.', never '/', so one level of listing is enough.
  for (const auto& n : r.list(group)) out[n] = read_tensor(r, group + "/" + n);
  return out;
}

// What every rank must agree on before a data-parallel run: the model and its parameter shapes,
// the data (size and a checksum of its bytes) and the settings that shape the batches and updates.
std::string run_signature(const TrainConfig& c, const nn::Module& m, const data::Dataset& all, const std::string& source) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a over the data's bytes
  for (const Tensor* t : {&all.x, &all.y}) {
    const Tensor ct = t->contiguous();
    const auto* p = static_cast<const unsigned char*>(ct.data_ptr());
    const size_t n = static_cast<size_t>(ct.numel()) * dtype_size(ct.dtype());
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  }
  std::string shapes;
  for (const auto& [n, t] : m.named_parameters()) shapes += n + shape_str(t.shape()) + " ";
  return fmt::format("model={}\ndata={} ({} samples, checksum {:016x})\nbatch={}\nseed={}\nepochs={}\n"
                     "optimizer={} lr={} weight_decay={}\nmax_steps={}\nresume={}\nparameters={}",
                     c.model, source, all.size(), h, c.batch, c.seed, c.epochs, c.optimizer, c.lr,
                     c.weight_decay, c.max_steps_per_epoch, c.resume.empty() ? "no" : "yes", shapes);
}

// The trace of rank r > 0 goes beside rank 0's: run.h5 -> run.rank1.h5.
std::string rank_path(const std::string& path, int rank) {
  if (rank == 0) return path;
  const size_t dot = path.rfind('.'), slash = path.rfind('/');
  const bool has_ext = dot != std::string::npos && (slash == std::string::npos || dot > slash);
  return has_ext ? fmt::format("{}.rank{}{}", path.substr(0, dot), rank, path.substr(dot))
                 : fmt::format("{}.rank{}", path, rank);
}

}  // namespace

TrainResult run_training(const TrainConfig& cfg) {
  BSTACK_CHECK(cfg.epochs >= 1, "--epochs must be at least 1, got {}", cfg.epochs);
  BSTACK_CHECK(cfg.batch >= 1, "--batch must be at least 1, got {}", cfg.batch);
  BSTACK_CHECK(cfg.lr > 0, "--lr must be positive, got {}", cfg.lr);
  Loaded l = load(cfg);
  const data::Splits sp = data::split(l.all, cfg.val_frac, cfg.test_frac, cfg.seed);

  Parallel* par = cfg.parallel;
  const int rank = par ? par->rank() : 0, ranks = par ? par->size() : 1;
  // Everything the allocator holds now is the data set (loaded, split): the baseline the training
  // peak is measured above.
  const int64_t data_bytes = memory_stats().allocated;
  int64_t peak_bytes = 0;
  Generator init(cfg.seed);
  std::shared_ptr<nn::Module> model = nn::make_model(l.spec, init);
  auto opt = make_optimizer(cfg, model->parameters());
  if (par)
    par->setup(*model, opt, run_signature(cfg, *model, l.all, l.source),
               [&cfg](std::vector<Tensor> ps) { return make_optimizer(cfg, std::move(ps)); });
  int64_t first_epoch = 0;
  if (!cfg.resume.empty()) {
    H5Reader r(cfg.resume, kFormat, 1, 1);
    BSTACK_CHECK(r.attr_string("/", "model") == cfg.model, "{}: holds a '{}' model, --model is '{}'",
                 cfg.resume, r.attr_string("/", "model"), cfg.model);
    BSTACK_CHECK(r.attr_string("train", "optimizer") == cfg.optimizer, "{}: was trained with {}, --optimizer is {}",
                 cfg.resume, r.attr_string("train", "optimizer"), cfg.optimizer);
    model->load_state_dict(read_group(r, "state"), cfg.resume);
    opt->load_state(read_group(r, "optim"), r.attr_int("train", "optimizer_steps"));
    first_epoch = r.attr_int("train", "next_epoch");
    BSTACK_CHECK(first_epoch < cfg.epochs, "{}: already trained {} epochs; --epochs {} leaves nothing to do (give "
                 "the total, more than {})", cfg.resume, first_epoch, cfg.epochs, first_epoch);
  }

  TrainResult res;
  res.model = cfg.model;
  res.data = l.source;
  res.parameters = model->num_parameters();
  res.train_size = sp.train.size();
  res.val_size = sp.val.size();
  res.test_size = sp.test.size();
  res.unigram_entropy = l.unigram_entropy;
  res.ranks = ranks;

  data::DataLoader loader(sp.train, cfg.batch, true, false, cfg.seed);
  if (par) loader.shard(rank, ranks);
  const bool show = cfg.progress && rank == 0;
  Profiler prof;
  double train_seconds = 0;
  int64_t steps = 0, samples = 0;
  for (int64_t epoch = first_epoch; epoch < cfg.epochs; ++epoch) {
    loader.start_epoch(epoch);
    int64_t nb = loader.batches_per_epoch();
    if (cfg.max_steps_per_epoch > 0) nb = std::min(nb, cfg.max_steps_per_epoch);
    const int64_t epoch_samples = std::min(nb * cfg.batch, sp.train.size());
    Progress bar(fmt::format("epoch {}/{}", epoch + 1, cfg.epochs), epoch_samples,
                 show && progress_default_enabled());
    bar.set_unit("samples/s");
    int64_t epoch_done = 0;
    double loss_sum = 0;
    int64_t correct = 0, count = 0;
    const auto t0 = Clock::now();
    data::Batch b;
    for (int64_t i = 0; i < nb && loader.next(b); ++i) {
      const auto s0 = Clock::now();
      reset_peak_memory();
      std::optional<ProfileScope> scope;
      if (!cfg.trace.empty()) scope.emplace(prof);
      auto [loss, c] = loss_and_correct(*model, b);
      opt->zero_grad();
      if (par) {
        // Ranks hold shards of one global batch; when the shards differ in size (a batch not
        // divisible by the ranks) each rank's mean loss is weighted by its share, so the averaged
        // gradient is the gradient of the global batch's mean loss, as on one rank.
        const int64_t local = b.y.size(0), global = loader.global_batch_size(b.index);
        if (local * ranks == global)
          par->backward(loss);
        else
          par->backward(loss * (static_cast<double>(local) * ranks / static_cast<double>(global)));
      } else {
        loss.backward();
      }
      opt->step();
      peak_bytes = std::max(peak_bytes, memory_stats().peak_allocated - data_bytes);
      scope.reset();
      if (par) par->end_step(cfg.trace.empty() ? nullptr : &prof);
      if (!cfg.trace.empty()) prof.end_step(std::chrono::duration<double>(Clock::now() - s0).count());
      const int64_t n = b.y.numel();
      loss_sum += loss.item() * n;
      correct += c;
      count += n;
      const int64_t global_n = par ? loader.global_batch_size(b.index) : b.y.size(0);
      samples += global_n;
      epoch_done += global_n;
      ++steps;
      bar.update(epoch_done, fmt::format("loss {:.4f} acc {:.3f}", loss_sum / count, static_cast<double>(correct) / count));
    }
    bar.finish();
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    train_seconds += secs;
    if (par) {  // the epoch's figures over every rank's shard
      std::vector<double> v{loss_sum, static_cast<double>(correct), static_cast<double>(count)};
      par->sum(v);
      loss_sum = v[0];
      correct = static_cast<int64_t>(v[1]);
      count = static_cast<int64_t>(v[2]);
    }
    EpochStats e;
    e.epoch = epoch + 1;
    e.train_loss = loss_sum / count;
    e.train_accuracy = static_cast<double>(correct) / count;
    std::tie(e.val_loss, e.val_accuracy) = evaluate(*model, sp.val, 256);
    e.seconds = secs;
    res.history.push_back(e);
    if (!cfg.save.empty()) {
      const auto opt_state = opt->state();  // collective under ZeRO-1
      if (rank == 0) write_training_checkpoint(cfg.save, cfg, *model, *opt, opt_state, epoch + 1, l.tok);
    }
  }
  res.epochs = cfg.epochs;
  res.steps = steps;
  res.final_train_loss = res.history.empty() ? 0 : res.history.back().train_loss;
  res.ms_per_step = steps ? 1e3 * train_seconds / steps : 0;
  res.peak_memory_bytes = peak_bytes;
  res.data_memory_bytes = data_bytes;
  res.samples_per_s = train_seconds > 0 ? samples / train_seconds : 0;
  if (par && steps > 0) {
    res.backward_ms_per_step = 1e3 * par->backward_seconds() / steps;
    res.exposed_comm_ms_per_step = 1e3 * par->exposed_seconds() / steps;
  }
  std::tie(res.test_loss, res.test_accuracy) = evaluate(*model, sp.test, 256);
  if (!cfg.trace.empty()) prof.save(rank_path(cfg.trace, rank), cfg.model, kernels::num_threads());
  if (auto* gpt = dynamic_cast<nn::GPT*>(model.get())) {
    Generator g(cfg.seed + 1);
    const std::vector<int64_t> row = sp.test.size() ? sp.test.x.select(0, 0).to_vector_as<int64_t>()
                                                    : sp.train.x.select(0, 0).to_vector_as<int64_t>();
    const std::vector<int64_t> prompt(row.begin(), row.begin() + std::min<size_t>(8, row.size()));
    res.sample = l.tok.decode(gpt->generate(prompt, 200, 0.8, g, true));
  }
  return res;
}

}  // namespace bstack::train
