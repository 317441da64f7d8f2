// Communicator: the one door to inter-process communication in bstack. calibrate/ measures the
// interconnect through it and dist/ trains data-parallel through it, so nothing about MPI is
// written twice.
//
// MPI only: blocking and non-blocking point-to-point, broadcast, all-reduce, reduce-scatter and
// all-gather, each a thin call of the MPI routine of the same name; the non-blocking collectives
// (iallreduce, ireduce_scatter, iallgather) return Work (dist/work.h) advanced by test().
// bstack's own all-reduce algorithms are built on isend/irecv in dist/allreduce.h, and the
// transport-neutral interface DistributedDataParallel uses (MPI or NCCL) is dist/backend.h.
// A process not started by mpirun/mpiexec gets a size-1 communicator that never calls MPI, so
// every program runs unchanged on one process (collectives are then copies or nothing, and
// point-to-point is an error: there is no peer).
//
// Errors: MPI is switched to MPI_ERRORS_RETURN and every MPI call goes through one check that
// throws bstack::Error naming the call, the MPI error text (MPI_Error_string) and file:line.
// Threads: MPI is initialised with MPI_THREAD_FUNNELED, so only the thread that called world()
// first may communicate (the OpenMP worker threads never do).
#pragma once

// The MPI C API only: without these, Open MPI's and MPICH's mpi.h pull in the C++ bindings
// (removed from the standard in MPI-3.0), whose symbols live in a separate library.
#ifndef OMPI_SKIP_MPICXX
#define OMPI_SKIP_MPICXX 1
#endif
#ifndef MPICH_SKIP_MPICXX
#define MPICH_SKIP_MPICXX 1
#endif
#include <mpi.h>

#include <climits>
#include <cstddef>
#include <span>

#include "dist/work.h"

namespace bstack::dist {

enum class ReduceOp { Sum, Avg, Max, Min };  // Avg = Sum, then divided by size() on every rank

// A pending isend/irecv. Move-only; wait() completes it (a second wait() does nothing). The
// destructor waits too, so a buffer is never left in flight past the request's scope.
class Request {
 public:
  Request() = default;
  Request(Request&& o) noexcept : req_(o.req_) { o.req_ = MPI_REQUEST_NULL; }
  Request& operator=(Request&& o) noexcept;
  Request(const Request&) = delete;
  Request& operator=(const Request&) = delete;
  ~Request();

  void wait();
  // Advances without blocking (MPI_Test); true once complete (then done() is true as well).
  bool test();
  bool done() const { return req_ == MPI_REQUEST_NULL; }

  // Completes all of them (MPI_Waitall: the OSU bandwidth window).
  static void wait_all(std::span<Request> reqs);

 private:
  friend class Communicator;
  explicit Request(MPI_Request r) : req_(r) {}
  MPI_Request req_ = MPI_REQUEST_NULL;
};

class Communicator {
 public:
  // The world communicator of this process. The first call initialises MPI (MPI_Init_thread,
  // FUNNELED) when the process was started by a launcher (under_launcher()), else makes a
  // size-1 communicator. MPI is finalized by finalize() or at exit.
  static Communicator& world();

  // Whether a launcher started this process: Open MPI (OMPI_COMM_WORLD_SIZE), PMIx (PMIX_RANK)
  // or PMI / MPICH hydra / Slurm (PMI_SIZE) left its variables in the environment.
  static bool under_launcher();

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool uses_mpi() const { return comm_ != MPI_COMM_NULL; }
  // The largest tag point-to-point calls accept (MPI_TAG_UB: at least 32767 by the standard,
  // 2^31 - 1 in Open MPI); INT_MAX on a size-1 communicator.
  int max_tag() const { return max_tag_; }

  void barrier();
  // A barrier for ranks that wait while another measures: MPI_Ibarrier polled with MPI_Test
  // every ~2 ms, sleeping in between, so a waiting rank does not spin a core (MPI_Barrier
  // busy-polls in Open MPI's shared-memory transport and would steal the measuring rank's core).
  void idle_barrier();

  // Bytes between two ranks, in order per (peer, tag). Blocking calls split messages over
  // INT_MAX bytes; isend/irecv take at most INT_MAX bytes.
  void send(const void* data, size_t bytes, int dest, int tag = 0);
  void recv(void* data, size_t bytes, int src, int tag = 0);
  [[nodiscard]] Request isend(const void* data, size_t bytes, int dest, int tag = 0);
  [[nodiscard]] Request irecv(void* data, size_t bytes, int src, int tag = 0);

  // `bytes` from `root` to every rank.
  void broadcast(void* data, size_t bytes, int root = 0);
  // In place over all ranks (MPI_Allreduce with MPI_IN_PLACE).
  void allreduce(float* data, size_t n, ReduceOp op = ReduceOp::Sum);
  void allreduce(double* data, size_t n, ReduceOp op = ReduceOp::Sum);
  // Every rank's `bytes` from `send`, in rank order, into `recv` (size() * bytes).
  void allgather(const void* send, size_t bytes, void* recv);
  // Rank r receives in recv[0, count) the reduction over ranks of send[r*count, (r+1)*count)
  // (MPI_Reduce_scatter_block; `send` holds size() * count floats). count <= INT_MAX.
  void reduce_scatter(const float* send, float* recv, size_t count, ReduceOp op = ReduceOp::Sum);

  // Non-blocking forms of the three above (MPI_Iallreduce with MPI_IN_PLACE,
  // MPI_Ireduce_scatter_block, MPI_Iallgather): the buffers must stay alive and untouched until
  // the returned Work's test() says done. Avg divides when test() first sees completion. On a
  // size-1 communicator the copy is made at once and the Work is already done (DoneWork).
  // iallreduce splits over INT_MAX elements into several requests; the other two take at most
  // INT_MAX elements (bytes for iallgather).
  [[nodiscard]] WorkPtr iallreduce(float* data, size_t n, ReduceOp op = ReduceOp::Sum);
  [[nodiscard]] WorkPtr iallreduce(double* data, size_t n, ReduceOp op = ReduceOp::Sum);
  [[nodiscard]] WorkPtr ireduce_scatter(const float* send, float* recv, size_t count,
                                        ReduceOp op = ReduceOp::Sum);
  [[nodiscard]] WorkPtr iallgather(const void* send, size_t bytes, void* recv);
  // Non-blocking broadcast (MPI_Ibcast; at most INT_MAX bytes) and barrier (MPI_Ibarrier).
  [[nodiscard]] WorkPtr ibroadcast(void* data, size_t bytes, int root = 0);
  [[nodiscard]] WorkPtr ibarrier();

  // Ends MPI (collective: every rank calls it). Idempotent; later calls on a finalized
  // communicator throw. Runs at exit if not called. Only finalizes MPI that world() initialised.
  void finalize();
  // Ends every rank of the job now (MPI_Abort), e.g. after an error on one rank that the others
  // would otherwise wait for forever. Without MPI: std::exit(code).
  [[noreturn]] void abort(int code);

  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

 private:
  Communicator();  // world() only
  void check_open(const char* op) const;
  void check_peer(const char* op, int peer) const;
  void allreduce_typed(void* data, size_t n, MPI_Datatype type, size_t elem, ReduceOp op);
  template <class T>
  WorkPtr iallreduce_typed(T* data, size_t n, MPI_Datatype type, ReduceOp op);

  MPI_Comm comm_ = MPI_COMM_NULL;  // a duplicate of MPI_COMM_WORLD, so user traffic can't mix in
  int rank_ = 0;
  int size_ = 1;
  int max_tag_ = INT_MAX;
  bool owns_mpi_ = false;  // world() called MPI_Init_thread, so finalize() calls MPI_Finalize
  bool finalized_ = false;
};

}  // namespace bstack::dist
