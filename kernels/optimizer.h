// Fused optimizer updates: one pass over each parameter that reads the gradient and the state
// and writes both back, instead of the eight-odd full-tensor passes (and temporaries) the same
// update takes as tensor ops. The update rules are the ones of src/optim/optim.h (PyTorch's
// SGD and Adam/AdamW semantics; Kingma & Ba 2015, Loshchilov & Hutter 2019).
#pragma once

#include <cstdint>

namespace bstack::kernels {

struct AdamParams {
  double lr, beta1, beta2, eps, weight_decay;
  double bias_correction1, bias_correction2;  // 1 - beta^t
  bool decoupled;                             // AdamW: decay the weights, not the gradient
};

// p, g, m, v: n contiguous values each. m and v are updated in place, then p.
template <class T>
void adam_step(int64_t n, T* p, const T* g, T* m, T* v, const AdamParams& a);

struct SgdParams {
  double lr, momentum, dampening, weight_decay;
  bool nesterov;
  bool first;  // the momentum buffer is empty: it starts as the gradient (PyTorch's rule)
};

// buf may be null when momentum == 0.
template <class T>
void sgd_step(int64_t n, T* p, const T* g, T* buf, const SgdParams& s);

}  // namespace bstack::kernels
