// Checks for CUDA runtime and NCCL calls, shared by the NCCL backend (dist/) and calibrate's GPU
// section: every fallible call goes through one of these, which throws bstack::Error with the
// call, file:line and the library's own error text (llm.c's cudaCheck). Include only in code
// built with CUDA; BSTACK_NCCL_CHECK exists where BSTACK_HAS_NCCL is set.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "src/error.h"

#define BSTACK_CUDA_CHECK(call)                                           \
  do {                                                                    \
    const cudaError_t bstack_e_ = (call);                                 \
    if (bstack_e_ != cudaSuccess)                                         \
      ::bstack::fail("{} failed at {}:{}: {}", #call, __FILE__, __LINE__, \
                     cudaGetErrorString(bstack_e_));                      \
  } while (0)

#if BSTACK_HAS_NCCL
#include <nccl.h>

namespace bstack::dist {
// NCCL's own text for a result, plus its description of the last error where it has one
// ("Duplicate GPU detected : rank 1 and rank 0 both on CUDA device 1e000", ...).
inline std::string nccl_error_text(ncclResult_t r) {
  std::string text = ncclGetErrorString(r);
  const char* last = ncclGetLastError(nullptr);
  if (last != nullptr && last[0] != '\0') {
    text += " (";
    text += last;
    text += ")";
  }
  return text;
}
}  // namespace bstack::dist

#define BSTACK_NCCL_CHECK(call)                                           \
  do {                                                                    \
    const ncclResult_t bstack_r_ = (call);                                \
    if (bstack_r_ != ncclSuccess)                                         \
      ::bstack::fail("{} failed at {}:{}: {}", #call, __FILE__, __LINE__, \
                     ::bstack::dist::nccl_error_text(bstack_r_));         \
  } while (0)
#endif
