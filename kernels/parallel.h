// The thread-count setting (one of the two pieces of global state DESIGN.md allows) and a
// parallel-for that stays serial for small work, so tiny tensors never pay for a fork/join.
#pragma once

#include <cstdint>

namespace bstack::kernels {

void set_num_threads(int n);  // n >= 1; 0 restores the default (all cores)
int num_threads();            // threads bstack kernels use (1 inside a SerialRegion)
int max_threads();            // cores the OS gives this process

// Makes kernels called on this thread run serially while it lives: helper threads (a data
// loader's prefetch) must not start OpenMP teams of their own, whose spinning threads would
// fight the main thread's team for the same cores.
class SerialRegion {
 public:
  SerialRegion();
  ~SerialRegion();
  SerialRegion(const SerialRegion&) = delete;
  SerialRegion& operator=(const SerialRegion&) = delete;

 private:
  bool prev_;
};

// Work below this many element-operations runs on one thread.
constexpr int64_t kParallelGrain = 32768;

// Calls fn(begin, end) over [0, n) split into contiguous chunks, one per thread, when
// n * cost_per_item >= kParallelGrain; otherwise fn(0, n) on the calling thread.
template <class F>
void parallel_for(int64_t n, int64_t cost_per_item, F&& fn) {
  if (n <= 0) return;
  const int nt = num_threads();
  if (nt <= 1 || n < 2 || n * cost_per_item < kParallelGrain) {
    fn(int64_t{0}, n);
    return;
  }
  const int64_t chunks = n < nt ? n : nt;
#pragma omp parallel for num_threads(static_cast<int>(chunks)) schedule(static)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t b = n * c / chunks, e = n * (c + 1) / chunks;
    fn(b, e);
  }
}

}  // namespace bstack::kernels
