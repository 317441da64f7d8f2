// The MPI Backend (see backend.h) and make_backend. The NCCL backend lives in nccl_backend.cpp
// (built with CUDA and NCCL) or nccl_none.cpp (otherwise).
#include "dist/backend.h"

#include <fmt/format.h>

#include <algorithm>
#include <memory>

#include "dist/nccl_backend.h"
#include "src/error.h"

namespace bstack::dist {
namespace {

// Host buffers over the Communicator. The all-reduce is the chosen algorithm; reduce-scatter and
// all-gather are the MPI library's own non-blocking collectives.
//
// Tags: bstack's algorithms talk point-to-point, and DistributedDataParallel keeps several
// all-reduces in flight at once, so each call takes the next of `slots_` tag bases (every rank
// calls in the same order, so they agree). The bases start at kTagBase, clear of the small tags
// programs use for their own messages, and wrap after `slots_` calls: more all-reduces than that
// in flight at once would share tags.
class MpiBackend final : public Backend {
 public:
  MpiBackend(Communicator& comm, Algorithm alg) : comm_(comm), alg_(alg) {
    span_ = std::max(1, allreduce_tag_span(alg, comm.size()));
    BSTACK_CHECK(comm.max_tag() - kTagBase >= span_,
                 "make_backend(mpi): MPI_TAG_UB {} leaves no room for the {} tags from {} that "
                 "the {} all-reduce needs",
                 comm.max_tag(), span_, kTagBase, algorithm_name(alg));
    slots_ = std::min(kMaxSlots, (comm.max_tag() - kTagBase) / span_);
  }

  std::string name() const override { return fmt::format("mpi ({})", algorithm_name(alg_)); }
  int rank() const override { return comm_.rank(); }
  int size() const override { return comm_.size(); }

  WorkPtr start_allreduce(float* data, size_t n, ReduceOp op) override {
    const int slot = static_cast<int>(next_slot_++ % static_cast<unsigned>(slots_));
    const int tag = kTagBase + slot * span_;
    return dist::start_allreduce(comm_, data, n, op, alg_, tag);
  }

  WorkPtr start_reduce_scatter(const float* send, float* recv, size_t count,
                               ReduceOp op) override {
    return comm_.ireduce_scatter(send, recv, count, op);
  }

  WorkPtr start_allgather(const float* send, float* recv, size_t count) override {
    return comm_.iallgather(send, count * sizeof(float), recv);
  }

  void broadcast(float* data, size_t n, int root) override {
    comm_.broadcast(data, n * sizeof(float), root);
  }

 private:
  static constexpr int kTagBase = 1 << 14;  // within the 32767 every MPI must allow
  static constexpr int kMaxSlots = 1024;
  Communicator& comm_;
  Algorithm alg_;
  int span_ = 1;
  int slots_ = 1;
  unsigned next_slot_ = 0;
};

}  // namespace

std::unique_ptr<Backend> make_backend(const std::string& backend, Algorithm algorithm,
                                      Communicator& comm) {
  if (backend == "mpi") return std::make_unique<MpiBackend>(comm, algorithm);
  if (backend == "nccl") {
    BSTACK_CHECK(algorithm == Algorithm::Mpi,
                 "make_backend(nccl): all-reduce algorithm '{}' runs over MPI point-to-point; "
                 "the nccl backend uses NCCL's own (pass --allreduce mpi, or --backend mpi)",
                 algorithm_name(algorithm));
    return make_nccl_backend(comm);
  }
  fail("backend '{}': expected mpi or nccl", backend);
}

}  // namespace bstack::dist
