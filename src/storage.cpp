#include "src/storage.h"

#include <cstdlib>
#include <new>

namespace bstack {

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  BSTACK_CHECK(device.type == DeviceType::CPU, "Storage: device {} is not available in this build",
               device.str());
  // aligned_alloc needs a size that is a multiple of the alignment; never 0 bytes.
  const size_t rounded = (nbytes + kAlignment - 1) / kAlignment * kAlignment;
  data_ = std::aligned_alloc(kAlignment, rounded == 0 ? kAlignment : rounded);
  if (!data_) fail("Storage: out of memory allocating {} bytes", nbytes);
}

Storage::~Storage() { std::free(data_); }

}  // namespace bstack
