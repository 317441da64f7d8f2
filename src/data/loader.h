// DataLoader: batches of a Dataset in a seeded order (a new permutation each epoch, from
// (seed, epoch) alone, so a resumed run sees the same batches), with drop_last, and a
// background thread that assembles the next batch while the caller trains on this one.
// The thread lives as long as the loader (PyTorch's persistent_workers): a thread started per
// batch (std::async) costs every step a clone and, at its exit, glibc's madvise(MADV_DONTNEED)
// of its 8 MiB stack, whose TLB shoot-down interrupts the training thread's core -- on the
// 2-core VM 40-70 us inside whichever op was running (strace and per-op traces, issue 8).
//
// Distributed sampling (shard()): with `world` ranks, batch k of the epoch is the same global
// batch as on one rank (the same batch_size samples of the same permutation), and rank r takes
// its samples at positions j = r, r + world, r + 2*world, ... of it. So every rank sees its own
// shard, epochs reshuffle with (seed, epoch) alone, and np = P with global batch B trains on
// exactly the batches np = 1 with batch B does (PyTorch's DistributedSampler strides the whole
// permutation the same way). A final partial batch with fewer samples than ranks is dropped, so
// no rank ever gets an empty batch.
#pragma once

#include "src/data/datasets.h"

#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>

namespace bstack::data {

struct Batch {
  Tensor x, y;
  int64_t index = 0;  // within the epoch
};

class DataLoader {
 public:
  DataLoader(Dataset ds, int64_t batch_size, bool shuffle, bool drop_last, uint64_t seed);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  void start_epoch(int64_t epoch);  // must be called before next()
  bool next(Batch& out);            // false at the end of the epoch
  int64_t batches_per_epoch() const;
  int64_t batch_size() const { return batch_; }
  const Dataset& dataset() const { return ds_; }
  // Make this loader rank `rank` of `world` (see above); call before start_epoch().
  void shard(int rank, int world);
  int world() const { return world_; }
  // The size of global batch b (all ranks together).
  int64_t global_batch_size(int64_t b) const;

 private:
  Batch make(int64_t b) const;
  void prefetch(int64_t b);  // ask the worker for batch b (no-op past the epoch's end)
  void work();               // the worker thread's loop
  void wait_idle();          // until no batch is being made; drops a made, untaken one
  Dataset ds_;
  int64_t batch_;
  bool shuffle_, drop_last_;
  uint64_t seed_;
  int rank_ = 0, world_ = 1;
  std::vector<int64_t> order_;
  int64_t cursor_ = -1;
  std::thread worker_;        // started on the first prefetch
  std::mutex mu_;
  std::condition_variable cv_;
  int64_t request_ = -1;      // batch the worker is asked for / is making; -1: none
  bool ready_ = false, stop_ = false;
  Batch made_;
  std::exception_ptr error_;  // what make() threw, rethrown by next()
};

}  // namespace bstack::data
