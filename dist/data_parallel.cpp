// DataParallel (see data_parallel.h).
#include "dist/data_parallel.h"

#include "src/error.h"
#include "src/nn/module.h"

#include <chrono>
#include <cstdint>
#include <fmt/format.h>
#include <sstream>

namespace bstack::dist {

namespace {
std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}
std::string human_size(size_t b) {
  if (b >= (1u << 20) && b % (1u << 20) == 0) return fmt::format("{} MiB", b >> 20);
  if (b >= 1024 && b % 1024 == 0) return fmt::format("{} KiB", b >> 10);
  return fmt::format("{} B", b);
}
}  // namespace

void check_same_on_all_ranks(Communicator& comm, const std::string& signature, const std::string& what) {
  const int P = comm.size();
  if (P == 1) return;
  std::vector<int64_t> lens(P);
  const int64_t mine = static_cast<int64_t>(signature.size());
  comm.allgather(&mine, sizeof mine, lens.data());
  int64_t longest = 0;
  for (int64_t l : lens) longest = std::max(longest, l);
  std::string padded = signature;
  padded.resize(static_cast<size_t>(longest), '\0');
  std::string all(static_cast<size_t>(longest) * P, '\0');
  comm.allgather(padded.data(), static_cast<size_t>(longest), all.data());
  const std::vector<std::string> ref = lines_of(all.substr(0, static_cast<size_t>(lens[0])));
  std::string diff;
  for (int r = 1; r < P; ++r) {
    const std::vector<std::string> got = lines_of(all.substr(static_cast<size_t>(longest) * r, static_cast<size_t>(lens[r])));
    for (size_t i = 0; i < std::max(ref.size(), got.size()); ++i) {
      const std::string a = i < ref.size() ? ref[i] : "(nothing)", b = i < got.size() ? got[i] : "(nothing)";
      if (a != b) diff += fmt::format("\n  rank 0: {}\n  rank {}: {}", a, r, b);
    }
  }
  BSTACK_CHECK(diff.empty(), "the ranks disagree about the {} (every rank must run the same command on the same "
               "data):{}", what, diff);
}

DataParallel::DataParallel(DataParallelOptions o, Communicator& comm) : o_(std::move(o)), comm_(comm) {
  BSTACK_CHECK(!(o_.backend == "nccl" && o_.algorithm != Algorithm::Mpi),
               "--allreduce {} runs over MPI point-to-point; with --backend nccl the all-reduce is NCCL's own "
               "(leave --allreduce at mpi)", algorithm_name(o_.algorithm));
  // The settings themselves must agree before anything else is sent.
  check_same_on_all_ranks(comm_, fmt::format("backend={}\nallreduce={}\nbucket_bytes={}\noverlap={}\nzero1={}",
                                             o_.backend, algorithm_name(o_.algorithm), o_.bucket_bytes, o_.overlap,
                                             o_.zero1), "data-parallel settings");
  backend_ = make_backend(o_.backend, o_.algorithm, comm_);
}

void DataParallel::setup(nn::Module& model, std::unique_ptr<optim::Optimizer>& opt, const std::string& signature,
                         const MakeOptimizer& make) {
  check_same_on_all_ranks(comm_, signature, "run (model, data or settings)");
  std::vector<Tensor> params = model.parameters();
  ddp_ = std::make_unique<DistributedDataParallel>(params, *backend_,
                                                   DDPOptions{o_.bucket_bytes, o_.overlap, o_.timeout_s});
  ddp_->broadcast_parameters();  // identical start, whatever each rank's initialisation did
  if (o_.zero1) {
    auto z = std::make_unique<ZeroOptimizer>(params, *backend_, make, o_.timeout_s);
    zero_ = z.get();
    opt = std::move(z);
  }
}

void DataParallel::backward(const Tensor& loss) {
  if (zero_) {  // ZeRO-1 reduces the gradients in its step (reduce-scatter)
    const auto t0 = std::chrono::steady_clock::now();
    loss.backward();
    step_backward_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    step_exposed_ = 0;  // the step's reduce-scatter and all-gather are added in end_step
  } else {
    ddp_->backward(loss);
    step_backward_ = ddp_->last_step().backward_s;
    step_exposed_ = ddp_->last_step().exposed_s;
  }
}

void DataParallel::end_step(Profiler* prof) {
  std::vector<CommRecord> comm = zero_ ? zero_->last_comm() : ddp_->last_step().comm;
  if (zero_)
    for (const auto& c : comm) step_exposed_ += c.exposed;
  backward_s_ += step_backward_;
  exposed_s_ += step_exposed_;
  if (!prof) return;
  prof->dist = {comm_.rank(), comm_.size(), backend_->name(), static_cast<int64_t>(o_.bucket_bytes), o_.overlap,
                o_.zero1};
  for (auto& c : comm) {
    c.step = prof->step;
    prof->comm.push_back(c);
  }
  prof->step_backward_seconds.push_back(step_backward_);
  prof->step_exposed_seconds.push_back(step_exposed_);
}

void DataParallel::sum(std::vector<double>& v) {
  // Non-blocking and bounded, like the gradients' all-reduce: a rank that hangs at an epoch's end
  // must not hang the others.
  WorkPtr w = comm_.iallreduce(v.data(), v.size(), ReduceOp::Sum);
  if (!wait_for(*w, o_.timeout_s)) {
    (void)w.release();  // its destructor would wait forever
    fail("rank {}: the epoch's metrics did not arrive from every rank within {:.0f} s: another rank has "
         "stopped (crashed, killed or hung); giving up", comm_.rank(), o_.timeout_s);
  }
}

std::string DataParallel::describe() const {
  if (o_.zero1) return fmt::format("{} ranks, {}, ZeRO-1 (optimizer state sharded)", comm_.size(), backend_->name());
  return fmt::format("{} ranks, {}, {}, {}", comm_.size(), backend_->name(),
                     o_.bucket_bytes ? human_size(o_.bucket_bytes) + " buckets" : "no buckets",
                     o_.overlap && o_.bucket_bytes ? "overlapped with backward" : "after backward");
}

}  // namespace bstack::dist
