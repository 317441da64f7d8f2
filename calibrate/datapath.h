// The data path: how fast this machine can supply training samples. Two walls meet here:
//
//   ingestion       bytes from storage: sequential read bandwidth of a scratch file, read back
//                   with O_DIRECT (the page cache bypassed) where the file system allows it, else
//                   after fsync + posix_fadvise(DONTNEED); and the same file from the page cache.
//   transformation  samples/s out of the project's own loader: the shipped digits read,
//                   decoded (gunzip + CSV parse), normalised, shuffled and batched as
//                   `bstack train` does; the same for a char-level text corpus (gpt-tiny).
//
// Method as fio/dd-style sequential streaming at queue depth 1 (one read() in flight), best of N
// whole-file passes. On a VM "cold" means "not in this guest's page cache": the host may still
// serve the virtual disk from its own cache, which the method string cannot rule out.
// Left out on purpose: random reads, parallel readers (io_uring, queue depth > 1), network
// file systems' own caching, and image decoding (the shipped data set is CSV).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "calibrate/calibrate.h"

namespace bstack::calibrate {

// Options::scratch_dir, or $TMPDIR, or /tmp.
std::string resolve_scratch_dir(const std::string& scratch_dir);

struct FileReadOptions {
  std::string dir;                         // where the scratch file goes (must exist, writable)
  int64_t file_bytes = 256ll << 20;        // rounded down to a multiple of block_bytes
  int64_t block_bytes = 4ll << 20;         // write and headline read block
  int repeats = 3;                         // best of N whole-file passes (cold and cached)
  std::vector<int64_t> sweep_blocks;       // cold read block sizes to sweep (multiples of 4 KiB)
  double sweep_seconds = 0.1;              // time cap per sweep point (at least 4 blocks)
  bool use_direct_io = true;               // false: fsync + posix_fadvise(DONTNEED) even where
                                           // O_DIRECT works (to compare the two, and in tests)
};

struct FileReadResult {
  int64_t file_bytes = 0;
  double write_bytes_per_s = 0;   // one pass of block_bytes writes, fsync included
  double cold_bytes_per_s = 0;    // best of N, block_bytes reads, page cache bypassed/dropped
  double cached_bytes_per_s = 0;  // best of N, block_bytes reads, file in the page cache
  bool direct_io = false;         // true: O_DIRECT; false: fsync + posix_fadvise(DONTNEED)
  std::vector<std::pair<int64_t, double>> sweep;  // (block bytes, cold bytes/s)
};

// Writes a scratch file in `dir`, measures, and removes it whatever happens (the file is
// unlinked right after it is created, so not even a killed process leaves it behind).
// Throws bstack::Error naming the directory when it cannot create or write the file.
FileReadResult measure_file_read(const FileReadOptions& o, const ProgressFn& progress);

struct LoaderResult {
  int64_t samples = 0;            // per epoch
  int64_t batch = 0;
  double decode_seconds = 0;      // best of N: read file + decode + normalise (the whole set)
  double epoch_seconds = 0;       // best of N: one shuffled epoch of batches from memory
  double samples_per_s() const { return samples / (decode_seconds + epoch_seconds); }
};

// The shipped digits (data/digits.csv.gz, or $BSTACK_DATA_DIR) through data::load_digits and
// data::DataLoader (batch 32, shuffle, as `bstack train` does); best of `repeats`.
LoaderResult measure_digits_loader(const std::string& path, int64_t batch, int repeats);
// A text corpus through data::read_file, CharTokenizer, text_windows (context T) and the
// DataLoader, as `bstack train --model gpt-tiny` does; a sample is one window of T tokens.
LoaderResult measure_text_loader(const std::string& path, int64_t context, int64_t batch,
                                 int repeats);

}  // namespace bstack::calibrate
