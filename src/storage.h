// Storage: one reference-counted, 64-byte-aligned block of bytes on a device. Tensors are
// views into it. CPU only for now; the CUDA backend adds its allocator here.
#pragma once

#include "src/dtype.h"

#include <cstddef>

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
  Device device_;
};

}  // namespace bstack
