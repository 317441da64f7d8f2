// The machine's FMA throughput as a plain loop sees it: independent chains of vector FMAs on
// registers only (no memory traffic), the ceiling any GEMM micro-kernel is measured against.
// Method as in calibration suites (e.g. likwid-bench's peakflops kernels): enough independent
// accumulators to cover FMA latency x issue width, timed best-of-N after a warm-up.
#pragma once

#include <cstdint>

#include "kernels/cpu.h"
#include "kernels/gemm_int8.h"

namespace bstack::kernels {

// Runs `iters` steps of the ISA path's FMA loop on the calling thread; returns the FLOPs done
// (2 per lane per FMA). T is float or double.
template <class T>
double fma_loop(Isa path, int64_t iters);

// Best-of-`repeats` FLOP/s of fma_loop on `threads` threads (each its own loop, run together),
// after one warm-up run; each run lasts about `seconds`.
template <class T>
double fma_peak_flops(Isa path, int threads, double seconds = 0.05, int repeats = 5);

// int8 dot-product throughput of one int8 kernel family's inner instruction sequence, registers
// only, 12 independent accumulators: VNNI (vpdpbusd: u8 x s8 -> s32, 4 MACs per 32-bit lane in
// one instruction) or, without VNNI, the classic vpmaddubsw + vpmaddwd + vpaddd sequence (the
// "maddubs" path of pre-VNNI int8 inference libraries); scalar counts plain integer MACs.
// Returns the operations done (2 per multiply-accumulate, as FLOPs are counted).
double int8_dot_loop(Int8Kernel k, int64_t iters);
// Best-of-`repeats` OP/s of int8_dot_loop on `threads` threads, after a warm-up.
double int8_peak_ops(Int8Kernel k, int threads, double seconds = 0.05, int repeats = 5);

}  // namespace bstack::kernels
