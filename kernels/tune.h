// The tuning table: per-machine kernel parameters found by the autotuner (kernels/autotune.h),
// keyed by op and shape class, consulted by the kernels on every call (gemm_resolve). This and
// the thread count are the only global mutable state DESIGN.md allows; both sit behind small
// APIs. The table lives in memory here; src/io/tune_cache.h reads and writes it as an HDF5 file
// (kernels/ knows no files), and only a file whose machine key matches this machine is installed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/gemm.h"

namespace bstack::kernels {

struct TuneEntry {
  std::string op;           // "sgemm", "dgemm"
  std::string shape_class;  // gemm_shape_class()
  GemmConfig config;        // the winner (threads 0 = "as many as the caller has")
  double seconds_tuned = 0, seconds_default = 0, seconds_untuned = 0;  // best-of-N, per call
  int64_t m = 0, n = 0, k = 0;  // the representative shape the search timed
};

// "m<size class>_n<...>_k<...>": each dimension bucketed as t (< 32), s (< 128), m (< 512),
// l (< 2048), x (>= 2048): shapes in one class share their best blocking.
std::string gemm_shape_class(int64_t M, int64_t N, int64_t K);

// The key a cache (or a calibrate profile) must match to be trusted: CPU model, ISA path, cores
// online (not the process's affinity), cache sizes.
std::string tune_machine_key();

// Replaces the table (entries for other ops/classes are dropped). Thread-safe against lookups.
void tune_install(std::vector<TuneEntry> entries);
std::vector<TuneEntry> tune_entries();
void tune_clear();

// The tuned configuration for this op and shape's class, if the table has one.
bool tune_lookup_gemm(const char* op, int64_t M, int64_t N, int64_t K, GemmConfig* out);

}  // namespace bstack::kernels
