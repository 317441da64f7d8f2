#include "src/data/datasets.h"

#include "src/ops.h"
#include "src/random.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <sstream>

namespace bstack::data {

Dataset Dataset::subset(const std::vector<int64_t>& rows) const {
  NoGradGuard ng;
  const Tensor idx = from_vector(rows, {static_cast<int64_t>(rows.size())});
  return {index_select(x, 0, idx), index_select(y, 0, idx)};
}

std::string read_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) fail("{}: no such file", path);
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) fail("{}: cannot open: {}", path, std::strerror(errno));
  std::string out;
  char buf[1 << 16];
  while (true) {
    const int n = gzread(f, buf, sizeof buf);
    if (n < 0) {
      int err = 0;
      const std::string msg = gzerror(f, &err);
      const long at = static_cast<long>(out.size());
      gzclose(f);
      fail("{}: corrupt or truncated compressed data after {} decompressed bytes ({})", path, at, msg);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  // gzread stops quietly at a truncated gzip stream; gzclose reports it.
  const int rc = gzclose(f);
  if (rc != Z_OK) fail("{}: truncated compressed data after {} decompressed bytes", path, out.size());
  return out;
}

Dataset load_digits(const std::string& path) {
  const std::string text = read_file(path);
  std::vector<float> px;
  std::vector<int64_t> labels;
  std::istringstream in(text);
  std::string line;
  int64_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty()) continue;
    std::vector<double> vals;
    size_t pos = 0;
    while (pos <= line.size()) {
      size_t comma = line.find(',', pos);
      if (comma == std::string::npos) comma = line.size();
      const std::string field = line.substr(pos, comma - pos);
      char* end = nullptr;
      const double v = std::strtod(field.c_str(), &end);
      if (field.empty() || end == field.c_str() || *end != '\0')
        fail("{}: line {}: '{}' is not a number", path, lineno, field);
      vals.push_back(v);
      pos = comma + 1;
    }
    if (vals.size() != 65) fail("{}: line {}: {} values, expected 65 (64 pixels and a label)", path, lineno, vals.size());
    for (int i = 0; i < 64; ++i) {
      if (vals[i] < 0 || vals[i] > 16) fail("{}: line {}: pixel {} is {}, expected 0..16", path, lineno, i, vals[i]);
      px.push_back(static_cast<float>(vals[i] / 16.0));
    }
    const double lab = vals[64];
    if (lab != std::floor(lab) || lab < 0 || lab > 9) fail("{}: line {}: label {} out of range 0..9", path, lineno, lab);
    labels.push_back(static_cast<int64_t>(lab));
  }
  const int64_t n = static_cast<int64_t>(labels.size());
  if (n == 0) fail("{}: no data lines", path);
  return {from_vector(px, {n, 1, 8, 8}), from_vector(labels, {n})};
}

namespace {
uint32_t be32(const std::string& b, size_t at) {
  return (static_cast<uint32_t>(static_cast<uint8_t>(b[at])) << 24) |
         (static_cast<uint32_t>(static_cast<uint8_t>(b[at + 1])) << 16) |
         (static_cast<uint32_t>(static_cast<uint8_t>(b[at + 2])) << 8) |
         static_cast<uint32_t>(static_cast<uint8_t>(b[at + 3]));
}
void need(const std::string& path, const std::string& b, size_t bytes, const char* what) {
  if (b.size() < bytes)
    fail("{}: truncated at byte {}: {} needs {} bytes", path, b.size(), what, bytes);
}
}  // namespace

// IDX format (LeCun et al., MNIST): magic 0x00000803 (u8 images, 3 dims) / 0x00000801 (u8
// labels, 1 dim), then big-endian u32 sizes, then the bytes.
Dataset load_idx(const std::string& images_path, const std::string& labels_path) {
  const std::string im = read_file(images_path), lb = read_file(labels_path);
  need(images_path, im, 16, "the IDX image header");
  need(labels_path, lb, 8, "the IDX label header");
  if (be32(im, 0) != 0x803)
    fail("{}: bad magic number 0x{:08x} at byte 0, expected 0x00000803 (IDX u8 images)", images_path, be32(im, 0));
  if (be32(lb, 0) != 0x801)
    fail("{}: bad magic number 0x{:08x} at byte 0, expected 0x00000801 (IDX u8 labels)", labels_path, be32(lb, 0));
  const int64_t n = be32(im, 4), h = be32(im, 8), w = be32(im, 12), nl = be32(lb, 4);
  if (h == 0 || w == 0 || h > 4096 || w > 4096)
    fail("{}: image size {}x{} at byte 8 is not plausible", images_path, h, w);
  if (n != nl) fail("{}: {} images but {} has {} labels (byte 4)", images_path, n, labels_path, nl);
  need(images_path, im, 16 + static_cast<size_t>(n * h * w), "the image data");
  need(labels_path, lb, 8 + static_cast<size_t>(n), "the label data");
  std::vector<float> px(static_cast<size_t>(n * h * w));
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>(im[16 + i]) / 255.0f;
  std::vector<int64_t> labels(n);
  for (int64_t i = 0; i < n; ++i) {
    labels[i] = static_cast<uint8_t>(lb[8 + i]);
    if (labels[i] > 9) fail("{}: label {} at byte {} out of range 0..9", labels_path, labels[i], 8 + i);
  }
  return {from_vector(px, {n, 1, h, w}), from_vector(labels, {n})};
}

// CIFAR-10 binary version (Krizhevsky 2009): records of 1 label byte + 3072 bytes (R, G, B
// planes of 32x32).
Dataset load_cifar10(const std::vector<std::string>& paths) {
  constexpr size_t kRecord = 1 + 3 * 32 * 32;
  std::vector<float> px;
  std::vector<int64_t> labels;
  for (const auto& p : paths) {
    const std::string b = read_file(p);
    if (b.empty() || b.size() % kRecord != 0)
      fail("{}: {} bytes is not a whole number of {}-byte CIFAR-10 records (truncated at byte {})", p,
           b.size(), kRecord, b.size() / kRecord * kRecord);
    for (size_t r = 0; r < b.size() / kRecord; ++r) {
      const uint8_t lab = static_cast<uint8_t>(b[r * kRecord]);
      if (lab > 9) fail("{}: label {} at byte {} out of range 0..9", p, lab, r * kRecord);
      labels.push_back(lab);
      for (size_t i = 1; i < kRecord; ++i) px.push_back(static_cast<uint8_t>(b[r * kRecord + i]) / 255.0f);
    }
  }
  const int64_t n = static_cast<int64_t>(labels.size());
  if (n == 0) fail("CIFAR-10: no batch files given");
  return {from_vector(px, {n, 3, 32, 32}), from_vector(labels, {n})};
}

Table read_csv(const std::string& path, bool has_header) {
  const std::string text = read_file(path);
  Table t;
  std::vector<double> vals;
  int64_t cols = -1, rows = 0, lineno = 0;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    std::vector<std::string> fields;
    size_t pos = 0;
    while (true) {
      const size_t comma = line.find(',', pos);
      fields.push_back(line.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos));
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
    if (has_header && t.header.empty() && rows == 0 && cols < 0) {
      t.header = fields;
      cols = static_cast<int64_t>(fields.size());
      continue;
    }
    if (cols < 0) cols = static_cast<int64_t>(fields.size());
    if (static_cast<int64_t>(fields.size()) != cols)
      fail("{}: line {}: {} values, expected {}", path, lineno, fields.size(), cols);
    for (const auto& f : fields) {
      char* end = nullptr;
      const double v = std::strtod(f.c_str(), &end);
      if (f.empty() || *end != '\0') fail("{}: line {}: '{}' is not a number", path, lineno, f);
      vals.push_back(v);
    }
    ++rows;
  }
  if (rows == 0) fail("{}: no data rows", path);
  t.values = from_vector(vals, {rows, cols});
  return t;
}

CharTokenizer::CharTokenizer(const std::string& corpus) {
  bool seen[256] = {};
  for (unsigned char c : corpus) seen[c] = true;
  std::string vocab;
  for (int c = 0; c < 256; ++c)
    if (seen[c]) vocab.push_back(static_cast<char>(c));
  *this = from_vocab(vocab);
}

CharTokenizer CharTokenizer::from_vocab(std::string vocab) {
  CharTokenizer t;
  t.vocab_ = std::move(vocab);
  std::fill(std::begin(t.id_of_), std::end(t.id_of_), -1);
  for (size_t i = 0; i < t.vocab_.size(); ++i) t.id_of_[static_cast<unsigned char>(t.vocab_[i])] = static_cast<int>(i);
  return t;
}

std::vector<int64_t> CharTokenizer::encode(const std::string& s) const {
  std::vector<int64_t> ids(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const int id = id_of_[static_cast<unsigned char>(s[i])];
    if (id < 0) fail("tokenizer: character 0x{:02x} at offset {} is not in the vocabulary", static_cast<unsigned char>(s[i]), i);
    ids[i] = id;
  }
  return ids;
}

std::string CharTokenizer::decode(const std::vector<int64_t>& ids) const {
  std::string s;
  for (int64_t id : ids) {
    BSTACK_CHECK(id >= 0 && id < size(), "tokenizer: id {} out of range 0..{}", id, size() - 1);
    s.push_back(vocab_[id]);
  }
  return s;
}

Dataset text_windows(const std::vector<int64_t>& ids, int64_t T) {
  BSTACK_CHECK(T > 0, "text_windows: window length must be positive");
  const int64_t n = (static_cast<int64_t>(ids.size()) - 1) / T;
  BSTACK_CHECK(n > 0, "text_windows: {} tokens are too few for one window of {}", ids.size(), T + 1);
  std::vector<int64_t> x(n * T), y(n * T);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t t = 0; t < T; ++t) {
      x[i * T + t] = ids[i * T + t];
      y[i * T + t] = ids[i * T + t + 1];
    }
  return {from_vector(x, {n, T}), from_vector(y, {n, T})};
}

std::vector<int64_t> permutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> p(n);
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  Generator g(seed);
  for (int64_t i = n - 1; i > 0; --i) std::swap(p[i], p[g.below(static_cast<uint64_t>(i) + 1)]);
  return p;
}

Splits split(const Dataset& d, double val_frac, double test_frac, uint64_t seed) {
  BSTACK_CHECK(val_frac >= 0 && test_frac >= 0 && val_frac + test_frac < 1,
               "split: fractions {} (validation) and {} (test) must be >= 0 and sum below 1", val_frac, test_frac);
  const int64_t n = d.size();
  const std::vector<int64_t> p = permutation(n, seed);
  const int64_t n_test = static_cast<int64_t>(std::round(n * test_frac));
  const int64_t n_val = static_cast<int64_t>(std::round(n * val_frac));
  const int64_t n_train = n - n_test - n_val;
  auto part = [&](int64_t b, int64_t e) { return d.subset(std::vector<int64_t>(p.begin() + b, p.begin() + e)); };
  return {part(0, n_train), part(n_train, n_train + n_val), part(n_train + n_val, n)};
}

}  // namespace bstack::data
