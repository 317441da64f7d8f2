// The HDF5 layer: round trips for every dtype, shape kind and attribute kind, and the failures
// the project promises to survive: missing, truncated and foreign files, wrong format/version,
// corrupted bytes anywhere in the file, a writer killed mid-write (the earlier good file must
// stay intact), and HDF5 errors on any thread (never HDF5's own stack on stderr).
#include "src/io/h5.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numeric>
#include <thread>

using namespace bstack;
namespace fs = std::filesystem;

namespace {

// A fresh, empty directory per test.
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
  std::vector<std::string> dir_entries() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_))
      names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }
  fs::path dir_;
};

// Expects `fn` to throw a bstack::Error whose message contains every string in `parts`, and
// returns the message.
template <class F>
std::string expect_error(F fn, std::initializer_list<std::string> parts) {
  try {
    fn();
    ADD_FAILURE() << "no error thrown";
  } catch (const Error& e) {
    for (const auto& p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos)
          << "message '" << e.what() << "' lacks '" << p << "'";
    return e.what();
  }
  return "";
}

std::vector<char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<char>(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, const std::vector<char>& b) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(b.data(), static_cast<std::streamsize>(b.size()));
}

// Position of the first occurrence of the bytes of `v` in `bytes` (npos when absent).
template <class T>
size_t find_pattern(const std::vector<char>& bytes, const T& v) {
  const char* p = reinterpret_cast<const char*>(&v);
  auto it = std::search(bytes.begin(), bytes.end(), p, p + sizeof(T));
  return it == bytes.end() ? std::string::npos : static_cast<size_t>(it - bytes.begin());
}

size_t find_text(const std::vector<char>& bytes, const std::string& s) {
  auto it = std::search(bytes.begin(), bytes.end(), s.begin(), s.end());
  return it == bytes.end() ? std::string::npos : static_cast<size_t>(it - bytes.begin());
}

// Runs `fn` (returning a string) in a forked child and returns its result, or a description
// of how the child died. Used for reading corrupt files: a crash or hang there must fail the
// test, not end the suite, and HDF5 1.10 leaks a few hundred bytes on some corrupt-metadata
// error paths (inside libhdf5), which LeakSanitizer would otherwise report at exit.
template <class F>
std::string in_child(F fn) {
  int fds[2];
  if (::pipe(fds) != 0) return "pipe failed";
  const pid_t child = ::fork();
  if (child == 0) {
    ::close(fds[0]);
    ::alarm(120);  // a hang is a failure too
    std::string out;
    try {
      out = fn();
    } catch (const std::exception& e) {
      out = std::string("unexpected exception: ") + e.what();
    }
    for (size_t done = 0; done < out.size();) {
      const ssize_t n = ::write(fds[1], out.data() + done, out.size() - done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;)
    out.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  if (!WIFEXITED(status))
    return fmt::format("child died with signal {}; output: {}", WTERMSIG(status), out);
  return out;
}

// Bitwise equality, so NaN payloads and -0.0 count.
template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

template <class T>
std::vector<T> extremes() {
  using L = std::numeric_limits<T>;
  std::vector<T> v = {L::lowest(), L::max(), L::min(), T(0), T(1), T(-1)};
  if constexpr (std::is_floating_point_v<T>) {
    v.insert(v.end(), {L::infinity(), -L::infinity(), L::quiet_NaN(), L::denorm_min(), T(-0.0),
                       L::epsilon()});
  }
  return v;
}

// Writes `values` with `shape` under a nested name, reads it back, checks dtype, shape, bits.
template <class T>
void round_trip(const std::string& path, const std::vector<T>& values, std::vector<int64_t> shape) {
  SCOPED_TRACE(fmt::format("{} [{}]", dtype_name(dtype_of<T>), fmt::join(shape, ",")));
  {
    H5Writer w(path, "bstack-test", 1);
    w.write("group/sub/x", values, shape);
    w.commit();
  }
  H5Reader r(path, "bstack-test", 1, 1);
  Array a = r.read("group/sub/x");
  EXPECT_EQ(a.dtype, dtype_of<T>);
  EXPECT_EQ(a.shape, shape);
  EXPECT_EQ(a.numel(), static_cast<int64_t>(values.size()));
  EXPECT_EQ(a.bytes.size(), values.size() * sizeof(T));
  EXPECT_TRUE(same_bits(r.read_vector<T>("group/sub/x"), values));
}

template <class T>
void round_trip_dtype(const std::string& dir) {
  const std::string p = dir + "/" + dtype_name(dtype_of<T>) + ".h5";
  std::vector<T> ext = extremes<T>();
  round_trip<T>(p, ext, {static_cast<int64_t>(ext.size())});
  round_trip<T>(p, ext, {2, static_cast<int64_t>(ext.size()) / 2, 1});
  round_trip<T>(p, {std::numeric_limits<T>::lowest()}, {});  // 0-d
  round_trip<T>(p, {}, {0});
  round_trip<T>(p, {}, {4, 0, 3});
}

}  // namespace

TEST_F(H5Test, RoundTripEveryDtypeWithExtremesScalarsAndEmptyShapes) {
  round_trip_dtype<float>(dir_.string());
  round_trip_dtype<double>(dir_.string());
  round_trip_dtype<int8_t>(dir_.string());
  round_trip_dtype<int32_t>(dir_.string());
  round_trip_dtype<int64_t>(dir_.string());
}

TEST_F(H5Test, LargeArraysSpanManyChunks) {
  // 2.4 MB: split along the first dim into 1 MiB chunks, each with its own checksum.
  std::vector<float> big(600 * 1000);
  std::iota(big.begin(), big.end(), 0.0f);
  round_trip<float>(file("big.h5"), big, {600, 1000});
  // One row (2.4 MB) exceeds a chunk: the second dim is split too.
  std::vector<int32_t> wide(2 * 600000);
  std::iota(wide.begin(), wide.end(), -5);
  round_trip<int32_t>(file("wide.h5"), wide, {2, 600000});
}

TEST_F(H5Test, AttributesOnRootGroupsAndDatasets) {
  const std::string p = file("attrs.h5");
  {
    H5Writer w(p, "bstack-test", 3);
    w.write("model/fc1/weight", std::vector<float>{1, 2}, {2});
    w.attr("/", "seed", int64_t{17});
    w.attr("/", "min", std::numeric_limits<int64_t>::min());
    w.attr("model", "lr", 0.125);
    w.attr("model", "tiny", std::numeric_limits<double>::denorm_min());
    w.attr("model/fc1/weight", "init", "kaiming");
    w.attr("model/fc1/weight", "init", "xavier");  // replaced, not duplicated
    w.attr("meta/run", "empty", "");               // creates the groups meta, meta/run
    w.attr("meta/run", "utf8", "µs ✓");
    w.commit();
  }
  H5Reader r(p, "bstack-test", 1, 5);
  EXPECT_EQ(r.format(), "bstack-test");
  EXPECT_EQ(r.version(), 3);
  EXPECT_EQ(r.path(), p);
  EXPECT_EQ(r.attr_string("/", "format"), "bstack-test");
  EXPECT_EQ(r.attr_int("/", "version"), 3);
  EXPECT_EQ(r.attr_int("/", "seed"), 17);
  EXPECT_EQ(r.attr_int("", "min"), std::numeric_limits<int64_t>::min());  // "" is the root too
  EXPECT_EQ(r.attr_double("model", "lr"), 0.125);
  EXPECT_EQ(r.attr_double("/model/", "tiny"), std::numeric_limits<double>::denorm_min());
  EXPECT_EQ(r.attr_double("/", "seed"), 17.0);  // integers read as numbers too
  EXPECT_EQ(r.attr_string("model/fc1/weight", "init"), "xavier");
  EXPECT_EQ(r.attr_string("meta/run", "empty"), "");
  EXPECT_EQ(r.attr_string("meta/run", "utf8"), "µs ✓");
  EXPECT_TRUE(r.has_attr("model", "lr"));
  EXPECT_FALSE(r.has_attr("model", "nope"));
  EXPECT_FALSE(r.has_attr("nowhere", "lr"));
  EXPECT_EQ(r.read_vector<float>("model/fc1/weight"), (std::vector<float>{1, 2}));
  expect_error([&] { r.attr_int("model", "lr"); }, {p, "'lr'", "not an integer"});
  expect_error([&] { r.attr_double("meta/run", "empty"); }, {p, "'empty'", "not a number"});
  expect_error([&] { r.attr_string("model", "lr"); }, {p, "'lr'", "not a string"});
  expect_error([&] { r.attr_string("model", "missing"); },
               {p, "no attribute 'missing' on 'model'"});
  expect_error([&] { r.attr_int("ghost", "x"); }, {p, "no object 'ghost'"});
}

TEST_F(H5Test, ListHasAndMissingObjects) {
  const std::string p = file("list.h5");
  {
    H5Writer w(p, "bstack-test", 1);
    w.write("model/fc2/weight", std::vector<float>{4}, {1});
    w.write("model/fc1/weight", std::vector<float>{1, 2}, {2});
    w.write("/model/fc1/bias/", std::vector<float>{3}, {1});  // slashes trimmed
    w.write("step", std::vector<int64_t>{7}, {});
    w.commit();
  }
  H5Reader r(p, "bstack-test", 1, 1);
  EXPECT_EQ(r.list("/"), (std::vector<std::string>{"model", "step"}));
  EXPECT_EQ(r.list("model"), (std::vector<std::string>{"fc1", "fc2"}));
  EXPECT_EQ(r.list("model/fc1"), (std::vector<std::string>{"bias", "weight"}));
  EXPECT_TRUE(r.has("model"));
  EXPECT_TRUE(r.has("model/fc1/bias"));
  EXPECT_FALSE(r.has("model/fc3/weight"));
  EXPECT_FALSE(r.has("step/inside"));  // a dataset has no members
  EXPECT_EQ(r.read_vector<float>("model/fc1/bias"), std::vector<float>{3});
  EXPECT_EQ(r.read_vector<int64_t>("step"), std::vector<int64_t>{7});
  expect_error([&] { r.read("model/fc3/weight"); }, {p, "no dataset 'model/fc3/weight'"});
  expect_error([&] { r.read("model/fc1"); }, {p, "'model/fc1' is a group, not a dataset"});
  expect_error([&] { r.list("step"); }, {p, "'step'", "not a group"});
  expect_error([&] { r.list("nothing"); }, {p, "no object 'nothing'"});
  expect_error([&] { r.read_vector<double>("model/fc1/bias"); },
               {p, "'model/fc1/bias' holds f32, expected f64"});
  expect_error([&] { (void)r.read("step").as<int32_t>(); }, {"holds i64, requested i32"});
}

TEST_F(H5Test, MissingTruncatedAndForeignFiles) {
  ::testing::internal::CaptureStderr();
  expect_error([&] { H5Reader r(file("nope.h5"), "bstack-test", 1, 1); },
               {file("nope.h5"), "no such file"});
  expect_error([&] { H5Reader r(dir_.string(), "bstack-test", 1, 1); },
               {dir_.string(), "not a regular file"});
  const std::string good = file("good.h5");
  {
    H5Writer w(good, "bstack-test", 1);
    w.write("x", std::vector<float>(50000, 2.5f), {50000});
    w.commit();
  }
  const std::vector<char> bytes = read_bytes(good);
  const std::string cut = file("cut.h5");
  write_bytes(cut, std::vector<char>(bytes.begin(), bytes.begin() + bytes.size() / 2));
  expect_error([&] { H5Reader r(cut, "bstack-test", 1, 1); },
               {cut, "truncated or not an HDF5 file"});
  const std::string text = file("text.h5");
  write_bytes(text, {'h', 'e', 'l', 'l', 'o'});
  expect_error([&] { H5Reader r(text, "bstack-test", 1, 1); },
               {text, "truncated or not an HDF5 file"});
  const std::string empty = file("empty.h5");
  write_bytes(empty, {});
  expect_error([&] { H5Reader r(empty, "bstack-test", 1, 1); },
               {empty, "truncated or not an HDF5 file"});
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");  // no raw HDF5 error stack
  H5Reader r(good, "bstack-test", 1, 1);  // the original is fine
  EXPECT_EQ(r.read_vector<float>("x"), std::vector<float>(50000, 2.5f));
}

TEST_F(H5Test, WrongFormatOrVersion) {
  const std::string p = file("trace.h5");
  {
    H5Writer w(p, "bstack-trace", 2);
    w.commit();
  }
  expect_error([&] { H5Reader r(p, "bstack-checkpoint", 1, 2); },
               {p + ": format is 'bstack-trace', expected 'bstack-checkpoint'"});
  expect_error([&] { H5Reader r(p, "bstack-trace", 3, 4); }, {p, "version 2", "versions 3 to 4"});
  expect_error([&] { H5Reader r(p, "bstack-trace", 0, 1); }, {p, "version 2", "versions 0 to 1"});
  H5Reader r(p, "bstack-trace", 2, 2);
  EXPECT_EQ(r.version(), 2);
  EXPECT_EQ(r.list("/"), std::vector<std::string>{});
}

TEST_F(H5Test, CorruptedDataIsDetected) {
  const std::string p = file("corrupt.h5");
  std::vector<int32_t> v(4096);
  for (size_t i = 0; i < v.size(); ++i) v[i] = 0x5EED0000 + static_cast<int32_t>(i);
  {
    H5Writer w(p, "bstack-test", 1);
    w.write("deep/x", v, {64, 64});
    w.commit();
  }
  std::vector<char> bytes = read_bytes(p);
  // Find the raw data (the distinctive pattern of element 100) and flip one bit of it.
  const size_t at = find_pattern(bytes, v[100]);
  ASSERT_NE(at, std::string::npos);
  bytes[at] ^= 0x40;
  write_bytes(p, bytes);
  H5Reader r(p, "bstack-test", 1, 1);
  ::testing::internal::CaptureStderr();
  expect_error([&] { r.read("deep/x"); }, {p, "dataset 'deep/x' is corrupt"});
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

TEST_F(H5Test, CorruptedMetadataIsDetected) {
  // Attributes and 0-d arrays live in object headers, which carry checksums.
  const std::string p = file("meta.h5");
  const double scalar = 0.123456789012345;
  {
    H5Writer w(p, "bstack-test", 1);
    w.attr("run", "note", "a-distinctive-attribute");
    w.write("run/s", std::vector<double>{scalar}, {});
    w.commit();
  }
  const std::vector<char> good = read_bytes(p);
  const auto flip_and_read = [&](size_t at, auto read) {
    std::vector<char> bytes = good;
    bytes[at] ^= 0x01;
    write_bytes(p, bytes);
    return in_child([&]() -> std::string {
      try {
        H5Reader r(p, "bstack-test", 1, 1);
        read(r);
        return "no error";
      } catch (const Error& e) {
        return e.what();
      }
    });
  };
  const size_t a_at = find_text(good, "distinctive");
  ASSERT_NE(a_at, std::string::npos);
  std::string msg = flip_and_read(a_at, [](H5Reader& r) { r.attr_string("run", "note"); });
  EXPECT_EQ(msg.rfind(p + ": file is corrupt: ", 0), 0u) << msg;
  const size_t s_at = find_pattern(good, scalar);
  ASSERT_NE(s_at, std::string::npos);
  msg = flip_and_read(s_at, [](H5Reader& r) { r.read("run/s"); });
  EXPECT_EQ(msg.rfind(p + ": file is corrupt: ", 0), 0u) << msg;
  EXPECT_NE(msg.find("'run/s'"), std::string::npos) << msg;
}

TEST_F(H5Test, EverySingleByteFlipIsReportedOrHarmless) {
  // Flips each byte of a small file in turn: the reader must throw bstack::Error naming the
  // file, or return exactly the values written; never crash, hang, return wrong values or
  // throw anything else.
  const std::string p = file("all.h5");
  std::vector<float> a(60);
  std::iota(a.begin(), a.end(), 0.5f);
  {
    H5Writer w(p, "bstack-test", 1);
    w.write("m/a", a, {6, 10});
    w.write("m/s", std::vector<int64_t>{-3}, {});
    w.write("e", std::vector<int8_t>{}, {0, 2});
    w.attr("m", "lr", 0.5);
    w.attr("/", "name", "hello");
    w.commit();
  }
  const std::vector<char> good = read_bytes(p);
  const std::string flipped = file("flipped.h5");
  // The child reports "<reported> <harmless>" and one line per bad byte.
  const std::string out = in_child([&] {
    int reported = 0, harmless = 0;
    std::string bad;
    for (size_t i = 0; i < good.size(); ++i) {
      std::vector<char> bytes = good;
      bytes[i] ^= static_cast<char>(0xFF);
      write_bytes(flipped, bytes);
      try {
        H5Reader r(flipped, "bstack-test", 1, 1);
        const bool same = r.list("/") == std::vector<std::string>{"e", "m"} &&
                          r.list("m") == std::vector<std::string>{"a", "s"} &&
                          r.read_vector<float>("m/a") == a &&
                          r.read_vector<int64_t>("m/s") == std::vector<int64_t>{-3} &&
                          r.read("e").shape == std::vector<int64_t>{0, 2} &&
                          r.attr_double("m", "lr") == 0.5 && r.attr_string("/", "name") == "hello";
        if (!same) bad += fmt::format("\nbyte {}: wrong values returned", i);
        ++harmless;
      } catch (const Error& e) {
        if (std::string(e.what()).rfind(flipped + ": ", 0) != 0)
          bad += fmt::format("\nbyte {}: message without the file: {}", i, e.what());
        ++reported;
      }
    }
    return fmt::format("{} {}{}", reported, harmless, bad);
  });
  int reported = -1, harmless = -1;
  ASSERT_EQ(std::sscanf(out.c_str(), "%d %d", &reported, &harmless), 2) << out;
  EXPECT_EQ(reported + harmless, static_cast<int>(good.size())) << out;
  EXPECT_GT(reported, static_cast<int>(good.size()) / 2);  // most bytes are checked
  EXPECT_EQ(out.find('\n'), std::string::npos) << out;
  H5Reader r(p, "bstack-test", 1, 1);  // the good file still reads in this process
  EXPECT_EQ(r.read_vector<float>("m/a"), a);
}

TEST_F(H5Test, ErrorsOnOtherThreadsPrintNothing) {
  // A thread-safe HDF5 keeps its error-printing switch per thread: check a fresh thread.
  const std::string p = file("good.h5");
  {
    H5Writer w(p, "bstack-test", 1);
    w.write("x", std::vector<double>(1000, 1.0), {1000});
    w.commit();
  }
  const std::vector<char> bytes = read_bytes(p);
  const std::string cut = file("cut.h5");
  write_bytes(cut, std::vector<char>(bytes.begin(), bytes.begin() + bytes.size() / 2));
  std::string message;
  ::testing::internal::CaptureStderr();
  std::thread t([&] {
    try {
      H5Reader r(cut, "bstack-test", 1, 1);
    } catch (const Error& e) {
      message = e.what();
    }
  });
  t.join();
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  EXPECT_NE(message.find(cut + ": truncated or not an HDF5 file"), std::string::npos) << message;
}

TEST_F(H5Test, WriterWithoutCommitLeavesNothing) {
  const std::string p = file("never.h5");
  {
    H5Writer w(p, "bstack-test", 1);
    w.write("x", std::vector<double>{1, 2, 3}, {3});
    EXPECT_EQ(dir_entries().size(), 1u);  // the temporary file, beside the target
    EXPECT_EQ(dir_entries()[0].rfind("never.h5.tmp.", 0), 0u);
  }
  EXPECT_FALSE(fs::exists(p));
  EXPECT_TRUE(fs::is_empty(dir_));  // the temporary file is gone too
  expect_error([&] { H5Writer w(file("no/such/dir/x.h5"), "bstack-test", 1); },
               {"no/such/dir/x.h5", "does not exist"});
}

TEST_F(H5Test, UncommittedRewriteLeavesEarlierFileUntouched) {
  const std::string p = file("keep.h5");
  {
    H5Writer w(p, "bstack-test", 1);
    w.write("x", std::vector<int32_t>{1, 2}, {2});
    w.commit();
  }
  const std::vector<char> before = read_bytes(p);
  try {
    H5Writer w(p, "bstack-test", 2);
    w.write("x", std::vector<int32_t>{9, 9, 9}, {3});
    w.write("x", std::vector<int32_t>{9}, {1});  // throws: written twice
  } catch (const Error&) {
  }
  EXPECT_EQ(read_bytes(p), before);
  EXPECT_EQ(dir_entries(), std::vector<std::string>{"keep.h5"});
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
    // Overwrite the same path with a large array (32 MB) and die before commit().
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
  // The dead writer's temporary file is left behind under its own name, never the target's.
  const auto names = dir_entries();
  ASSERT_EQ(names.size(), 2u);
  EXPECT_EQ(names[0], "ckpt.h5");
  EXPECT_EQ(names[1].rfind(fmt::format("ckpt.h5.tmp.{}.", static_cast<long>(child)), 0), 0u);
}

TEST_F(H5Test, RewriteReplacesAndEqualContentGivesEqualBytes) {
  const std::string p = file("same.h5"), q = file("other.h5");
  const auto write = [](const std::string& path, float x) {
    H5Writer w(path, "bstack-test", 1);
    w.write("a/b/c", std::vector<float>{x, 2, 3}, {3});
    w.attr("a", "k", 1.0);
    w.commit();
  };
  write(p, 1);
  write(q, 1);
  EXPECT_EQ(read_bytes(p), read_bytes(q));  // no timestamps in the file
  write(p, 5);                              // commit over an existing file replaces it
  H5Reader r(p, "bstack-test", 1, 1);
  EXPECT_EQ(r.read_vector<float>("a/b/c"), (std::vector<float>{5, 2, 3}));
  // Two writers on one path in one process don't collide; the last commit wins.
  H5Writer w1(q, "bstack-test", 1), w2(q, "bstack-test", 1);
  w1.write("v", std::vector<int8_t>{1}, {1});
  w2.write("v", std::vector<int8_t>{2}, {1});
  w1.commit();
  w2.commit();
  EXPECT_EQ(H5Reader(q, "bstack-test", 1, 1).read_vector<int8_t>("v"), std::vector<int8_t>{2});
}

TEST_F(H5Test, MisuseIsReported) {
  const std::string p = file("misuse.h5");
  H5Writer w(p, "bstack-test", 1);
  w.write("x", std::vector<float>{1}, {1});
  expect_error([&] { w.write("x", std::vector<float>{1}, {1}); }, {p, "'x' already exists"});
  expect_error([&] { w.write("x/y", std::vector<float>{1}, {1}); }, {p, "'x' is a dataset"});
  expect_error([&] { w.write("/", std::vector<float>{1}, {1}); }, {p, "needs a name"});
  expect_error([&] { w.write("neg", std::vector<float>{}, {2, -1}); },
               {p, "'neg' has a negative dimension in shape [2, -1]"});
  expect_error([&] { w.write("null", ArrayRef{DType::f32, {2}, nullptr}); },
               {p, "'null' has shape [2] but no data"});
  w.commit();
  expect_error([&] { w.commit(); }, {p, "commit() called twice"});
  expect_error([&] { w.write("y", std::vector<float>{1}, {1}); }, {p, "after commit()"});
  expect_error([&] { w.attr("/", "k", int64_t{1}); }, {p, "after commit()"});
  H5Reader r(p, "bstack-test", 1, 1);
  EXPECT_EQ(r.list("/"), std::vector<std::string>{"x"});
}
