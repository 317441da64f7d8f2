// Readers (valid files round-trip; corrupt ones are named with the byte offset or line),
// the tokenizer, seeded splits and the DataLoader.
#include "src/data/loader.h"
#include "src/ops.h"
#include "src/train/train.h"
#include "tests/test_util.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <set>

using namespace bstack;
using namespace bstack::data;
using bstack::test::error_of;
namespace fs = std::filesystem;

namespace {

std::string tmp(const std::string& name) {
  return (fs::temp_directory_path() / ("bstack-data-" + std::to_string(::getpid()) + "-" + name)).string();
}
void write(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}
std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

}  // namespace

TEST(Digits, ShippedFileLoads) {
  Dataset d = load_digits(train::data_dir() + "/digits.csv.gz");
  EXPECT_EQ(d.x.shape(), (Shape{1797, 1, 8, 8}));
  EXPECT_EQ(d.y.shape(), (Shape{1797}));
  EXPECT_EQ(d.y.dtype(), DType::i64);
  EXPECT_EQ(max(d.y).item(), 9);
  EXPECT_LE(max(d.x).item(), 1.0);
  EXPECT_GE(-max(-d.x).item(), 0.0);
  // The first image is a 0 (the file's first line ends in ",0").
  EXPECT_EQ(d.y.get({0}), 0);
  EXPECT_FLOAT_EQ(d.x.get({0, 0, 0, 2}), 5.0f / 16);
}

TEST(Digits, BadLinesAreNamed) {
  const std::string p = tmp("digits.csv");
  std::string good(64 * 2, ',');
  std::string line;
  for (int i = 0; i < 64; ++i) line += "1,";
  write(p, line + "3\n" + line + "12\n");
  EXPECT_EQ(error_of([&] { load_digits(p); }), p + ": line 2: label 12 out of range 0..9");
  write(p, line + "3\n1,2,3\n");
  EXPECT_EQ(error_of([&] { load_digits(p); }), p + ": line 2: 3 values, expected 65 (64 pixels and a label)");
  write(p, line + "x\n");
  EXPECT_EQ(error_of([&] { load_digits(p); }), p + ": line 1: 'x' is not a number");
  // A truncated gzip file.
  std::ifstream in(train::data_dir() + "/digits.csv.gz", std::ios::binary);
  std::string gz((std::istreambuf_iterator<char>(in)), {});
  write(p, gz.substr(0, gz.size() / 2));
  EXPECT_NE(error_of([&] { load_digits(p); }).find("truncated compressed data"), std::string::npos);
  EXPECT_EQ(error_of([&] { load_digits(tmp("none.csv")); }), tmp("none.csv") + ": no such file");
  fs::remove(p);
}

TEST(Idx, ReadsAndRejectsCorruptFiles) {
  const std::string im = tmp("images.idx"), lb = tmp("labels.idx");
  std::string pixels;
  for (int i = 0; i < 2 * 3 * 4; ++i) pixels.push_back(static_cast<char>(i * 10));
  write(im, be32(0x803) + be32(2) + be32(3) + be32(4) + pixels);
  write(lb, be32(0x801) + be32(2) + std::string{7, 1});
  Dataset d = load_idx(im, lb);
  EXPECT_EQ(d.x.shape(), (Shape{2, 1, 3, 4}));
  EXPECT_FLOAT_EQ(d.x.get({1, 0, 2, 3}), 230 / 255.0f);
  EXPECT_EQ(d.y.to_vector(), (std::vector<double>{7, 1}));

  write(im, be32(0x802) + be32(2) + be32(3) + be32(4) + pixels);
  EXPECT_EQ(error_of([&] { load_idx(im, lb); }),
            im + ": bad magic number 0x00000802 at byte 0, expected 0x00000803 (IDX u8 images)");
  write(im, be32(0x803) + be32(2) + be32(3) + be32(4) + pixels.substr(0, 10));
  EXPECT_EQ(error_of([&] { load_idx(im, lb); }), im + ": truncated at byte 26: the image data needs 40 bytes");
  write(im, be32(0x803) + be32(2) + be32(3) + be32(4) + pixels);
  write(lb, be32(0x801) + be32(2) + std::string{7, 12});
  EXPECT_EQ(error_of([&] { load_idx(im, lb); }), lb + ": label 12 at byte 9 out of range 0..9");
  write(lb, be32(0x801) + be32(3) + std::string{7, 1, 2});
  EXPECT_NE(error_of([&] { load_idx(im, lb); }).find("2 images but"), std::string::npos);
  fs::remove(im);
  fs::remove(lb);
}

TEST(Cifar10, RecordsAndTruncation) {
  const std::string p = tmp("cifar.bin");
  std::string rec(3073, '\0');
  rec[0] = 4;
  rec[1 + 1024 + 5] = static_cast<char>(255);  // green plane, pixel 5
  write(p, rec + rec);
  Dataset d = load_cifar10({p});
  EXPECT_EQ(d.x.shape(), (Shape{2, 3, 32, 32}));
  EXPECT_EQ(d.x.get({1, 1, 0, 5}), 1.0);
  EXPECT_EQ(d.y.get({1}), 4);
  write(p, rec + rec.substr(0, 100));
  EXPECT_EQ(error_of([&] { load_cifar10({p}); }),
            p + ": 3173 bytes is not a whole number of 3073-byte CIFAR-10 records (truncated at byte 3073)");
  fs::remove(p);
}

TEST(Csv, HeaderValuesAndErrors) {
  const std::string p = tmp("t.csv");
  write(p, "a,b\n1,2.5\r\n-3,4e2\n");
  Table t = read_csv(p, true);
  EXPECT_EQ(t.header, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(t.values.to_vector(), (std::vector<double>{1, 2.5, -3, 400}));
  write(p, "1,2\n3\n");
  EXPECT_EQ(error_of([&] { read_csv(p, false); }), p + ": line 2: 1 values, expected 2");
  fs::remove(p);
}

TEST(Text, TokenizerRoundTripAndWindows) {
  CharTokenizer tok("hello world");
  EXPECT_EQ(tok.vocab(), " dehlorw");
  EXPECT_EQ(tok.decode(tok.encode("low")), "low");
  EXPECT_THROW(tok.encode("z"), Error);
  CharTokenizer same = CharTokenizer::from_vocab(tok.vocab());
  EXPECT_EQ(same.encode("world"), tok.encode("world"));
  Dataset w = text_windows(tok.encode("hello world"), 3);  // 11 tokens -> 3 windows of 4
  EXPECT_EQ(w.x.shape(), (Shape{3, 3}));
  EXPECT_EQ(tok.decode(w.x.select(0, 1).to_vector_as<int64_t>()), "lo ");
  EXPECT_EQ(tok.decode(w.y.select(0, 1).to_vector_as<int64_t>()), "o w");
}

TEST(Split, SeededDisjointAndComplete) {
  Dataset d{arange(0, 100).reshape({100, 1}), arange(0, 100, 1, DType::i64)};
  Splits a = split(d, 0.1, 0.2, 5), b = split(d, 0.1, 0.2, 5), c = split(d, 0.1, 0.2, 6);
  EXPECT_EQ(a.train.size(), 70);
  EXPECT_EQ(a.val.size(), 10);
  EXPECT_EQ(a.test.size(), 20);
  EXPECT_EQ(a.test.y.to_vector(), b.test.y.to_vector());
  EXPECT_NE(a.test.y.to_vector(), c.test.y.to_vector());
  std::set<double> all;
  for (const Dataset* s : {&a.train, &a.val, &a.test})
    for (double v : s->y.to_vector()) all.insert(v);
  EXPECT_EQ(all.size(), 100u);
}

TEST(DataLoader, BatchesShuffleAndDropLast) {
  Dataset d{arange(0, 10).reshape({10, 1}), arange(0, 10, 1, DType::i64)};
  DataLoader keep(d, 4, false, false, 0), drop(d, 4, true, true, 3);
  EXPECT_EQ(keep.batches_per_epoch(), 3);
  EXPECT_EQ(drop.batches_per_epoch(), 2);
  keep.start_epoch(0);
  Batch b;
  std::vector<int64_t> sizes;
  std::vector<double> seen;
  while (keep.next(b)) {
    sizes.push_back(b.y.size(0));
    for (double v : b.y.to_vector()) seen.push_back(v);
    EXPECT_EQ(b.x.reshape({-1}).to_vector(), b.y.to_vector());  // rows stay paired
  }
  EXPECT_EQ(sizes, (std::vector<int64_t>{4, 4, 2}));
  EXPECT_EQ(seen, (std::vector<double>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  auto epoch_order = [&](DataLoader& dl, int64_t e) {
    dl.start_epoch(e);
    std::vector<double> o;
    while (dl.next(b))
      for (double v : b.y.to_vector()) o.push_back(v);
    return o;
  };
  const auto e0 = epoch_order(drop, 0), e0_again = epoch_order(drop, 0), e1 = epoch_order(drop, 1);
  EXPECT_EQ(e0.size(), 8u);
  EXPECT_EQ(e0, e0_again);  // the order depends only on (seed, epoch)
  EXPECT_NE(e0, e1);
  EXPECT_THROW(DataLoader(d, 0, false, false, 0), Error);
}

// A batch that fails to make, on the loader's thread or inline: next() rethrows the error, a
// second next() names the batch and says what to do, and start_epoch() recovers the loader.
TEST(DataLoader, FailedBatchIsReportedAndStartEpochRecovers) {
  // y has 6 rows for x's 10: rows 0..3 load, batch 1 (rows 4..7) indexes y out of range.
  Dataset d{arange(0, 10).reshape({10, 1}), arange(0, 6, 1, DType::i64)};
  for (Prefetch mode : {Prefetch::background, Prefetch::inline_call}) {
    SCOPED_TRACE(mode == Prefetch::background ? "background" : "inline");
    DataLoader dl(d, 4, false, false, 0);
    dl.set_prefetch(mode);
    dl.start_epoch(0);
    Batch b;
    ASSERT_TRUE(dl.next(b));
    EXPECT_EQ(b.y.to_vector(), (std::vector<double>{0, 1, 2, 3}));
    try {
      dl.next(b);
      ADD_FAILURE() << "batch 1 loaded although y has no row 6";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("index_select"), std::string::npos) << e.what();
    }
    try {
      dl.next(b);
      ADD_FAILURE() << "next() after a failed batch returned";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("batch 1 failed to load earlier; call start_epoch() again"),
                std::string::npos) << e.what();
    }
    dl.start_epoch(0);  // a fresh epoch reads batch 0 again
    ASSERT_TRUE(dl.next(b));
    EXPECT_EQ(b.y.to_vector(), (std::vector<double>{0, 1, 2, 3}));
  }
}

// Both ways of making a batch give the same batches in the same order, shuffled and sharded.
TEST(DataLoader, InlineAndBackgroundPrefetchAgree) {
  Dataset d{arange(0, 23).reshape({23, 1}), arange(0, 23, 1, DType::i64)};
  auto epochs = [&](Prefetch mode) {
    DataLoader dl(d, 6, true, false, 7);
    dl.set_prefetch(mode);
    dl.shard(1, 2);
    std::vector<double> seen;
    Batch b;
    for (int64_t e = 0; e < 2; ++e) {
      dl.start_epoch(e);
      while (dl.next(b))
        for (double v : b.y.to_vector()) seen.push_back(v);
    }
    return seen;
  };
  const auto bg = epochs(Prefetch::background), in = epochs(Prefetch::inline_call);
  EXPECT_EQ(bg.size(), 22u);  // rank 1's share of 2 epochs x 4 batches of 6, 6, 6, 5: 3+3+3+2 each
  EXPECT_EQ(bg, in);
  EXPECT_EQ(epochs(Prefetch::automatic), bg);
}
