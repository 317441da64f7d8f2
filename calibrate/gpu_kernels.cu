// Device code of the GPU calibration section (calibrate/gpu.cpp): an empty kernel for launch
// latency, a deterministic fill for GEMM operands, and a one-element read-back as float.
// Host launchers return the cudaError_t of the launch; the caller checks it.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "calibrate/gpu_kernels.h"

namespace bstack::calibrate::gpu_kernels {
namespace {

__global__ void empty_kernel() {}

template <class T>
__global__ void fill_kernel(T* p, int64_t n, uint32_t seed) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    p[i] = T(fill_value(i, seed));
}

template <class T>
__global__ void to_float_kernel(const T* src, float* dst) {
  *dst = static_cast<float>(*src);
}

template <class T>
cudaError_t fill_as(void* p, int64_t n, uint32_t seed, cudaStream_t s) {
  const int threads = 256;
  const int64_t blocks64 = (n + threads - 1) / threads;
  const int blocks = static_cast<int>(blocks64 < 65535 ? blocks64 : 65535);
  fill_kernel<T><<<blocks, threads, 0, s>>>(static_cast<T*>(p), n, seed);
  return cudaGetLastError();
}

}  // namespace

cudaError_t launch_empty(cudaStream_t s) {
  empty_kernel<<<1, 1, 0, s>>>();
  return cudaGetLastError();
}

cudaError_t fill(void* p, DType t, int64_t n, uint32_t seed, cudaStream_t s) {
  switch (t) {
    case DType::f32: return fill_as<float>(p, n, seed, s);
    case DType::f16: return fill_as<__half>(p, n, seed, s);
    case DType::bf16: return fill_as<__nv_bfloat16>(p, n, seed, s);
  }
  return cudaErrorInvalidValue;
}

cudaError_t to_float(const void* src, DType t, float* dst, cudaStream_t s) {
  switch (t) {
    case DType::f32: to_float_kernel<float><<<1, 1, 0, s>>>(static_cast<const float*>(src), dst); break;
    case DType::f16: to_float_kernel<__half><<<1, 1, 0, s>>>(static_cast<const __half*>(src), dst); break;
    case DType::bf16:
      to_float_kernel<__nv_bfloat16><<<1, 1, 0, s>>>(static_cast<const __nv_bfloat16*>(src), dst);
      break;
    default: return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

}  // namespace bstack::calibrate::gpu_kernels
