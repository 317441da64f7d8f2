#include "calibrate/gpu.h"

#include <fmt/format.h>

#include "src/error.h"

#if BSTACK_HAS_CUDA
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <vector>

#include "calibrate/gpu_kernels.h"
#include "dist/cuda_check.h"
#if BSTACK_HAS_NCCL
#include <nccl.h>
#endif

// CUDA and NCCL calls are checked by dist/cuda_check.h's macros; cuBLAS calls by this one (the
// call, file:line and cuBLAS's own error string).
#define BSTACK_CUBLAS_CHECK(call)                                                            \
  do {                                                                                       \
    const cublasStatus_t bstack_s_ = (call);                                                 \
    if (bstack_s_ != CUBLAS_STATUS_SUCCESS)                                                  \
      ::bstack::fail("{} failed at {}:{}: {}", #call, __FILE__, __LINE__,                    \
                     cublasGetStatusString(bstack_s_));                                      \
  } while (0)
#endif

namespace bstack::calibrate {

#if !BSTACK_HAS_CUDA

bool gpu_built_with_cuda() { return false; }

int gpu_device_count(std::string* why) {
  if (why) *why = "built without CUDA";
  return 0;
}

void calibrate_gpu(const Options&, MachineProfile& p, const ProgressFn&) {
  p.note("gpu: built without CUDA; GPU section omitted");
}

#else

bool gpu_built_with_cuda() { return true; }

int gpu_device_count(std::string* why) {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear the error so later calls start clean
    if (why) *why = cudaGetErrorString(e);
    return 0;
  }
  if (n == 0 && why) *why = "cudaGetDeviceCount returned 0";
  return n;
}

namespace {

using gpu_kernels::DType;

// ---- RAII for the CUDA objects, so an error mid-way leaks nothing ------------------------------
struct DeviceBuffer {
  explicit DeviceBuffer(size_t bytes) { BSTACK_CUDA_CHECK(cudaMalloc(&p, bytes)); }
  ~DeviceBuffer() { cudaFree(p); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void* p = nullptr;
};
struct PinnedBuffer {
  explicit PinnedBuffer(size_t bytes) { BSTACK_CUDA_CHECK(cudaMallocHost(&p, bytes)); }
  ~PinnedBuffer() { cudaFreeHost(p); }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  void* p = nullptr;
};
struct Stream {
  Stream() { BSTACK_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking)); }
  ~Stream() { cudaStreamDestroy(s); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  cudaStream_t s = nullptr;
};
struct Event {
  Event() { BSTACK_CUDA_CHECK(cudaEventCreate(&e)); }
  ~Event() { cudaEventDestroy(e); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  cudaEvent_t e = nullptr;
};
struct Cublas {
  Cublas() { BSTACK_CUBLAS_CHECK(cublasCreate(&h)); }
  ~Cublas() { cublasDestroy(h); }
  Cublas(const Cublas&) = delete;
  Cublas& operator=(const Cublas&) = delete;
  cublasHandle_t h = nullptr;
};

// Seconds of `body` enqueued on `s`, timed by events recorded around it on the same stream.
double time_on_stream(cudaStream_t s, const std::function<void()>& body) {
  Event start, stop;
  BSTACK_CUDA_CHECK(cudaEventRecord(start.e, s));
  body();
  BSTACK_CUDA_CHECK(cudaEventRecord(stop.e, s));
  BSTACK_CUDA_CHECK(cudaEventSynchronize(stop.e));
  float ms = 0;
  BSTACK_CUDA_CHECK(cudaEventElapsedTime(&ms, start.e, stop.e));
  return ms * 1e-3;
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Runs `fn`; a bstack::Error (a failed CUDA call) becomes a note, and the section goes on.
void guarded(MachineProfile& p, const char* what, const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    p.note(fmt::format("gpu: {} failed: {}", what, e.what()));
  }
}

// ---- host <-> device: pinned memory, cudaMemcpyAsync, events (bandwidthTest) -------------------
void measure_transfers(int repeats, MachineProfile& p, const ProgressFn& progress) {
  const size_t max_bytes = size_t{256} << 20;
  PinnedBuffer host(max_bytes);
  DeviceBuffer dev(max_bytes);
  Stream s;
  std::memset(host.p, 1, max_bytes);  // touch every page once
  for (const bool h2d : {true, false}) {
    Series ser{h2d ? "gpu/h2d" : "gpu/d2h", {"bytes", "bytes_per_s"}, {},
               fmt::format("cudaMemcpyAsync {} pinned host memory, timed with CUDA events; per "
                           "size best of {} timings of enough copies to move >= 64 MiB",
                           h2d ? "from" : "to", repeats)};
    double best_all = 0;
    for (size_t bytes = 4096; bytes <= max_bytes; bytes *= 4) {
      const int copies = static_cast<int>(std::clamp<size_t>((size_t{64} << 20) / bytes, 1, 1000));
      const auto copy = [&] {
        for (int c = 0; c < copies; ++c) {
          if (h2d)
            BSTACK_CUDA_CHECK(cudaMemcpyAsync(dev.p, host.p, bytes, cudaMemcpyHostToDevice, s.s));
          else
            BSTACK_CUDA_CHECK(cudaMemcpyAsync(host.p, dev.p, bytes, cudaMemcpyDeviceToHost, s.s));
        }
      };
      copy();  // warm-up
      BSTACK_CUDA_CHECK(cudaStreamSynchronize(s.s));
      double best = 0;
      for (int r = 0; r < repeats; ++r)
        best = std::max(best, static_cast<double>(bytes) * copies / time_on_stream(s.s, copy));
      ser.add_row({static_cast<double>(bytes), best});
      best_all = std::max(best_all, best);
    }
    const std::string method = fmt::format(
        "{} over PCIe/NVLink-C2C: cudaMemcpyAsync with pinned host memory, 4 KiB..256 MiB, "
        "CUDA events, best of {} per size; the best size (CUDA samples' bandwidthTest)",
        h2d ? "host to device" : "device to host", repeats);
    p.set({h2d ? "gpu_h2d_bytes_per_s" : "gpu_d2h_bytes_per_s", best_all, "B/s", method});
    p.add_series(std::move(ser));
    if (progress) progress(h2d ? 0.1 : 0.2, h2d ? "gpu: host to device" : "gpu: device to host");
  }
}

// ---- device memory: device-to-device copy, read + write counted --------------------------------
void measure_dram_copy(int repeats, MachineProfile& p) {
  const size_t bytes = size_t{256} << 20;
  DeviceBuffer a(bytes), b(bytes);
  Stream s;
  BSTACK_CUDA_CHECK(cudaMemsetAsync(a.p, 1, bytes, s.s));
  const int copies = 10;
  const auto copy = [&] {
    for (int c = 0; c < copies; ++c)
      BSTACK_CUDA_CHECK(cudaMemcpyAsync(b.p, a.p, bytes, cudaMemcpyDeviceToDevice, s.s));
  };
  copy();  // warm-up
  BSTACK_CUDA_CHECK(cudaStreamSynchronize(s.s));
  double best = 0;
  for (int r = 0; r < repeats; ++r)
    best = std::max(best, 2.0 * bytes * copies / time_on_stream(s.s, copy));
  p.set({"gpu_dram_copy_bytes_per_s", best, "B/s",
         fmt::format("device-to-device cudaMemcpyAsync of 256 MiB, read + write bytes counted (2x "
                     "the size, as bandwidthTest and STREAM copy count them); best of {} timings "
                     "of {} copies", repeats, copies)});
}

// ---- GEMM through cuBLAS -----------------------------------------------------------------------
struct GemmCase {
  const char* key;    // gpu_gemm_flops_<key>
  const char* what;
  cudaDataType_t ab, c;
  DType ab_t, c_t;
  cublasComputeType_t compute;
  double rel_tol;     // of the checked element, against |ref| + 1 (the output's rounding)
};

void measure_gemm(int n, int repeats, MachineProfile& p, const ProgressFn& progress) {
  const GemmCase cases[] = {
      {"fp32", "fp32 in/out, CUBLAS_COMPUTE_32F (no TF32)", CUDA_R_32F, CUDA_R_32F, DType::f32,
       DType::f32, CUBLAS_COMPUTE_32F, 1e-5},
      {"tf32", "fp32 in/out, CUBLAS_COMPUTE_32F_FAST_TF32 (tensor cores)", CUDA_R_32F, CUDA_R_32F,
       DType::f32, DType::f32, CUBLAS_COMPUTE_32F_FAST_TF32, 1e-5},
      {"fp16", "fp16 in/out, fp32 accumulation (tensor cores)", CUDA_R_16F, CUDA_R_16F, DType::f16,
       DType::f16, CUBLAS_COMPUTE_32F, 2e-3},
      {"bf16", "bf16 in/out, fp32 accumulation (tensor cores)", CUDA_R_16BF, CUDA_R_16BF,
       DType::bf16, DType::bf16, CUBLAS_COMPUTE_32F, 1e-2},
  };
  const size_t elems = static_cast<size_t>(n) * n;
  DeviceBuffer A(elems * 4), B(elems * 4), C(elems * 4), one(sizeof(float));
  Stream s;
  Cublas blas;
  BSTACK_CUBLAS_CHECK(cublasSetStream(blas.h, s.s));
  BSTACK_CUBLAS_CHECK(cublasSetMathMode(blas.h, CUBLAS_DEFAULT_MATH));
  // The reference for C(0,0) = sum_k A(0,k) B(k,0), column-major with lda = ldb = n; the
  // operands are exact in every precision (gpu_kernels.h), so one double sum serves all four.
  double ref = 0;
  for (int k = 0; k < n; ++k)
    ref += static_cast<double>(gpu_kernels::fill_value(static_cast<int64_t>(k) * n, 1)) *
           gpu_kernels::fill_value(k, 2);
  const double flop = 2.0 * n * n * n;
  int done = 0;
  for (const GemmCase& g : cases) {
    guarded(p, fmt::format("{} GEMM", g.key).c_str(), [&] {
      BSTACK_CUDA_CHECK(gpu_kernels::fill(A.p, g.ab_t, static_cast<int64_t>(elems), 1, s.s));
      BSTACK_CUDA_CHECK(gpu_kernels::fill(B.p, g.ab_t, static_cast<int64_t>(elems), 2, s.s));
      const float alpha = 1, beta = 0;
      const auto gemm = [&] {
        BSTACK_CUBLAS_CHECK(cublasGemmEx(blas.h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &alpha, A.p,
                                         g.ab, n, B.p, g.ab, n, &beta, C.p, g.c, n, g.compute,
                                         CUBLAS_GEMM_DEFAULT));
      };
      // Validate before timing: C(0,0) against the host sum.
      gemm();
      BSTACK_CUDA_CHECK(gpu_kernels::to_float(C.p, g.c_t, static_cast<float*>(one.p), s.s));
      float got = 0;
      BSTACK_CUDA_CHECK(cudaMemcpyAsync(&got, one.p, sizeof got, cudaMemcpyDeviceToHost, s.s));
      BSTACK_CUDA_CHECK(cudaStreamSynchronize(s.s));
      const double tol = g.rel_tol * (std::abs(ref) + 1);
      BSTACK_CHECK(std::abs(got - ref) <= tol, "{} GEMM {}^3: C(0,0) = {} but the host sum is {} "
                   "(tolerance {})", g.key, n, got, ref, tol);
      // Enough calls per timing for >= ~20 ms, from one timed call.
      const double t1 = time_on_stream(s.s, gemm);
      const int calls = static_cast<int>(std::clamp(0.02 / std::max(t1, 1e-6), 1.0, 500.0));
      const auto many = [&] {
        for (int c = 0; c < calls; ++c) gemm();
      };
      double best = 0;
      for (int r = 0; r < repeats; ++r) best = std::max(best, flop * calls / time_on_stream(s.s, many));
      p.set({fmt::format("gpu_gemm_flops_{}", g.key), best, "FLOP/s",
             fmt::format("cublasGemmEx {}^3, {}, 2n^3 FLOP a call; best of {} timings of {} calls "
                         "(CUDA events), result checked first", n, g.what, repeats, calls)});
    });
    ++done;
    if (progress) progress(0.3 + 0.4 * done / 4.0, fmt::format("gpu: {} GEMM", g.key));
  }
}

// ---- launch latency: empty kernel ----------------------------------------------------------------
void measure_launch(int repeats, MachineProfile& p) {
  Stream s;
  const int launches = 1000;
  for (int i = 0; i < 100; ++i) BSTACK_CUDA_CHECK(gpu_kernels::launch_empty(s.s));  // warm-up
  BSTACK_CUDA_CHECK(cudaStreamSynchronize(s.s));
  double back_to_back = 1e30, round_trip = 1e30;
  for (int r = 0; r < repeats; ++r) {
    // Back-to-back: the host-side cost of one launch in a stream of launches (the queue never
    // drains, so this is the issue rate the CPU sustains), measured by the host clock.
    double t0 = now_s();
    for (int i = 0; i < launches; ++i) BSTACK_CUDA_CHECK(gpu_kernels::launch_empty(s.s));
    BSTACK_CUDA_CHECK(cudaStreamSynchronize(s.s));
    back_to_back = std::min(back_to_back, (now_s() - t0) / launches);
    // Round trip: launch, then wait for it: what a step pays when it needs the result at once.
    t0 = now_s();
    for (int i = 0; i < launches / 10; ++i) {
      BSTACK_CUDA_CHECK(gpu_kernels::launch_empty(s.s));
      BSTACK_CUDA_CHECK(cudaStreamSynchronize(s.s));
    }
    round_trip = std::min(round_trip, (now_s() - t0) / (launches / 10));
  }
  p.set({"gpu_launch_latency_s", back_to_back, "s",
         fmt::format("empty <<<1,1>>> kernel: {} back-to-back launches on one stream then one "
                     "cudaStreamSynchronize, host clock / launches; best of {}", launches, repeats)});
  p.set({"gpu_launch_roundtrip_s", round_trip, "s",
         fmt::format("empty <<<1,1>>> kernel launch + cudaStreamSynchronize, mean of {}; best of {}",
                     launches / 10, repeats)});
}

#if BSTACK_HAS_NCCL
// ---- NCCL: one-rank all-reduce (nccl-tests all_reduce_perf's timing) -----------------------------
void measure_nccl(int repeats, MachineProfile& p) {
  struct Comm {
    Comm() {
      int dev = 0;
      BSTACK_NCCL_CHECK(ncclCommInitAll(&c, 1, &dev));
    }
    ~Comm() { ncclCommDestroy(c); }
    ncclComm_t c = nullptr;
  } comm;
  const size_t max_bytes = size_t{64} << 20;
  DeviceBuffer send(max_bytes), recv(max_bytes);
  Stream s;
  BSTACK_CUDA_CHECK(cudaMemsetAsync(send.p, 0, max_bytes, s.s));
  Series ser{"gpu/nccl_allreduce", {"bytes", "seconds", "algbw_bytes_per_s"}, {},
             fmt::format("ncclAllReduce float sum, out of place, 1 rank (ncclCommInitAll), CUDA "
                         "events around 20 calls, best of {} (nccl-tests all_reduce_perf); with one "
                         "rank busbw = algbw * 2(n-1)/n = 0, so only time and algbw", repeats)};
  double small = 0;
  for (size_t bytes = 4; bytes <= max_bytes; bytes *= 16) {
    const int iters = 20;
    const auto run = [&] {
      for (int i = 0; i < iters; ++i)
        BSTACK_NCCL_CHECK(ncclAllReduce(send.p, recv.p, bytes / sizeof(float), ncclFloat, ncclSum,
                                        comm.c, s.s));
    };
    run();  // warm-up
    BSTACK_CUDA_CHECK(cudaStreamSynchronize(s.s));
    double best = 1e30;
    for (int r = 0; r < repeats; ++r) best = std::min(best, time_on_stream(s.s, run) / iters);
    ser.add_row({static_cast<double>(bytes), best, bytes / best});
    if (bytes == 4) small = best;
  }
  p.add_series(std::move(ser));
  p.set({"gpu_nccl_allreduce_latency_s", small, "s",
         fmt::format("ncclAllReduce of one float on 1 rank (ncclCommInitAll with device 0): NCCL's "
                     "per-call cost without any bus traffic; CUDA events around 20 calls, best of "
                     "{} (nccl-tests all_reduce_perf timing)", repeats)});
}
#endif

}  // namespace

void calibrate_gpu(const Options& o, MachineProfile& p, const ProgressFn& progress) {
  std::string why;
  const int devices = gpu_device_count(&why);
  if (devices <= 0) {
    p.note(fmt::format("gpu: no CUDA device visible ({}); GPU section omitted", why));
    return;
  }
  if (devices > 1) p.note(fmt::format("gpu: {} CUDA devices visible; measured device 0", devices));
  try {
    BSTACK_CUDA_CHECK(cudaSetDevice(0));
    cudaDeviceProp prop{};
    BSTACK_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
    p.set_meta("gpu_model", prop.name);
    p.set_meta("gpu_compute_capability", fmt::format("{}.{}", prop.major, prop.minor));
    p.set_meta("gpu_sm_count", std::to_string(prop.multiProcessorCount));
    p.set({"gpu_memory_bytes", static_cast<double>(prop.totalGlobalMem), "B",
           "cudaGetDeviceProperties totalGlobalMem of device 0"});
  } catch (const Error& e) {
    p.note(fmt::format("gpu: device 0 unusable: {}; GPU section omitted", e.what()));
    return;
  }
  const int repeats = o.quick ? 3 : 5;
  if (progress) progress(0.0, "gpu: host to device");
  guarded(p, "host/device transfers", [&] { measure_transfers(repeats, p, progress); });
  guarded(p, "device memory copy", [&] { measure_dram_copy(repeats, p); });
  if (progress) progress(0.3, "gpu: GEMM");
  guarded(p, "GEMM", [&] { measure_gemm(o.quick ? 2048 : 4096, repeats, p, progress); });
  if (progress) progress(0.7, "gpu: launch latency");
  guarded(p, "launch latency", [&] { measure_launch(repeats, p); });
#if BSTACK_HAS_NCCL
  if (progress) progress(0.8, "gpu: NCCL all-reduce");
  guarded(p, "NCCL all-reduce", [&] { measure_nccl(repeats, p); });
#else
  p.note("gpu: built without NCCL; all-reduce omitted");
#endif
  if (progress) progress(1.0, "gpu done");
}

#endif  // BSTACK_HAS_CUDA

}  // namespace bstack::calibrate
