// The progress line's numbers (rate, ETA, percentage) for known inputs, its width, and that a
// disabled bar writes nothing.
#include "src/util/progress.h"

#include <gtest/gtest.h>

using bstack::format_progress_line;

TEST(Progress, KnownTotalShowsRateEtaAndBar) {
  // 25 of 100 in 5 s: 5 it/s, 75 left -> 15 s.
  const std::string s = format_progress_line("train", 25, 100, 5.0, "it/s", "loss 0.5", 80);
  EXPECT_NE(s.find("train ["), std::string::npos) << s;
  EXPECT_NE(s.find(" 25/100  25% 5.00 it/s ETA 00:15  loss 0.5"), std::string::npos) << s;
  EXPECT_EQ(s.size(), 80u);
  const size_t open = s.find('['), close = s.find(']');
  const std::string bar = s.substr(open + 1, close - open - 1);
  EXPECT_EQ(std::count(bar.begin(), bar.end(), '#'), static_cast<long>(bar.size() / 4));
}

TEST(Progress, DoneAndLongDurations) {
  EXPECT_NE(format_progress_line("x", 10, 10, 2, "it/s", "", 80).find("100% 5.00 it/s ETA 00:00"),
            std::string::npos);
  // 1 of 10000 after 1 s: 9999 s left = 2:46:39.
  EXPECT_NE(format_progress_line("x", 1, 10000, 1, "it/s", "", 100).find("ETA 2:46:39"),
            std::string::npos);
  EXPECT_NE(format_progress_line("x", 0, 10, 0, "it/s", "", 80).find("ETA --:--"), std::string::npos);
  EXPECT_NE(format_progress_line("x", 500, 1000, 1, "samples/s", "", 80).find("500 samples/s"),
            std::string::npos);
}

TEST(Progress, UnknownTotalHasNoBar) {
  const std::string s = format_progress_line("read", 42, 0, 2, "it/s", "", 80);
  EXPECT_EQ(s.find('['), std::string::npos);
  EXPECT_EQ(s, "read 42 21.00 it/s 00:02");
}

TEST(Progress, NarrowWidthIsRespected) {
  for (int w : {10, 30, 60})
    EXPECT_LE(format_progress_line("calibrate", 3, 7, 1, "it/s", "a long extra text", w).size(),
              static_cast<size_t>(w));
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
