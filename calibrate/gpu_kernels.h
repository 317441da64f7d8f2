// Host entry points to the device code of calibrate/gpu_kernels.cu (included by gpu.cpp only in
// a CUDA build). fill_value() is shared by the device fill and the host reference, so a GEMM
// result can be checked against a host sum of the very same operands.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace bstack::calibrate::gpu_kernels {

enum class DType { f32, f16, bf16 };

// Element i of a filled buffer: k/256 - 1/2 for k in 0..255, exact in fp32, tf32, fp16 and
// bf16 (at most 8 significant bits), so every precision multiplies the same numbers.
__host__ __device__ inline float fill_value(int64_t i, uint32_t seed) {
  uint32_t h = static_cast<uint32_t>(i) * 2654435761u ^ seed * 0x9E3779B9u;  // Knuth hash
  h ^= h >> 16;
  return static_cast<float>(h & 255u) / 256.0f - 0.5f;
}

cudaError_t launch_empty(cudaStream_t s);
cudaError_t fill(void* p, DType t, int64_t n, uint32_t seed, cudaStream_t s);
// *dst (device) = float(*src) for an element of type t.
cudaError_t to_float(const void* src, DType t, float* dst, cudaStream_t s);

}  // namespace bstack::calibrate::gpu_kernels
