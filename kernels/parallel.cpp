#include "kernels/parallel.h"

#include <omp.h>

#include <atomic>

namespace bstack::kernels {

namespace {
std::atomic<int> g_threads{0};  // 0 = default
}

int max_threads() { return omp_get_num_procs(); }

void set_num_threads(int n) { g_threads.store(n < 0 ? 0 : n); }

int num_threads() {
  const int n = g_threads.load();
  return n > 0 ? n : max_threads();
}

}  // namespace bstack::kernels
