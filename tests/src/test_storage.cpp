// The CPU allocator's accounting (allocated, peak, reserved) and its cache.
#include <gtest/gtest.h>

#include <cstring>

#include "src/storage.h"
#include "src/tensor.h"

using namespace bstack;

TEST(Allocator, CountsLiveBytesAndPeak) {
  const MemoryStats s0 = memory_stats();
  reset_peak_memory();
  {
    Tensor a = empty({1000, 100}, DType::f32);  // 400000 bytes
    Tensor b = empty({10}, DType::f64);         // 80 bytes
    const MemoryStats s1 = memory_stats();
    EXPECT_EQ(s1.allocated - s0.allocated, 400080);
    EXPECT_GE(s1.reserved - s0.reserved, 400080);
    EXPECT_EQ(s1.peak_allocated, s1.allocated);
    Tensor v = a.slice(0, 0, 10);  // a view allocates nothing
    EXPECT_EQ(memory_stats().allocated, s1.allocated);
  }
  const MemoryStats s2 = memory_stats();
  EXPECT_EQ(s2.allocated, s0.allocated);
  EXPECT_GE(s2.peak_allocated - s0.allocated, 400080);
  reset_peak_memory();
  EXPECT_EQ(memory_stats().peak_allocated, s2.allocated);
}

TEST(Allocator, ReusesFreedBlocksOfTheSameSize) {
  const bool cache_on = [] {
    Tensor a = empty({50000}, DType::f32);
    return true;
  }();
  ASSERT_TRUE(cache_on);
  const MemoryStats before = memory_stats();
  for (int i = 0; i < 5; ++i) {
    Tensor t = empty({300, 300}, DType::f32);  // 360000 bytes, the same block each time
    std::memset(t.data_ptr(), 0, 360000);
  }
  const MemoryStats after = memory_stats();
  EXPECT_EQ(after.allocations - before.allocations, 5);
#if !defined(__SANITIZE_ADDRESS__)
  EXPECT_GE(after.cache_hits - before.cache_hits, 4);  // the first may miss, the rest hit
  EXPECT_GT(after.cached, 0);
#endif
  empty_cache();
  EXPECT_EQ(memory_stats().cached, 0);
}
