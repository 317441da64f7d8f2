#include "calibrate/memory.h"
#include "calibrate/util.h"

#include <emmintrin.h>
#include <omp.h>
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include <unistd.h>
#include <map>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>

#include <fmt/format.h>

#include "calibrate/calibrate.h"
#include "calibrate/plateau.h"
#include "kernels/parallel.h"
#include "src/error.h"

namespace bstack::calibrate {
namespace detail {
double stream_pass_avx512(int k, bool nt, double* a, const double* b, const double* c, size_t n,
                          double s, int64_t passes);
double stream_pass_avx2(int k, bool nt, double* a, const double* b, const double* c, size_t n,
                        double s, int64_t passes);

namespace {
// The baseline path: SSE2, which every x86-64 has. Written with intrinsics rather than plain
// loops so GCC cannot turn copy into a memcpy call (glibc's memcpy switches to streaming stores
// for large sizes, which would change what "regular stores" means).
struct V {
  using reg = __m128d;
  static constexpr size_t W = 2;
  static reg zero() { return _mm_setzero_pd(); }
  static reg loadu(const double* p) { return _mm_loadu_pd(p); }
  static void storeu(double* p, reg x) { _mm_storeu_pd(p, x); }
  static void stream(double* p, reg x) { _mm_stream_pd(p, x); }
  static reg set1(double x) { return _mm_set1_pd(x); }
  static reg add(reg a, reg b) { return _mm_add_pd(a, b); }
  static reg fma(reg a, reg b, reg c) { return _mm_add_pd(_mm_mul_pd(a, b), c); }
  static double hsum(reg x) { return _mm_cvtsd_f64(_mm_add_sd(x, _mm_unpackhi_pd(x, x))); }
  static void fence() { _mm_sfence(); }
};

#include "calibrate/memory_kernels.inc"
}  // namespace
}  // namespace detail

namespace {
using clock_type = std::chrono::steady_clock;

double now_s() {
  return std::chrono::duration<double>(clock_type::now().time_since_epoch()).count();
}

constexpr size_t kLine = 64;
constexpr size_t kHuge = size_t{2} << 20;
// Between one array and the next in a thread's part: arrays a power of two apart would put
// a[i] and b[i] at the same address modulo 4 KiB, and the core's store-to-load forwarding check
// (which compares the low 12 address bits) would stall loads behind unrelated stores ("4K
// aliasing"; STREAM's OFFSET and likwid-bench's offsets serve the same purpose).
constexpr size_t kStagger = 5 * kLine;

size_t round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }

}  // namespace

const char* stream_kind_name(StreamKind k) {
  switch (k) {
    case StreamKind::read: return "read";
    case StreamKind::write: return "write";
    case StreamKind::copy: return "copy";
    case StreamKind::triad: return "triad";
  }
  return "?";
}

int stream_arrays(StreamKind k) {
  return k == StreamKind::triad ? 3 : k == StreamKind::copy ? 2 : 1;
}

double stream_bytes_per_element(StreamKind k) { return 8.0 * stream_arrays(k); }

double stream_pass(kernels::Isa path, StreamKind k, bool nontemporal, double* a, const double* b,
                   const double* c, size_t n, double s, int64_t passes) {
  if (static_cast<int>(path) > static_cast<int>(kernels::best_isa())) path = kernels::best_isa();
  const int ki = static_cast<int>(k);
  if (path == kernels::Isa::avx512)
    return detail::stream_pass_avx512(ki, nontemporal, a, b, c, n, s, passes);
  if (path == kernels::Isa::avx2)
    return detail::stream_pass_avx2(ki, nontemporal, a, b, c, n, s, passes);
  return detail::stream_pass<detail::V>(ki, nontemporal, a, b, c, n, s, passes);
}

// ---- the arena ---------------------------------------------------------------------------------

MemoryArena::MemoryArena(size_t bytes, int threads) {
  BSTACK_CHECK(bytes > 0 && threads >= 1, "MemoryArena: {} bytes on {} threads", bytes, threads);
  bytes_ = round_up(bytes, kHuge);
  map_bytes_ = bytes_ + kHuge;
  void* m = mmap(nullptr, map_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) fail("MemoryArena: mmap of {} failed: {}", human_bytes(double(map_bytes_)),
                            std::strerror(errno));
  map_ = static_cast<char*>(m);
  data_ = reinterpret_cast<char*>(round_up(reinterpret_cast<uintptr_t>(map_), kHuge));
  // THP is often "madvise" only: without it a 2 GiB buffer costs half a million 4 KiB faults.
  madvise(data_, bytes_, MADV_HUGEPAGE);
  const int64_t pages = static_cast<int64_t>(bytes_ / 4096);
  char* d = data_;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t i = 0; i < pages; ++i) d[i * 4096] = 0;
}

MemoryArena::~MemoryArena() {
  if (map_) munmap(map_, map_bytes_);
}

// ---- bandwidth ---------------------------------------------------------------------------------

StreamResult stream_run(MemoryArena& arena, StreamKind k, bool nontemporal,
                        size_t working_set_bytes, int threads, int repeats, double min_seconds) {
  BSTACK_CHECK(threads >= 1 && repeats >= 1 && min_seconds > 0,
               "stream_run: threads {}, repeats {}, min_seconds {} must be positive", threads,
               repeats, min_seconds);
  const double t_start = now_s();
  const size_t na = static_cast<size_t>(stream_arrays(k));
  const size_t T = static_cast<size_t>(threads);
  // Elements per array per thread, whole cache lines when there are enough of them.
  size_t n = working_set_bytes / (T * na * sizeof(double));
  if (n >= 8) n -= n % 8;
  BSTACK_CHECK(n >= 1, "stream_run: working set {} B is too small for {} arrays on {} threads",
               working_set_bytes, na, threads);
  const size_t part = arena.bytes() / T / 4096 * 4096;
  const size_t stride = round_up(n * sizeof(double), kLine) + kStagger;
  BSTACK_CHECK(na * stride <= part,
               "stream_run: working set {} B ({} arrays on {} threads) does not fit the {} B arena",
               working_set_bytes, na, threads, arena.bytes());
  struct Part {
    double *a, *b, *c;
  };
  std::vector<Part> parts(T);
  for (size_t j = 0; j < T; ++j) {
    char* base = arena.data() + j * part;
    parts[j] = {reinterpret_cast<double*>(base),
                reinterpret_cast<double*>(base + (na >= 2 ? stride : 0)),
                reinterpret_cast<double*>(base + (na >= 3 ? 2 * stride : 0))};
  }
  // Zeros stay zeros under every kernel; what the latency walk leaves (pointers, read as
  // doubles: NaNs and subnormals, which slow arithmetic) is cleared first.
  const double s = 3.0;
  const kernels::Isa path = kernels::isa();
  if (!arena.holds_doubles()) {
    char* d = arena.data();
    const size_t chunk = arena.bytes() / T;
#pragma omp parallel num_threads(threads)
    {
      const size_t j = static_cast<size_t>(omp_get_thread_num());
      std::memset(d + j * chunk, 0, j + 1 == T ? arena.bytes() - j * chunk : chunk);
    }
    arena.set_holds_doubles(true);
  }
  volatile double sink = 0;
  // One timed run: `iters` passes on every thread, timed from a barrier to a barrier. `busy` is
  // the longest time one thread spent in its passes, which a descheduled thread (the barrier
  // then waits a time slice) does not inflate.
  double busy = 0;
  auto run = [&](int64_t iters) {
    double t0 = 0, t1 = 0, sum = 0, b = 0;
    int team = 0;
#pragma omp parallel num_threads(threads) reduction(+ : sum) reduction(max : b)
    {
      const int j = omp_get_thread_num();
      const Part& p = parts[static_cast<size_t>(j)];
#pragma omp barrier
      if (j == 0) {
        team = omp_get_num_threads();
        t0 = now_s();
      }
      const double tb = now_s();
      sum += stream_pass(path, k, nontemporal, p.a, p.b, p.c, n, s, iters);
      b = now_s() - tb;
#pragma omp barrier
      if (j == 0) t1 = now_s();
    }
    BSTACK_CHECK(team == threads, "stream_run: OpenMP gave {} threads, {} asked", team, threads);
    sink = sink + sum;
    busy = std::max(b, 1e-9);
    return std::max(t1 - t0, 1e-9);
  };
  // Warm-up, which also sizes a run: passes quadruple until a thread's passes last
  // min_seconds / 4.
  int64_t iters = 1;
  run(iters);
  while (busy < min_seconds / 4) {
    iters *= 4;
    run(iters);
  }
  iters = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(double(iters) * min_seconds / busy)));
  // Best of `repeats`. A warm-up slowed by a descheduled thread (a busy machine: the barrier waits
  // for a time slice) sizes the runs too short; then they are re-sized and repeated, so the runs
  // kept last at least min_seconds / 2.
  double best = 0;
  for (int attempt = 0; attempt < 4; ++attempt) {
    best = 1e30;
    for (int rep = 0; rep < repeats; ++rep) best = std::min(best, run(iters));
    if (best >= min_seconds / 2) break;
    iters = std::max<int64_t>(iters + 1, static_cast<int64_t>(std::ceil(double(iters) * min_seconds / best)));
  }
  StreamResult r;
  r.bytes_per_s = double(iters) * double(T * n) * stream_bytes_per_element(k) / best;
  r.working_set_bytes = T * n * na * sizeof(double);
  r.seconds = now_s() - t_start;
  return r;
}

double stream_bandwidth(StreamKind k, bool nontemporal, size_t working_set_bytes, int threads,
                        int repeats, double min_seconds) {
  const size_t T = static_cast<size_t>(std::max(threads, 1));
  MemoryArena arena(working_set_bytes + T * (size_t{3} * (kLine + kStagger) + 4096), threads);
  return stream_run(arena, k, nontemporal, working_set_bytes, threads, repeats, min_seconds)
      .bytes_per_s;
}

// ---- latency -----------------------------------------------------------------------------------

std::vector<uint32_t> sattolo_cycle(size_t n, uint64_t seed) {
  BSTACK_CHECK(n >= 1 && n <= size_t{UINT32_MAX}, "sattolo_cycle: n = {} out of [1, 2^32)", n);
  std::vector<uint32_t> p(n);
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint32_t>(i);
  uint64_t st = seed;
  // splitmix64 (Steele, Lea & Flood 2014); j uniform in [0, i) by Lemire's multiply-shift.
  auto next = [&st]() {
    uint64_t z = (st += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  };
  // Sattolo: like Fisher-Yates but j < i strictly, which makes i -> p[i] one n-cycle.
  for (size_t i = n - 1; i >= 1; --i) {
    const size_t j = static_cast<size_t>((static_cast<unsigned __int128>(next()) * i) >> 64);
    std::swap(p[i], p[j]);
  }
  return p;
}

double pointer_chase_latency(size_t working_set_bytes, double min_seconds, int repeats,
                             MemoryArena* arena) {
  const size_t nodes = working_set_bytes / kLine;
  BSTACK_CHECK(nodes >= 2 && repeats >= 1 && min_seconds > 0,
               "pointer_chase_latency: working set {} B (>= 128), repeats {}, min_seconds {}",
               working_set_bytes, repeats, min_seconds);
  std::unique_ptr<MemoryArena> own;
  if (!arena || arena->bytes() < nodes * kLine) {
    own = std::make_unique<MemoryArena>(nodes * kLine, 1);
    arena = own.get();
  }
  // Node i is cache line i; its first word points to node perm[i].
  char* base = arena->data();
  arena->set_holds_doubles(false);
  {
    const std::vector<uint32_t> perm = sattolo_cycle(nodes, 0x5eed + nodes);
    for (size_t i = 0; i < nodes; ++i)
      *reinterpret_cast<char**>(base + i * kLine) = base + size_t{perm[i]} * kLine;
  }
  // `loads` dependent loads, 16 per loop step so the loop's own branch is noise. Where the walk
  // ends goes to a volatile, or the compiler drops the loads (they have no other effect).
  char* volatile where = base;
  auto walk = [&where](int64_t loads) {
    char* q = where;
    for (int64_t i = 0; i < loads; i += 16) {
#pragma GCC unroll 16
      for (int u = 0; u < 16; ++u) q = *reinterpret_cast<char**>(q);
    }
    where = q;
  };
  // Warm-up: once round the cycle (bounded: past a few MiB the caches hold little of it anyway).
  walk(static_cast<int64_t>(std::min<size_t>(nodes, size_t{1} << 20)));
  int64_t loads = 1 << 12;
  double dt = 0;
  for (;;) {
    const double t0 = now_s();
    walk(loads);
    dt = now_s() - t0;
    if (dt >= min_seconds / 4) break;
    loads *= 4;
  }
  loads = std::max<int64_t>(16, static_cast<int64_t>(double(loads) * min_seconds / dt));
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    const double t0 = now_s();
    walk(loads);
    best = std::min(best, (now_s() - t0) / double(loads / 16 * 16));
  }
  return best;
}

// ---- what the OS says --------------------------------------------------------------------------

std::vector<OsCache> os_caches(const std::string& dir) {
  std::vector<OsCache> out;
  for (int i = 0; i < 16; ++i) {
    const std::string d = fmt::format("{}/index{}/", dir, i);
    std::ifstream fl(d + "level"), ft(d + "type"), fs(d + "size");
    if (!fl || !ft || !fs) break;
    OsCache c;
    std::string size;
    fl >> c.level;
    ft >> c.type;
    fs >> size;
    if (size.empty()) continue;
    int64_t mult = 1;
    const char u = size.back();
    if (u == 'K') mult = 1024;
    if (u == 'M') mult = int64_t{1} << 20;
    if (u == 'G') mult = int64_t{1} << 30;
    c.bytes = std::atoll(size.c_str()) * mult;
    out.push_back(c);
  }
  return out;
}

std::vector<std::string> level_names(size_t n) {
  std::vector<std::string> names;
  for (size_t i = 0; i + 1 < n; ++i) names.push_back(fmt::format("l{}", i + 1));
  if (n) names.push_back("dram");
  return names;
}

// ---- the section -------------------------------------------------------------------------------

namespace {

// lo, lo*step, lo*step^2, ... up to `knee`, then on in steps of step_above, ending at hi.
std::vector<size_t> geometric_sizes(size_t lo, size_t hi, double step, size_t knee = SIZE_MAX,
                                    double step_above = 0) {
  std::vector<size_t> v;
  for (double x = double(lo); x < double(hi) * 0.999;
       x *= (x >= double(knee) * 0.999 && step_above > 1) ? step_above : step)
    v.push_back(round_up(static_cast<size_t>(x), kLine));
  v.push_back(hi);
  return v;
}

struct Sweep {
  std::vector<double> x, y;
};

// Where a sweep falls from level `hi` to level `lo`: the working set at which the curve crosses
// their geometric mean, interpolated linearly in log-log between the two samples around it,
// searching from x_from on. A continuous estimate of a level's effective capacity, steadier
// run to run than the last sample on the plateau (which moves in whole sweep steps, 19% in a
// full run).
double transition_bytes(const Sweep& sw, double hi, double lo, double x_from) {
  const double mid = std::sqrt(hi * lo);
  for (size_t j = 1; j < sw.x.size(); ++j) {
    if (sw.x[j] <= x_from || sw.y[j] >= mid || sw.y[j - 1] < mid) continue;
    const double f = std::log(sw.y[j - 1] / mid) / std::log(sw.y[j - 1] / sw.y[j]);
    return std::exp(std::log(sw.x[j - 1]) + f * std::log(sw.x[j] / sw.x[j - 1]));
  }
  return x_from;
}

std::vector<Plateau> fit(const Sweep& s) {
  PlateauOptions o;
  o.max_segments = 8;
  return fit_plateaus(s.x, s.y, o);
}

}  // namespace

void calibrate_memory(const Options& o, MachineProfile& p, const ProgressFn& progress) {
  const double t_begin = now_s();
  const int all = o.threads > 0 ? o.threads : kernels::num_threads();
  const bool quick = o.quick;
  // Run lengths chosen so the section takes <= 10 s (quick) / <= 80 s (full) on 2 cores with
  // DRAM at ~15-35 GB/s. Past 64 MiB (DRAM on most machines, whose plateau needs few points)
  // quick mode steps by 2, and where one pass alone lasts min_s a point takes fewer repeats
  // (its runs are long, so their spread is small).
  // A full run sweeps everything twice, each point best of 3 (2 where one pass is long) per
  // sweep, and keeps each point's best over both sweeps: the repeats of a point are then a
  // minute apart, so a burst of noise from a shared host (VM neighbours) spoils one sweep's
  // figure, not the point's.
  const int sweeps = quick ? 1 : 2;
  const int repeats = quick ? 3 : 3;
  const int repeats_long = 2;
  const double min_s = quick ? 0.002 : 0.01;
  const double step = quick ? std::sqrt(2.0) : std::pow(2.0, 0.25);
  const size_t knee = quick ? size_t{64} << 20 : SIZE_MAX;

  // What the OS reports; the sweep reaches 4x the last-level cache (>= 512 MiB).
  const std::vector<OsCache> caches = os_caches();
  int64_t l1d = 0, l2 = 0, l3 = 0, llc = 0;
  for (const OsCache& c : caches) {
    if (c.level == 1 && c.type != "Instruction") l1d = c.bytes;
    if (c.level == 2) l2 = c.bytes;
    if (c.level == 3) l3 = c.bytes;
    if (c.type != "Instruction") llc = std::max(llc, c.bytes);
  }
  const std::string os_method = "OS: /sys/devices/system/cpu/cpu0/cache";
  if (caches.empty()) {
    const kernels::CacheSizes& cs = kernels::cache_sizes();
    l1d = cs.l1d, l2 = cs.l2, l3 = cs.l3;
    llc = std::max({l1d, l2, l3});
    p.note("memory: /sys/devices/system/cpu/cpu0/cache missing; cache sizes from sysconf/cpuid");
  }
  const std::string cache_method =
      caches.empty() ? "sysconf / cpuid (no /sys/devices/system/cpu/cpu0/cache)" : os_method;
  if (l1d > 0) p.set({"l1d_bytes", double(l1d), "B", cache_method});
  // The capacity of the last level (the DRAM the OS gives this machine): walls/' "will it fit".
  const double ram = double(sysconf(_SC_PHYS_PAGES)) * double(sysconf(_SC_PAGESIZE));
  if (ram > 0) p.set({"ram_bytes", ram, "B", "OS: sysconf(_SC_PHYS_PAGES) x sysconf(_SC_PAGESIZE)"});
  if (l2 > 0) p.set({"l2_bytes", double(l2), "B", cache_method});
  if (l3 > 0) p.set({"l3_bytes", double(l3), "B", cache_method});

  const size_t max_ws = std::max<size_t>(size_t(4) * size_t(std::max<int64_t>(llc, 0)), size_t{512} << 20);
  const std::vector<size_t> sizes = geometric_sizes(4096, max_ws, step, knee, 2.0);
  MemoryArena arena(max_ws + size_t(all) * (3 * (kLine + kStagger) + 4096), all);
  const std::string isa = kernels::isa_name(kernels::isa());

  // Progress weights: each point costs about (1 + repeats) runs of max(min_s, one pass).
  std::vector<int> configs = {1};
  if (all > 1) configs.push_back(all);
  double total = 0, done = 0;
  auto cost = [&](size_t ws) {
    const double pass = double(ws) / 20e9;
    return pass >= min_s ? (1.0 + repeats_long) * pass : (1.25 + repeats) * min_s;
  };
  for (size_t ws : sizes) total += cost(ws);
  total *= 4.0 * double(configs.size()) * sweeps;
  total *= 1.25;  // latency and the non-temporal points

  const StreamKind kinds[] = {StreamKind::read, StreamKind::write, StreamKind::copy,
                              StreamKind::triad};
  // Measure: every sweep (thread count x kind), `sweeps` times, each point's best kept.
  std::map<std::pair<int, int>, Sweep> measured;
  for (int pass = 0; pass < sweeps; ++pass)
    for (int t : configs)
      for (StreamKind k : kinds) {
        Sweep& sw = measured[{t, static_cast<int>(k)}];
        double last_bw = 0;
        for (size_t i = 0; i < sizes.size(); ++i) {
          const size_t ws = sizes[i];
          if (progress)
            progress(done / total, fmt::format("{} {} {}t{}", stream_kind_name(k), human_bytes(double(ws)), t,
                                               sweeps > 1 ? fmt::format(" (sweep {}/{})", pass + 1, sweeps) : ""));
          const bool long_pass = last_bw > 0 && double(ws) / last_bw >= min_s;
          const StreamResult r =
              stream_run(arena, k, false, ws, t, long_pass ? repeats_long : repeats, min_s);
          last_bw = r.bytes_per_s;
          done += cost(ws);
          if (pass == 0) {
            sw.x.push_back(double(r.working_set_bytes));
            sw.y.push_back(r.bytes_per_s);
          } else {
            sw.y[i] = std::max(sw.y[i], r.bytes_per_s);
          }
        }
      }

  // Plateaus of a sweep. Bandwidth falls with the working set: a first level below the next one
  // is the fixed cost of sub-microsecond passes (loop start, the threads' barrier), not a memory
  // level. Too few points to fit: the largest working set is the DRAM level.
  auto fit_levels = [&](const Sweep& sw) {
    std::vector<Plateau> pl = fit(sw);
    while (pl.size() > 1 && pl[0].level < pl[1].level) pl.erase(pl.begin());
    if (pl.empty()) {
      Plateau d;
      d.x_begin = d.x_end = sw.x.back();
      d.level = sw.y.back();
      d.points = 1;
      pl.push_back(d);
    }
    return pl;
  };
  // The reference: triad on 1 thread, its levels named in order (l1, l2, ..., dram) and its
  // boundaries where the curve falls half-way from one level to the next.
  const Sweep triad_1t_sweep = measured[{1, static_cast<int>(StreamKind::triad)}];
  const std::vector<Plateau> triad_1t = fit_levels(triad_1t_sweep);
  const std::vector<std::string> ref_names = level_names(triad_1t.size());
  std::vector<double> ref_caps;
  for (size_t i = 0; i + 1 < triad_1t.size(); ++i)
    ref_caps.push_back(transition_bytes(triad_1t_sweep, triad_1t[i].level, triad_1t[i + 1].level,
                                        triad_1t[i].x_end));
  // Another curve's plateaus: each named after the reference level its middle (geometric mean of
  // its working sets) falls in; with t threads the private levels (L1, L2: per core on every x86
  // core this runs on) hold t times as much, the shared ones do not grow. The last plateau is
  // DRAM. Two plateaus in one level: the one with more points keeps the name.
  auto names_by_reference = [&](const std::vector<Plateau>& pl, int t) {
    std::vector<std::string> names(pl.size());
    for (size_t j = 0; j < pl.size(); ++j) {
      size_t level = ref_names.size() - 1;
      if (j + 1 < pl.size()) {
        const double mid = std::sqrt(pl[j].x_begin * pl[j].x_end);
        for (size_t i = 0; i < ref_caps.size(); ++i) {
          const bool priv = ref_names[i] == "l1" || ref_names[i] == "l2";
          if (mid < ref_caps[i] * (priv ? t : 1)) {
            level = i;
            break;
          }
        }
      }
      names[j] = ref_names[level];
    }
    for (size_t j = 0; j + 1 < pl.size(); ++j)  // beyond the last boundary: DRAM's shoulder
      if (names[j] == ref_names.back()) names[j].clear();
    for (size_t j = 0; j < pl.size(); ++j)
      for (size_t k = 0; k < pl.size(); ++k)
        if (j != k && !names[j].empty() && names[j] == names[k] &&
            (pl[k].points > pl[j].points || (pl[k].points == pl[j].points && k > j)))
          names[j].clear();
    return names;
  };

  // Record: each sweep's samples, its plateaus and the parameters named after them.
  for (int t : configs) {
    const std::string suffix = t == 1 ? "_1t" : "";
    const std::string series_suffix = t == 1 ? "_1t" : "_all";
    for (StreamKind k : kinds) {
      const std::string kn = stream_kind_name(k);
      const std::string what = fmt::format(
          "STREAM {} ({}, {} B/element counted, no write-allocate counted), regular stores, {} "
          "path, {} thread{}, best of {} ({} where one pass lasts {} ms) after a warm-up in each "
          "of {} sweep(s), best over the sweeps, >= {} ms per run, MB = 1e6",
          kn,
          k == StreamKind::triad  ? "a=b+s*c"
          : k == StreamKind::copy ? "a=b"
          : k == StreamKind::read ? "sum of a"
                                  : "a=s",
          stream_bytes_per_element(k), isa, t, t == 1 ? "" : "s", repeats, repeats_long,
          min_s * 1e3, sweeps, min_s * 1e3);
      Series s{"memory/" + kn + series_suffix, {"working_set_bytes", "bytes_per_s"}, {}, what};
      const Sweep& sw = measured[{t, static_cast<int>(k)}];
      for (size_t i = 0; i < sw.x.size(); ++i) s.add_row({sw.x[i], sw.y[i]});
      p.add_series(s);
      const std::vector<Plateau> pl = fit_levels(sw);
      // Names: the reference curve (triad, 1 thread) by order; every other curve by where its
      // plateaus lie against the reference's level boundaries, so `l3_copy_bytes_per_s` means
      // the same level in every run even when a fit finds an extra (ramp) plateau.
      const std::vector<std::string> names =
          (t == 1 && k == StreamKind::triad) ? ref_names : names_by_reference(pl, t);
      Series ps{"memory/plateaus_" + kn + series_suffix,
                {"working_set_begin_bytes", "working_set_end_bytes", "bytes_per_s", "rel_rmse"},
                {},
                "piecewise-constant fit of log(bandwidth) over the sweep (optimal partitioning, "
                "BIC; ramp points trimmed)"};
      for (size_t i = 0; i < pl.size(); ++i) {
        ps.add_row({pl[i].x_begin, pl[i].x_end, pl[i].level, pl[i].rel_rmse});
        if (names[i].empty()) continue;  // a second plateau in one level: the longer one counts
        p.set({fmt::format("{}_{}_bytes_per_s{}", names[i], kn, suffix), pl[i].level, "B/s",
               fmt::format("{}; plateau {} of a piecewise-constant fit (optimal partitioning, "
                           "BIC) over {} .. {}, mean of {} points",
                           what, names[i], human_bytes(pl[i].x_begin),
                           human_bytes(pl[i].x_end), pl[i].points),
               pl[i].rel_rmse, "rel_rmse"});
      }
      p.add_series(ps);
    }
    // Non-temporal triad at the largest working set (DRAM), as likwid-bench's stream_mem_*.
    if (progress) progress(done / total, fmt::format("triad non-temporal {}t", t));
    const StreamResult nt =
        stream_run(arena, StreamKind::triad, true, sizes.back(), t, repeats_long, min_s);
    p.set({"dram_triad_nt_bytes_per_s" + suffix, nt.bytes_per_s, "B/s",
           fmt::format("STREAM triad a=b+s*c (doubles, 24 B/element, no write-allocate counted), "
                       "non-temporal stores, {} path, {} thread{}, working set {}, best of {} after "
                       "a warm-up, >= {} ms per run, MB = 1e6",
                       isa, t, t == 1 ? "" : "s", human_bytes(double(nt.working_set_bytes)),
                       repeats_long, min_s * 1e3)});
  }
  if (all == 1) p.note("memory: one thread available; the all-thread figures are the 1-thread ones");

  // Where the triad (1 thread) plateaus end, against the caches the OS reports.
  const std::vector<std::string>& tn = ref_names;
  std::string cmp;
  for (size_t i = 0; i + 1 < triad_1t.size(); ++i) {
    const double cap = ref_caps[i];
    p.set({tn[i] + "_fitted_bytes", cap, "B",
           fmt::format("working set where STREAM triad (1 thread) falls half-way (geometric mean) "
                       "from the {} plateau to the next, interpolated in log-log (plateaus: "
                       "piecewise-constant fit, optimal partitioning, BIC)", tn[i]),
           triad_1t[i].rel_rmse, "rel_rmse"});
    const int64_t os = i == 0 ? l1d : i == 1 ? l2 : i == 2 ? l3 : 0;
    cmp += fmt::format("{}{} ends at {}{}", cmp.empty() ? "" : "; ", tn[i], human_bytes(cap),
                       os > 0 ? fmt::format(" (OS: {} {})", i == 0 ? "L1d" : i == 1 ? "L2" : "L3",
                                            human_bytes(double(os)))
                              : "");
  }
  if (!triad_1t.empty())
    p.note(fmt::format(
        "memory: STREAM triad (1 thread) has {} plateau{}: {}; the DRAM level from {}. The fitted "
        "ends count all three arrays; a level shared with other cores or VMs (or an L3 the "
        "hypervisor reports larger than the guest gets) ends before the OS size.",
        triad_1t.size(), triad_1t.size() == 1 ? "" : "s", cmp.empty() ? "none before DRAM" : cmp,
        human_bytes(triad_1t.back().x_begin)));

  // Latency: up to twice where the DRAM bandwidth level begins (>= 64 MiB, <= the sweep's end,
  // <= 256 MiB quick / 1 GiB full: building the random cycle costs ~3 s per GiB).
  size_t lat_max = size_t{64} << 20;
  if (!triad_1t.empty()) lat_max = std::max(lat_max, size_t(2 * triad_1t.back().x_begin));
  lat_max = std::min({lat_max, max_ws, quick ? size_t{256} << 20 : size_t{1} << 30});
  const std::vector<size_t> lat_sizes = geometric_sizes(4096, lat_max, quick ? 2.0 : std::sqrt(2.0));
  const double lat_min_s = quick ? 0.002 : 0.01;
  Series ls{"memory/latency", {"working_set_bytes", "seconds"}, {},
            fmt::format("pointer chase over one random cycle (Sattolo) of 64-byte nodes, best of {} "
                        "runs of >= {} ms after a warm-up walk, 1 thread",
                        repeats, lat_min_s * 1e3)};
  Sweep lw;
  for (size_t ws : lat_sizes) {
    if (progress) progress(std::min(0.99, done / total), fmt::format("latency {}", human_bytes(double(ws))));
    const double lat = pointer_chase_latency(ws, lat_min_s, repeats, &arena);
    ls.add_row({double(ws), lat});
    lw.x.push_back(double(ws));
    lw.y.push_back(lat);
  }
  p.add_series(ls);
  const std::vector<Plateau> lp = fit(lw);
  const std::vector<std::string> ln = level_names(lp.size());
  for (size_t i = 0; i < lp.size(); ++i)
    p.set({ln[i] + "_latency_s", lp[i].level, "s",
           fmt::format("{}; plateau {} of a piecewise-constant fit (optimal partitioning, BIC) "
                       "over {} .. {}",
                       ls.method, ln[i], human_bytes(lp[i].x_begin), human_bytes(lp[i].x_end)),
           lp[i].rel_rmse, "rel_rmse"});
  p.note(fmt::format("memory: section took {:.1f} s ({} mode, {} sizes 4 KiB .. {}, {} threads)",
                     now_s() - t_begin, quick ? "quick" : "full", sizes.size(),
                     human_bytes(double(max_ws)), all));
  if (progress) progress(1.0, "memory done");
}

}  // namespace bstack::calibrate
