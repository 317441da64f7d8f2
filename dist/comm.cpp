// Communicator over MPI (see comm.h). Each public call is one MPI call (or a loop of them for
// messages over MPI's int count), checked by BSTACK_MPI_CHECK.
#include "dist/comm.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "src/error.h"

namespace bstack::dist {
namespace {

std::string mpi_error_text(int rc) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS)
    return "MPI error code " + std::to_string(rc);
  return std::string(text, static_cast<size_t>(len));
}

}  // namespace
}  // namespace bstack::dist

// Every fallible MPI call goes through this: a failure throws bstack::Error naming the call,
// MPI's own text for the error and where it was made.
#define BSTACK_MPI_CHECK(call)                                                              \
  do {                                                                                      \
    const int bstack_mpi_rc_ = (call);                                                      \
    if (bstack_mpi_rc_ != MPI_SUCCESS)                                                      \
      ::bstack::fail("{} failed: {} ({}:{})", #call,                                        \
                     ::bstack::dist::mpi_error_text(bstack_mpi_rc_), __FILE__, __LINE__);   \
  } while (0)

namespace bstack::dist {
namespace {

// Largest piece one MPI call moves: counts are int.
constexpr size_t kMaxCount = static_cast<size_t>(INT_MAX);

int checked_count(const char* op, size_t bytes) {
  BSTACK_CHECK(bytes <= kMaxCount,
               "Communicator::{}: {} bytes is more than one MPI call can take (INT_MAX = {}); "
               "split the message",
               op, bytes, INT_MAX);
  return static_cast<int>(bytes);
}

MPI_Op mpi_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum:
    case ReduceOp::Avg: return MPI_SUM;
    case ReduceOp::Max: return MPI_MAX;
    case ReduceOp::Min: return MPI_MIN;
  }
  return MPI_SUM;
}

// Avg = the sum times 1/size, on every rank (the same multiply everywhere, so ranks agree).
template <class T>
void divide_by_size(T* data, size_t n, int size) {
  const T inv = T(1) / static_cast<T>(size);
  for (size_t i = 0; i < n; ++i) data[i] *= inv;
}

// One non-blocking MPI collective (possibly several requests, for counts over INT_MAX) and what
// to do once all have completed: Avg's division, run exactly once, by the test() that first sees
// completion.
class MpiWork final : public Work {
 public:
  ~MpiWork() override {
    if (done_) return;
    try {
      wait();
    } catch (...) {
      // dist/work.h: destroying unfinished work swallows errors (wait() reports them).
    }
  }

  void add(MPI_Request r) { reqs_.push_back(r); }
  void on_done(float* data, size_t n, int size) { fdata_ = data, n_ = n, size_ = size; }
  void on_done(double* data, size_t n, int size) { ddata_ = data, n_ = n, size_ = size; }

  bool test() override {
    if (done_) return true;
    int flag = 0;
    BSTACK_MPI_CHECK(MPI_Testall(static_cast<int>(reqs_.size()), reqs_.data(), &flag,
                                 MPI_STATUSES_IGNORE));
    if (!flag) return false;
    done_ = true;
    if (fdata_) divide_by_size(fdata_, n_, size_);
    if (ddata_) divide_by_size(ddata_, n_, size_);
    return true;
  }

 private:
  std::vector<MPI_Request> reqs_;
  float* fdata_ = nullptr;  // divided by size_ on completion (Avg), when set
  double* ddata_ = nullptr;
  size_t n_ = 0;
  int size_ = 1;
  bool done_ = false;
};

}  // namespace

// ---- Request ---------------------------------------------------------------------------------

Request& Request::operator=(Request&& o) noexcept {
  if (this != &o) {
    if (req_ != MPI_REQUEST_NULL) MPI_Wait(&req_, MPI_STATUS_IGNORE);
    req_ = o.req_;
    o.req_ = MPI_REQUEST_NULL;
  }
  return *this;
}

Request::~Request() {
  // No throw from a destructor: a failure here was or will be reported by the call that failed.
  if (req_ != MPI_REQUEST_NULL) MPI_Wait(&req_, MPI_STATUS_IGNORE);
}

void Request::wait() {
  if (req_ == MPI_REQUEST_NULL) return;
  BSTACK_MPI_CHECK(MPI_Wait(&req_, MPI_STATUS_IGNORE));
}

bool Request::test() {
  if (req_ == MPI_REQUEST_NULL) return true;
  int flag = 0;
  BSTACK_MPI_CHECK(MPI_Test(&req_, &flag, MPI_STATUS_IGNORE));  // sets req_ to NULL when done
  return flag != 0;
}

void Request::wait_all(std::span<Request> reqs) {
  // Request is exactly one MPI_Request, but copy rather than rely on the layout.
  std::vector<MPI_Request> raw(reqs.size());
  for (size_t i = 0; i < reqs.size(); ++i) raw[i] = reqs[i].req_;
  BSTACK_MPI_CHECK(MPI_Waitall(static_cast<int>(raw.size()), raw.data(), MPI_STATUSES_IGNORE));
  for (auto& r : reqs) r.req_ = MPI_REQUEST_NULL;
}

// ---- Communicator ----------------------------------------------------------------------------

bool Communicator::under_launcher() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"})
    if (std::getenv(var) != nullptr) return true;
  return false;
}

Communicator& Communicator::world() {
  static Communicator c;  // the destructor finalizes MPI at exit
  return c;
}

Communicator::Communicator() {
  if (!under_launcher()) return;  // size 1, no MPI
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided = 0;
    // Errors in MPI_Init_thread itself abort (MPI's default handler is not set yet).
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    owns_mpi_ = true;
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  BSTACK_MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &comm_));
  BSTACK_MPI_CHECK(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN));
  BSTACK_MPI_CHECK(MPI_Comm_rank(comm_, &rank_));
  BSTACK_MPI_CHECK(MPI_Comm_size(comm_, &size_));
  int* tag_ub = nullptr;
  int has_tag_ub = 0;
  BSTACK_MPI_CHECK(MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_TAG_UB, &tag_ub, &has_tag_ub));
  if (has_tag_ub && tag_ub) max_tag_ = *tag_ub;
}

Communicator::~Communicator() {
  try {
    finalize();
  } catch (...) {
    // At exit there is no one left to tell; MPI has printed its own message.
  }
}

void Communicator::finalize() {
  if (finalized_) return;
  finalized_ = true;
  if (comm_ == MPI_COMM_NULL) return;
  int done = 0;
  MPI_Finalized(&done);
  if (done) return;
  MPI_Comm_free(&comm_);
  comm_ = MPI_COMM_NULL;
  if (owns_mpi_) BSTACK_MPI_CHECK(MPI_Finalize());
}

void Communicator::abort(int code) {
  if (comm_ != MPI_COMM_NULL && !finalized_) MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);
}

void Communicator::check_open(const char* op) const {
  BSTACK_CHECK(!finalized_, "Communicator::{}: called after finalize()", op);
}

void Communicator::check_peer(const char* op, int peer) const {
  check_open(op);
  BSTACK_CHECK(size_ > 1,
               "Communicator::{}: a size-1 communicator has no peer (start the program with "
               "`mpirun -np 2 ...`)",
               op);
  BSTACK_CHECK(peer >= 0 && peer < size_ && peer != rank_,
               "Communicator::{}: peer rank {} is not another rank of this communicator (rank {} "
               "of {})",
               op, peer, rank_, size_);
}

void Communicator::barrier() {
  check_open("barrier");
  if (!uses_mpi()) return;
  BSTACK_MPI_CHECK(MPI_Barrier(comm_));
}

void Communicator::idle_barrier() {
  check_open("idle_barrier");
  if (!uses_mpi()) return;
  MPI_Request req = MPI_REQUEST_NULL;
  BSTACK_MPI_CHECK(MPI_Ibarrier(comm_, &req));
  for (;;) {
    int flag = 0;
    BSTACK_MPI_CHECK(MPI_Test(&req, &flag, MPI_STATUS_IGNORE));
    if (flag) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

void Communicator::send(const void* data, size_t bytes, int dest, int tag) {
  check_peer("send", dest);
  const char* p = static_cast<const char*>(data);
  // A message over INT_MAX bytes goes as consecutive pieces (same order on the receiving side).
  do {
    const size_t n = std::min(bytes, kMaxCount);
    BSTACK_MPI_CHECK(MPI_Send(p, static_cast<int>(n), MPI_BYTE, dest, tag, comm_));
    p += n;
    bytes -= n;
  } while (bytes > 0);
}

void Communicator::recv(void* data, size_t bytes, int src, int tag) {
  check_peer("recv", src);
  char* p = static_cast<char*>(data);
  do {
    const size_t n = std::min(bytes, kMaxCount);
    BSTACK_MPI_CHECK(
        MPI_Recv(p, static_cast<int>(n), MPI_BYTE, src, tag, comm_, MPI_STATUS_IGNORE));
    p += n;
    bytes -= n;
  } while (bytes > 0);
}

Request Communicator::isend(const void* data, size_t bytes, int dest, int tag) {
  check_peer("isend", dest);
  MPI_Request r = MPI_REQUEST_NULL;
  BSTACK_MPI_CHECK(MPI_Isend(data, checked_count("isend", bytes), MPI_BYTE, dest, tag, comm_, &r));
  return Request(r);
}

Request Communicator::irecv(void* data, size_t bytes, int src, int tag) {
  check_peer("irecv", src);
  MPI_Request r = MPI_REQUEST_NULL;
  BSTACK_MPI_CHECK(MPI_Irecv(data, checked_count("irecv", bytes), MPI_BYTE, src, tag, comm_, &r));
  return Request(r);
}

void Communicator::broadcast(void* data, size_t bytes, int root) {
  check_open("broadcast");
  BSTACK_CHECK(root >= 0 && root < size_,
               "Communicator::broadcast: root {} is not a rank (size {})", root, size_);
  if (!uses_mpi()) return;
  char* p = static_cast<char*>(data);
  do {
    const size_t n = std::min(bytes, kMaxCount);
    BSTACK_MPI_CHECK(MPI_Bcast(p, static_cast<int>(n), MPI_BYTE, root, comm_));
    p += n;
    bytes -= n;
  } while (bytes > 0);
}

void Communicator::allreduce_typed(void* data, size_t n, MPI_Datatype type, size_t elem,
                                   ReduceOp op) {
  check_open("allreduce");
  if (!uses_mpi()) return;  // one rank: sum, max, min and average of one value are the value
  char* p = static_cast<char*>(data);
  size_t left = n;
  do {
    const size_t k = std::min(left, kMaxCount);
    BSTACK_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, p, static_cast<int>(k), type, mpi_op(op), comm_));
    p += k * elem;
    left -= k;
  } while (left > 0);
}

void Communicator::allreduce(float* data, size_t n, ReduceOp op) {
  allreduce_typed(data, n, MPI_FLOAT, sizeof(float), op);
  if (op == ReduceOp::Avg && size_ > 1) divide_by_size(data, n, size_);
}

void Communicator::allreduce(double* data, size_t n, ReduceOp op) {
  allreduce_typed(data, n, MPI_DOUBLE, sizeof(double), op);
  if (op == ReduceOp::Avg && size_ > 1) divide_by_size(data, n, size_);
}

void Communicator::allgather(const void* send, size_t bytes, void* recv) {
  check_open("allgather");
  if (!uses_mpi()) {
    if (bytes > 0 && send != recv) std::memmove(recv, send, bytes);
    return;
  }
  const int count = checked_count("allgather", bytes);
  BSTACK_MPI_CHECK(MPI_Allgather(send, count, MPI_BYTE, recv, count, MPI_BYTE, comm_));
}

void Communicator::reduce_scatter(const float* send, float* recv, size_t count, ReduceOp op) {
  check_open("reduce_scatter");
  BSTACK_CHECK(count <= kMaxCount,
               "Communicator::reduce_scatter: count {} is more than one MPI call can take "
               "(INT_MAX = {})",
               count, INT_MAX);
  if (!uses_mpi()) {
    if (count > 0 && send != recv) std::memmove(recv, send, count * sizeof(float));
    return;
  }
  const float* send_end = send + static_cast<size_t>(size_) * count;
  BSTACK_CHECK(count == 0 || recv + count <= send || send_end <= recv,
               "Communicator::reduce_scatter: recv overlaps send (MPI_Reduce_scatter_block needs "
               "separate buffers)");
  BSTACK_MPI_CHECK(MPI_Reduce_scatter_block(send, recv, static_cast<int>(count), MPI_FLOAT,
                                            mpi_op(op), comm_));
  if (op == ReduceOp::Avg) divide_by_size(recv, count, size_);
}

template <class T>
WorkPtr Communicator::iallreduce_typed(T* data, size_t n, MPI_Datatype type, ReduceOp op) {
  check_open("iallreduce");
  // One rank: sum, max, min and average of one value are the value. n == 0: nothing to send
  // (every rank passes the same n).
  if (!uses_mpi() || n == 0) return std::make_unique<DoneWork>();
  // Built before the first request is posted, so a failure part way still waits for the pieces
  // already in flight (the Work's destructor) before the exception leaves.
  auto work = std::make_unique<MpiWork>();
  T* p = data;
  for (size_t left = n; left > 0;) {
    const size_t k = std::min(left, kMaxCount);
    MPI_Request r = MPI_REQUEST_NULL;
    BSTACK_MPI_CHECK(
        MPI_Iallreduce(MPI_IN_PLACE, p, static_cast<int>(k), type, mpi_op(op), comm_, &r));
    work->add(r);
    p += k;
    left -= k;
  }
  if (op == ReduceOp::Avg) work->on_done(data, n, size_);
  return work;
}

WorkPtr Communicator::iallreduce(float* data, size_t n, ReduceOp op) {
  return iallreduce_typed(data, n, MPI_FLOAT, op);
}

WorkPtr Communicator::iallreduce(double* data, size_t n, ReduceOp op) {
  return iallreduce_typed(data, n, MPI_DOUBLE, op);
}

WorkPtr Communicator::ireduce_scatter(const float* send, float* recv, size_t count,
                                      ReduceOp op) {
  check_open("ireduce_scatter");
  BSTACK_CHECK(count <= kMaxCount,
               "Communicator::ireduce_scatter: count {} is more than one MPI call can take "
               "(INT_MAX = {})",
               count, INT_MAX);
  if (!uses_mpi()) {
    if (count > 0 && send != recv) std::memmove(recv, send, count * sizeof(float));
    return std::make_unique<DoneWork>();
  }
  const float* send_end = send + static_cast<size_t>(size_) * count;
  BSTACK_CHECK(count == 0 || recv + count <= send || send_end <= recv,
               "Communicator::ireduce_scatter: recv overlaps send (MPI_Ireduce_scatter_block "
               "needs separate buffers)");
  auto work = std::make_unique<MpiWork>();
  MPI_Request r = MPI_REQUEST_NULL;
  BSTACK_MPI_CHECK(MPI_Ireduce_scatter_block(send, recv, static_cast<int>(count), MPI_FLOAT,
                                             mpi_op(op), comm_, &r));
  work->add(r);
  if (op == ReduceOp::Avg) work->on_done(recv, count, size_);
  return work;
}

WorkPtr Communicator::ibroadcast(void* data, size_t bytes, int root) {
  check_open("ibroadcast");
  BSTACK_CHECK(root >= 0 && root < size_, "Communicator::ibroadcast: root {} is not a rank (size {})", root, size_);
  if (!uses_mpi() || bytes == 0) return std::make_unique<DoneWork>();
  auto work = std::make_unique<MpiWork>();
  MPI_Request r = MPI_REQUEST_NULL;
  BSTACK_MPI_CHECK(MPI_Ibcast(data, checked_count("ibroadcast", bytes), MPI_BYTE, root, comm_, &r));
  work->add(r);
  return work;
}

WorkPtr Communicator::ibarrier() {
  check_open("ibarrier");
  if (!uses_mpi()) return std::make_unique<DoneWork>();
  auto work = std::make_unique<MpiWork>();
  MPI_Request r = MPI_REQUEST_NULL;
  BSTACK_MPI_CHECK(MPI_Ibarrier(comm_, &r));
  work->add(r);
  return work;
}

WorkPtr Communicator::iallgather(const void* send, size_t bytes, void* recv) {
  check_open("iallgather");
  if (!uses_mpi()) {
    if (bytes > 0 && send != recv) std::memmove(recv, send, bytes);
    return std::make_unique<DoneWork>();
  }
  const int count = checked_count("iallgather", bytes);
  auto work = std::make_unique<MpiWork>();
  MPI_Request r = MPI_REQUEST_NULL;
  BSTACK_MPI_CHECK(MPI_Iallgather(send, count, MPI_BYTE, recv, count, MPI_BYTE, comm_, &r));
  work->add(r);
  return work;
}

}  // namespace bstack::dist
