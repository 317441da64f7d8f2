// What this CPU can do, read once at start-up: the SIMD path kernels take (AVX-512, AVX2+FMA or
// portable scalar, from cpuid), the cache sizes that size GEMM blocks, and the CPU's name (the
// tuning cache's key). One binary runs on any x86-64: the ISA-specific code lives in files
// compiled with their own -m flags (kernels/*_avx512.cpp, *_avx2.cpp) and is reached only
// through the dispatch below, never called when cpuid says the instructions are missing.
//
// BSTACK_ISA=scalar|avx2|avx512 forces a lower path (tests run every path on one machine this
// way); asking for a path the CPU lacks falls back to the best one it has, with a warning.
#pragma once

#include <cstdint>
#include <string>

namespace bstack::kernels {

enum class Isa : int { scalar = 0, avx2 = 1, avx512 = 2 };

const char* isa_name(Isa isa);
Isa best_isa();  // the widest path this CPU (and OS: XSAVE state) supports
Isa isa();       // the path kernels use: best_isa(), or lower when BSTACK_ISA says so

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512_vnni = false, avx_vnni = false;
};
const CpuFeatures& cpu_features();

// Data-cache sizes in bytes (0 when unknown), from sysconf (glibc reads cpuid), else cpuid.
struct CacheSizes {
  int64_t l1d = 0, l2 = 0, l3 = 0;
};
const CacheSizes& cache_sizes();

std::string cpu_model();  // cpuid brand string, trimmed ("AMD EPYC", "Intel(R) Xeon(R) ...")

}  // namespace bstack::kernels
