// The data-path section: the scratch-file read figures are finite and positive, the scratch
// file never outlives the measurement (also when it fails), an unusable scratch directory gives
// an error naming it, and the loader figures count the samples the data sets hold.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "calibrate/datapath.h"
#include "src/train/train.h"
#include "tests/test_util.h"

using namespace bstack;
using namespace bstack::calibrate;
namespace fs = std::filesystem;

namespace {

// A fresh, empty directory removed at the end of the test.
struct TempDir {
  explicit TempDir(const char* tag)
      : path(fs::temp_directory_path() /
             (std::string("bstack_datapath_") + tag + "_" + std::to_string(::getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::permissions(path, fs::perms::owner_all, ec);
    fs::remove_all(path, ec);
  }
  bool empty() const { return fs::is_empty(path); }
  fs::path path;
};

bool positive_finite(double v) { return std::isfinite(v) && v > 0; }

FileReadOptions small_file(const std::string& dir) {
  FileReadOptions o;
  o.dir = dir;
  o.file_bytes = 8 << 20;
  o.block_bytes = 1 << 20;
  o.repeats = 2;
  o.sweep_blocks = {64 << 10, 1 << 20, 2 << 20};
  o.sweep_seconds = 0.01;
  return o;
}

}  // namespace

TEST(Datapath, FileReadFiniteAndScratchRemoved) {
  TempDir d("read");
  double last_frac = -1;
  const FileReadResult r = measure_file_read(small_file(d.path.string()), [&](double f, const std::string&) {
    EXPECT_GE(f, last_frac);
    last_frac = f;
  });
  EXPECT_EQ(r.file_bytes, 8 << 20);
  EXPECT_TRUE(positive_finite(r.write_bytes_per_s));
  EXPECT_TRUE(positive_finite(r.cold_bytes_per_s));
  EXPECT_TRUE(positive_finite(r.cached_bytes_per_s));
  ASSERT_EQ(r.sweep.size(), 3u);
  EXPECT_EQ(r.sweep[0].first, 64 << 10);
  for (const auto& [b, bw] : r.sweep) EXPECT_TRUE(positive_finite(bw)) << b;
  EXPECT_DOUBLE_EQ(last_frac, 1.0);
  EXPECT_TRUE(d.empty()) << "the scratch file was left in " << d.path;
}

TEST(Datapath, FadviseFallback) {
  TempDir d("fadvise");
  FileReadOptions o = small_file(d.path.string());
  o.use_direct_io = false;
  const FileReadResult r = measure_file_read(o, nullptr);
  EXPECT_FALSE(r.direct_io);
  EXPECT_TRUE(positive_finite(r.cold_bytes_per_s));
  for (const auto& [b, bw] : r.sweep) EXPECT_TRUE(positive_finite(bw)) << b;
  EXPECT_TRUE(d.empty());
}

TEST(Datapath, FileSizeRoundedToBlocks) {
  TempDir d("round");
  FileReadOptions o = small_file(d.path.string());
  o.file_bytes = (3 << 20) + 12345;
  o.sweep_blocks.clear();
  EXPECT_EQ(measure_file_read(o, nullptr).file_bytes, 3 << 20);
  EXPECT_TRUE(d.empty());
}

TEST(Datapath, UnusableScratchDirIsNamed) {
  TempDir d("bad");
  // A directory that does not exist, and a "directory" that is a regular file.
  const std::string missing = (d.path / "no" / "such" / "dir").string();
  std::string msg = test::error_of([&] { measure_file_read(small_file(missing), nullptr); });
  EXPECT_NE(msg.find(missing), std::string::npos) << msg;
  const fs::path file = d.path / "plain_file";
  std::ofstream(file) << "x";
  msg = test::error_of([&] { measure_file_read(small_file(file.string()), nullptr); });
  EXPECT_NE(msg.find(file.string()), std::string::npos) << msg;
  fs::remove(file);
  // Read-only: root writes anyway, so only meaningful for other users.
  if (::geteuid() != 0) {
    fs::permissions(d.path, fs::perms::owner_read | fs::perms::owner_exec);
    msg = test::error_of([&] { measure_file_read(small_file(d.path.string()), nullptr); });
    EXPECT_NE(msg.find(d.path.string()), std::string::npos) << msg;
    fs::permissions(d.path, fs::perms::owner_all);
  }
  EXPECT_TRUE(d.empty());
}

TEST(Datapath, ResolveScratchDir) {
  EXPECT_EQ(resolve_scratch_dir("/some/where"), "/some/where");
  EXPECT_FALSE(resolve_scratch_dir("").empty());
}

TEST(Datapath, DigitsLoaderCountsTheShippedSet) {
  const std::string digits = train::data_dir() + "/digits.csv.gz";
  const LoaderResult r = measure_digits_loader(digits, 32, 2);
  EXPECT_EQ(r.samples, 1797);  // data/README.md
  EXPECT_EQ(r.batch, 32);
  EXPECT_TRUE(positive_finite(r.decode_seconds));
  EXPECT_TRUE(positive_finite(r.epoch_seconds));
  EXPECT_TRUE(positive_finite(r.samples_per_s()));
}

TEST(Datapath, TextLoaderCountsWindows) {
  TempDir d("text");
  const fs::path f = d.path / "corpus.txt";
  std::string text;
  for (int i = 0; i < 1000; ++i) text += static_cast<char>('a' + i % 26);
  std::ofstream(f) << text;
  const LoaderResult r = measure_text_loader(f.string(), 16, 8, 2);
  EXPECT_EQ(r.samples, (1000 - 1) / 16);  // non-overlapping windows of T + 1 tokens
  EXPECT_TRUE(positive_finite(r.samples_per_s()));
}

TEST(Datapath, SectionRecordsKeysAndCleansUp) {
  TempDir d("section");
  Options o;
  o.quick = true;
  o.scratch_dir = d.path.string();
  MachineProfile p;
  calibrate_datapath(o, p, nullptr);
  for (const auto& q : p.params) std::printf("%-30s %12.4g %-9s %s\n", q.key.c_str(), q.value, q.unit.c_str(), q.method.c_str());
  for (const auto& n : p.notes) std::printf("note: %s\n", n.c_str());
  for (const char* k : {"file_read_bytes_per_s", "file_read_cached_bytes_per_s", "file_write_bytes_per_s",
                        "loader_samples_per_s", "loader_decode_samples_per_s",
                        "loader_batch_samples_per_s"}) {
    ASSERT_TRUE(p.has(k)) << k;
    EXPECT_TRUE(positive_finite(p.value(k))) << k;
    EXPECT_FALSE(p.param(k).method.empty()) << k;
  }
  EXPECT_EQ(p.param("loader_samples_per_s").unit, "samples/s");
  if (fs::exists("/usr/share/common-licenses/GPL-3")) {
    EXPECT_TRUE(p.has("loader_text_samples_per_s"));
  }
  const Series* s = p.find_series("datapath/file_read");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->rows(), 9u);  // 64 KiB .. 16 MiB
  for (size_t r = 0; r < s->rows(); ++r) std::printf("cold read, %8.0f KiB blocks: %.3g B/s\n", s->at(r, 0) / 1024, s->at(r, 1));
  EXPECT_TRUE(d.empty());
}
