#include "src/data/loader.h"

#include "kernels/parallel.h"
#include "src/ops.h"

#include <utility>

namespace bstack::data {

DataLoader::DataLoader(Dataset ds, int64_t batch_size, bool shuffle, bool drop_last, uint64_t seed)
    : ds_(std::move(ds)), batch_(batch_size), shuffle_(shuffle), drop_last_(drop_last), seed_(seed) {
  BSTACK_CHECK(batch_size > 0, "DataLoader: batch size must be positive, got {}", batch_size);
  BSTACK_CHECK(ds_.size() > 0, "DataLoader: the data set is empty");
}

DataLoader::~DataLoader() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void DataLoader::wait_idle() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return request_ < 0; });
  ready_ = false;
  made_ = {};
  error_ = nullptr;
  inline_next_ = false;
}

void DataLoader::work() {
  kernels::SerialRegion serial;  // no OpenMP team of its own (kernels/parallel.h)
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || (request_ >= 0 && !ready_); });
    if (stop_) return;
    const int64_t b = request_;
    lock.unlock();
    Batch out;
    std::exception_ptr err;
    try {
      out = make(b);
    } catch (...) {
      err = std::current_exception();
    }
    lock.lock();
    made_ = std::move(out);
    error_ = err;
    ready_ = true;
    request_ = -1;
    cv_.notify_all();
  }
}

int64_t DataLoader::batches_per_epoch() const {
  const int64_t n = ds_.size();
  const int64_t full = n / batch_, tail = n % batch_;
  // A tail shorter than the number of ranks would leave some rank without samples.
  return full + ((!drop_last_ && tail >= world_) ? 1 : 0);
}

int64_t DataLoader::global_batch_size(int64_t b) const {
  return std::min<int64_t>(batch_, ds_.size() - b * batch_);
}

void DataLoader::shard(int rank, int world) {
  BSTACK_CHECK(world >= 1 && rank >= 0 && rank < world, "DataLoader::shard: rank {} of {} is not a rank", rank, world);
  BSTACK_CHECK(batch_ >= world, "the global batch ({}) must be at least the number of ranks ({}), so every rank "
               "gets a sample of every batch", batch_, world);
  wait_idle();
  rank_ = rank;
  world_ = world;
  cursor_ = -1;
}

void DataLoader::start_epoch(int64_t epoch) {
  wait_idle();
  if (shuffle_) {
    // One permutation per (seed, epoch): splitmix-style mixing keeps epochs independent.
    order_ = permutation(ds_.size(), seed_ * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(epoch) + 1);
  } else {
    order_.resize(ds_.size());
    for (int64_t i = 0; i < ds_.size(); ++i) order_[i] = i;
  }
  cursor_ = 0;
  prefetch(0);
}

Batch DataLoader::make(int64_t b) const {
  const int64_t lo = b * batch_, hi = std::min<int64_t>(lo + batch_, ds_.size());
  std::vector<int64_t> idx;
  idx.reserve(static_cast<size_t>((hi - lo) / world_ + 1));
  for (int64_t j = lo + rank_; j < hi; j += world_) idx.push_back(order_[j]);
  Dataset part = ds_.subset(idx);
  return {part.x, part.y, b};
}

bool DataLoader::background() const {
  switch (prefetch_mode_) {
    case Prefetch::background: return true;
    case Prefetch::inline_call: return false;
    case Prefetch::automatic: break;
  }
  return kernels::num_threads() < kernels::max_threads();
}

void DataLoader::prefetch(int64_t b) {
  if (b >= batches_per_epoch()) return;
  if (!background()) {
    inline_next_ = true;
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!worker_.joinable()) worker_ = std::thread([this] { work(); });
    request_ = b;
    ready_ = false;
  }
  cv_.notify_all();
}

bool DataLoader::next(Batch& out) {
  BSTACK_CHECK(cursor_ >= 0, "DataLoader: call start_epoch() before next()");
  if (cursor_ >= batches_per_epoch()) return false;
  if (inline_next_) {
    inline_next_ = false;  // if make() throws, the next call reports the failed batch
    out = make(cursor_);
  } else {
    std::unique_lock<std::mutex> lock(mu_);
    BSTACK_CHECK(ready_ || request_ >= 0, "DataLoader: batch {} failed to load earlier; call "
                 "start_epoch() again", cursor_);
    cv_.wait(lock, [&] { return ready_; });
    ready_ = false;
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
    out = std::move(made_);
    made_ = {};
  }
  ++cursor_;
  prefetch(cursor_);
  return true;
}

}  // namespace bstack::data
