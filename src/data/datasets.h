// Data sets held in memory as tensors, the readers that make them, and seeded splits.
// Readers check what they read and name the file and the byte offset (or line) of the first
// problem: a bad magic number, a truncated file, a wrong image size, a label out of range.
//
//   digits   the UCI 8x8 digits CSV (data/digits.csv.gz): x (N, 1, 8, 8) f32 in [0, 1], y (N) i64
//   IDX      MNIST / Fashion-MNIST image + label files: x (N, 1, H, W) f32 in [0, 1], y (N) i64
//   CIFAR-10 binary batches (1 label byte + 3072 pixel bytes a record): x (N, 3, 32, 32) f32
//   CSV      numeric tables with an optional header
//   text     a char-level corpus with its tokenizer: x, y (N, T) i64, y shifted by one
// .gz files are read through zlib; uncompressed files work too.
#pragma once

#include "src/tensor.h"

#include <string>
#include <vector>

namespace bstack::data {

struct Dataset {
  Tensor x;  // (N, ...) inputs
  Tensor y;  // (N) class labels, or (N, ...) targets
  int64_t size() const { return x.defined() ? x.size(0) : 0; }
  Dataset subset(const std::vector<int64_t>& rows) const;
};

// The whole file, decompressed when gzip'd; throws naming the file on any read error.
std::string read_file(const std::string& path);

Dataset load_digits(const std::string& path);
Dataset load_idx(const std::string& images_path, const std::string& labels_path);
Dataset load_cifar10(const std::vector<std::string>& batch_paths);

struct Table {
  std::vector<std::string> header;  // empty without a header line
  Tensor values;                    // (rows, cols) f64
};
Table read_csv(const std::string& path, bool has_header);

// Characters <-> ids over the sorted set of bytes seen in a corpus.
class CharTokenizer {
 public:
  CharTokenizer() = default;
  explicit CharTokenizer(const std::string& corpus);
  static CharTokenizer from_vocab(std::string vocab);
  std::vector<int64_t> encode(const std::string& s) const;  // unknown chars are an error
  std::string decode(const std::vector<int64_t>& ids) const;
  int64_t size() const { return static_cast<int64_t>(vocab_.size()); }
  const std::string& vocab() const { return vocab_; }  // saved with the model

 private:
  std::string vocab_;
  int id_of_[256];
};

// Non-overlapping windows of T + 1 tokens: x = window[:T], y = window[1:].
Dataset text_windows(const std::vector<int64_t>& ids, int64_t T);

struct Splits {
  Dataset train, val, test;
};
// A seeded shuffle, then the last test_frac for test, the val_frac before it for validation.
Splits split(const Dataset& d, double val_frac, double test_frac, uint64_t seed);

// A seeded permutation of 0..n-1 (Fisher-Yates with Generator::below).
std::vector<int64_t> permutation(int64_t n, uint64_t seed);

}  // namespace bstack::data
