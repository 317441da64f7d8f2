// The machine's FMA throughput as a plain loop sees it: independent chains of vector FMAs on
// registers only (no memory traffic), the ceiling any GEMM micro-kernel is measured against.
// Method as in calibration suites (e.g. likwid-bench's peakflops kernels): enough independent
// accumulators to cover FMA latency x issue width, timed best-of-N after a warm-up.
#pragma once

#include <cstdint>

#include "kernels/cpu.h"

namespace bstack::kernels {

// Runs `iters` steps of the ISA path's FMA loop on the calling thread; returns the FLOPs done
// (2 per lane per FMA). T is float or double.
template <class T>
double fma_loop(Isa path, int64_t iters);

// Best-of-`repeats` FLOP/s of fma_loop on `threads` threads (each its own loop, run together),
// after one warm-up run; each run lasts about `seconds`.
template <class T>
double fma_peak_flops(Isa path, int threads, double seconds = 0.05, int repeats = 5);

}  // namespace bstack::kernels
