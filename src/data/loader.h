// DataLoader: batches of a Dataset in a seeded order (a new permutation each epoch, from
// (seed, epoch) alone, so a resumed run sees the same batches), with drop_last, and a
// background thread that assembles the next batch while the caller trains on this one.
#pragma once

#include "src/data/datasets.h"

#include <future>

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

 private:
  Batch make(int64_t b) const;
  void prefetch(int64_t b);
  Dataset ds_;
  int64_t batch_;
  bool shuffle_, drop_last_;
  uint64_t seed_;
  std::vector<int64_t> order_;
  int64_t cursor_ = -1;
  std::future<Batch> pending_;
};

}  // namespace bstack::data
