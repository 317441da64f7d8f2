// The autotuner: for a kernel, a declared search space and a search timed best-of-N after a
// warm-up. For GEMM the space is the micro-kernel variant, the block sizes MC/KC/NC, the thread
// split (ic or jr loop) and the thread count. The search starts from the analytical defaults,
// samples the space at random, then refines the best point by coordinate descent (each parameter
// moved up and down by a step while it improves) until the time budget runs out — the structure
// of OpenTuner/ATLAS-style empirical search (Whaley & Dongarra, "Automatically Tuned Linear
// Algebra Software", SC98), kept small enough to read.
#pragma once

#include <cstdint>
#include <array>
#include <functional>
#include <string>
#include <vector>

#include "kernels/gemm.h"
#include "kernels/tune.h"

namespace bstack::kernels {

struct GemmSearchSpace {
  std::vector<int> variants;  // micro-kernel indices (all of the ISA path's by default)
  std::vector<int> kc;        // candidate values, ascending
  std::vector<int> mc;        // multiples of MR are taken from these (rounded)
  std::vector<int> nc;
  std::vector<GemmSplit> splits{GemmSplit::ic, GemmSplit::jr};
  std::vector<int> threads;   // {num_threads()} by default
};

template <class T>
GemmSearchSpace gemm_search_space(int64_t M, int64_t N, int64_t K);

struct TuneOptions {
  double budget_s = 5.0;  // wall time for this shape's search
  int repeats = 5;        // best-of-N per evaluated configuration (after one warm-up call)
  uint64_t seed = 1;
  // Called after each evaluation with the fraction of the budget used and the best so far.
  std::function<void(double fraction, double best_seconds)> progress;
};

// The configuration every fixed-constant GEMM would use without measuring this machine (the
// "untuned" baseline of the tuning-gain table): variant 0, MC = KC = 256, NC = 4096.
GemmConfig gemm_untuned_config();

// Best-of-N seconds per call of gemm<T> (M, N, K, row-major, C = A @ B) under cfg.
template <class T>
double time_gemm(int64_t M, int64_t N, int64_t K, const GemmConfig& cfg, int repeats);

// Searches the space for shape (M, N, K); the entry carries the winner and the times of the
// winner, the analytical defaults and the untuned baseline. `evaluated` gets the count.
template <class T>
TuneEntry autotune_gemm(int64_t M, int64_t N, int64_t K, const TuneOptions& opt,
                        int* evaluated = nullptr);

// The shapes `bstack tune --op gemm` tunes by default: one representative per shape class that
// training and the benchmarks use (squares 64..2048, transformer and small-batch layer shapes).
std::vector<std::array<int64_t, 3>> default_tune_shapes();

}  // namespace bstack::kernels
