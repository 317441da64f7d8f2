#include "kernels/cpu.h"

#include <cpuid.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace bstack::kernels {
namespace {

void cpuid(unsigned leaf, unsigned sub, unsigned r[4]) {
  __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
}

// XCR0: which register states the OS saves on a context switch. AVX needs XMM|YMM (bits 1-2),
// AVX-512 also opmask, ZMM_Hi256 and Hi16_ZMM (bits 5-7). Intel SDM vol. 1, 13.3.
uint64_t xgetbv0() {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (uint64_t{hi} << 32) | lo;
}

CpuFeatures detect() {
  CpuFeatures f;
  unsigned r[4];
  cpuid(0, 0, r);
  const unsigned max_leaf = r[0];
  if (max_leaf < 7) return f;
  cpuid(1, 0, r);
  const bool osxsave = r[2] & (1u << 27), avx = r[2] & (1u << 28);
  f.fma = r[2] & (1u << 12);
  f.f16c = r[2] & (1u << 29);
  if (!osxsave || !avx) return CpuFeatures{};
  const uint64_t xcr0 = xgetbv0();
  const bool os_avx = (xcr0 & 0x6) == 0x6, os_avx512 = (xcr0 & 0xE6) == 0xE6;
  if (!os_avx) return CpuFeatures{};
  cpuid(7, 0, r);
  f.avx2 = r[1] & (1u << 5);
  if (os_avx512) {
    f.avx512f = r[1] & (1u << 16);
    f.avx512dq = r[1] & (1u << 17);
    f.avx512bw = r[1] & (1u << 30);
    f.avx512vl = r[1] & (1u << 31);
    f.avx512_vnni = r[2] & (1u << 11);
  }
  cpuid(7, 1, r);
  f.avx_vnni = r[0] & (1u << 4);
  return f;
}

Isa detect_best() {
  const CpuFeatures& f = cpu_features();
  if (f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.fma) return Isa::avx512;
  if (f.avx2 && f.fma) return Isa::avx2;
  return Isa::scalar;
}

Isa detect_isa() {
  const Isa best = best_isa();
  const char* env = std::getenv("BSTACK_ISA");
  if (!env || !*env) return best;
  Isa want;
  if (!std::strcmp(env, "scalar")) want = Isa::scalar;
  else if (!std::strcmp(env, "avx2")) want = Isa::avx2;
  else if (!std::strcmp(env, "avx512")) want = Isa::avx512;
  else {
    std::fprintf(stderr, "bstack: warning: BSTACK_ISA=%s is not one of scalar, avx2, avx512; using %s\n",
                 env, isa_name(best));
    return best;
  }
  if (static_cast<int>(want) > static_cast<int>(best)) {
    std::fprintf(stderr, "bstack: warning: BSTACK_ISA=%s but this CPU supports only %s; using %s\n",
                 env, isa_name(best), isa_name(best));
    return best;
  }
  return want;
}

// AMD leaf 0x8000001D / Intel leaf 4: deterministic cache parameters, when sysconf knows nothing.
int64_t cpuid_cache(int level, bool data) {
  unsigned r[4];
  cpuid(0x80000000u, 0, r);
  const unsigned leaf = r[0] >= 0x8000001Du ? 0x8000001Du : 4u;
  for (unsigned sub = 0; sub < 16; ++sub) {
    cpuid(leaf, sub, r);
    const unsigned type = r[0] & 0x1f;
    if (type == 0) break;
    const int lvl = (r[0] >> 5) & 0x7;
    if (lvl != level || (data && type == 2)) continue;
    const int64_t ways = ((r[1] >> 22) & 0x3ff) + 1, parts = ((r[1] >> 12) & 0x3ff) + 1,
                  line = (r[1] & 0xfff) + 1, sets = int64_t{r[2]} + 1;
    return ways * parts * line * sets;
  }
  return 0;
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::scalar: return "scalar";
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
  }
  return "?";
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

Isa best_isa() {
  static const Isa best = detect_best();
  return best;
}

Isa isa() {
  static const Isa chosen = detect_isa();
  return chosen;
}

const CacheSizes& cache_sizes() {
  static const CacheSizes c = [] {
    CacheSizes s;
    s.l1d = sysconf(_SC_LEVEL1_DCACHE_SIZE);
    s.l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
    s.l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
    if (s.l1d <= 0) s.l1d = cpuid_cache(1, true);
    if (s.l2 <= 0) s.l2 = cpuid_cache(2, false);
    if (s.l3 <= 0) s.l3 = cpuid_cache(3, false);
    if (s.l1d < 0) s.l1d = 0;
    if (s.l2 < 0) s.l2 = 0;
    if (s.l3 < 0) s.l3 = 0;
    return s;
  }();
  return c;
}

std::string cpu_model() {
  unsigned r[4];
  cpuid(0x80000000u, 0, r);
  if (r[0] < 0x80000004u) return "unknown x86-64";
  char brand[49] = {};
  for (unsigned i = 0; i < 3; ++i) {
    cpuid(0x80000002u + i, 0, r);
    std::memcpy(brand + 16 * i, r, 16);
  }
  std::string s(brand);
  const auto b = s.find_first_not_of(' '), e = s.find_last_not_of(' ');
  return b == std::string::npos ? "unknown x86-64" : s.substr(b, e - b + 1);
}

}  // namespace bstack::kernels
