#include "kernels/autotune.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>

#include "kernels/parallel.h"

namespace bstack::kernels {
namespace {

using Clock = std::chrono::steady_clock;

// A small deterministic generator (SplitMix64) so a search is reproducible from its seed.
struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  size_t below(size_t n) { return static_cast<size_t>(next() % n); }
};

template <class V>
size_t nearest(const std::vector<V>& xs, V x) {
  size_t best = 0;
  for (size_t i = 1; i < xs.size(); ++i)
    if (std::abs(double(xs[i]) - double(x)) < std::abs(double(xs[best]) - double(x))) best = i;
  return best;
}

// A point of the search space as indices into its candidate lists.
struct Point {
  size_t v, kc, mc, nc, split, threads;
  bool operator==(const Point& o) const {
    return v == o.v && kc == o.kc && mc == o.mc && nc == o.nc && split == o.split && threads == o.threads;
  }
};

GemmConfig to_config(const GemmSearchSpace& s, const Point& p) {
  GemmConfig c;
  c.variant = s.variants[p.v];
  c.kc = s.kc[p.kc];
  c.mc = s.mc[p.mc];
  c.nc = s.nc[p.nc];
  c.split = s.splits[p.split];
  c.threads = s.threads[p.threads];
  return c;
}

}  // namespace

template <class T>
GemmSearchSpace gemm_search_space(int64_t M, int64_t N, int64_t K) {
  GemmSearchSpace s;
  for (int v = 0; v < gemm_variant_count<T>(isa()); ++v) s.variants.push_back(v);
  for (int kc = 64; kc <= 1024; kc += 32)
    if (kc <= std::max<int64_t>(K, 64) + 31) s.kc.push_back(kc);
  for (int mc = 16; mc <= 2048; mc = mc < 128 ? mc + 16 : mc + 64)
    if (mc <= std::max<int64_t>(M, 16) + 63) s.mc.push_back(mc);
  for (int nc = 64; nc <= 16384; nc = nc < 1024 ? nc * 2 : nc + 1024)
    if (nc <= std::max<int64_t>(N, 64) * 2) s.nc.push_back(nc);
  const int nt = num_threads();
  for (int t = 1; t < nt; t *= 2) s.threads.push_back(t);
  s.threads.push_back(nt);
  return s;
}

GemmConfig gemm_untuned_config() {
  GemmConfig c;
  c.variant = 0;
  c.mc = c.kc = 256;
  c.nc = 4096;
  return c;
}

template <class T>
double time_gemm(int64_t M, int64_t N, int64_t K, const GemmConfig& cfg, int repeats) {
  // Operands shared across calls for one shape (allocated once per thread and size).
  thread_local std::unique_ptr<T[]> a, b, c;
  thread_local int64_t sa = 0, sb = 0, sc = 0;
  auto ensure = [](std::unique_ptr<T[]>& p, int64_t& size, int64_t need, T fill) {
    if (size < need) {
      p.reset(new T[static_cast<size_t>(need)]);
      size = need;
      for (int64_t i = 0; i < need; ++i) p[i] = fill * T(1 + i % 7) / T(7);
    }
  };
  ensure(a, sa, M * K, T(0.5));
  ensure(b, sb, K * N, T(-0.25));
  ensure(c, sc, M * N, T(0));
  gemm<T>(M, N, K, T(1), a.get(), K, 1, b.get(), N, 1, T(0), c.get(), N, 1, {}, cfg);  // warm-up
  double best = 1e30;
  for (int r = 0; r < std::max(1, repeats); ++r) {
    const auto t0 = Clock::now();
    gemm<T>(M, N, K, T(1), a.get(), K, 1, b.get(), N, 1, T(0), c.get(), N, 1, {}, cfg);
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return best;
}

template <class T>
TuneEntry autotune_gemm(int64_t M, int64_t N, int64_t K, const TuneOptions& opt, int* evaluated) {
  const auto start = Clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  const GemmSearchSpace space = gemm_search_space<T>(M, N, K);
  Rng rng{opt.seed};
  int count = 0;
  TuneEntry e;
  e.op = sizeof(T) == 4 ? "sgemm" : "dgemm";
  e.shape_class = gemm_shape_class(M, N, K);
  e.m = M;
  e.n = N;
  e.k = K;

  // Baselines: the untuned constants and the analytical defaults (what runs without a cache).
  GemmConfig untuned = gemm_untuned_config();
  untuned.threads = num_threads();
  e.seconds_untuned = time_gemm<T>(M, N, K, untuned, opt.repeats);
  const GemmConfig defaults = gemm_defaults<T>(M, N, K, 0);
  GemmConfig d = defaults;
  d.threads = num_threads();
  e.seconds_default = time_gemm<T>(M, N, K, d, opt.repeats);
  count += 2;

  // The defaults as a point of the space (nearest candidates), the search's starting best.
  const GemmConfig resolved = gemm_resolve<T>(M, N, K, d);
  Point best{0, nearest(space.kc, resolved.kc), nearest(space.mc, resolved.mc),
             nearest(space.nc, resolved.nc),
             resolved.split == GemmSplit::jr ? size_t{1} : size_t{0}, space.threads.size() - 1};
  double best_t = time_gemm<T>(M, N, K, to_config(space, best), opt.repeats);
  ++count;
  auto report = [&] {
    if (opt.progress) opt.progress(std::min(1.0, elapsed() / opt.budget_s), best_t);
  };
  auto try_point = [&](const Point& p) {
    const double t = time_gemm<T>(M, N, K, to_config(space, p), opt.repeats);
    ++count;
    if (t < best_t) {
      best_t = t;
      best = p;
    }
    report();
  };

  // Random sampling for the first third of the budget...
  while (elapsed() < opt.budget_s / 3) {
    Point p{rng.below(space.variants.size()), rng.below(space.kc.size()), rng.below(space.mc.size()),
            rng.below(space.nc.size()), rng.below(space.splits.size()), rng.below(space.threads.size())};
    try_point(p);
  }
  // ...then coordinate descent from the best point until no move improves or time runs out.
  bool improved = true;
  while (improved && elapsed() < opt.budget_s) {
    improved = false;
    const Point center = best;
    for (int dim = 0; dim < 6 && elapsed() < opt.budget_s; ++dim)
      for (int step : {-2, -1, 1, 2}) {
        Point p = center;
        size_t* f[] = {&p.v, &p.kc, &p.mc, &p.nc, &p.split, &p.threads};
        const size_t sizes[] = {space.variants.size(), space.kc.size(), space.mc.size(),
                                space.nc.size(), space.splits.size(), space.threads.size()};
        const int64_t moved = static_cast<int64_t>(*f[dim]) + step;
        if (moved < 0 || moved >= static_cast<int64_t>(sizes[dim])) continue;
        *f[dim] = static_cast<size_t>(moved);
        const Point before = best;
        try_point(p);
        if (!(best == before)) improved = true;
        if (elapsed() >= opt.budget_s) break;
      }
  }
  // Confirm: re-time the winner and the defaults back to back (noise guard); keep the defaults
  // when the winner is not actually faster.
  e.config = to_config(space, best);
  e.seconds_tuned = std::min(best_t, time_gemm<T>(M, N, K, e.config, opt.repeats));
  e.seconds_default = std::min(e.seconds_default, time_gemm<T>(M, N, K, d, opt.repeats));
  count += 2;
  if (e.seconds_tuned > e.seconds_default) {
    e.config = resolved;
    e.seconds_tuned = e.seconds_default;
  }
  // A tuned thread count equal to the whole machine is stored as 0 ("all the caller has"), so
  // the entry follows --threads.
  if (e.config.threads == num_threads()) e.config.threads = 0;
  if (evaluated) *evaluated = count;
  report();
  return e;
}

std::vector<std::array<int64_t, 3>> default_tune_shapes() {
  return {
      {64, 64, 64},     {128, 128, 128},  {256, 256, 256},   {512, 512, 512},
      {1024, 1024, 1024}, {2048, 2048, 2048},
      {512, 3072, 768}, {512, 768, 3072}, {64, 512, 512},    {64, 256, 1024},
      {256, 64, 64},    {64, 2048, 64},   {1024, 64, 256},   {16, 256, 256},
  };
}

#define BSTACK_TUNE_INSTANTIATE(T)                                                         \
  template GemmSearchSpace gemm_search_space<T>(int64_t, int64_t, int64_t);                \
  template double time_gemm<T>(int64_t, int64_t, int64_t, const GemmConfig&, int);         \
  template TuneEntry autotune_gemm<T>(int64_t, int64_t, int64_t, const TuneOptions&, int*);
BSTACK_TUNE_INSTANTIATE(float)
BSTACK_TUNE_INSTANTIATE(double)
#undef BSTACK_TUNE_INSTANTIATE

}  // namespace bstack::kernels
