// Backend: the collectives DistributedDataParallel and ZeRO-1 run on, behind one interface, so a
// run picks its transport with `--backend mpi|nccl` and its all-reduce algorithm with
// `--allreduce mpi|ring|rd|rabenseifner` without the training code knowing which.
//
//   mpi   host buffers over the Communicator (Open MPI). The all-reduce is either the MPI
//         library's own (MPI_Iallreduce) or one of bstack's algorithms over point-to-point
//         (dist/allreduce.h); reduce-scatter and all-gather are the MPI library's.
//   nccl  one GPU per rank (local rank modulo the visible devices), the NCCL unique id broadcast
//         over MPI. Buffers are host memory (bstack's tensors live on the host): each call stages
//         them through pinned device buffers on the backend's own stream. Only in builds with
//         CUDA and NCCL; asking for it elsewhere, or without a device, is an error that says so.
//
// Every call is collective: all ranks call it in the same order with the same sizes.
#pragma once

#include "dist/allreduce.h"
#include "dist/comm.h"
#include "dist/work.h"

#include <memory>
#include <string>

namespace bstack::dist {

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;  // "mpi (ring)", "nccl", ...
  virtual int rank() const = 0;
  virtual int size() const = 0;

  // In place over all ranks; op is Sum or Avg.
  virtual WorkPtr start_allreduce(float* data, size_t n, ReduceOp op) = 0;
  // Rank r receives the reduction of every rank's send[r*count, (r+1)*count) in recv[0, count).
  virtual WorkPtr start_reduce_scatter(const float* send, float* recv, size_t count, ReduceOp op) = 0;
  // recv[r*count, (r+1)*count) = rank r's send[0, count).
  virtual WorkPtr start_allgather(const float* send, float* recv, size_t count) = 0;
  // Blocking: `n` floats from `root` to every rank.
  virtual void broadcast(float* data, size_t n, int root) = 0;
};

// backend: "mpi" or "nccl"; algorithm: the all-reduce for the mpi backend (nccl accepts only
// Algorithm::Mpi, meaning "the library's own"). Throws bstack::Error naming a bad choice.
std::unique_ptr<Backend> make_backend(const std::string& backend, Algorithm algorithm,
                                      Communicator& comm = Communicator::world());

}  // namespace bstack::dist
