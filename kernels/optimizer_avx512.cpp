// The fused optimizer loops (optimizer_loop.inc) compiled for avx512; called only when cpuid says so.
#include <cstdint>

#include "kernels/optimizer.h"

namespace bstack::kernels::detail {
namespace {
#include "kernels/optimizer_loop.inc"
}  // namespace

void adam_avx512(int64_t b, int64_t e, float* p, const float* g, float* m, float* v, const AdamParams& a) {
  adam_loop(b, e, p, g, m, v, a);
}
void adam_avx512(int64_t b, int64_t e, double* p, const double* g, double* m, double* v,
               const AdamParams& a) {
  adam_loop(b, e, p, g, m, v, a);
}
void sgd_avx512(int64_t b, int64_t e, float* p, const float* g, float* buf, const SgdParams& s) {
  sgd_loop(b, e, p, g, buf, s);
}
void sgd_avx512(int64_t b, int64_t e, double* p, const double* g, double* buf, const SgdParams& s) {
  sgd_loop(b, e, p, g, buf, s);
}

}  // namespace bstack::kernels::detail
