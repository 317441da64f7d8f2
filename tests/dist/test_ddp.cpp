// Data-parallel training against one process. Under mpiexec -np P every rank first trains alone on
// the whole global batch (the np = 1 reference, no communication), then trains data-parallel
// on its shard; the parameters after k steps must agree within 1e-5 (relative, per tensor), for
// every all-reduce algorithm, with buckets on and off, with and without overlap, with ZeRO-1,
// for a global batch that the ranks divide unevenly, and for mlp, cnn and gpt-tiny. Checkpoints:
// a run trained for one epoch on P ranks and resumed on one process (and the reverse) ends where
// an uninterrupted run does. Without a launcher (size 1) the same checks run with one rank.
#include "dist/data_parallel.h"
#include "src/io/h5.h"
#include "src/io/tensor_io.h"
#include "src/nn/module.h"
#include "src/ops.h"
#include "src/random.h"
#include "src/train/train.h"
#include "tests/test_util.h"

#include <cmath>
#include <cstdio>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <map>
#include <unistd.h>

namespace bstack {
namespace {

dist::Communicator& world() { return dist::Communicator::world(); }

// A per-rank scratch directory (ranks may share a file system).
std::string scratch(const std::string& name) {
  return fmt::format("{}/bstack_ddp_{}_{}_{}", ::testing::TempDir(), getpid(), world().rank(), name);
}

std::map<std::string, Tensor> params_of(const std::string& ckpt) {
  H5Reader r(ckpt, "bstack-checkpoint", 1, 1);
  std::map<std::string, Tensor> out;
  for (const auto& n : r.list("state")) out[n] = read_tensor(r, "state/" + n);
  for (const auto& n : r.list("optim")) out["optim/" + n] = read_tensor(r, "optim/" + n);
  return out;
}

// max over tensors of ||a - b|| / ||b||
double max_relative_difference(const std::map<std::string, Tensor>& a, const std::map<std::string, Tensor>& b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0;
  for (const auto& [name, tb] : b) {
    auto it = a.find(name);
    if (it == a.end()) {
      ADD_FAILURE() << "missing " << name;
      return INFINITY;
    }
    const std::vector<double> x = it->second.to_vector_as<double>(), y = tb.to_vector_as<double>();
    EXPECT_EQ(x.size(), y.size()) << name;
    double num = 0, den = 0;
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      num += (x[i] - y[i]) * (x[i] - y[i]);
      den += y[i] * y[i];
    }
    const double d = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
    if (d > 1e-5) ADD_FAILURE() << name << ": relative difference " << d << " (norm " << std::sqrt(den) << ")";
    worst = std::max(worst, d);
  }
  return worst;
}

train::TrainConfig config(const std::string& model, int64_t batch, int64_t steps, const std::string& optimizer) {
  train::TrainConfig c;
  c.model = model;
  c.epochs = 1;
  c.batch = batch;
  c.max_steps_per_epoch = steps;
  c.optimizer = optimizer;
  c.lr = optimizer == "sgd" ? 0.05 : 2e-3;
  c.seed = 7;
  c.progress = false;
  if (model == "gpt-tiny") {  // a short text: evaluation and sampling stay quick
    c.data = fmt::format("{}/bstack_ddp_text.txt", ::testing::TempDir());
    if (world().rank() == 0) {
      std::string text;
      for (int i = 0; text.size() < 6000; ++i)
        text += fmt::format("rank {} sends {} bytes to rank {} in round {}. ", i % 3, 64 << (i % 5), (i + 1) % 3, i);
      FILE* f = std::fopen(c.data.c_str(), "w");
      std::fwrite(text.data(), 1, text.size(), f);
      std::fclose(f);
    }
    world().barrier();
  }
  return c;
}

// Trains `c` alone and data-parallel with `o`; returns the largest relative difference of the
// parameters and the optimizer state after training.
double compare_with_one_process(train::TrainConfig c, const dist::DataParallelOptions& o, const std::string& tag) {
  c.save = scratch(tag + "_one.h5");
  train::run_training(c);
  const auto reference = params_of(c.save);
  std::remove(c.save.c_str());

  dist::DataParallel dp(o);
  c.parallel = &dp;
  c.save = scratch(tag + "_dp.h5");
  const bool writer = world().rank() == 0;
  // Rank 0 writes the data-parallel checkpoint; the others read it after a barrier.
  const std::string shared = fmt::format("{}/bstack_ddp_{}_{}.h5", ::testing::TempDir(), tag, world().size());
  c.save = shared;
  train::run_training(c);
  world().barrier();
  const auto got = params_of(shared);
  world().barrier();
  if (writer) std::remove(shared.c_str());
  return max_relative_difference(got, reference);
}

struct Case {
  std::string model, optimizer;
  int64_t batch, steps;
  dist::Algorithm algorithm;
  size_t bucket_bytes;
  bool overlap, zero1;
};

std::string name_of(const Case& k) {
  return fmt::format("{}_{}_b{}_{}_bucket{}_{}{}", k.model, k.optimizer, k.batch, dist::algorithm_name(k.algorithm),
                     k.bucket_bytes, k.overlap ? "overlap" : "after", k.zero1 ? "_zero1" : "");
}

void PrintTo(const Case& k, std::ostream* os) { *os << name_of(k); }

class DataParallelEquivalence : public ::testing::TestWithParam<Case> {};

TEST_P(DataParallelEquivalence, SameParametersAsOneProcess) {
  const Case& k = GetParam();
  dist::DataParallelOptions o;
  o.algorithm = k.algorithm;
  o.bucket_bytes = k.bucket_bytes;
  o.overlap = k.overlap;
  o.zero1 = k.zero1;
  const double d = compare_with_one_process(config(k.model, k.batch, k.steps, k.optimizer), o, name_of(k));
  RecordProperty("max_relative_difference", fmt::format("{:.3g}", d));
  EXPECT_LE(d, 1e-5) << name_of(k) << " on " << world().size() << " ranks";
}

std::vector<Case> cases() {
  using A = dist::Algorithm;
  std::vector<Case> out;
  // Every algorithm, buckets on (small: several per model) and off, with and without overlap.
  for (A a : {A::Mpi, A::Ring, A::RecursiveDoubling, A::Rabenseifner}) {
    out.push_back({"mlp", "adam", 64, 4, a, 64 << 10, true, false});
    out.push_back({"mlp", "adam", 64, 4, a, 0, true, false});
  }
  out.push_back({"mlp", "sgd", 64, 4, A::Ring, 64 << 10, false, false});
  // A global batch the ranks divide unevenly: each rank's mean loss weighted by its share.
  out.push_back({"mlp", "adam", 33, 4, A::Ring, 64 << 10, true, false});
  // ZeRO-1, Adam and SGD (momentum).
  out.push_back({"mlp", "adam", 64, 4, A::Mpi, 0, true, true});
  out.push_back({"mlp", "sgd", 64, 4, A::Mpi, 0, true, true});
  // The other models.
  out.push_back({"cnn", "adam", 32, 3, A::Ring, 16 << 10, true, false});
  // gpt-tiny with SGD: the key projection's bias has a gradient that is zero in exact arithmetic
  // (softmax ignores a shift shared by every key of a query), so what reaches it is rounding noise
  // (~1e-9), which Adam divides by its own size and turns into lr-sized steps: with Adam that one
  // tensor differs at 1e-4 between any two summation orders, np = 1 or not; every other tensor
  // agrees to 1e-5.
  out.push_back({"gpt-tiny", "sgd", 8, 2, A::Rabenseifner, 32 << 10, true, false});
  return out;
}

INSTANTIATE_TEST_SUITE_P(Runs, DataParallelEquivalence, ::testing::ValuesIn(cases()),
                         [](const auto& info) {
                           std::string n = name_of(info.param);
                           for (char& ch : n)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });

// An epoch on P ranks, resumed alone for the second (and the reverse), ends where two
// uninterrupted epochs on P ranks end.
TEST(DataParallelCheckpoint, ResumesWithADifferentNumberOfRanks) {
  train::TrainConfig c = config("mlp", 64, 3, "adam");
  c.epochs = 2;
  const std::string straight = fmt::format("{}/bstack_ddp_straight_{}.h5", ::testing::TempDir(), world().size());
  const std::string half = fmt::format("{}/bstack_ddp_half_{}.h5", ::testing::TempDir(), world().size());
  {
    dist::DataParallel dp({});
    train::TrainConfig a = c;
    a.parallel = &dp;
    a.save = straight;
    train::run_training(a);
    a.epochs = 1;
    a.save = half;
    train::run_training(a);
  }
  world().barrier();
  // Every rank resumes alone from rank 0's one-epoch checkpoint.
  train::TrainConfig b = c;
  b.resume = half;
  b.save = scratch("resumed_alone.h5");
  train::run_training(b);
  EXPECT_LE(max_relative_difference(params_of(b.save), params_of(straight)), 1e-5);

  // The reverse: one epoch alone, then the second on P ranks.
  train::TrainConfig one = c;
  one.epochs = 1;
  one.save = scratch("alone_half.h5");
  train::run_training(one);
  {
    dist::DataParallel dp({});
    train::TrainConfig d = c;
    d.parallel = &dp;
    d.resume = one.save;
    d.save = fmt::format("{}/bstack_ddp_resumed_dp_{}.h5", ::testing::TempDir(), world().size());
    train::run_training(d);
    world().barrier();
    EXPECT_LE(max_relative_difference(params_of(d.save), params_of(straight)), 1e-5);
    world().barrier();
    if (world().rank() == 0) std::remove(d.save.c_str());
  }
  world().barrier();
  if (world().rank() == 0) {
    std::remove(straight.c_str());
    std::remove(half.c_str());
  }
  std::remove(b.save.c_str());
  std::remove(one.save.c_str());
}

// Ranks that were started with different settings are stopped before training, with the
// difference named.
TEST(DataParallelStartup, NamesWhatDiffersBetweenRanks) {
  const std::string same = "model=mlp\nbatch=64";
  EXPECT_EQ(test::error_of([&] { dist::check_same_on_all_ranks(world(), same, "run"); }), "(no error)");
  if (world().size() == 1) GTEST_SKIP() << "needs 2 ranks to disagree";
  const std::string mine = world().rank() == 1 ? "model=cnn\nbatch=64" : same;
  const std::string err = test::error_of([&] { dist::check_same_on_all_ranks(world(), mine, "run"); });
  EXPECT_NE(err.find("rank 0: model=mlp"), std::string::npos) << err;
  EXPECT_NE(err.find("rank 1: model=cnn"), std::string::npos) << err;
  EXPECT_EQ(err.find("batch"), std::string::npos) << err;
}

// Buckets: split by size in reverse registration order first, then in the order gradients became
// ready; every step's records account for every bucket.
TEST(DistributedDataParallel, BucketsAndStepRecords) {
  auto backend = dist::make_backend("mpi", dist::Algorithm::Ring);
  Generator g(1);
  Tensor w1 = randn({64, 32}, g).requires_grad_();  // 8 KiB
  Tensor w2 = randn({32, 16}, g).requires_grad_();  // 2 KiB
  Tensor w3 = randn({16, 4}, g).requires_grad_();   // 256 B
  dist::DistributedDataParallel ddp({w1, w2, w3}, *backend, {.bucket_bytes = 4096, .overlap = true});
  EXPECT_EQ(ddp.buckets(), (std::vector<std::vector<size_t>>{{2, 1}, {0}}));
  ddp.broadcast_parameters();
  Tensor x = randn({8, 64}, g);
  Tensor loss = sum(matmul(relu(matmul(relu(matmul(x, w1)), w2)), w3));
  ddp.backward(loss);
  ASSERT_EQ(ddp.last_step().comm.size(), 2u);
  EXPECT_EQ(ddp.last_step().comm[0].bytes, (16 * 4 + 32 * 16) * 4.0);
  EXPECT_EQ(ddp.last_step().comm[1].bytes, 64 * 32 * 4.0);
  for (const auto& c : ddp.last_step().comm) {
    EXPECT_GE(c.seconds, 0);
    EXPECT_GE(c.start, 0);
  }
  EXPECT_GE(ddp.last_step().exposed_s, 0);
  // Every rank's gradient is now the average: equal on every rank.
  std::vector<float> mine = w1.grad().to_vector_as<float>(), all(mine.size() * world().size());
  world().allgather(mine.data(), mine.size() * sizeof(float), all.data());
  for (int r = 1; r < world().size(); ++r)
    for (size_t i = 0; i < mine.size(); ++i) ASSERT_EQ(all[r * mine.size() + i], mine[i]);
}

}  // namespace
}  // namespace bstack

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  bstack::dist::Communicator::world();  // MPI up before any test
  // Only rank 0 prints results; every rank's failures still fail the job (exit code).
  if (bstack::dist::Communicator::world().rank() != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  const int rc = RUN_ALL_TESTS();
  bstack::dist::Communicator::world().finalize();
  return rc;
}
