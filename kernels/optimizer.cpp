#include "kernels/optimizer.h"

#include <cmath>

#include "kernels/parallel.h"

namespace bstack::kernels {

template <class T>
void adam_step(int64_t n, T* p, const T* g, T* m, T* v, const AdamParams& a) {
  const T b1 = T(a.beta1), b2 = T(a.beta2), ob1 = T(1 - a.beta1), ob2 = T(1 - a.beta2);
  const T wd = T(a.weight_decay), eps = T(a.eps), lr = T(a.lr);
  const T decay = T(1 - a.lr * a.weight_decay);
  const T inv_c1 = T(1 / a.bias_correction1), inv_c2 = T(1 / a.bias_correction2);
  const bool decoupled = a.decoupled, l2 = !a.decoupled && a.weight_decay != 0;
  const bool wdecay = decoupled && a.weight_decay != 0;
  parallel_for(n, 16, [&](int64_t b, int64_t e) {
#pragma omp simd
    for (int64_t i = b; i < e; ++i) {
      T gi = g[i], pi = p[i];
      if (wdecay) pi = pi * decay;
      if (l2) gi = gi + pi * wd;
      const T mi = m[i] * b1 + gi * ob1;
      const T vi = v[i] * b2 + gi * gi * ob2;
      m[i] = mi;
      v[i] = vi;
      p[i] = pi - (mi * inv_c1) / (std::sqrt(vi * inv_c2) + eps) * lr;
    }
  });
}

template <class T>
void sgd_step(int64_t n, T* p, const T* g, T* buf, const SgdParams& s) {
  const T lr = T(s.lr), mom = T(s.momentum), damp = T(1 - s.dampening), wd = T(s.weight_decay);
  const bool use_mom = s.momentum != 0 && buf, first = s.first, nesterov = s.nesterov;
  parallel_for(n, 4, [&](int64_t b, int64_t e) {
#pragma omp simd
    for (int64_t i = b; i < e; ++i) {
      T gi = g[i];
      if (wd != T(0)) gi = gi + p[i] * wd;
      if (use_mom) {
        const T bi = first ? gi : buf[i] * mom + gi * damp;
        buf[i] = bi;
        gi = nesterov ? gi + bi * mom : bi;
      }
      p[i] = p[i] - gi * lr;
    }
  });
}

template void adam_step<float>(int64_t, float*, const float*, float*, float*, const AdamParams&);
template void adam_step<double>(int64_t, double*, const double*, double*, double*, const AdamParams&);
template void sgd_step<float>(int64_t, float*, const float*, float*, const SgdParams&);
template void sgd_step<double>(int64_t, double*, const double*, double*, const SgdParams&);

}  // namespace bstack::kernels
