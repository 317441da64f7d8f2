// The progress line's numbers (rate, ETA, percentage) for known inputs, its width and its
// steadiness from one redraw to the next, unknown totals, and that a disabled bar writes
// nothing while an enabled one redraws at most ~10 times a second.
#include "src/util/progress.h"

#include <gtest/gtest.h>

#include <algorithm>

using bstack::format_progress_line;

namespace {
bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}
}  // namespace

TEST(Progress, KnownTotalShowsRateEtaAndBar) {
  // 25 of 100 in 5 s: 5 it/s, 75 left -> 15 s.
  const std::string s = format_progress_line("train", 25, 100, 5.0, "it/s", "loss 0.5", 80);
  EXPECT_TRUE(contains(s, "train [")) << s;
  EXPECT_TRUE(contains(s, "]  25/100  25%   5.00 it/s ETA 00:15  loss 0.5")) << s;
  EXPECT_LE(s.size(), 80u);
  const size_t open = s.find('['), close = s.find(']');
  const std::string bar = s.substr(open + 1, close - open - 1);
  EXPECT_GE(bar.size(), 5u) << s;
  EXPECT_EQ(std::count(bar.begin(), bar.end(), '#'), static_cast<long>(bar.size() / 4)) << s;
}

TEST(Progress, DoneAndLongDurations) {
  EXPECT_TRUE(contains(format_progress_line("x", 10, 10, 2, "it/s", "", 80),
                       "10/10 100%   5.00 it/s ETA 00:00"));
  // 1 of 10000 after 1 s: 9999 s left = 2:46:39.
  EXPECT_TRUE(contains(format_progress_line("x", 1, 10000, 1, "it/s", "", 100), "ETA 2:46:39"));
  // Nothing done yet, no time passed: no rate, no ETA.
  EXPECT_TRUE(contains(format_progress_line("x", 0, 10, 0, "it/s", "", 80), "ETA --:--"));
  EXPECT_TRUE(contains(format_progress_line("x", 500, 1000, 1, "samples/s", "", 80),
                       "   500 samples/s"));
  // More than the total (a last partial batch counted whole): capped at 100%, a full bar.
  const std::string over = format_progress_line("x", 12, 10, 1, "it/s", "", 80);
  EXPECT_TRUE(contains(over, "100%")) << over;
  EXPECT_FALSE(contains(over, ".]")) << over;
}

TEST(Progress, UnknownTotalHasNoBar) {
  EXPECT_EQ(format_progress_line("read", 42, 0, 2, "it/s", "", 80), "read 42  21.00 it/s 00:02");
  EXPECT_EQ(format_progress_line("read", 42, -1, 0, "it/s", "x", 80), "read 42   0.00 it/s 00:00  x");
}

TEST(Progress, WidthIsRespected) {
  for (int w : {0, 10, 30, 60, 80, 200}) {
    const std::string s = format_progress_line("calibrate", 3, 7, 1, "it/s", "a long extra text", w);
    EXPECT_LE(s.size(), static_cast<size_t>(w)) << s;
  }
  // Wide terminals get a bar of bounded length, not one that spans 200 columns.
  const std::string wide = format_progress_line("x", 3, 7, 1, "it/s", "", 200);
  EXPECT_LE(wide.find(']') - wide.find('['), 41u) << wide;
}

TEST(Progress, LineLengthIsSteadyAsNumbersGrow) {
  // Same total, growing count and a rate crossing 100/s: the bar must not change length.
  size_t len = 0;
  for (int64_t done : {1, 9, 10, 99, 100, 999, 1000}) {
    const std::string s = format_progress_line("epoch 1/1", done, 1000, 5.0, "samples/s", "", 80);
    if (len == 0) len = s.size();
    EXPECT_EQ(s.size(), len) << s;
  }
}

TEST(Progress, DisabledWritesNothing) {
  ::testing::internal::CaptureStderr();
  {
    bstack::Progress p("quiet", 10, /*enabled=*/false);
    for (int i = 0; i < 10; ++i) p.advance();
    p.finish("done");
  }
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  bstack::set_progress_quiet(true);
  EXPECT_FALSE(bstack::progress_default_enabled());
  bstack::set_progress_quiet(false);
}

TEST(Progress, EnabledRedrawsAtMostTenTimesASecond) {
  ::testing::internal::CaptureStderr();
  {
    bstack::Progress p("busy", 20000, /*enabled=*/true);
    p.set_unit("samples/s");
    for (int i = 0; i < 20000; ++i) p.advance();  // far faster than 10 Hz
    p.finish("done");
  }
  const std::string err = ::testing::internal::GetCapturedStderr();
  const auto redraws = std::count(err.begin(), err.end(), '\r');
  EXPECT_GE(redraws, 2) << "first draw and the final one";
  EXPECT_LE(redraws, 12) << err;  // the loop takes well under a second
  EXPECT_TRUE(contains(err, "20000/20000 100%")) << err;
  EXPECT_TRUE(contains(err, "samples/s")) << err;
  EXPECT_TRUE(contains(err, "done")) << err;
  EXPECT_EQ(err.back(), '\n');
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << "finish ends the line once";
}
