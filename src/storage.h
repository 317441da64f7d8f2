// Storage: one reference-counted, 64-byte-aligned block of bytes on a device. Tensors are
// views into it. CPU only for now; the CUDA backend adds its allocator here.
//
// CPU blocks come from a caching allocator: a freed block is kept on a free list keyed by its
// (rounded) size and handed to the next request of that size, as PyTorch's CUDA caching
// allocator does for device memory. A training step allocates the same activation and gradient
// sizes every step; without the cache each of those is a fresh mmap whose pages fault in on
// first touch (about 1000 faults per gpt-tiny step, measured: a 3x slower step). Small blocks
// are cached too: glibc's heap hands them out from pages it trimmed and grows again (a trace's
// records grow it every step), and on the 2-core VM each fault costs about 16 us, so a 16 KiB
// relu output took 65 us instead of 1 (mlp batch 16: median step 0.23 -> 0.13 ms, issue 8).
// The cache holds at most 1 GiB of free blocks (BSTACK_ALLOC_CACHE_MB changes it; 0 turns it
// off), and is off in sanitizer builds so use-after-free stays detectable.
#pragma once

#include "src/dtype.h"

#include <cstddef>
#include <cstdint>

namespace bstack {

class Storage {
 public:
  static constexpr size_t kAlignment = 64;  // a cache line and an AVX-512 register
  Storage(size_t nbytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  size_t block_ = 0;  // bytes actually reserved (rounded up for the cache)
  Device device_;
};

// What the CPU allocator holds, in bytes: `allocated` is what live Storages asked for (their
// nbytes), `peak_allocated` its maximum since the last reset (the figure "will it fit" is checked
// against), `reserved` what live Storages occupy after rounding, `cached` the free blocks kept.
struct MemoryStats {
  int64_t allocated = 0, peak_allocated = 0, reserved = 0, cached = 0;
  int64_t allocations = 0, cache_hits = 0;
};
MemoryStats memory_stats();
void reset_peak_memory();  // peak_allocated = allocated
void empty_cache();        // frees every cached block

}  // namespace bstack
