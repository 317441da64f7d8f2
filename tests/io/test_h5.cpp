// The HDF5 layer: round trips for every dtype and attribute kind, and the failure cases the
// project promises to survive: truncated files, wrong format/version, corrupted bytes, and a
// writer killed mid-write (the earlier good file must stay intact).
#include "src/io/h5.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numeric>

using namespace bstack;
namespace fs = std::filesystem;

namespace {

class H5Test : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           fmt::format("bstack-h5-{}-{}", static_cast<long>(::getpid()),
                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string file(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

// Expects `fn` to throw a bstack::Error whose message contains every string in `parts`.
template <class F>
void expect_error(F fn, std::initializer_list<std::string> parts) {
  try {
    fn();
    ADD_FAILURE() << "no error thrown";
  } catch (const Error& e) {
    for (const auto& p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos)
          << "message '" << e.what() << "' lacks '" << p << "'";
  }
}

std::vector<char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<char>(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, const std::vector<char>& b) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(b.data(), static_cast<std::streamsize>(b.size()));
}

template <class T>
void round_trip_one(const std::string& path, std::vector<T> values, std::vector<int64_t> shape) {
  {
    H5Writer w(path, "bstack-test", 1);
    w.write("group/sub/x", values, shape);
    w.commit();
  }
  H5Reader r(path, "bstack-test", 1, 1);
  Array a = r.read("group/sub/x");
  EXPECT_EQ(a.dtype, dtype_of<T>);
  EXPECT_EQ(a.shape, shape);
  EXPECT_EQ(r.read_vector<T>("group/sub/x"), values);
}

}  // namespace

TEST_F(H5Test, RoundTripEveryDtype) {
  round_trip_one<float>(file("f32.h5"), {1.5f, -0.0f, std::numeric_limits<float>::max(),
                                         std::numeric_limits<float>::denorm_min(), 3, 4},
                        {2, 3});
  round_trip_one<double>(file("f64.h5"), {std::numeric_limits<double>::lowest(), 1e-300, 2}, {3});
  round_trip_one<int8_t>(file("i8.h5"), {-128, 127, 0, 1}, {2, 2, 1});
  round_trip_one<int32_t>(file("i32.h5"), {std::numeric_limits<int32_t>::min(), 7}, {2});
  round_trip_one<int64_t>(file("i64.h5"), {std::numeric_limits<int64_t>::max(), -1}, {1, 2});
}

TEST_F(H5Test, ScalarEmptyAndLargeArrays) {
  round_trip_one<double>(file("scalar.h5"), {42.0}, {});
  round_trip_one<float>(file("empty.h5"), {}, {3, 0, 2});
  // Several chunks (> 1 MiB) with a checksum each.
  std::vector<float> big(600 * 1000);
  std::iota(big.begin(), big.end(), 0.0f);
  round_trip_one<float>(file("big.h5"), big, {600, 1000});
}

TEST_F(H5Test, AttributesAndListing) {
  const std::string p = file("attrs.h5");
  {
    H5Writer w(p, "bstack-test", 3);
    w.write("model/fc1/weight", std::vector<float>{1, 2}, {2});
    w.write("model/fc1/bias", std::vector<float>{3}, {1});
    w.write("model/fc2/weight", std::vector<float>{4}, {1});
    w.attr("/", "seed", int64_t{17});
    w.attr("model", "lr", 0.125);
    w.attr("model/fc1/weight", "init", "kaiming");
    w.attr("meta", "empty", "");
    w.commit();
  }
  H5Reader r(p, "bstack-test", 1, 5);
  EXPECT_EQ(r.format(), "bstack-test");
  EXPECT_EQ(r.version(), 3);
  EXPECT_EQ(r.attr_int("/", "seed"), 17);
  EXPECT_EQ(r.attr_double("model", "lr"), 0.125);
  EXPECT_EQ(r.attr_double("/", "seed"), 17.0);  // integers read as numbers too
  EXPECT_EQ(r.attr_string("model/fc1/weight", "init"), "kaiming");
  EXPECT_EQ(r.attr_string("meta", "empty"), "");
  EXPECT_TRUE(r.has_attr("model", "lr"));
  EXPECT_FALSE(r.has_attr("model", "nope"));
  EXPECT_FALSE(r.has_attr("nowhere", "lr"));
  EXPECT_EQ(r.list("model"), (std::vector<std::string>{"fc1", "fc2"}));
  EXPECT_EQ(r.list("model/fc1"), (std::vector<std::string>{"bias", "weight"}));
  EXPECT_TRUE(r.has("model/fc2/weight"));
  EXPECT_FALSE(r.has("model/fc3/weight"));
  expect_error([&] { r.read("model/fc3/weight"); }, {p, "no dataset 'model/fc3/weight'"});
  expect_error([&] { r.read_vector<double>("model/fc1/bias"); }, {p, "holds f32, expected f64"});
  expect_error([&] { r.attr_int("model", "lr"); }, {p, "'lr'", "not an integer"});
  expect_error([&] { r.attr_string("model", "missing"); }, {p, "no attribute 'missing'"});
}

TEST_F(H5Test, MissingTruncatedAndForeignFiles) {
  expect_error([&] { H5Reader r(file("nope.h5"), "bstack-test", 1, 1); },
               {file("nope.h5"), "no such file"});
  const std::string good = file("good.h5");
  std::vector<float> v(50000, 2.5f);
  {
    H5Writer w(good, "bstack-test", 1);
    w.write("x", v, {50000});
    w.commit();
  }
  std::vector<char> bytes = read_bytes(good);
  const std::string cut = file("cut.h5");
  write_bytes(cut, std::vector<char>(bytes.begin(), bytes.begin() + bytes.size() / 2));
  ::testing::internal::CaptureStderr();
  expect_error([&] {
    H5Reader r(cut, "bstack-test", 1, 1);
    r.read("x");
  }, {cut, "truncated"});
  const std::string text = file("text.h5");
  write_bytes(text, {'h', 'e', 'l', 'l', 'o'});
  expect_error([&] { H5Reader r(text, "bstack-test", 1, 1); }, {text, "not an HDF5 file"});
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");  // no raw HDF5 error stack
}

TEST_F(H5Test, WrongFormatOrVersion) {
  const std::string p = file("trace.h5");
  {
    H5Writer w(p, "bstack-trace", 2);
    w.commit();
  }
  expect_error([&] { H5Reader r(p, "bstack-checkpoint", 1, 2); },
               {p, "format is 'bstack-trace', expected 'bstack-checkpoint'"});
  expect_error([&] { H5Reader r(p, "bstack-trace", 3, 4); }, {p, "version 2", "3 to 4"});
}

TEST_F(H5Test, CorruptedDataIsDetected) {
  const std::string p = file("corrupt.h5");
  std::vector<int32_t> v(4096);
  for (size_t i = 0; i < v.size(); ++i) v[i] = 0x5EED0000 + static_cast<int32_t>(i);
  {
    H5Writer w(p, "bstack-test", 1);
    w.write("x", v, {4096});
    w.commit();
  }
  std::vector<char> bytes = read_bytes(p);
  // Find the raw data (the distinctive pattern of element 100) and flip one byte of it.
  int32_t needle = v[100];
  auto it = std::search(bytes.begin(), bytes.end(), reinterpret_cast<char*>(&needle),
                        reinterpret_cast<char*>(&needle) + 4);
  ASSERT_NE(it, bytes.end());
  *it ^= 0x40;
  write_bytes(p, bytes);
  H5Reader r(p, "bstack-test", 1, 1);
  ::testing::internal::CaptureStderr();
  expect_error([&] { r.read("x"); }, {p, "dataset 'x' is corrupt"});
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

TEST_F(H5Test, WriterWithoutCommitLeavesNothing) {
  const std::string p = file("never.h5");
  {
    H5Writer w(p, "bstack-test", 1);
    w.write("x", std::vector<double>{1, 2, 3}, {3});
  }
  EXPECT_FALSE(fs::exists(p));
  EXPECT_TRUE(fs::is_empty(dir_));  // the temporary file is gone too
  expect_error([&] { H5Writer w(file("no/such/dir/x.h5"), "bstack-test", 1); },
               {"no/such/dir/x.h5", "does not exist"});
}

TEST_F(H5Test, KilledWriterLeavesEarlierFileIntact) {
  const std::string p = file("ckpt.h5");
  std::vector<double> good(1000);
  std::iota(good.begin(), good.end(), 1.0);
  {
    H5Writer w(p, "bstack-test", 1);
    w.write("w", good, {1000});
    w.commit();
  }
  const std::vector<char> before = read_bytes(p);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Overwrite the same path with a large array and die before commit().
    H5Writer w(p, "bstack-test", 1);
    std::vector<double> big(4 << 20, -1.0);
    w.write("w", big, {static_cast<int64_t>(big.size())});
    ::raise(SIGKILL);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  EXPECT_EQ(read_bytes(p), before);
  H5Reader r(p, "bstack-test", 1, 1);
  EXPECT_EQ(r.read_vector<double>("w"), good);
}

TEST_F(H5Test, MisuseIsReported) {
  const std::string p = file("misuse.h5");
  H5Writer w(p, "bstack-test", 1);
  w.write("x", std::vector<float>{1}, {1});
  expect_error([&] { w.write("x", std::vector<float>{1}, {1}); }, {p, "'x' is written twice"});
  w.commit();
  expect_error([&] { w.commit(); }, {p, "commit() called twice"});
  expect_error([&] { w.write("y", std::vector<float>{1}, {1}); }, {p, "after commit()"});
}
