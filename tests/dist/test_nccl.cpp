// The NCCL backend (dist/nccl_backend.h) against host references computed here.
//
// The collective cases need a build with NCCL and a CUDA device, and skip (GTEST_SKIP, saying
// which is missing) without them. They are written for any world size: run plainly they are a
// size-1 world on device 0; under mpirun with one GPU per rank they check the cross-rank results
// the same way (rank r contributes values that depend on r, the reference sums over all ranks).
// On a machine with NCCL but no device, NoDeviceIsAnError checks the message that names the rank
// and host instead; in a build without NCCL, BuiltWithoutNcclIsAnError checks the factory refuses.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "dist/backend.h"
#include "dist/comm.h"
#include "dist/nccl_backend.h"
#include "src/error.h"

#if BSTACK_HAS_NCCL
#include <cuda_runtime.h>
#endif

using bstack::dist::Backend;
using bstack::dist::Communicator;
using bstack::dist::make_nccl_backend;
using bstack::dist::nccl_available;
using bstack::dist::ReduceOp;
using bstack::dist::WorkPtr;

namespace {

Communicator& world() { return Communicator::world(); }

// CUDA devices this process sees; `why` says why there are none.
int device_count(std::string* why) {
#if BSTACK_HAS_NCCL
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();
    *why = std::string("cudaGetDeviceCount: ") + cudaGetErrorString(e);
    return 0;
  }
  if (n == 0) *why = "cudaGetDeviceCount returned 0";
  return n;
#else
  *why = "test built without BSTACK_HAS_NCCL";
  return 0;
#endif
}

// Skips the calling test unless this build has NCCL and this process sees a CUDA device.
#define SKIP_WITHOUT_NCCL_DEVICE()                                            \
  do {                                                                        \
    if (!nccl_available()) GTEST_SKIP() << "built without NCCL";              \
    std::string why_;                                                         \
    if (device_count(&why_) == 0) GTEST_SKIP() << "no CUDA device: " << why_; \
  } while (0)

// Rank r's value at index i: small integers, so sums over ranks are exact in float.
float value(int r, size_t i) {
  return static_cast<float>((r + 1) * static_cast<int>(i % 13 + 1) - 5 * static_cast<int>(i % 3));
}

std::vector<float> contribution(int r, size_t n) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = value(r, i);
  return v;
}

// The reduction over all ranks of value(r, i), as `op` defines it.
float reference(ReduceOp op, int ranks, size_t i) {
  double acc = value(0, i);
  for (int r = 1; r < ranks; ++r) {
    const double x = value(r, i);
    switch (op) {
      case ReduceOp::Sum:
      case ReduceOp::Avg: acc += x; break;
      case ReduceOp::Max: acc = std::max(acc, x); break;
      case ReduceOp::Min: acc = std::min(acc, x); break;
    }
  }
  if (op == ReduceOp::Avg) acc /= ranks;
  return static_cast<float>(acc);
}

const char* op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum: return "sum";
    case ReduceOp::Avg: return "avg";
    case ReduceOp::Max: return "max";
    case ReduceOp::Min: return "min";
  }
  return "?";
}

// Sums, maxima and minima of these integers are exact; an average may round once (NCCL divides
// or multiplies by 1/ranks): 2 float ulps of the reference, plus a tiny absolute term for 0.
void expect_near_all(const std::vector<float>& got, ReduceOp op, int ranks, const char* what) {
  int bad = 0;
  for (size_t i = 0; i < got.size() && bad < 10; ++i) {
    const float ref = reference(op, ranks, i);
    const float tol = op == ReduceOp::Avg ? 1e-6f + 2 * 1.2e-7f * std::fabs(ref) : 0.0f;
    if (!(std::fabs(got[i] - ref) <= tol)) {
      ADD_FAILURE() << what << " " << op_name(op) << " n=" << got.size() << " ranks=" << ranks
                    << ": [" << i << "] = " << got[i] << ", expected " << ref;
      ++bad;
    }
  }
}

}  // namespace

TEST(NcclBackend, BuiltWithoutNcclIsAnError) {
  if (nccl_available()) GTEST_SKIP() << "this build has NCCL";
  EXPECT_THROW(make_nccl_backend(world()), bstack::Error);
}

TEST(NcclBackend, NoDeviceIsAnError) {
  if (!nccl_available()) GTEST_SKIP() << "built without NCCL";
  std::string why;
  if (device_count(&why) > 0) GTEST_SKIP() << "this machine has a CUDA device";
  try {
    make_nccl_backend(world());
    FAIL() << "make_nccl_backend succeeded without a CUDA device";
  } catch (const bstack::Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("--backend nccl needs a CUDA device on every rank"), std::string::npos)
        << msg;
    EXPECT_NE(msg.find("rank " + std::to_string(world().rank()) + " on host "), std::string::npos)
        << msg;
  }
}

TEST(NcclBackend, NameRankSize) {
  SKIP_WITHOUT_NCCL_DEVICE();
  auto b = make_nccl_backend(world());
  EXPECT_EQ(b->name(), "nccl");
  EXPECT_EQ(b->rank(), world().rank());
  EXPECT_EQ(b->size(), world().size());
}

TEST(NcclBackend, AllreduceEveryOp) {
  SKIP_WITHOUT_NCCL_DEVICE();
  auto b = make_nccl_backend(world());
  const int r = b->rank(), p = b->size();
  for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Avg, ReduceOp::Max, ReduceOp::Min}) {
    for (size_t n : {size_t{1}, size_t{1000}, size_t{100003}}) {
      auto v = contribution(r, n);
      b->start_allreduce(v.data(), n, op)->wait();
      expect_near_all(v, op, p, "allreduce");
    }
  }
}

// Several collectives in flight at once, of different sizes and kinds, completed in reverse
// order of starting; then the same again, so the second round runs on cached staging blocks.
TEST(NcclBackend, ManyInFlight) {
  SKIP_WITHOUT_NCCL_DEVICE();
  auto b = make_nccl_backend(world());
  const int r = b->rank(), p = b->size();
  const std::vector<size_t> sizes = {4096, 17, 250000, 4096, 1};
  for (int round = 0; round < 2; ++round) {
    std::vector<std::vector<float>> bufs;
    for (size_t n : sizes) bufs.push_back(contribution(r, n));
    const size_t count = 777;
    const auto mine = contribution(r, count);
    std::vector<float> gathered(count * static_cast<size_t>(p), -1.0f);
    std::vector<WorkPtr> works;
    for (size_t k = 0; k < sizes.size(); ++k)
      works.push_back(
          b->start_allreduce(bufs[k].data(), sizes[k], k % 2 ? ReduceOp::Avg : ReduceOp::Sum));
    works.push_back(b->start_allgather(mine.data(), gathered.data(), count));
    // Poll everything until all are done, as DistributedDataParallel does during backward.
    bool all_done = false;
    while (!all_done) {
      all_done = true;
      for (auto it = works.rbegin(); it != works.rend(); ++it) all_done = (*it)->test() && all_done;
    }
    for (auto& w : works) EXPECT_TRUE(w->test());  // and stays done
    for (size_t k = 0; k < sizes.size(); ++k)
      expect_near_all(bufs[k], k % 2 ? ReduceOp::Avg : ReduceOp::Sum, p, "in-flight allreduce");
    for (int q = 0; q < p; ++q)
      for (size_t i = 0; i < count; ++i)
        ASSERT_EQ(gathered[q * count + i], value(q, i))
            << "round " << round << " rank " << q << " [" << i << "]";
  }
}

TEST(NcclBackend, ReduceScatter) {
  SKIP_WITHOUT_NCCL_DEVICE();
  auto b = make_nccl_backend(world());
  const int r = b->rank(), p = b->size();
  for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Avg, ReduceOp::Max}) {
    const size_t count = 1031;
    const auto send = contribution(r, count * static_cast<size_t>(p));
    std::vector<float> recv(count, -1.0f);
    b->start_reduce_scatter(send.data(), recv.data(), count, op)->wait();
    // Rank r's block is indices [r*count, (r+1)*count) of every rank's send buffer.
    int bad = 0;
    for (size_t i = 0; i < count && bad < 10; ++i) {
      const float ref = reference(op, p, static_cast<size_t>(r) * count + i);
      const float tol = op == ReduceOp::Avg ? 1e-6f + 2 * 1.2e-7f * std::fabs(ref) : 0.0f;
      if (!(std::fabs(recv[i] - ref) <= tol)) {
        ADD_FAILURE() << "reduce_scatter " << op_name(op) << " count=" << count << " rank " << r
                      << ": [" << i << "] = " << recv[i] << ", expected " << ref;
        ++bad;
      }
    }
  }
}

TEST(NcclBackend, Allgather) {
  SKIP_WITHOUT_NCCL_DEVICE();
  auto b = make_nccl_backend(world());
  const int r = b->rank(), p = b->size();
  for (size_t count : {size_t{1}, size_t{3000}}) {
    const auto send = contribution(r, count);
    std::vector<float> recv(count * static_cast<size_t>(p), -1.0f);
    b->start_allgather(send.data(), recv.data(), count)->wait();
    for (int q = 0; q < p; ++q)
      for (size_t i = 0; i < count; ++i)
        ASSERT_EQ(recv[q * count + i], value(q, i))
            << "count " << count << " rank " << q << " [" << i << "]";
  }
}

TEST(NcclBackend, Broadcast) {
  SKIP_WITHOUT_NCCL_DEVICE();
  auto b = make_nccl_backend(world());
  const int r = b->rank(), p = b->size(), root = p - 1;
  const size_t n = 5000;
  std::vector<float> v = r == root ? contribution(root, n) : std::vector<float>(n, -1.0f);
  b->broadcast(v.data(), n, root);
  for (size_t i = 0; i < n; ++i) ASSERT_EQ(v[i], value(root, i)) << "[" << i << "]";
  EXPECT_THROW(b->broadcast(v.data(), n, p), bstack::Error);
  EXPECT_THROW(b->broadcast(v.data(), n, -1), bstack::Error);
}

// Zero elements complete at once; a Work dropped unfinished still delivers its result
// (dist/work.h: destroying unfinished work waits for it).
TEST(NcclBackend, EmptyAndDroppedWork) {
  SKIP_WITHOUT_NCCL_DEVICE();
  auto b = make_nccl_backend(world());
  const int r = b->rank(), p = b->size();
  EXPECT_TRUE(b->start_allreduce(nullptr, 0, ReduceOp::Sum)->test());
  EXPECT_TRUE(b->start_allgather(nullptr, nullptr, 0)->test());
  EXPECT_TRUE(b->start_reduce_scatter(nullptr, nullptr, 0, ReduceOp::Sum)->test());
  auto v = contribution(r, 65536);
  { WorkPtr w = b->start_allreduce(v.data(), v.size(), ReduceOp::Sum); }
  expect_near_all(v, ReduceOp::Sum, p, "dropped allreduce");
  EXPECT_THROW(b->start_allreduce(nullptr, 4, ReduceOp::Sum), bstack::Error);
}
