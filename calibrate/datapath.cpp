#include "calibrate/datapath.h"
#include "calibrate/util.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <limits>
#include <memory>

#include "src/data/datasets.h"
#include "src/data/loader.h"
#include "src/error.h"
#include "src/nn/zoo.h"
#include "src/train/train.h"

namespace bstack::calibrate {
namespace {

constexpr int64_t kAlign = 4096;  // O_DIRECT: buffer, offset and length aligned to the block size
constexpr int64_t kMiB = 1ll << 20;

std::string errno_text() { return std::strerror(errno); }

// A buffer aligned for O_DIRECT.
struct AlignedBuffer {
  explicit AlignedBuffer(int64_t bytes)
      : p(static_cast<char*>(std::aligned_alloc(kAlign, static_cast<size_t>(bytes)))) {
    BSTACK_CHECK(p != nullptr, "calibrate datapath: cannot allocate a {} byte buffer", bytes);
  }
  ~AlignedBuffer() { std::free(p); }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  char* p;
};

// The scratch file: created with mkstemp in `dir` and unlinked at once, so it disappears when
// the descriptor closes (destructor, exception, or the process being killed) and never shows in
// the directory for longer than the two calls between creating and unlinking it.
class ScratchFile {
 public:
  explicit ScratchFile(const std::string& dir) : dir_(dir) {
    std::string name = (std::filesystem::path(dir) / "bstack-calibrate-XXXXXX").string();
    fd_ = ::mkstemp(name.data());
    if (fd_ < 0)
      fail("calibrate datapath: cannot create a scratch file in '{}': {} (choose a writable "
           "scratch directory)", dir, errno_text());
    if (::unlink(name.c_str()) != 0) {
      const std::string why = errno_text();
      ::close(fd_);
      ::unlink(name.c_str());
      fail("calibrate datapath: cannot unlink the scratch file '{}': {}", name, why);
    }
  }
  ~ScratchFile() { ::close(fd_); }
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;
  int fd() const { return fd_; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  int fd_ = -1;
};

void write_all(const ScratchFile& f, const char* buf, int64_t n, int64_t offset) {
  int64_t done = 0;
  while (done < n) {
    const ssize_t w = ::pwrite(f.fd(), buf + done, static_cast<size_t>(n - done), offset + done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0)
      fail("calibrate datapath: writing the scratch file in '{}' failed at byte {}: {}", f.dir(),
           offset + done, w < 0 ? errno_text() : "no progress");
    done += w;
  }
}

// Reads [offset, offset + n) into buf; false when the kernel rejects the read with EINVAL (an
// O_DIRECT read the file system does not support).
bool read_all(const ScratchFile& f, char* buf, int64_t n, int64_t offset) {
  int64_t done = 0;
  while (done < n) {
    const ssize_t r = ::pread(f.fd(), buf + done, static_cast<size_t>(n - done), offset + done);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && errno == EINVAL) return false;
    if (r <= 0)
      fail("calibrate datapath: reading the scratch file in '{}' failed at byte {}: {}", f.dir(),
           offset + done, r < 0 ? errno_text() : "unexpected end of file");
    done += r;
  }
  return true;
}

void set_direct(const ScratchFile& f, bool on) {
  const int flags = ::fcntl(f.fd(), F_GETFL);
  BSTACK_CHECK(flags >= 0, "calibrate datapath: fcntl(F_GETFL) on the scratch file: {}", errno_text());
  ::fcntl(f.fd(), F_SETFL, on ? (flags | O_DIRECT) : (flags & ~O_DIRECT));
}

// Linux lets O_DIRECT be switched on an open descriptor (fcntl F_SETFL); a file system without
// direct I/O refuses either the fcntl or the first read with EINVAL.
bool try_direct(const ScratchFile& f, char* buf, int64_t block) {
  const int flags = ::fcntl(f.fd(), F_GETFL);
  if (flags < 0 || ::fcntl(f.fd(), F_SETFL, flags | O_DIRECT) != 0) return false;
  if (!read_all(f, buf, block, 0)) {
    set_direct(f, false);
    return false;
  }
  return true;
}

// Page cache dropped for this file: its pages are clean after fsync, so DONTNEED evicts them
// (posix_fadvise(2); what `vmtouch -e` and fio's invalidate=1 do).
void drop_cache(const ScratchFile& f) {
  if (::fdatasync(f.fd()) != 0)
    fail("calibrate datapath: fdatasync of the scratch file in '{}': {}", f.dir(), errno_text());
  const int rc = ::posix_fadvise(f.fd(), 0, 0, POSIX_FADV_DONTNEED);
  if (rc != 0)
    fail("calibrate datapath: posix_fadvise(DONTNEED) in '{}': {}", f.dir(), std::strerror(rc));
}

// One sequential pass in `block` reads from offset 0 until `limit` bytes or, past 4 blocks,
// `time_cap` seconds; returns bytes/s.
double read_pass(const ScratchFile& f, char* buf, int64_t block, int64_t limit, double time_cap) {
  const auto t0 = Clock::now();
  int64_t off = 0;
  while (off + block <= limit) {
    if (!read_all(f, buf, block, off))
      fail("calibrate datapath: read of {} bytes at {} rejected (EINVAL) in '{}'", block, off, f.dir());
    off += block;
    if (off >= 4 * block && seconds_since(t0) > time_cap) break;
  }
  const double t = seconds_since(t0);
  return t > 0 ? static_cast<double>(off) / t : 0;
}

}  // namespace

std::string resolve_scratch_dir(const std::string& scratch_dir) {
  if (!scratch_dir.empty()) return scratch_dir;
  if (const char* t = std::getenv("TMPDIR"); t && *t) return t;
  return "/tmp";
}

FileReadResult measure_file_read(const FileReadOptions& o, const ProgressFn& progress) {
  BSTACK_CHECK(o.block_bytes > 0 && o.block_bytes % kAlign == 0,
               "calibrate datapath: block size {} is not a positive multiple of {}", o.block_bytes, kAlign);
  BSTACK_CHECK(o.repeats >= 1, "calibrate datapath: repeats must be at least 1, got {}", o.repeats);
  for (int64_t b : o.sweep_blocks)
    BSTACK_CHECK(b > 0 && b % kAlign == 0, "calibrate datapath: sweep block {} is not a multiple of {}", b, kAlign);
  FileReadResult r;
  r.file_bytes = o.file_bytes / o.block_bytes * o.block_bytes;
  BSTACK_CHECK(r.file_bytes > 0, "calibrate datapath: file size {} is below one block of {} bytes",
               o.file_bytes, o.block_bytes);
  const auto report = [&](double frac, const std::string& what) {
    if (progress) progress(frac, what);
  };

  ScratchFile f(o.dir);
  const int64_t max_block = std::max(o.block_bytes, o.sweep_blocks.empty() ? int64_t{0}
                                     : *std::max_element(o.sweep_blocks.begin(), o.sweep_blocks.end()));
  AlignedBuffer buf(max_block);
  // Incompressible bytes (xorshift64), so no file system or virtual disk can shortcut the data.
  uint64_t s = 0x9E3779B97F4A7C15ull;
  for (int64_t i = 0; i + 8 <= max_block; i += 8) {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    std::memcpy(buf.p + i, &s, 8);
  }

  // Write: one pass of block_bytes pwrites, then fsync; the time includes the fsync.
  report(0.0, "writing the scratch file");
  auto t0 = Clock::now();
  for (int64_t off = 0; off < r.file_bytes; off += o.block_bytes) {
    write_all(f, buf.p, o.block_bytes, off);
    if ((off / o.block_bytes) % 16 == 0) report(0.3 * off / r.file_bytes, "writing the scratch file");
  }
  if (::fsync(f.fd()) != 0)
    fail("calibrate datapath: fsync of the scratch file in '{}': {}", o.dir, errno_text());
  r.write_bytes_per_s = r.file_bytes / seconds_since(t0);

  // Cached: the file was just written through the page cache; one untimed pass makes sure every
  // page is resident, then best of N.
  const double inf = std::numeric_limits<double>::infinity();
  report(0.3, "reading the scratch file from the page cache");
  read_pass(f, buf.p, o.block_bytes, r.file_bytes, inf);
  for (int i = 0; i < o.repeats; ++i)
    r.cached_bytes_per_s = std::max(r.cached_bytes_per_s, read_pass(f, buf.p, o.block_bytes, r.file_bytes, inf));

  // Cold: O_DIRECT where supported, else the file's cached pages dropped before every pass.
  r.direct_io = o.use_direct_io && try_direct(f, buf.p, o.block_bytes);
  const int sweep_n = static_cast<int>(o.sweep_blocks.size());
  for (int i = 0; i < o.repeats; ++i) {
    report(0.4 + 0.3 * i / o.repeats, "reading the scratch file past the page cache");
    if (!r.direct_io) drop_cache(f);
    r.cold_bytes_per_s = std::max(r.cold_bytes_per_s, read_pass(f, buf.p, o.block_bytes, r.file_bytes, inf));
  }
  for (int i = 0; i < sweep_n; ++i) {
    const int64_t b = o.sweep_blocks[i];
    report(0.7 + 0.3 * i / sweep_n, fmt::format("cold read sweep, {} KiB blocks", b / 1024));
    double best = 0;
    for (int rep = 0; rep < 2; ++rep) {
      if (!r.direct_io) drop_cache(f);
      best = std::max(best, read_pass(f, buf.p, b, r.file_bytes, o.sweep_seconds));
    }
    r.sweep.emplace_back(b, best);
  }
  report(1.0, "file read done");
  return r;
}

namespace {

// Best of `repeats` shuffled epochs (after one untimed warm-up epoch) of the DataLoader over
// `ds`, as the training loop drives it: start_epoch, then next() until the end; every batch is
// assembled (index_select gather) on the loader's prefetch thread.
double best_epoch_seconds(const data::Dataset& ds, int64_t batch, int repeats) {
  data::DataLoader dl(ds, batch, /*shuffle=*/true, /*drop_last=*/false, /*seed=*/0);
  double best = std::numeric_limits<double>::infinity();
  for (int e = 0; e <= repeats; ++e) {
    const auto t0 = Clock::now();
    dl.start_epoch(e);
    data::Batch b;
    int64_t seen = 0;
    while (dl.next(b)) seen += b.x.size(0);
    BSTACK_CHECK(seen == ds.size(), "calibrate loader: an epoch gave {} samples of {}", seen, ds.size());
    if (e > 0) best = std::min(best, seconds_since(t0));
  }
  return best;
}

}  // namespace

namespace {
// Best-of-`repeats` decode (the whole data set, from the file) and best-of-`repeats` epochs.
template <class Decode>
LoaderResult measure_loader(Decode decode, int64_t batch, int repeats) {
  LoaderResult r;
  r.batch = batch;
  r.decode_seconds = std::numeric_limits<double>::infinity();
  data::Dataset ds;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = Clock::now();
    ds = decode();
    r.decode_seconds = std::min(r.decode_seconds, seconds_since(t0));
  }
  r.samples = ds.size();
  if (r.samples > 0) r.epoch_seconds = best_epoch_seconds(ds, batch, repeats);
  return r;
}
}  // namespace

LoaderResult measure_digits_loader(const std::string& path, int64_t batch, int repeats) {
  return measure_loader([&] { return data::load_digits(path); }, batch, repeats);
}

LoaderResult measure_text_loader(const std::string& path, int64_t context, int64_t batch,
                                 int repeats) {
  LoaderResult r = measure_loader(
      [&] {
        const std::string text = data::read_file(path);
        const data::CharTokenizer tok(text);
        return data::text_windows(tok.encode(text), context);
      },
      batch, repeats);
  BSTACK_CHECK(r.samples > 0, "calibrate loader: {} is shorter than one window of {} tokens", path, context + 1);
  return r;
}

void calibrate_datapath(const Options& o, MachineProfile& p, const ProgressFn& progress) {
  const auto report = [&](double frac, const std::string& what) {
    if (progress) progress(frac, what);
  };

  // ---- transformation, first round ------------------------------------------------------------
  // The loaders are measured twice in a full run, before and after the file test (seconds
  // apart), and each figure keeps its best: an epoch hands batches between two threads, and how
  // fast a sleeping vCPU wakes varies over seconds on a shared host (a 2-3x spread seen between
  // runs).
  const int reps = o.quick ? 5 : 25;
  const int64_t batch = train::TrainConfig{}.batch;
  const std::string digits = train::data_dir() + "/digits.csv.gz";
  const std::string text = "/usr/share/common-licenses/GPL-3";  // gpt-tiny's default corpus
  const bool have_digits = std::filesystem::exists(digits), have_text = std::filesystem::exists(text);
  const int64_t T = nn::GPTConfig{}.context;
  LoaderResult digits_lr, text_lr;
  auto keep_best = [](LoaderResult& best, const LoaderResult& r) {
    if (best.samples == 0) best = r;
    best.decode_seconds = std::min(best.decode_seconds, r.decode_seconds);
    best.epoch_seconds = std::min(best.epoch_seconds, r.epoch_seconds);
  };
  auto loader_round = [&] {
    if (have_digits) keep_best(digits_lr, measure_digits_loader(digits, batch, reps));
    if (have_text) keep_best(text_lr, measure_text_loader(text, T, batch, reps));
  };
  if (!o.quick) {
    report(0.0, "data loader (first round)");
    loader_round();
  }

  // ---- ingestion: the scratch file ------------------------------------------------------------
  FileReadOptions fo;
  fo.dir = resolve_scratch_dir(o.scratch_dir);
  fo.file_bytes = o.quick ? 256 * kMiB : 1024 * kMiB;
  fo.repeats = o.quick ? 3 : 5;
  fo.sweep_seconds = o.quick ? 0.05 : 0.15;
  for (int64_t b = 64 * 1024; b <= 16 * kMiB; b *= 2) fo.sweep_blocks.push_back(b);

  struct statvfs vfs {};
  if (::statvfs(fo.dir.c_str(), &vfs) != 0)
    fail("calibrate datapath: scratch directory '{}': {} (choose another scratch directory)", fo.dir,
         errno_text());
  const double free_bytes = static_cast<double>(vfs.f_bavail) * static_cast<double>(vfs.f_frsize);
  const int64_t cap = static_cast<int64_t>(free_bytes / 8) / fo.block_bytes * fo.block_bytes;
  if (cap < fo.file_bytes) {
    p.note(fmt::format("datapath: scratch file capped at {} MiB (1/8 of the {:.0f} MiB free in '{}'), "
                       "asked {} MiB", cap / kMiB, free_bytes / kMiB, fo.dir, fo.file_bytes / kMiB));
    fo.file_bytes = cap;
  }
  if (fo.file_bytes < 16 * kMiB) {
    p.note(fmt::format("datapath: file read skipped: {:.0f} MiB free in '{}' is too little for a "
                       "meaningful scratch file", free_bytes / kMiB, fo.dir));
  } else {
    const FileReadResult fr = measure_file_read(fo, [&](double f, const std::string& w) {
      report(0.8 * f, w);
    });
    const std::string size = fmt::format("{} MiB scratch file in '{}'", fr.file_bytes / kMiB, fo.dir);
    const std::string cold = fr.direct_io ? "O_DIRECT (page cache bypassed)"
                                          : "fsync + posix_fadvise(DONTNEED) before each pass "
                                            "(the file system refused O_DIRECT)";
    const int reps = fo.repeats;
    p.set({"file_read_bytes_per_s", fr.cold_bytes_per_s, "B/s",
           fmt::format("sequential read of a {}, 4 MiB reads at queue depth 1, {}; best of {} "
                       "whole-file passes (fio/dd-style)", size, cold, reps)});
    p.set({"file_read_cached_bytes_per_s", fr.cached_bytes_per_s, "B/s",
           fmt::format("sequential read of a {} resident in the page cache, 4 MiB reads; best of {} "
                       "passes after one untimed pass", size, reps)});
    p.set({"file_write_bytes_per_s", fr.write_bytes_per_s, "B/s",
           fmt::format("sequential write of a {} in 4 MiB writes, then fsync (included); one pass",
                       size)});
    Series s{"datapath/file_read", {"block_bytes", "bytes_per_s"}, {},
             fmt::format("sequential cold read of a {} at queue depth 1, {}; per block size best of "
                         "2 passes of up to {} s each", size, cold, fo.sweep_seconds)};
    for (const auto& [b, bw] : fr.sweep) s.add_row({static_cast<double>(b), bw});
    p.add_series(std::move(s));
  }

  // ---- transformation: the project's loader ---------------------------------------------------
  report(0.85, "data loader");
  loader_round();
  const int rounds = o.quick ? 1 : 2;
  if (!have_digits) {
    p.note(fmt::format("datapath: loader skipped: the shipped digits data set is not at '{}' "
                       "(set BSTACK_DATA_DIR)", digits));
  } else {
    const LoaderResult& lr = digits_lr;
    const std::string what = fmt::format(
        "a sample is one 8x8 digit image (64 f32 in [0,1]) and its label; {} samples of '{}'",
        lr.samples, digits);
    p.set({"loader_samples_per_s", lr.samples_per_s(), "samples/s",
           fmt::format("{}: gunzip + CSV parse + normalise (data::load_digits) plus one shuffled "
                       "epoch of batches of {} (data::DataLoader, as bstack train); samples / "
                       "(best-of-{} decode time + best-of-{} epoch time, in each of {} round(s) seconds apart)",
                       what, batch, reps, reps, rounds)});
    p.set({"loader_decode_samples_per_s", lr.samples / lr.decode_seconds, "samples/s",
           fmt::format("{}: gunzip + CSV parse + normalise only (data::load_digits), best of {}",
                       what, reps)});
    p.set({"loader_batch_samples_per_s", lr.samples / lr.epoch_seconds, "samples/s",
           fmt::format("{}: one shuffled epoch of batches of {} from memory (data::DataLoader: "
                       "permutation, index_select gather, prefetch thread), best of {} after a "
                       "warm-up epoch", what, batch, reps)});
  }

  // The gpt-tiny default corpus (src/train/train.h); present on every Debian system.
  if (!have_text) {
    p.note(fmt::format("datapath: text loader skipped: no corpus at '{}'", text));
  } else {
    const LoaderResult& lr = text_lr;
    p.set({"loader_text_samples_per_s", lr.samples_per_s(), "samples/s",
           fmt::format("a sample is one window of {} char tokens (x, y shifted by one), {} windows "
                       "of '{}': read + CharTokenizer + encode + text_windows plus one shuffled "
                       "epoch of batches of {} (data::DataLoader, as bstack train --model gpt-tiny); "
                       "samples / (best-of-{} decode + best-of-{} epoch time, in each of {} round(s))",
                       T, lr.samples, text, batch, reps, reps, rounds)});
  }
  report(1.0, "data path done");
}

}  // namespace bstack::calibrate
