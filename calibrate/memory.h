// The memory section of `bstack calibrate`, and the measurements it is made of.
//
// Bandwidth: the STREAM kernels (McCalpin 1995, "Memory bandwidth and machine balance in
// current high performance computers") read (sum a), write (a = s), copy (a = b) and triad
// (a = b + s*c) on doubles, counted the STREAM way - the bytes the kernel names (read 8, write 8,
// copy 16, triad 24 per element), no write-allocate traffic - which is also how likwid-bench
// counts its load/store/copy/stream kernels ("Data volume" = working set x iterations, MByte/s
// with MB = 1e6). The working set is all the kernel's arrays together, over all threads. Regular
// stores, or non-temporal (streaming) ones that bypass the caches: compare each with its
// likwid-bench twin (stream_avx512_fma / stream_avx_fma, stream_mem_avx512).
//
// Latency: pointer chasing (lmbench's lat_mem_rd, McVoy & Staelin 1996) over one random cycle of
// cache-line nodes (Sattolo 1986), so every load depends on the one before and no prefetcher can
// guess the next line.
//
// Not here: NUMA placement across sockets (the first touch is per thread but nothing is pinned),
// and TLB effects are not separated from cache ones.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/cpu.h"

namespace bstack::calibrate {

enum class StreamKind { read, write, copy, triad };

const char* stream_kind_name(StreamKind k);  // "read", "write", "copy", "triad"
int stream_arrays(StreamKind k);             // arrays the kernel touches: 1, 1, 2, 3
double stream_bytes_per_element(StreamKind k);  // bytes counted per element: 8, 8, 16, 24

// `passes` passes of kind k over n elements on the calling thread, on ISA path `path` (lowered to
// kernels::best_isa() when the CPU lacks it): read sums a (and returns the sum), write sets a[i]
// = s, copy a[i] = b[i], triad a[i] = b[i] + s * c[i]. Any length and any 8-byte alignment;
// nontemporal uses streaming stores (then an sfence) for the aligned body.
double stream_pass(kernels::Isa path, StreamKind k, bool nontemporal, double* a, const double* b,
                   const double* c, size_t n, double s, int64_t passes = 1);

// One large buffer reused by every size of a sweep: page faults cost ~17 us each in a VM, so it
// is mapped once, 2 MiB aligned with MADV_HUGEPAGE, and first touched by `threads` threads in
// parallel (static partition, the same thread j of t using the part j/t of it later).
class MemoryArena {
 public:
  MemoryArena(size_t bytes, int threads);
  ~MemoryArena();
  MemoryArena(const MemoryArena&) = delete;
  MemoryArena& operator=(const MemoryArena&) = delete;
  char* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  // Whether every word is a finite normal double or zero (true when new: the pages are zero).
  // The latency walk stores pointers, after which stream_run re-initialises the arrays.
  bool holds_doubles() const { return holds_doubles_; }
  void set_holds_doubles(bool v) { holds_doubles_ = v; }

 private:
  char* map_ = nullptr;
  size_t map_bytes_ = 0;
  char* data_ = nullptr;
  size_t bytes_ = 0;
  bool holds_doubles_ = true;
};

struct StreamResult {
  double bytes_per_s = 0;
  size_t working_set_bytes = 0;  // as run: elements rounded to whole cache lines per thread
  double seconds = 0;            // wall time spent, warm-up included
};

// Best of `repeats` timed runs after a warm-up (which also sizes the run: passes repeat until a
// run lasts >= min_seconds), `threads` OpenMP threads each on its own contiguous part (thread j
// uses the part j of `threads` of the arena: its arrays, one after another with a small stagger
// against 4 KiB aliasing), on the ISA path kernels::isa() chooses.
StreamResult stream_run(MemoryArena& arena, StreamKind k, bool nontemporal,
                        size_t working_set_bytes, int threads, int repeats, double min_seconds);

// The same with its own arena; returns bytes/s.
double stream_bandwidth(StreamKind k, bool nontemporal, size_t working_set_bytes, int threads,
                        int repeats, double min_seconds);

// A random cyclic permutation of [0, n) - one single cycle through every element - by
// Sattolo's algorithm (Sattolo 1986; Knuth TAOCP 2, 3.4.2), seeded with splitmix64.
std::vector<uint32_t> sattolo_cycle(size_t n, uint64_t seed);

// Seconds per dependent load, chasing pointers around one random cycle of 64-byte nodes filling
// working_set_bytes: best of `repeats` runs of >= min_seconds after a warm-up walk. Uses `arena`
// for the nodes when given (it must hold working_set_bytes), else its own buffer.
double pointer_chase_latency(size_t working_set_bytes, double min_seconds = 0.01,
                             int repeats = 3, MemoryArena* arena = nullptr);

// The caches the OS describes under `dir` (one indexN/ folder each): level, type ("Data",
// "Instruction", "Unified") and size in bytes. Empty when the folder is missing.
struct OsCache {
  int level = 0;
  std::string type;
  int64_t bytes = 0;
};
std::vector<OsCache> os_caches(const std::string& dir = "/sys/devices/system/cpu/cpu0/cache");

// Names for n plateaus in working-set order: the last is "dram", the ones before "l1", "l2", ...
std::vector<std::string> level_names(size_t n);

}  // namespace bstack::calibrate
