// DataLoader: batches of a Dataset in a seeded order (a new permutation each epoch, from
// (seed, epoch) alone, so a resumed run sees the same batches), with drop_last, and a
// background thread that assembles the next batch while the caller trains on this one.
// The thread lives as long as the loader (PyTorch's persistent_workers): a thread started per
// batch (std::async) costs every step a clone and, at its exit, glibc's madvise(MADV_DONTNEED)
// of its 8 MiB stack, whose TLB shoot-down interrupts the training thread's core -- on the
// 2-core VM 40-70 us inside whichever op was running (strace and per-op traces, issue 8).
//
// The thread only pays where a core is free for it. When the kernels' team already holds every
// core (num_threads() == the cores this process may use), a prefetch thread that wakes mid-step
// preempts one of the team's threads, and every parallel op waits for it: mlp at batch 128 on 2
// threads of the 2-core VM ran 10-15% slower per step with it than with the batch made inline
// (issue 8; an in-memory batch is a gather of microseconds). So by default (Prefetch::automatic)
// the batch is made in the background only while a core is left over, else inline in next().
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

// Where the next batch is made: automatic (background while the kernels leave a core free, see
// above), background (always on the loader's thread), or inline (in next(), on the caller's).
enum class Prefetch { automatic, background, inline_call };

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
  void set_prefetch(Prefetch p) { prefetch_mode_ = p; }
  // The size of global batch b (all ranks together).
  int64_t global_batch_size(int64_t b) const;

 private:
  Batch make(int64_t b) const;
  bool background() const;   // make the next batch on the worker thread (see Prefetch)
  void prefetch(int64_t b);  // ask the worker for batch b, or leave it to next() (see Prefetch);
                             // a no-op past the epoch's end
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
  bool inline_next_ = false;  // next() makes batch cursor_ itself (inline prefetch)
  Prefetch prefetch_mode_ = Prefetch::automatic;
  Batch made_;
  std::exception_ptr error_;  // what make() threw, rethrown by next()
};

}  // namespace bstack::data
