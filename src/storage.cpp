#include "src/storage.h"

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

namespace bstack {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

// Sizes are rounded so that nearby requests share a free list: to the 64-byte alignment below
// 4 KiB, to 4 KiB below 1 MiB, above it to an eighth of the power of two below (at most 12.5%
// slack).
size_t round_block(size_t n) {
  if (n < 4096) return (std::max<size_t>(n, 1) + Storage::kAlignment - 1) / Storage::kAlignment * Storage::kAlignment;
  if (n <= (size_t{1} << 20)) return (n + 4095) / 4096 * 4096;
  size_t p = size_t{1} << 20;
  while (p * 2 <= n) p *= 2;
  const size_t step = p / 8;
  return (n + step - 1) / step * step;
}

struct Allocator {
  std::mutex mu;
  std::unordered_map<size_t, std::vector<void*>> free_blocks;
  MemoryStats stats;
  int64_t limit;

  Allocator() {
    int64_t mb = 1024;
    if (const char* e = std::getenv("BSTACK_ALLOC_CACHE_MB"); e && *e) mb = std::atoll(e);
    limit = kSanitized ? 0 : std::max<int64_t>(mb, 0) << 20;
  }

  void* take(size_t block, size_t nbytes) {
    {
      std::lock_guard<std::mutex> lock(mu);
      ++stats.allocations;
      stats.allocated += static_cast<int64_t>(nbytes);
      stats.reserved += static_cast<int64_t>(block);
      stats.peak_allocated = std::max(stats.peak_allocated, stats.allocated);
      auto it = free_blocks.find(block);
      if (it != free_blocks.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        stats.cached -= static_cast<int64_t>(block);
        ++stats.cache_hits;
        return p;
      }
    }
    void* p = std::aligned_alloc(Storage::kAlignment, block);
    if (!p) {  // give the cache back to the system and try once more
      empty();
      p = std::aligned_alloc(Storage::kAlignment, block);
    }
    if (!p) {
      std::lock_guard<std::mutex> lock(mu);
      stats.allocated -= static_cast<int64_t>(nbytes);
      stats.reserved -= static_cast<int64_t>(block);
    }
    return p;
  }

  void give(void* p, size_t block, size_t nbytes) {
    {
      std::lock_guard<std::mutex> lock(mu);
      stats.allocated -= static_cast<int64_t>(nbytes);
      stats.reserved -= static_cast<int64_t>(block);
      if (stats.cached + static_cast<int64_t>(block) <= limit) {
        free_blocks[block].push_back(p);
        stats.cached += static_cast<int64_t>(block);
        return;
      }
    }
    std::free(p);
  }

  void empty() {
    std::unordered_map<size_t, std::vector<void*>> blocks;
    {
      std::lock_guard<std::mutex> lock(mu);
      blocks.swap(free_blocks);
      stats.cached = 0;
    }
    for (auto& [size, list] : blocks)
      for (void* p : list) std::free(p);
  }
};

// Never destroyed: Storages held by static objects may die after any static allocator would.
Allocator& allocator() {
  static Allocator* a = new Allocator;
  return *a;
}

}  // namespace

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  BSTACK_CHECK(device.type == DeviceType::CPU, "Storage: device {} is not available in this build",
               device.str());
  block_ = round_block(nbytes);
  data_ = allocator().take(block_, nbytes);
  if (!data_) fail("Storage: out of memory allocating {} bytes", nbytes);
}

Storage::~Storage() { allocator().give(data_, block_, nbytes_); }

MemoryStats memory_stats() {
  Allocator& a = allocator();
  std::lock_guard<std::mutex> lock(a.mu);
  return a.stats;
}

void reset_peak_memory() {
  Allocator& a = allocator();
  std::lock_guard<std::mutex> lock(a.mu);
  a.stats.peak_allocated = a.stats.allocated;
}

void empty_cache() { allocator().empty(); }

}  // namespace bstack
