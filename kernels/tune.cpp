#include "kernels/tune.h"

#include <unistd.h>

#include <atomic>
#include <cstring>
#include <memory>

#include "kernels/cpu.h"
#include "kernels/parallel.h"

namespace bstack::kernels {
namespace {

// Readers take the current table as a C++20 atomic shared_ptr snapshot (no process-wide mutex on
// the GEMM call path, where conv's per-image threads look it up concurrently); writers swap it.
std::atomic<std::shared_ptr<const std::vector<TuneEntry>>> g_table;
std::atomic<bool> g_nonempty{false};

std::shared_ptr<const std::vector<TuneEntry>> snapshot() { return g_table.load(); }

char bucket(int64_t d) {
  if (d < 32) return 't';
  if (d < 128) return 's';
  if (d < 512) return 'm';
  if (d < 2048) return 'l';
  return 'x';
}

// "m?_n?_k?" into out[0..8], without allocating (the lookup runs on every GEMM call).
void shape_class(int64_t M, int64_t N, int64_t K, char out[9]) {
  const char text[9] = {'m', bucket(M), '_', 'n', bucket(N), '_', 'k', bucket(K), '\0'};
  for (int i = 0; i < 9; ++i) out[i] = text[i];
}

}  // namespace

std::string gemm_shape_class(int64_t M, int64_t N, int64_t K) {
  char cls[9];
  shape_class(M, N, K, cls);
  return cls;
}

std::string tune_machine_key() {
  const CacheSizes& c = cache_sizes();
  // The cores the machine has online, not the ones this process may use: a process that mpirun
  // or taskset bound to one core is still on the same machine.
  const long online = sysconf(_SC_NPROCESSORS_ONLN);
  const int cores = online > 0 ? static_cast<int>(online) : max_threads();
  return cpu_model() + " | " + isa_name(isa()) + " | cores " + std::to_string(cores) +
         " | L1d " + std::to_string(c.l1d) + " L2 " + std::to_string(c.l2) + " L3 " +
         std::to_string(c.l3);
}

void tune_install(std::vector<TuneEntry> entries) {
  auto t = std::make_shared<const std::vector<TuneEntry>>(std::move(entries));
  const bool nonempty = !t->empty();
  g_table.store(std::move(t));
  g_nonempty.store(nonempty, std::memory_order_release);
}

std::vector<TuneEntry> tune_entries() {
  auto t = snapshot();
  return t ? *t : std::vector<TuneEntry>{};
}

void tune_clear() { tune_install({}); }

bool tune_lookup_gemm(const char* op, int64_t M, int64_t N, int64_t K, GemmConfig* out) {
  if (!g_nonempty.load(std::memory_order_acquire)) return false;  // the common, untuned case
  auto t = snapshot();
  if (!t) return false;
  char cls[9];
  shape_class(M, N, K, cls);
  for (const TuneEntry& e : *t)
    if (e.op == op && e.shape_class == cls) {
      *out = e.config;
      return true;
    }
  return false;
}

}  // namespace bstack::kernels
