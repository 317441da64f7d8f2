// The historical milestones, trained end to end: the perceptron separates a linearly separable
// set, an MLP learns XOR, and on the shipped digits the MLP reaches >= 97% and the LeNet-style
// CNN >= 97.5% test accuracy (20% test split). Plus: resuming from a checkpoint continues
// bit-identically. Labelled "milestone" (Release only: a few seconds each).
// They run on one thread: the targets are about learning, not speed, and a single thread keeps
// their run time steady on a loaded machine (OpenMP teams on busy cores stall at barriers).
#include "kernels/parallel.h"
#include "src/nn/layers.h"
#include "src/nn/loss.h"
#include "src/optim/optim.h"
#include "src/train/train.h"
#include "src/io/h5.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

using namespace bstack;

namespace {
struct OneThread : ::testing::Environment {
  void SetUp() override { kernels::set_num_threads(1); }
};
const auto* const kOneThread = ::testing::AddGlobalTestEnvironment(new OneThread);
}  // namespace

TEST(Milestones, PerceptronSeparatesALinearlySeparableSet) {
  // Points labelled by the side of the line x1 + 2 x2 = 0.3, with a margin of 0.1.
  Generator g(1);
  std::vector<double> xs, ys;
  while (ys.size() < 200) {
    const double a = 2 * g.uniform() - 1, b = 2 * g.uniform() - 1, s = a + 2 * b - 0.3;
    if (std::fabs(s) < 0.1) continue;
    xs.push_back(a);
    xs.push_back(b);
    ys.push_back(s > 0 ? 1 : 0);
  }
  Tensor x = from_doubles(xs, {200, 2}, DType::f32), y = from_doubles(ys, {200, 1}, DType::f32);
  nn::Linear p(2, 1, g);
  optim::SGD opt(p.parameters(), {.lr = 1.0});
  for (int step = 0; step < 500; ++step) {
    Tensor loss = nn::binary_cross_entropy_with_logits(p(x), y);
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
  NoGradGuard ng;
  const double acc = mean(eq(gt(p(x), scalar_tensor(0)).to(DType::f32), y).to(DType::f64)).item();
  EXPECT_EQ(acc, 1.0);
}

TEST(Milestones, MlpLearnsXor) {
  Generator g(2);
  Tensor x = from_vector<float>({0, 0, 0, 1, 1, 0, 1, 1}, {4, 2});
  Tensor y = from_vector<int64_t>({0, 1, 1, 0}, {4});
  nn::Sequential mlp;
  mlp.push_back(std::make_shared<nn::Linear>(2, 8, g));
  mlp.push_back(std::make_shared<nn::Tanh>());
  mlp.push_back(std::make_shared<nn::Linear>(8, 2, g));
  optim::Adam opt(mlp.parameters(), {.lr = 0.05});
  for (int step = 0; step < 300; ++step) {
    Tensor loss = nn::cross_entropy(mlp(x), y);
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
  NoGradGuard ng;
  EXPECT_EQ(argmax(mlp(x), 1).to_vector(), y.to_vector());
}

TEST(Milestones, MlpOnDigitsReaches97Percent) {
  train::TrainConfig c;
  c.model = "mlp";
  c.epochs = 20;
  c.progress = false;
  const auto r = train::run_training(c);
  RecordProperty("test_accuracy", std::to_string(r.test_accuracy));
  EXPECT_GE(r.test_accuracy, 0.97);
  EXPECT_EQ(r.test_size, 359);
}

TEST(Milestones, CnnOnDigitsReaches97_5Percent) {
  train::TrainConfig c;
  c.model = "cnn";
  c.epochs = 30;
  c.progress = false;
  const auto r = train::run_training(c);
  RecordProperty("test_accuracy", std::to_string(r.test_accuracy));
  EXPECT_GE(r.test_accuracy, 0.975);
}

TEST(Training, ResumeContinuesBitIdentically) {
  const auto dir = std::filesystem::temp_directory_path();
  const std::string full = (dir / ("bstack-full-" + std::to_string(::getpid()) + ".h5")).string();
  const std::string half = (dir / ("bstack-half-" + std::to_string(::getpid()) + ".h5")).string();
  const std::string resumed = (dir / ("bstack-resumed-" + std::to_string(::getpid()) + ".h5")).string();
  train::TrainConfig c;
  c.model = "cnn";
  c.epochs = 2;
  c.max_steps_per_epoch = 10;
  c.progress = false;
  c.save = full;
  const auto a = train::run_training(c);
  c.epochs = 1;
  c.save = half;
  train::run_training(c);
  c.epochs = 2;
  c.resume = half;
  c.save = resumed;
  const auto b = train::run_training(c);
  EXPECT_EQ(a.test_loss, b.test_loss);
  H5Reader ra(full, "bstack-checkpoint", 1, 1), rb(resumed, "bstack-checkpoint", 1, 1);
  for (const auto& n : ra.list("state")) {
    EXPECT_EQ(ra.read_vector<float>("state/" + n), rb.read_vector<float>("state/" + n)) << n;
  }
  c.model = "mlp";
  try {
    train::run_training(c);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("holds a 'cnn' model, --model is 'mlp'"), std::string::npos) << e.what();
  }
  for (const auto& p : {full, half, resumed}) std::filesystem::remove(p);
}

TEST(Milestones, GptTinyBeatsTheUnigramEntropyAndGenerates) {
  // The default corpus (GPL-3 text, ~35k chars): after 8 epochs the validation loss must be
  // clearly below the unigram entropy (the best a model without context can do).
  train::TrainConfig c;
  c.model = "gpt-tiny";
  c.epochs = 8;
  c.batch = 16;
  c.lr = 3e-3;
  c.progress = false;
  const auto r = train::run_training(c);
  RecordProperty("val_loss", std::to_string(r.history.back().val_loss));
  RecordProperty("unigram_entropy", std::to_string(r.unigram_entropy));
  EXPECT_GT(r.unigram_entropy, 2.5);
  EXPECT_LT(r.history.back().val_loss, r.unigram_entropy - 0.5);
  EXPECT_EQ(r.sample.size(), 8u + 200u);  // the 8-char prompt and 200 generated chars
}
