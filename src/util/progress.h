// Progress: a one-line progress bar on stderr for long work (label, bar, done/total, rate,
// ETA), redrawn at most 10 times a second. Silent when stderr is not a terminal or when the
// CLI ran with --json (set_progress_quiet), so logs and pipes never fill with \r lines.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace bstack {

// The process-wide quiet switch, set once by the CLI (--json). With isatty(stderr) it gives
// the default for `enabled`.
void set_progress_quiet(bool quiet);
bool progress_default_enabled();

// The text of one progress line (no \r), fitted to `width` columns. total <= 0 means unknown:
// no bar, percentage or ETA. Pure, for tests.
std::string format_progress_line(const std::string& label, int64_t done, int64_t total,
                                 double elapsed_s, const std::string& unit,
                                 const std::string& extra, int width);

class Progress {
 public:
  Progress(std::string label, int64_t total, bool enabled = progress_default_enabled());
  ~Progress();  // finishes the line if finish() was not called
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void set_unit(std::string unit) { unit_ = std::move(unit); }  // e.g. "samples/s"
  void update(int64_t done, const std::string& extra = "");
  void advance(int64_t n = 1, const std::string& extra = "") { update(done_ + n, extra); }
  void finish(const std::string& extra = "");

 private:
  void draw(bool force);
  using Clock = std::chrono::steady_clock;
  std::string label_, unit_ = "it/s", extra_;
  int64_t total_ = 0, done_ = 0;
  bool enabled_ = false, finished_ = false;
  Clock::time_point start_, last_draw_;
};

}  // namespace bstack
