// The NCCL backend (dist/nccl_backend.h): bstack's host-resident float buffers reduced by NCCL on
// one GPU per rank. Compiled only in builds with CUDA and NCCL (BSTACK_HAS_NCCL);
// dist/nccl_none.cpp holds the stand-ins that say "built without NCCL" otherwise.
//
// Set-up (make_nccl_backend), following NCCL's "one device per process" example (NCCL user
// guide, "Creating a communicator", with MPI_Bcast of the unique id):
//   1. Each rank picks device local_rank % device_count, makes it current and creates its stream.
//      Every rank then learns every other rank's outcome (one all-gather over the Communicator),
//      so a rank without a device fails on every rank with a message, instead of leaving the
//      others waiting forever in the unique-id broadcast or ncclCommInitRank.
//   2. Rank 0 calls ncclGetUniqueId and broadcasts it (with a success flag, for the same reason)
//      over the Communicator; every rank calls ncclCommInitRank.
//
// One collective (start_allreduce, start_reduce_scatter, start_allgather, broadcast):
//   memcpy caller's buffer -> pinned host staging; cudaMemcpyAsync H2D; the NCCL collective in
//   place on the device buffer; cudaMemcpyAsync D2H into the pinned staging; cudaEventRecord. All
//   on the backend's one non-blocking stream, so collectives run in the order they were started
//   (NCCL needs the same order on every rank; the Backend contract gives it). The Work's test()
//   is cudaEventQuery; on completion it copies the pinned staging into the caller's buffer.
//   In-place forms are NCCL's documented ones (user guide, "In-place operations"): reduce-scatter
//   with recvbuff = sendbuff + rank*count, all-gather with sendbuff = recvbuff + rank*count, so a
//   reduce-scatter or all-gather of `count` per rank stages size*count floats and an all-reduce
//   of n stages n.
//
// Staging: each Work in flight owns one block (device buffer, pinned host buffer of the same
// size, a completion event) taken from a cache in the backend and given back when it completes,
// so the steady state of DistributedDataParallel (the same bucket sizes every step) allocates
// nothing after the first step. A block is cudaMallocHost memory, not the caller's buffer pinned
// with cudaHostRegister: the caller's buffers differ from call to call, and registering costs
// more than a memcpy.
//
// Errors: every CUDA and NCCL call goes through one checking macro that throws bstack::Error with
// the call, file:line and the library's own text (and NCCL's ncclGetLastError detail). While a
// collective is pending, test() also polls ncclCommGetAsyncError: on an asynchronous error (a
// peer gone, a network failure) the communicator is aborted (ncclCommAbort, the NCCL user guide's
// "Error handling and communicator abort"), the Work throws and later calls fail naming the
// first error, instead of a hang in cudaEventQuery forever.
//
// Threads: the backend and its Works are used from one thread, the one that talks MPI (see
// dist/comm.h); the staging cache takes no lock.
#include "dist/nccl_backend.h"

#if !BSTACK_HAS_NCCL
#error "dist/nccl_backend.cpp needs CUDA and NCCL (BSTACK_HAS_NCCL)"
#endif

#include <cuda_runtime.h>
#include <nccl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "dist/cuda_check.h"
#include "src/error.h"

// ncclAvg (the all-reduce average without a second pass) arrived in NCCL 2.10.
#if NCCL_VERSION_CODE < NCCL_VERSION(2, 10, 0)
#error "the NCCL backend needs NCCL 2.10 or newer (ncclAvg)"
#endif

namespace bstack::dist {
namespace {


}  // namespace
}  // namespace bstack::dist


namespace bstack::dist {

bool nccl_available() { return true; }

namespace {

ncclRedOp_t nccl_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum: return ncclSum;
    case ReduceOp::Avg: return ncclAvg;
    case ReduceOp::Max: return ncclMax;
    case ReduceOp::Min: return ncclMin;
  }
  fail("nccl backend: unknown ReduceOp {}", static_cast<int>(op));
}

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "(unknown host)";
  return name;
}

// This rank's index among the ranks on its host, from the launcher: Open MPI
// (OMPI_COMM_WORLD_LOCAL_RANK), MPICH's hydra (MPI_LOCALRANKID), Slurm (SLURM_LOCALID). Without
// any, the global rank: right for one rank per host, for ranks placed in blocks of
// devices-per-host, and for a launcher script that gives each rank one device through
// CUDA_VISIBLE_DEVICES (then every rank sees one device and the modulo picks it).
int local_rank(int rank) {
  for (const char* var : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"}) {
    const char* s = std::getenv(var);
    if (s == nullptr || s[0] == '\0') continue;
    char* end = nullptr;
    errno = 0;
    const long v = std::strtol(s, &end, 10);
    BSTACK_CHECK(errno == 0 && *end == '\0' && v >= 0 && v < (1L << 30),
                 "nccl backend: environment variable {}='{}' is not a local rank (a number >= 0)",
                 var, s);
    return static_cast<int>(v);
  }
  return rank;
}

// One staging block: `capacity` floats on the device and as many pinned on the host, and the
// event that marks the end of the collective using them. Owned by one Work at a time.
struct Staging {
  explicit Staging(size_t floats) : capacity(floats) {
    try {
      BSTACK_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&dev), floats * sizeof(float)));
      BSTACK_CUDA_CHECK(cudaMallocHost(reinterpret_cast<void**>(&host), floats * sizeof(float)));
      BSTACK_CUDA_CHECK(cudaEventCreateWithFlags(&done, cudaEventDisableTiming));
    } catch (...) {
      release();
      throw;
    }
  }
  ~Staging() { release(); }
  Staging(const Staging&) = delete;
  Staging& operator=(const Staging&) = delete;

  void release() noexcept {
    if (done) cudaEventDestroy(done);
    if (host) cudaFreeHost(host);
    if (dev) cudaFree(dev);
    done = nullptr;
    host = dev = nullptr;
  }

  size_t capacity = 0;
  float* dev = nullptr;
  float* host = nullptr;
  cudaEvent_t done = nullptr;
};

// What the backend and every Work in flight share: the device, the stream, the NCCL
// communicator and the staging cache. Works hold it by shared_ptr, so a Work that outlives its
// Backend still completes (and its destructor still has a stream to wait on).
class Context {
 public:
  Context(int rank, int size, int device) : rank_(rank), size_(size), device_(device) {}
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  ~Context() {
    // No throw from here, and no hang after an error: an aborted (or, while an exception unwinds
    // the stack, abandoned) communicator is aborted, which ends its kernels, before the stream is
    // drained; a healthy one is drained first and then destroyed.
    cudaSetDevice(device_);
    if (comm_ != nullptr) {
      if (!broken_.empty() || std::uncaught_exceptions() > 0) {
        ncclCommAbort(comm_);
      } else {
        if (stream_ != nullptr) cudaStreamSynchronize(stream_);
        ncclCommDestroy(comm_);
      }
      comm_ = nullptr;
    }
    if (stream_ != nullptr) {
      cudaStreamSynchronize(stream_);
      cudaStreamDestroy(stream_);
    }
    free_.clear();
  }

  int rank() const { return rank_; }
  int size() const { return size_; }
  cudaStream_t stream() const { return stream_; }
  ncclComm_t comm() const { return comm_; }

  void set_stream(cudaStream_t s) { stream_ = s; }
  void set_comm(ncclComm_t c) { comm_ = c; }

  // Makes this rank's device current: other code in the process may have switched it.
  void use_device() const { BSTACK_CUDA_CHECK(cudaSetDevice(device_)); }

  // Throws naming the first error if the communicator was aborted; `op` names the caller.
  void check_usable(const char* op) const {
    BSTACK_CHECK(broken_.empty(),
                 "nccl backend: {}: the NCCL communicator was aborted after an earlier error: {}",
                 op, broken_);
  }

  // Polls NCCL for an asynchronous error; on one, aborts the communicator and throws.
  void check_async() {
    if (comm_ == nullptr) return;
    ncclResult_t state = ncclSuccess;
    BSTACK_NCCL_CHECK(ncclCommGetAsyncError(comm_, &state));
    if (state == ncclSuccess || state == ncclInProgress) return;
    broken_ =
        fmt::format("ncclCommGetAsyncError reported {} on rank {}", nccl_error_text(state), rank_);
    ncclCommAbort(comm_);
    comm_ = nullptr;
    fail("nccl backend: {}; the communicator is aborted", broken_);
  }

  // A block of at least `floats`: the smallest cached one that fits, else a new one of exactly
  // `floats`. On a miss every cached block is smaller than asked, and one of them (the largest)
  // is freed, so the cache never holds more blocks than were ever in use at once.
  std::unique_ptr<Staging> acquire(size_t floats) {
    auto best = free_.end();
    for (auto it = free_.begin(); it != free_.end(); ++it)
      if ((*it)->capacity >= floats && (best == free_.end() || (*it)->capacity < (*best)->capacity))
        best = it;
    if (best != free_.end()) {
      std::unique_ptr<Staging> b = std::move(*best);
      free_.erase(best);
      return b;
    }
    if (!free_.empty()) {
      auto largest = std::max_element(free_.begin(), free_.end(), [](const auto& a, const auto& b) {
        return a->capacity < b->capacity;
      });
      free_.erase(largest);
    }
    return std::make_unique<Staging>(floats);
  }

  // Back into the cache, once the collective that used it has completed.
  void give_back(std::unique_ptr<Staging> b) { free_.push_back(std::move(b)); }

 private:
  int rank_, size_, device_;
  cudaStream_t stream_ = nullptr;
  ncclComm_t comm_ = nullptr;
  std::vector<std::unique_ptr<Staging>> free_;
  std::string broken_;  // why the communicator was aborted; empty while it is healthy
};

// One collective in flight. The D2H copy into `block->host` and the event are already enqueued;
// test() waits for the event without blocking and then copies out_count floats from
// block->host[out_offset] into `out`.
class NcclWork final : public Work {
 public:
  NcclWork(std::shared_ptr<Context> ctx, std::unique_ptr<Staging> block, float* out,
           size_t out_offset, size_t out_count)
      : ctx_(std::move(ctx)),
        block_(std::move(block)),
        out_(out),
        out_offset_(out_offset),
        out_count_(out_count) {}

  ~NcclWork() override {
    // Unfinished work is waited for (dist/work.h), errors swallowed: wait() reports them. test()
    // returns or throws once the event completes or NCCL reports an asynchronous error.
    if (!done_ && failure_.empty()) {
      try {
        wait();
      } catch (...) {
      }
    }
  }

  bool test() override {
    if (done_) return true;
    BSTACK_CHECK(failure_.empty(), "{}", failure_);
    try {
      ctx_->use_device();
      const cudaError_t e = cudaEventQuery(block_->done);
      if (e == cudaErrorNotReady) {
        ctx_->check_async();
        return false;
      }
      BSTACK_CUDA_CHECK(e);
    } catch (const Error& err) {
      failure_ = err.what();
      throw;
    }
    if (out_count_ > 0) std::memcpy(out_, block_->host + out_offset_, out_count_ * sizeof(float));
    ctx_->give_back(std::move(block_));
    done_ = true;
    return true;
  }

 private:
  std::shared_ptr<Context> ctx_;
  std::unique_ptr<Staging> block_;
  float* out_;
  size_t out_offset_, out_count_;
  bool done_ = false;
  std::string failure_;  // set when test() threw: later calls throw the same, the destructor skips
};

class NcclBackend final : public Backend {
 public:
  explicit NcclBackend(std::shared_ptr<Context> ctx) : ctx_(std::move(ctx)) {}

  std::string name() const override { return "nccl"; }
  int rank() const override { return ctx_->rank(); }
  int size() const override { return ctx_->size(); }

  // data: n floats, in place. Device: the same n floats, reduced in place.
  WorkPtr start_allreduce(float* data, size_t n, ReduceOp op) override {
    if (n == 0) return std::make_unique<DoneWork>();
    BSTACK_CHECK(data != nullptr, "nccl backend: start_allreduce: data is null (n = {})", n);
    begin("start_allreduce");
    auto b = ctx_->acquire(n);
    std::memcpy(b->host, data, n * sizeof(float));
    BSTACK_CUDA_CHECK(cudaMemcpyAsync(b->dev, b->host, n * sizeof(float), cudaMemcpyHostToDevice,
                                      ctx_->stream()));
    BSTACK_NCCL_CHECK(
        ncclAllReduce(b->dev, b->dev, n, ncclFloat, nccl_op(op), ctx_->comm(), ctx_->stream()));
    BSTACK_CUDA_CHECK(cudaMemcpyAsync(b->host, b->dev, n * sizeof(float), cudaMemcpyDeviceToHost,
                                      ctx_->stream()));
    return finish(std::move(b), data, 0, n);
  }

  // send: size*count floats, recv: count. Device: size*count floats, the result written in place
  // at [rank*count, (rank+1)*count); it comes back through host[0, count).
  WorkPtr start_reduce_scatter(const float* send, float* recv, size_t count, ReduceOp op) override {
    if (count == 0) return std::make_unique<DoneWork>();
    BSTACK_CHECK(send != nullptr && recv != nullptr,
                 "nccl backend: start_reduce_scatter: a null buffer (send {}, recv {}, count {})",
                 static_cast<const void*>(send), static_cast<const void*>(recv), count);
    begin("start_reduce_scatter");
    const size_t total = count * static_cast<size_t>(size());
    auto b = ctx_->acquire(total);
    std::memcpy(b->host, send, total * sizeof(float));
    float* mine = b->dev + static_cast<size_t>(rank()) * count;
    BSTACK_CUDA_CHECK(cudaMemcpyAsync(b->dev, b->host, total * sizeof(float),
                                      cudaMemcpyHostToDevice, ctx_->stream()));
    BSTACK_NCCL_CHECK(ncclReduceScatter(b->dev, mine, count, ncclFloat, nccl_op(op), ctx_->comm(),
                                        ctx_->stream()));
    // Stream order puts this after the H2D copy that read host[0, total), so reusing it is safe.
    BSTACK_CUDA_CHECK(cudaMemcpyAsync(b->host, mine, count * sizeof(float), cudaMemcpyDeviceToHost,
                                      ctx_->stream()));
    return finish(std::move(b), recv, 0, count);
  }

  // send: count floats, recv: size*count. Device: size*count floats, this rank's part copied to
  // [rank*count, (rank+1)*count) and gathered in place around it.
  WorkPtr start_allgather(const float* send, float* recv, size_t count) override {
    if (count == 0) return std::make_unique<DoneWork>();
    BSTACK_CHECK(send != nullptr && recv != nullptr,
                 "nccl backend: start_allgather: a null buffer (send {}, recv {}, count {})",
                 static_cast<const void*>(send), static_cast<const void*>(recv), count);
    begin("start_allgather");
    const size_t total = count * static_cast<size_t>(size());
    const size_t at = static_cast<size_t>(rank()) * count;
    auto b = ctx_->acquire(total);
    std::memcpy(b->host + at, send, count * sizeof(float));
    BSTACK_CUDA_CHECK(cudaMemcpyAsync(b->dev + at, b->host + at, count * sizeof(float),
                                      cudaMemcpyHostToDevice, ctx_->stream()));
    BSTACK_NCCL_CHECK(
        ncclAllGather(b->dev + at, b->dev, count, ncclFloat, ctx_->comm(), ctx_->stream()));
    BSTACK_CUDA_CHECK(cudaMemcpyAsync(b->host, b->dev, total * sizeof(float),
                                      cudaMemcpyDeviceToHost, ctx_->stream()));
    return finish(std::move(b), recv, 0, total);
  }

  // Blocking. Only the root stages its data in; only the others copy the result out.
  void broadcast(float* data, size_t n, int root) override {
    BSTACK_CHECK(root >= 0 && root < size(),
                 "nccl backend: broadcast: root {} is not a rank (size {})", root, size());
    if (n == 0) return;
    BSTACK_CHECK(data != nullptr, "nccl backend: broadcast: data is null (n = {})", n);
    begin("broadcast");
    auto b = ctx_->acquire(n);
    const bool is_root = rank() == root;
    if (is_root) {
      std::memcpy(b->host, data, n * sizeof(float));
      BSTACK_CUDA_CHECK(cudaMemcpyAsync(b->dev, b->host, n * sizeof(float), cudaMemcpyHostToDevice,
                                        ctx_->stream()));
    }
    BSTACK_NCCL_CHECK(
        ncclBroadcast(b->dev, b->dev, n, ncclFloat, root, ctx_->comm(), ctx_->stream()));
    if (!is_root)
      BSTACK_CUDA_CHECK(cudaMemcpyAsync(b->host, b->dev, n * sizeof(float), cudaMemcpyDeviceToHost,
                                        ctx_->stream()));
    finish(std::move(b), data, 0, is_root ? 0 : n)->wait();
  }

 private:
  void begin(const char* op) {
    ctx_->check_usable(op);
    ctx_->use_device();
  }

  // Marks the end of what was just enqueued with the block's event and hands both to a Work.
  WorkPtr finish(std::unique_ptr<Staging> b, float* out, size_t offset, size_t count) {
    BSTACK_CUDA_CHECK(cudaEventRecord(b->done, ctx_->stream()));
    return std::make_unique<NcclWork>(ctx_, std::move(b), out, offset, count);
  }

  std::shared_ptr<Context> ctx_;
};

// What each rank tells the others after its local set-up (step 1 in the file comment).
struct RankStatus {
  int ok;       // 1 when the device, the stream and the NCCL library are in order
  int devices;  // what cudaGetDeviceCount gave (0 on an error)
};

// Ranks whose status is not ok, with the devices each sees: "1 (0 devices), 3 (2 devices)".
std::string failed_ranks(const std::vector<RankStatus>& all) {
  std::string s;
  for (size_t r = 0; r < all.size(); ++r)
    if (!all[r].ok)
      s += fmt::format("{}{} ({} devices)", s.empty() ? "" : ", ", r, all[r].devices);
  return s;
}

}  // namespace

std::unique_ptr<Backend> make_nccl_backend(Communicator& comm) {
  const int rank = comm.rank(), size = comm.size();
  const std::string where = fmt::format("rank {} on host {}", rank, host_name());

  // ---- 1. device, stream, library version; then every rank's outcome to every rank ----------
  int devices = 0;
  int device = -1;
  std::string error;  // this rank's failure, empty if none
  const cudaError_t count_err = cudaGetDeviceCount(&devices);
  if (count_err != cudaSuccess || devices <= 0) {
    const std::string why = count_err != cudaSuccess ? std::string(cudaGetErrorString(count_err))
                                                     : std::string("cudaGetDeviceCount returned 0");
    cudaGetLastError();  // clear it, so later CUDA calls in the process start clean
    const char* visible = std::getenv("CUDA_VISIBLE_DEVICES");
    error = fmt::format(
        "--backend nccl needs a CUDA device on every rank; this rank ({}) sees none: {}{}", where,
        why, visible ? fmt::format(" (CUDA_VISIBLE_DEVICES='{}')", visible) : std::string());
    devices = 0;
  }

  auto ctx = std::shared_ptr<Context>();
  if (error.empty()) {
    try {
      device = local_rank(rank) % devices;
      int version = 0;
      BSTACK_NCCL_CHECK(ncclGetVersion(&version));
      BSTACK_CHECK(version >= NCCL_VERSION(2, 10, 0),
                   "--backend nccl needs NCCL 2.10 or newer (for ncclAvg); this process loaded "
                   "version code {}",
                   version);
      ctx = std::make_shared<Context>(rank, size, device);
      ctx->use_device();
      cudaStream_t s = nullptr;
      BSTACK_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
      ctx->set_stream(s);
    } catch (const Error& e) {
      error = fmt::format("nccl backend: set-up of CUDA device {} failed on {}: {}", device, where,
                          e.what());
    }
  }

  std::vector<RankStatus> all(static_cast<size_t>(size));
  const RankStatus mine{error.empty() ? 1 : 0, devices};
  comm.allgather(&mine, sizeof mine, all.data());
  if (!error.empty()) fail("{}", error);
  const std::string failed = failed_ranks(all);
  BSTACK_CHECK(failed.empty(),
               "--backend nccl: rank(s) {} could not set up a CUDA device (their own error says "
               "why); this rank ({}, device {}) stops too, since NCCL needs every rank",
               failed, where, device);

  // ---- 2. rank 0's unique id to every rank, then the communicator ------------------------------
  struct IdMessage {
    ncclUniqueId id;
    int ok;
  } msg{};
  if (rank == 0) {
    try {
      BSTACK_NCCL_CHECK(ncclGetUniqueId(&msg.id));
      msg.ok = 1;
    } catch (const Error& e) {
      error = e.what();
    }
  }
  comm.broadcast(&msg, sizeof msg, 0);
  if (!error.empty()) fail("nccl backend: {}: {}", where, error);
  BSTACK_CHECK(msg.ok == 1,
               "nccl backend: rank 0 could not create the NCCL unique id (its own error says why); "
               "{} stops too",
               where);

  ncclComm_t nc = nullptr;
  try {
    BSTACK_NCCL_CHECK(ncclCommInitRank(&nc, size, msg.id, rank));
  } catch (const Error& e) {
    fail("nccl backend: {} (CUDA device {}, {} rank(s)): {}", where, device, size, e.what());
  }
  ctx->set_comm(nc);
  return std::make_unique<NcclBackend>(std::move(ctx));
}

}  // namespace bstack::dist
