// Work: one collective in flight (an all-reduce, reduce-scatter, all-gather or broadcast started
// without waiting). DistributedDataParallel starts a bucket's all-reduce as soon as the bucket's
// gradients are ready and calls test() on everything in flight whenever backward hands it
// control again, so communication advances while the rest of backward computes, without a
// communication thread (MPI stays FUNNELED: only the training thread calls it).
//
// test() never blocks: it advances the operation as far as it can without waiting (MPI_Test on
// the MPI library's own non-blocking collective; one round of bstack's own algorithms per
// completed send/receive pair; cudaEventQuery for NCCL) and says whether it is finished. After
// it returns true the result is in the caller's buffer and later calls return true at once.
// wait() polls test() until done. Destroying unfinished work waits for it (a buffer is never
// left in flight past its owner), swallowing errors: call wait() to see them.
#pragma once

#include <chrono>
#include <memory>

namespace bstack::dist {

class Work {
 public:
  virtual ~Work() = default;
  Work() = default;
  Work(const Work&) = delete;
  Work& operator=(const Work&) = delete;

  // Advances without blocking; true once the operation has completed (and every call after).
  virtual bool test() = 0;
  // Polls test() until it returns true.
  void wait() {
    while (!test()) {
    }
  }
};

using WorkPtr = std::unique_ptr<Work>;

// Polls w until it completes (true) or `timeout_s` seconds pass (false): the bounded wait that lets
// a rank give up on a peer that stopped answering. After false, the caller should abandon the
// work (`(void)ptr.release()`: destroying it would wait forever) and fail.
inline bool wait_for(Work& w, double timeout_s) {
  const auto t0 = std::chrono::steady_clock::now();
  while (!w.test())
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() > timeout_s) return false;
  return true;
}

// Work that is complete from the start (size-1 communicators, empty buffers).
class DoneWork final : public Work {
 public:
  bool test() override { return true; }
};

}  // namespace bstack::dist
