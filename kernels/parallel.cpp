#include "kernels/parallel.h"

#include <omp.h>

#include <atomic>

namespace bstack::kernels {

namespace {
std::atomic<int> g_threads{0};  // 0 = default
thread_local bool t_serial = false;
}  // namespace

SerialRegion::SerialRegion() : prev_(t_serial) { t_serial = true; }
SerialRegion::~SerialRegion() { t_serial = prev_; }

int max_threads() { return omp_get_num_procs(); }

void set_num_threads(int n) { g_threads.store(n < 0 ? 0 : n); }

int num_threads() {
  if (t_serial) return 1;
  const int n = g_threads.load();
  return n > 0 ? n : max_threads();
}

}  // namespace bstack::kernels
