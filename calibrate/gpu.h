// The GPU section of `bstack calibrate`: what one CUDA device delivers, measured the way the
// field's own tools measure it.
//
//   gpu_h2d_bytes_per_s, gpu_d2h_bytes_per_s   pinned host memory, cudaMemcpyAsync timed with
//                                               CUDA events, 4 KiB .. 256 MiB, best of N per size
//                                               (CUDA samples' bandwidthTest, nvbandwidth)
//   gpu_dram_copy_bytes_per_s                   device-to-device cudaMemcpyAsync of 256 MiB,
//                                               counting read + write bytes (2x the size), as
//                                               bandwidthTest and STREAM copy count them
//   gpu_gemm_flops_{fp32,tf32,fp16,bf16}        cublasGemmEx n^3 (4096; quick 2048), 2n^3 FLOP a
//                                               call, fp32 accumulation; fp16/bf16 on tensor cores
//   gpu_launch_latency_s                        empty kernel, back-to-back launches then one sync
//   gpu_launch_roundtrip_s                      empty kernel launch + cudaStreamSynchronize
//   gpu_nccl_allreduce_latency_s (with NCCL)    one-rank ncclAllReduce of 4 bytes (nccl-tests'
//                                               all_reduce_perf timing; one rank has no bus
//                                               traffic, so this is NCCL's per-call cost)
//   gpu_memory_bytes, meta gpu_model            cudaGetDeviceProperties
//
// Only device 0 is measured. A build without CUDA, or no visible device (no driver, no GPU),
// records a note and no parameter; it never fails the run.
#pragma once

#include <string>

#include "calibrate/calibrate.h"

namespace bstack::calibrate {

// True when this build has the CUDA section (BSTACK_HAS_CUDA and a working nvcc).
bool gpu_built_with_cuda();

// Number of visible CUDA devices; 0 with `why` set ("built without CUDA", or the CUDA error
// string from cudaGetDeviceCount) when there are none.
int gpu_device_count(std::string* why = nullptr);

}  // namespace bstack::calibrate
