// Optimizers (SGD with momentum/Nesterov/weight decay, Adam, AdamW), gradient clipping by
// global norm, and learning-rate schedules. Updates follow PyTorch's documented algorithms so
// a run can be compared with libtorch step for step:
//   SGD   g = grad + wd p; b = mu b + (1 - dampening) g (b = g on the first step);
//         g = g + mu b (Nesterov) or b; p -= lr g
//   Adam  (Kingma & Ba 2015) g = grad + wd p; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
//         p -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
//   AdamW (Loshchilov & Hutter 2019) p -= lr wd p, then Adam with wd = 0.
// Parameters without a gradient are skipped. Updates run under NoGradGuard.
#pragma once

#include "src/tensor.h"

#include <map>
#include <string>
#include <vector>

namespace bstack::optim {

class Optimizer {
 public:
  explicit Optimizer(std::vector<Tensor> params, double lr);
  virtual ~Optimizer() = default;
  virtual void step() = 0;
  void zero_grad();
  double lr() const { return lr_; }
  void set_lr(double lr) { lr_ = lr; }
  const std::vector<Tensor>& params() const { return params_; }
  int64_t steps() const { return t_; }
  // Internal state (momentum buffers, moments) by name, for checkpoints; load_state restores
  // it together with the step count so a resumed run continues bit-identically.
  virtual std::map<std::string, Tensor> state() const = 0;
  virtual void load_state(const std::map<std::string, Tensor>& state, int64_t steps) = 0;

 protected:
  std::vector<Tensor> params_;
  double lr_;
  int64_t t_ = 0;
};

struct SGDOptions {
  double lr = 0.01, momentum = 0, dampening = 0, weight_decay = 0;
  bool nesterov = false;
};

class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, const SGDOptions& o);
  void step() override;
  std::map<std::string, Tensor> state() const override;
  void load_state(const std::map<std::string, Tensor>& state, int64_t steps) override;

 private:
  SGDOptions o_;
  std::vector<Tensor> buf_;
};

struct AdamOptions {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
  bool decoupled = false;  // true: AdamW
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, const AdamOptions& o);
  void step() override;
  std::map<std::string, Tensor> state() const override;
  void load_state(const std::map<std::string, Tensor>& state, int64_t steps) override;

 private:
  AdamOptions o_;
  std::vector<Tensor> m_, v_;
};

// AdamW: Adam with decoupled weight decay (default 0.01, as PyTorch).
inline Adam AdamW(std::vector<Tensor> params, AdamOptions o) {
  o.decoupled = true;
  return Adam(std::move(params), o);
}

// Scales all gradients by max_norm / norm when their global L2 norm exceeds max_norm;
// returns the norm before clipping.
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm);

// lr(epoch) = base * gamma^floor(epoch / step_size)
double step_lr(double base, int64_t epoch, int64_t step_size, double gamma);
// Linear warm-up over `warmup` steps to `base`, then cosine decay to `min_lr` at `total`.
double cosine_with_warmup(double base, int64_t step, int64_t warmup, int64_t total, double min_lr = 0);

}  // namespace bstack::optim
