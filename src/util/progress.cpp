#include "src/util/progress.h"

#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>

namespace bstack {

namespace {
std::atomic<bool> g_quiet{false};

std::string human_duration(double s) {
  if (!(s >= 0) || s > 360000) return "--:--";
  const long t = static_cast<long>(s + 0.5);
  if (t >= 3600) return fmt::format("{}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60);
  return fmt::format("{:02}:{:02}", t / 60, t % 60);
}

int terminal_width() {
  winsize ws{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20) return ws.ws_col;
  return 80;
}
}  // namespace

void set_progress_quiet(bool quiet) { g_quiet.store(quiet); }
bool progress_default_enabled() { return !g_quiet.load() && ::isatty(STDERR_FILENO); }

std::string format_progress_line(const std::string& label, int64_t done, int64_t total,
                                 double elapsed_s, const std::string& unit,
                                 const std::string& extra, int width) {
  // Every field has a fixed width (done padded to the digits of total, the rate to 6 columns)
  // so the bar keeps its length from one redraw to the next instead of jittering.
  constexpr int kMaxBar = 40;
  const double rate = elapsed_s > 0 ? done / elapsed_s : 0.0;
  const std::string rate_s = rate >= 100 ? fmt::format("{:>6.0f} {}", rate, unit)
                                         : fmt::format("{:>6.2f} {}", rate, unit);
  std::string head = label + " ";
  std::string tail;
  if (total > 0) {
    const double frac = std::clamp(static_cast<double>(done) / total, 0.0, 1.0);
    const double eta = rate > 0 ? (total - done) / rate : -1;
    const int digits = static_cast<int>(std::to_string(total).size());
    tail = fmt::format("{:>{}}/{} {:3.0f}% {} ETA {}", done, digits, total, 100 * frac, rate_s,
                       done >= total ? "00:00" : human_duration(eta));
    if (!extra.empty()) tail += "  " + extra;
    const int bar_w = std::min(kMaxBar, width - static_cast<int>(head.size() + tail.size()) - 3);
    if (bar_w >= 5) {
      const int filled = static_cast<int>(frac * bar_w);
      head.push_back('[');
      head.append(filled, '#').append(bar_w - filled, '.').append("] ");
    }
  } else {  // unknown total: count, rate and elapsed time only
    tail = fmt::format("{} {} {}", done, rate_s, human_duration(elapsed_s));
    if (!extra.empty()) tail += "  " + extra;
  }
  std::string line = head + tail;
  if (static_cast<int>(line.size()) > width) line.resize(std::max(width, 0));
  return line;
}

Progress::Progress(std::string label, int64_t total, bool enabled)
    : label_(std::move(label)), total_(total), enabled_(enabled), start_(Clock::now()) {}

Progress::~Progress() {
  if (!finished_) finish();
}

void Progress::update(int64_t done, const std::string& extra) {
  done_ = done;
  extra_ = extra;
  draw(false);
}

void Progress::finish(const std::string& extra) {
  if (finished_) return;
  if (!extra.empty()) extra_ = extra;
  draw(true);
  if (enabled_) std::fputc('\n', stderr);
  finished_ = true;
}

void Progress::draw(bool force) {
  if (!enabled_) return;
  const auto now = Clock::now();
  if (!force && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const std::string line = format_progress_line(label_, done_, total_, elapsed, unit_, extra_,
                                                terminal_width() - 1);
  std::fprintf(stderr, "\r%s\033[K", line.c_str());
  std::fflush(stderr);
}

}  // namespace bstack
