#include "kernels/tune.h"

#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>

#include "kernels/cpu.h"
#include "kernels/parallel.h"

namespace bstack::kernels {
namespace {

// Readers take the current table through an atomic shared_ptr snapshot; writers swap it.
std::mutex g_mu;
std::shared_ptr<const std::vector<TuneEntry>> g_table;
std::atomic<bool> g_nonempty{false};

std::shared_ptr<const std::vector<TuneEntry>> snapshot() {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_table;
}

char bucket(int64_t d) {
  if (d < 32) return 't';
  if (d < 128) return 's';
  if (d < 512) return 'm';
  if (d < 2048) return 'l';
  return 'x';
}

}  // namespace

std::string gemm_shape_class(int64_t M, int64_t N, int64_t K) {
  std::string s = "m?_n?_k?";
  s[1] = bucket(M);
  s[4] = bucket(N);
  s[7] = bucket(K);
  return s;
}

std::string tune_machine_key() {
  const CacheSizes& c = cache_sizes();
  return cpu_model() + " | " + isa_name(isa()) + " | cores " + std::to_string(max_threads()) +
         " | L1d " + std::to_string(c.l1d) + " L2 " + std::to_string(c.l2) + " L3 " +
         std::to_string(c.l3);
}

void tune_install(std::vector<TuneEntry> entries) {
  auto t = std::make_shared<const std::vector<TuneEntry>>(std::move(entries));
  std::lock_guard<std::mutex> lock(g_mu);
  g_nonempty.store(!t->empty(), std::memory_order_release);
  g_table = std::move(t);
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
  const std::string cls = gemm_shape_class(M, N, K);
  for (const TuneEntry& e : *t)
    if (e.op == op && e.shape_class == cls) {
      *out = e.config;
      return true;
    }
  return false;
}

}  // namespace bstack::kernels
