// dist::Communicator. Run plainly it is the size-1 unit test (no MPI call is made); run under
// `mpirun -np 2` (ctest label "mpi") it checks every call's result across ranks and runs the
// OSU sweeps of calibrate/interconnect.h on a few sizes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <numeric>
#include <vector>

#include "calibrate/calibrate.h"
#include "calibrate/interconnect.h"
#include "dist/comm.h"
#include "src/error.h"

using bstack::dist::Communicator;
using bstack::dist::ReduceOp;
using bstack::dist::Request;

namespace {
Communicator& world() { return Communicator::world(); }
}  // namespace

TEST(Communicator, WorldMatchesLauncher) {
  auto& c = world();
  EXPECT_EQ(c.uses_mpi(), Communicator::under_launcher());
  EXPECT_GE(c.size(), 1);
  EXPECT_GE(c.rank(), 0);
  EXPECT_LT(c.rank(), c.size());
  if (!c.uses_mpi()) {
    EXPECT_EQ(c.size(), 1);
  }
  c.barrier();
  c.idle_barrier();
}

TEST(Communicator, AllreduceSumAvgMaxMin) {
  auto& c = world();
  const int n = c.size(), r = c.rank();
  // Rank r contributes r + 1 + i at index i (and over INT_MAX counts the call would split).
  std::vector<float> f(1000);
  std::vector<double> d(1000);
  for (size_t i = 0; i < f.size(); ++i) {
    f[i] = static_cast<float>(r + 1 + static_cast<int>(i % 7));
    d[i] = r + 1 + static_cast<double>(i);
  }
  auto df = d;
  c.allreduce(f.data(), f.size(), ReduceOp::Sum);
  c.allreduce(d.data(), d.size(), ReduceOp::Avg);
  const double ranks_sum = n * (n + 1) / 2.0;  // sum of r + 1 over ranks
  for (size_t i = 0; i < f.size(); ++i) {
    ASSERT_EQ(f[i], static_cast<float>(ranks_sum + n * static_cast<double>(i % 7))) << i;
    ASSERT_DOUBLE_EQ(d[i], ranks_sum / n + static_cast<double>(i)) << i;
  }
  double hi = r, lo = r;
  c.allreduce(&hi, 1, ReduceOp::Max);
  c.allreduce(&lo, 1, ReduceOp::Min);
  EXPECT_EQ(hi, n - 1);
  EXPECT_EQ(lo, 0);
  c.allreduce(df.data(), 0, ReduceOp::Sum);  // zero elements: a no-op everywhere
}

TEST(Communicator, BroadcastFromEveryRoot) {
  auto& c = world();
  for (int root = 0; root < c.size(); ++root) {
    std::vector<int> v(100, -1);
    if (c.rank() == root) std::iota(v.begin(), v.end(), 1000 * root);
    c.broadcast(v.data(), v.size() * sizeof(int), root);
    for (int i = 0; i < 100; ++i) ASSERT_EQ(v[i], 1000 * root + i);
  }
  int x = 0;
  EXPECT_THROW(c.broadcast(&x, sizeof x, c.size()), bstack::Error);
}

TEST(Communicator, AllgatherInRankOrder) {
  auto& c = world();
  const double mine[2] = {static_cast<double>(c.rank()), 10.0 * c.rank()};
  std::vector<double> all(2 * c.size(), -1);
  c.allgather(mine, sizeof mine, all.data());
  for (int r = 0; r < c.size(); ++r) {
    EXPECT_EQ(all[2 * r], r);
    EXPECT_EQ(all[2 * r + 1], 10.0 * r);
  }
}

TEST(Communicator, SendRecvAndNonBlocking) {
  auto& c = world();
  if (c.size() < 2) {
    // No peer: a clear error instead of a hang.
    int x = 0;
    EXPECT_THROW(c.send(&x, sizeof x, 0), bstack::Error);
    EXPECT_THROW(c.recv(&x, sizeof x, 0), bstack::Error);
    EXPECT_THROW((void)c.isend(&x, sizeof x, 0), bstack::Error);
    GTEST_SKIP() << "point-to-point needs mpirun -np 2";
  }
  const int peer = c.rank() == 0 ? 1 : 0;
  if (c.rank() > 1) return;
  // Blocking, both directions, ordered by tag.
  std::vector<char> out(1 << 20), in(1 << 20, 0);
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<char>((i * 31 + c.rank()) & 0x7f);
  if (c.rank() == 0) {
    c.send(out.data(), out.size(), peer, 5);
    c.recv(in.data(), in.size(), peer, 6);
  } else {
    c.recv(in.data(), in.size(), peer, 5);
    c.send(out.data(), out.size(), peer, 6);
  }
  for (size_t i = 0; i < in.size(); i += 4099)
    ASSERT_EQ(in[i], static_cast<char>((i * 31 + peer) & 0x7f)) << i;
  // Non-blocking: a window of 8 messages each way, completed with wait_all and wait.
  std::vector<int> send_v(8), recv_v(8, -1);
  for (int k = 0; k < 8; ++k) send_v[k] = 100 * c.rank() + k;
  std::vector<Request> rr, ss;
  for (int k = 0; k < 8; ++k) rr.push_back(c.irecv(&recv_v[k], sizeof(int), peer, 20 + k));
  for (int k = 0; k < 8; ++k) ss.push_back(c.isend(&send_v[k], sizeof(int), peer, 20 + k));
  Request::wait_all(rr);
  for (auto& s : ss) s.wait();
  for (auto& s : ss) EXPECT_TRUE(s.done());
  for (int k = 0; k < 8; ++k) EXPECT_EQ(recv_v[k], 100 * peer + k);
  // A zero-byte message still matches.
  c.send(nullptr, 0, peer, 30);
  c.recv(nullptr, 0, peer, 30);
  EXPECT_THROW(c.send(out.data(), 1, c.rank(), 0), bstack::Error);  // to itself
}

TEST(Interconnect, OsuSweepsGiveSaneNumbers) {
  auto& c = world();
  const std::vector<size_t> sizes = {4, 4096, 1 << 20};
  const bstack::calibrate::SweepBudget b{0.005, 3};
  if (c.size() < 2) {
    EXPECT_THROW(bstack::calibrate::osu_latency(c, sizes, b), bstack::Error);
    GTEST_SKIP() << "the OSU sweeps need mpirun -np 2";
  }
  const auto lat = bstack::calibrate::osu_latency(c, sizes, b);
  const auto bw = bstack::calibrate::osu_bandwidth(c, sizes, b);
  const auto ar = bstack::calibrate::osu_allreduce(c, sizes, b);
  const auto dd = bstack::calibrate::ddp_allreduce(c, sizes, b);  // train's ring, through dist::Backend
  ASSERT_EQ(dd.size(), 3u);
  for (const auto& q : dd) {
    EXPECT_GT(q.min_s, 0);
    EXPECT_LE(q.min_s, q.max_s * (1 + 1e-12));
    EXPECT_LT(q.max_s, 1.0);
  }
  EXPECT_GT(dd[2].max_s, dd[0].max_s);
  ASSERT_EQ(lat.size(), 3u);
  ASSERT_EQ(bw.size(), 3u);
  ASSERT_EQ(ar.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    // Same on every rank (rank 0's, broadcast); positive and finite; at least min_iters.
    EXPECT_GT(lat[i].half_round_trip_s, 0);
    EXPECT_LT(lat[i].half_round_trip_s, 1.0);
    EXPECT_GE(lat[i].iters, 3);
    EXPECT_GT(bw[i].bytes_per_s, 0);
    EXPECT_TRUE(std::isfinite(bw[i].bytes_per_s));
    EXPECT_EQ(bw[i].window, 64);
    EXPECT_GT(ar[i].min_s, 0);
    EXPECT_LE(ar[i].min_s, ar[i].avg_s * (1 + 1e-12));
    EXPECT_LE(ar[i].avg_s, ar[i].max_s * (1 + 1e-12));
  }
  // A megabyte takes longer than four bytes, whatever the noise.
  EXPECT_GT(lat[2].half_round_trip_s, lat[0].half_round_trip_s);
  EXPECT_GT(ar[2].max_s, ar[0].max_s);
  EXPECT_EQ(bstack::calibrate::bandwidth_window(64 << 20), 2);
  EXPECT_EQ(bstack::calibrate::bandwidth_window(2 << 20), 64);
  EXPECT_EQ(bstack::calibrate::bandwidth_window(256 << 20), 1);
}

TEST(Corun, RanksTogetherAgainstAlone) {
  // Section corun: without a launcher a note and nothing else; under mpirun -np 2 a factor from
  // the models' alone and together step times on rank 0 (the same on every rank).
  bstack::calibrate::Options o;
  o.quick = true;
  bstack::calibrate::MachineProfile p;
  bstack::calibrate::calibrate_corun(o, p, [](double, const std::string&) {});
  if (world().size() < 2) {
    EXPECT_FALSE(p.has("corun_factor"));
    ASSERT_EQ(p.notes.size(), 1u);
    EXPECT_NE(p.notes[0].find("mpirun"), std::string::npos);
    GTEST_SKIP() << "corun needs mpirun -np 2";
  }
  ASSERT_TRUE(p.has("corun_factor"));
  const auto& s = *std::find_if(p.series.begin(), p.series.end(),
                                [](const auto& x) { return x.name == "corun"; });
  ASSERT_EQ(s.rows(), 3u);
  std::vector<double> f;
  for (size_t r = 0; r < 3; ++r) {
    EXPECT_GT(s.at(r, 2), 0);  // alone_s
    EXPECT_GT(s.at(r, 3), 0);  // together_s
    EXPECT_NEAR(s.at(r, 4), s.at(r, 3) / s.at(r, 2), 1e-12);
    f.push_back(s.at(r, 4));
  }
  std::sort(f.begin(), f.end());
  EXPECT_DOUBLE_EQ(p.value("corun_factor"), f[1]);  // the median of three
  // gpt-tiny at 6 takes longer a step than mlp at 48, alone and together, whatever the noise.
  EXPECT_GT(s.at(2, 2), s.at(0, 2));
  EXPECT_GT(s.at(2, 3), s.at(0, 3));
  // Sane bounds: together cannot run twice as fast as alone, nor (with a core each) 20x slower.
  EXPECT_GT(f[1], 0.5);
  EXPECT_LT(f[1], 20);
}
