// DataParallel: what `mpirun -np P bstack train` plugs into the training loop
// (train::Parallel): the backend, DistributedDataParallel or ZeRO-1, the start-up checks, and the
// communication figures every rank writes into its trace.
#pragma once

#include "dist/ddp.h"
#include "dist/zero.h"
#include "src/train/train.h"

#include <memory>
#include <string>

namespace bstack::dist {

struct DataParallelOptions {
  std::string backend = "mpi";            // mpi | nccl
  // The all-reduce (mpi backend). Ring by default: Open MPI 4.1's non-blocking MPI_Iallreduce
  // (libnbc) measured ~2x slower than its blocking MPI_Allreduce at np 2 for 1-8 MiB
  // (bench/allreduce), while bstack's ring, also non-blocking, is within ~10% of MPI_Allreduce.
  Algorithm algorithm = Algorithm::Ring;
  size_t bucket_bytes = 1 << 20;          // 0: one all-reduce after backward
  bool overlap = true;
  bool zero1 = false;                     // shard the optimizer state (reduce-scatter + all-gather)
  double timeout_s = 300;
};

class DataParallel final : public train::Parallel {
 public:
  explicit DataParallel(DataParallelOptions o, Communicator& comm = Communicator::world());
  int rank() const override { return comm_.rank(); }
  int size() const override { return comm_.size(); }
  void setup(nn::Module& model, std::unique_ptr<optim::Optimizer>& opt, const std::string& signature,
             const MakeOptimizer& make) override;
  void backward(const Tensor& loss) override;
  void sum(std::vector<double>& v) override;
  void end_step(Profiler* prof) override;
  std::string describe() const override;
  double backward_seconds() const override { return backward_s_; }
  double exposed_seconds() const override { return exposed_s_; }

 private:
  DataParallelOptions o_;
  Communicator& comm_;
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<DistributedDataParallel> ddp_;
  ZeroOptimizer* zero_ = nullptr;  // owned by the training loop's optimizer pointer
  double backward_s_ = 0, exposed_s_ = 0, step_backward_ = 0, step_exposed_ = 0;
};

// Every rank's `signature` (lines "key=value") against rank 0's; throws, on every rank, naming
// the ranks and the lines that differ. Collective.
void check_same_on_all_ranks(Communicator& comm, const std::string& signature, const std::string& what);

}  // namespace bstack::dist
