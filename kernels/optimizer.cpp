#include "kernels/optimizer.h"


#include "kernels/cpu.h"
#include "kernels/parallel.h"

namespace bstack::kernels {
namespace detail {
#define BSTACK_OPT_DECLARE(isa)                                                                  \
  void adam_##isa(int64_t, int64_t, float*, const float*, float*, float*, const AdamParams&);  \
  void adam_##isa(int64_t, int64_t, double*, const double*, double*, double*,                  \
                  const AdamParams&);                                                           \
  void sgd_##isa(int64_t, int64_t, float*, const float*, float*, const SgdParams&);            \
  void sgd_##isa(int64_t, int64_t, double*, const double*, double*, const SgdParams&);
BSTACK_OPT_DECLARE(avx2)
BSTACK_OPT_DECLARE(avx512)
#undef BSTACK_OPT_DECLARE
}  // namespace detail

namespace {
#include "kernels/optimizer_loop.inc"
}  // namespace

template <class T>
void adam_step(int64_t n, T* p, const T* g, T* m, T* v, const AdamParams& a) {
  const Isa path = isa();
  parallel_for(n, 16, [&](int64_t b, int64_t e) {
    if (path == Isa::avx512) detail::adam_avx512(b, e, p, g, m, v, a);
    else if (path == Isa::avx2) detail::adam_avx2(b, e, p, g, m, v, a);
    else adam_loop<T>(b, e, p, g, m, v, a);
  });
}

template <class T>
void sgd_step(int64_t n, T* p, const T* g, T* buf, const SgdParams& s) {
  const Isa path = isa();
  parallel_for(n, 4, [&](int64_t b, int64_t e) {
    if (path == Isa::avx512) detail::sgd_avx512(b, e, p, g, buf, s);
    else if (path == Isa::avx2) detail::sgd_avx2(b, e, p, g, buf, s);
    else sgd_loop<T>(b, e, p, g, buf, s);
  });
}

template void adam_step<float>(int64_t, float*, const float*, float*, float*, const AdamParams&);
template void adam_step<double>(int64_t, double*, const double*, double*, double*, const AdamParams&);
template void sgd_step<float>(int64_t, float*, const float*, float*, const SgdParams&);
template void sgd_step<double>(int64_t, double*, const double*, double*, const SgdParams&);

}  // namespace bstack::kernels
