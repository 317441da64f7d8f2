// bstack's all-reduce algorithms (dist/allreduce.h), the Communicator's non-blocking collectives
// and the MPI Backend (dist/backend.h). One program for every run: plainly it is the size-1 unit
// test (every call a copy or nothing); under `mpiexec -np 2, 3, 4` (ctest label "mpi") it checks
// each algorithm against a reference on every rank and that all ranks hold the same bits.
//
// Reference: rank r's element i is a uniform value in [-1, 1) drawn from a hash of (seed(r), i),
// so every rank can regenerate every other rank's data; the reference sums them in rank order in
// double. Tolerance (llm.c's validate_result, as a formula): |got - ref| <= eps(T) * (N * sum_r
// |x_r| + |ref|) for Sum, divided by N for Avg: N - 1 roundings of partial sums bounded by
// sum |x_r|, plus the final rounding. Max is exact. Every rank runs every collective even after
// a mismatch (EXPECT, never an early return), so one failing rank never leaves the others hung.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "dist/allreduce.h"
#include "dist/backend.h"
#include "dist/comm.h"
#include "dist/nccl_backend.h"
#include "src/error.h"

using bstack::dist::Algorithm;
using bstack::dist::Communicator;
using bstack::dist::ReduceOp;
using bstack::dist::WorkPtr;

namespace {

Communicator& world() { return Communicator::world(); }

const Algorithm kAlgorithms[] = {Algorithm::Mpi, Algorithm::Ring, Algorithm::RecursiveDoubling,
                                 Algorithm::Rabenseifner};

const char* op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum: return "sum";
    case ReduceOp::Avg: return "avg";
    case ReduceOp::Max: return "max";
    case ReduceOp::Min: return "min";
  }
  return "?";
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Rank r's element i for data set `salt`: uniform in [-1, 1), rounded to T.
template <class T>
T value(int rank, size_t i, uint64_t salt) {
  const uint64_t seed = splitmix64(salt * 1000003u + static_cast<uint64_t>(rank) + 1);
  const double u = static_cast<double>(splitmix64(seed ^ (i * 0x2545f4914f6cdd1dull)) >> 11) *
                   0x1.0p-53;
  return static_cast<T>(2 * u - 1);
}

template <class T>
std::vector<T> rank_data(int rank, size_t n, uint64_t salt) {
  std::vector<T> x(n);
  for (size_t i = 0; i < n; ++i) x[i] = value<T>(rank, i, salt);
  return x;
}

// Every rank's data reduced in rank order, in double.
struct Reference {
  std::vector<double> sum, abs_sum, max;
};

template <class T>
Reference make_reference(int ranks, size_t n, uint64_t salt) {
  Reference ref{std::vector<double>(n, 0.0), std::vector<double>(n, 0.0),
                std::vector<double>(n, -std::numeric_limits<double>::infinity())};
  for (int r = 0; r < ranks; ++r)
    for (size_t i = 0; i < n; ++i) {
      const double x = value<T>(r, i, salt);
      ref.sum[i] += x;
      ref.abs_sum[i] += std::fabs(x);
      ref.max[i] = std::max(ref.max[i], x);
    }
  return ref;
}

// Compares got with the reference; a failure lists the first ten mismatches with their indices.
template <class T>
testing::AssertionResult matches(const std::vector<T>& got, const Reference& ref, ReduceOp op,
                                 int ranks, const std::string& what) {
  const double eps = std::numeric_limits<T>::epsilon();
  std::string bad;
  size_t n_bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    double want = 0, tol = 0;
    switch (op) {
      case ReduceOp::Sum:
        want = ref.sum[i];
        tol = eps * (ranks * ref.abs_sum[i] + std::fabs(want));
        break;
      case ReduceOp::Avg:
        want = ref.sum[i] / ranks;
        tol = eps * (ranks * ref.abs_sum[i] + std::fabs(ref.sum[i])) / ranks;
        break;
      case ReduceOp::Max:
        want = ref.max[i];
        break;
      case ReduceOp::Min: ADD_FAILURE() << "no Min reference"; break;
    }
    const double err = std::fabs(static_cast<double>(got[i]) - want);
    if (!(err <= tol)) {
      if (n_bad < 10)
        bad += fmt::format("\n  [{}] got {:.17g}, want {:.17g}, |err| {:.3g} > tol {:.3g}", i,
                           static_cast<double>(got[i]), want, err, tol);
      ++n_bad;
    }
  }
  if (n_bad == 0) return testing::AssertionSuccess();
  return testing::AssertionFailure() << what << ": " << n_bad << " of " << got.size()
                                     << " elements wrong (rank " << world().rank() << ")" << bad;
}

// FNV-1a over the bytes (Fowler, Noll, Vo): equal hashes on every rank = the same bits.
uint64_t fnv1a(const void* p, size_t bytes) {
  uint64_t h = 0xcbf29ce484222325ull;
  const auto* c = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < bytes; ++i) h = (h ^ c[i]) * 0x100000001b3ull;
  return h;
}

// Collective: true on every rank when all ranks' buffers hash alike.
template <class T>
testing::AssertionResult same_bits_on_all_ranks(const std::vector<T>& v, const std::string& what) {
  auto& c = world();
  const uint64_t h = fnv1a(v.data(), v.size() * sizeof(T));
  std::vector<uint64_t> all(c.size());
  c.allgather(&h, sizeof h, all.data());
  for (int r = 1; r < c.size(); ++r)
    if (all[r] != all[0])
      return testing::AssertionFailure()
             << what << ": rank " << r << "'s result differs from rank 0's (hash " << std::hex
             << all[r] << " vs " << all[0] << ")";
  return testing::AssertionSuccess();
}

template <class T>
const char* type_name() {
  return sizeof(T) == 4 ? "float" : "double";
}

// Every algorithm, size and op on data set `salt`: the result matches the reference on every rank
// and all ranks hold the same bits.
template <class T>
void check_algorithm(Algorithm alg, uint64_t salt) {
  auto& c = world();
  const int N = c.size();
  // Includes a size that N = 2, 3 and 4 do not divide, and sizes below N (empty chunks/blocks).
  const size_t sizes[] = {0, 1, 7, 10007, 100000, size_t{1} << 20};
  for (size_t n : sizes) {
    const Reference ref = make_reference<T>(N, n, salt);
    for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Avg, ReduceOp::Max}) {
      const std::string what = fmt::format("{}({}, n={}, {}, np={})",
                                           bstack::dist::algorithm_name(alg), type_name<T>(), n,
                                           op_name(op), N);
      std::vector<T> x = rank_data<T>(c.rank(), n, salt);
      bstack::dist::allreduce(c, x.data(), n, op, alg);
      EXPECT_TRUE(matches(x, ref, op, N, what));
      EXPECT_TRUE(same_bits_on_all_ranks(x, what));
    }
  }
}

class AllreduceAlgorithm : public testing::TestWithParam<Algorithm> {};

TEST_P(AllreduceAlgorithm, FloatMatchesReferenceBitIdenticalOnAllRanks) {
  check_algorithm<float>(GetParam(), 1);
}

TEST_P(AllreduceAlgorithm, DoubleMatchesReferenceBitIdenticalOnAllRanks) {
  check_algorithm<double>(GetParam(), 2);
}

TEST_P(AllreduceAlgorithm, WaitOnFinishedWorkAndDestroyUnfinished) {
  auto& c = world();
  std::vector<float> x = rank_data<float>(c.rank(), 5000, 3);
  const Reference ref = make_reference<float>(c.size(), x.size(), 3);
  WorkPtr w = bstack::dist::start_allreduce(c, x.data(), x.size(), ReduceOp::Sum, GetParam(), 7);
  w->wait();
  EXPECT_TRUE(w->test());  // and every call after
  EXPECT_TRUE(matches(x, ref, ReduceOp::Sum, c.size(), "wait"));
  // Destroyed while (possibly) in flight: the destructor completes it, result included.
  std::vector<float> y = rank_data<float>(c.rank(), 5000, 3);
  bstack::dist::start_allreduce(c, y.data(), y.size(), ReduceOp::Sum, GetParam(), 7).reset();
  EXPECT_TRUE(matches(y, ref, ReduceOp::Sum, c.size(), "destroyed unfinished"));
}

INSTANTIATE_TEST_SUITE_P(All, AllreduceAlgorithm, testing::ValuesIn(kAlgorithms),
                         [](const testing::TestParamInfo<Algorithm>& info) {
                           return std::string(info.param == Algorithm::RecursiveDoubling
                                                  ? "recursive_doubling"
                                                  : bstack::dist::algorithm_name(info.param));
                         });

TEST(Allreduce, ParseAndNameRoundTrip) {
  for (Algorithm a : kAlgorithms)
    EXPECT_EQ(bstack::dist::parse_algorithm(bstack::dist::algorithm_name(a)), a);
  EXPECT_EQ(bstack::dist::parse_algorithm("recursive-doubling"), Algorithm::RecursiveDoubling);
  try {
    bstack::dist::parse_algorithm("tree");
    ADD_FAILURE() << "parse_algorithm(tree) did not throw";
  } catch (const bstack::Error& e) {
    EXPECT_NE(std::string(e.what()).find("'tree'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("rabenseifner"), std::string::npos) << e.what();
  }
}

TEST(Allreduce, TagSpanWithinTheHeadersBound) {
  // allreduce.h: tags tag .. tag + 2*log2(N) + 2.
  for (int n : {1, 2, 3, 4, 5, 8, 9, 1000}) {
    EXPECT_EQ(bstack::dist::allreduce_tag_span(Algorithm::Mpi, n), 0);
    EXPECT_EQ(bstack::dist::allreduce_tag_span(Algorithm::Ring, n), 2);
    const int log2n = static_cast<int>(std::ceil(std::log2(n)));
    EXPECT_EQ(bstack::dist::allreduce_tag_span(Algorithm::Rabenseifner, n), 2 * log2n + 3) << n;
    EXPECT_EQ(bstack::dist::allreduce_tag_span(Algorithm::RecursiveDoubling, n), 2 * log2n + 3);
  }
}

TEST(Allreduce, BadArgumentsThrowBeforeAnyMessage) {
  auto& c = world();
  float x = 1;
  for (Algorithm a : {Algorithm::Ring, Algorithm::RecursiveDoubling, Algorithm::Rabenseifner}) {
    EXPECT_THROW(bstack::dist::start_allreduce(c, &x, 1, ReduceOp::Sum, a, -1), bstack::Error);
    EXPECT_THROW(bstack::dist::start_allreduce(c, &x, 1, ReduceOp::Sum, a, c.max_tag()),
                 bstack::Error);
    EXPECT_THROW(
        bstack::dist::start_allreduce(c, static_cast<float*>(nullptr), 4, ReduceOp::Sum, a),
        bstack::Error);
  }
}

// Several all-reduces in flight at once, each with its own tag base, advanced by interleaved
// test() calls (odd ranks poll in the opposite order, so the ranks progress them differently).
TEST(Allreduce, SeveralInFlightWithDifferentTags) {
  auto& c = world();
  const int N = c.size();
  struct Case {
    Algorithm alg;
    size_t n;
    ReduceOp op;
    int tag;
  };
  const Case cases[] = {{Algorithm::Ring, 100003, ReduceOp::Sum, 0},
                        {Algorithm::RecursiveDoubling, 5000, ReduceOp::Avg, 1000},
                        {Algorithm::Rabenseifner, 77777, ReduceOp::Sum, 2000},
                        {Algorithm::Mpi, 1234, ReduceOp::Max, 0},
                        {Algorithm::Ring, 65536, ReduceOp::Avg, 3000},
                        {Algorithm::Rabenseifner, 999, ReduceOp::Max, 4000},
                        {Algorithm::RecursiveDoubling, 300000, ReduceOp::Sum, 5000}};
  const size_t k = std::size(cases);
  std::vector<std::vector<float>> bufs;
  std::vector<WorkPtr> works;
  for (size_t j = 0; j < k; ++j) bufs.push_back(rank_data<float>(c.rank(), cases[j].n, 10 + j));
  for (size_t j = 0; j < k; ++j)
    works.push_back(bstack::dist::start_allreduce(c, bufs[j].data(), cases[j].n, cases[j].op,
                                                  cases[j].alg, cases[j].tag));
  std::vector<bool> done(k, false);
  size_t left = k;
  long polls = 0;
  while (left > 0) {
    for (size_t jj = 0; jj < k; ++jj) {
      const size_t j = c.rank() % 2 == 0 ? jj : k - 1 - jj;
      if (!done[j] && works[j]->test()) {
        done[j] = true;
        --left;
      }
    }
    ++polls;
  }
  for (size_t j = 0; j < k; ++j) {
    EXPECT_TRUE(works[j]->test());
    const std::string what =
        fmt::format("in flight #{}: {}(float, n={}, {}, tag {}, np={})", j,
                    bstack::dist::algorithm_name(cases[j].alg), cases[j].n, op_name(cases[j].op),
                    cases[j].tag, N);
    EXPECT_TRUE(matches(bufs[j], make_reference<float>(N, cases[j].n, 10 + j), cases[j].op, N,
                        what));
    EXPECT_TRUE(same_bits_on_all_ranks(bufs[j], what));
  }
  if (N == 1) {
    EXPECT_EQ(polls, 1);  // a size-1 all-reduce is done from the start
  }
}

// The Communicator's non-blocking collectives and the blocking reduce-scatter, on integer-valued
// data whose sums are exact in any order.
TEST(Communicator, NonBlockingCollectives) {
  auto& c = world();
  const int N = c.size(), r = c.rank();
  const double ranks_sum = N * (N + 1) / 2.0;  // sum of r + 1
  {
    std::vector<float> f(1001);
    std::vector<double> d(1001);
    for (size_t i = 0; i < f.size(); ++i)
      f[i] = static_cast<float>(r + 1 + static_cast<int>(i % 5));
    for (size_t i = 0; i < d.size(); ++i) d[i] = r + 1 + static_cast<double>(i % 5);
    WorkPtr wf = c.iallreduce(f.data(), f.size(), ReduceOp::Sum);
    WorkPtr wd = c.iallreduce(d.data(), d.size(), ReduceOp::Avg);
    wd->wait();
    wf->wait();
    EXPECT_TRUE(wf->test());
    EXPECT_TRUE(wd->test());  // Avg divided once only
    for (size_t i = 0; i < f.size(); ++i) {
      ASSERT_EQ(f[i], static_cast<float>(ranks_sum + N * static_cast<double>(i % 5))) << i;
      ASSERT_DOUBLE_EQ(d[i], ranks_sum / N + static_cast<double>(i % 5)) << i;
    }
    float hi = static_cast<float>(r);
    c.iallreduce(&hi, 1, ReduceOp::Max)->wait();
    EXPECT_EQ(hi, N - 1);
    EXPECT_TRUE(c.iallreduce(f.data(), 0, ReduceOp::Sum)->test());  // nothing to send: done
  }
  {
    // send[j] = 1000 r + j over N * count; rank q receives sum_r (1000 r + q count + i).
    const size_t count = 37;
    std::vector<float> send(N * count), recv(count, -1), recv_avg(count, -1), recv_b(count, -1);
    for (size_t j = 0; j < send.size(); ++j) send[j] = static_cast<float>(1000 * r + j);
    WorkPtr w1 = c.ireduce_scatter(send.data(), recv.data(), count, ReduceOp::Sum);
    WorkPtr w2 = c.ireduce_scatter(send.data(), recv_avg.data(), count, ReduceOp::Avg);
    while (!(w1->test() & w2->test())) {
    }
    c.reduce_scatter(send.data(), recv_b.data(), count, ReduceOp::Sum);
    for (size_t i = 0; i < count; ++i) {
      const double want = 1000.0 * N * (N - 1) / 2 + N * static_cast<double>(r * count + i);
      ASSERT_EQ(recv[i], static_cast<float>(want)) << i;
      ASSERT_EQ(recv_b[i], static_cast<float>(want)) << i;
      ASSERT_FLOAT_EQ(recv_avg[i], static_cast<float>(want / N)) << i;
    }
    if (N > 1) {
      // MPI_Reduce_scatter_block needs separate buffers: said before any message.
      EXPECT_THROW(c.reduce_scatter(send.data(), send.data(), count), bstack::Error);
      EXPECT_THROW((void)c.ireduce_scatter(send.data(), send.data() + 1, count), bstack::Error);
    }
  }
  {
    const int mine[3] = {r, 2 * r, 3 * r};
    std::vector<int> all(3 * N, -1);
    c.iallgather(mine, sizeof mine, all.data())->wait();
    for (int q = 0; q < N; ++q)
      for (int j = 0; j < 3; ++j) ASSERT_EQ(all[3 * q + j], (j + 1) * q);
  }
  {
    // ibroadcast from the last rank, overlapped with an ibarrier.
    double v[2] = {r == N - 1 ? 3.5 : -1.0, r == N - 1 ? -7.25 : -1.0};
    auto b = c.ibroadcast(v, sizeof v, N - 1);
    auto bar = c.ibarrier();
    b->wait();
    bar->wait();
    EXPECT_EQ(v[0], 3.5);
    EXPECT_EQ(v[1], -7.25);
    EXPECT_THROW((void)c.ibroadcast(v, sizeof v, N), bstack::Error);
  }
  if (N > 1 && r < 2) {
    // Request::test: completes without blocking, then stays done.
    int out = 42 + r, in = -1;
    auto rr = c.irecv(&in, sizeof in, 1 - r, 77);
    auto ss = c.isend(&out, sizeof out, 1 - r, 77);
    while (!(rr.test() & ss.test())) {
    }
    EXPECT_TRUE(rr.done());
    EXPECT_TRUE(rr.test());
    EXPECT_EQ(in, 42 + (1 - r));
  }
}

// The MPI Backend: every algorithm's all-reduce (several in flight: each call takes its own
// tags), and reduce-scatter then all-gather giving the all-reduce's result.
TEST(Backend, MpiAllreduceAndReduceScatterAllgatherRoundTrip) {
  auto& c = world();
  const int N = c.size();
  for (Algorithm alg : kAlgorithms) {
    auto b = bstack::dist::make_backend("mpi", alg, c);
    EXPECT_EQ(b->name(), fmt::format("mpi ({})", bstack::dist::algorithm_name(alg)));
    EXPECT_EQ(b->rank(), c.rank());
    EXPECT_EQ(b->size(), N);
    // Three all-reduces in flight, completed in reverse order.
    const size_t sizes[3] = {4099, 20000, 3};
    std::vector<std::vector<float>> x(3);
    std::vector<WorkPtr> w;
    for (size_t j = 0; j < 3; ++j) {
      x[j] = rank_data<float>(c.rank(), sizes[j], 20 + j);
      const ReduceOp op = j == 1 ? ReduceOp::Avg : ReduceOp::Sum;
      w.push_back(b->start_allreduce(x[j].data(), sizes[j], op));
    }
    for (size_t j = 3; j-- > 0;) w[j]->wait();
    for (size_t j = 0; j < 3; ++j) {
      const std::string what = fmt::format("{} all-reduce #{} (n={}, np={})", b->name(), j,
                                           sizes[j], N);
      EXPECT_TRUE(matches(x[j], make_reference<float>(N, sizes[j], 20 + j),
                          j == 1 ? ReduceOp::Avg : ReduceOp::Sum, N, what));
      EXPECT_TRUE(same_bits_on_all_ranks(x[j], what));
    }
    // Round trip: reduce-scatter N * count, all-gather the reduced shards.
    const size_t count = 1000;
    const std::vector<float> send = rank_data<float>(c.rank(), N * count, 30);
    std::vector<float> shard(count), full(N * count, -1);
    b->start_reduce_scatter(send.data(), shard.data(), count, ReduceOp::Sum)->wait();
    b->start_allgather(shard.data(), full.data(), count)->wait();
    const std::string what = fmt::format("{} reduce-scatter + all-gather (np={})", b->name(), N);
    EXPECT_TRUE(matches(full, make_reference<float>(N, N * count, 30), ReduceOp::Sum, N, what));
    EXPECT_TRUE(same_bits_on_all_ranks(full, what));
    // Broadcast from the last rank.
    std::vector<float> v(10, static_cast<float>(c.rank()));
    b->broadcast(v.data(), v.size(), N - 1);
    for (float e : v) EXPECT_EQ(e, N - 1);
  }
}

TEST(Backend, BadChoicesAreNamed) {
  auto& c = world();
  try {
    bstack::dist::make_backend("gloo", Algorithm::Mpi, c);
    ADD_FAILURE() << "make_backend(gloo) did not throw";
  } catch (const bstack::Error& e) {
    EXPECT_NE(std::string(e.what()).find("'gloo'"), std::string::npos) << e.what();
  }
  // NCCL runs its own all-reduce: bstack's point-to-point algorithms are an MPI thing.
  EXPECT_THROW(bstack::dist::make_backend("nccl", Algorithm::Ring, c), bstack::Error);
  if (!bstack::dist::nccl_available()) {
    try {
      bstack::dist::make_backend("nccl", Algorithm::Mpi, c);
      ADD_FAILURE() << "make_backend(nccl) did not throw in a build without NCCL";
    } catch (const bstack::Error& e) {
      EXPECT_NE(std::string(e.what()).find("no NCCL"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
