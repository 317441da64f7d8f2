#include "src/optim/optim.h"
#include "src/profile/profiler.h"

#include "kernels/optimizer.h"
#include "src/ops.h"

#include <cmath>
#include <numbers>

namespace bstack::optim {

Optimizer::Optimizer(std::vector<Tensor> params, double lr) : params_(std::move(params)), lr_(lr) {
  BSTACK_CHECK(lr >= 0, "optimizer: learning rate must be non-negative, got {}", lr);
  for (size_t i = 0; i < params_.size(); ++i)
    BSTACK_CHECK(params_[i].requires_grad() && params_[i].is_leaf(),
                 "optimizer: parameter {} ({}) is not a leaf that requires grad", i,
                 shape_str(params_[i].shape()));
}

void Optimizer::zero_grad() {
  for (const Tensor& p : params_) p.zero_grad();
}

SGD::SGD(std::vector<Tensor> params, const SGDOptions& o) : Optimizer(std::move(params), o.lr), o_(o) {
  BSTACK_CHECK(!o.nesterov || (o.momentum > 0 && o.dampening == 0),
               "SGD: Nesterov momentum needs momentum > 0 and dampening = 0");
  buf_.resize(params_.size());
}

namespace {
// The fused kernels need every operand contiguous, one floating dtype and its own storage.
bool fusable(const Tensor& p, std::initializer_list<const Tensor*> others) {
  if (!p.is_contiguous() || !is_floating(p.dtype())) return false;
  for (const Tensor* t : others)
    if (t->defined() && (!t->is_contiguous() || t->dtype() != p.dtype() || t->shape() != p.shape()))
      return false;
  return true;
}
}  // namespace

void SGD::step() {
  NoGradGuard ng;
  ++t_;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    if (!p.grad().defined()) continue;
    Tensor g = p.grad();
    if (fusable(p, {&g, &buf_[i]})) {
      const bool first = o_.momentum != 0 && !buf_[i].defined();
      if (first) buf_[i] = empty(p.shape(), p.dtype());
      // Profiled as one op (src/profile/profiler.h: sgd_step): reads p, g (and the momentum
      // buffer), writes p (and the buffer).
      detail::OpTimer timer("sgd_step", {&p, &g});
      const double n = static_cast<double>(p.numel()), es = static_cast<double>(dtype_size(p.dtype()));
      const kernels::SgdParams sp{lr_, o_.momentum, o_.dampening, o_.weight_decay, o_.nesterov, first};
      visit_floating(p.dtype(), "SGD", [&](auto tag) {
        using T = typename decltype(tag)::type;
        kernels::sgd_step<T>(p.numel(), p.data<T>(), g.data<T>(),
                             buf_[i].defined() ? buf_[i].data<T>() : nullptr, sp);
      });
      const bool mom = o_.momentum != 0;
      timer.done(p, n * (mom ? 5 : 2) + (o_.weight_decay != 0 ? 2 * n : 0), mom ? 2 * n * es : 0);
      continue;
    }
    if (o_.weight_decay != 0) g = g + p * o_.weight_decay;
    if (o_.momentum != 0) {
      buf_[i] = buf_[i].defined() ? buf_[i] * o_.momentum + g * (1 - o_.dampening) : g.clone();
      g = o_.nesterov ? g + buf_[i] * o_.momentum : buf_[i];
    }
    p.copy_(p - g * lr_);
  }
}

Adam::Adam(std::vector<Tensor> params, const AdamOptions& o) : Optimizer(std::move(params), o.lr), o_(o) {
  BSTACK_CHECK(o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1,
               "Adam: betas must be in [0, 1), got {} and {}", o.beta1, o.beta2);
  m_.resize(params_.size());
  v_.resize(params_.size());
}

void Adam::step() {
  NoGradGuard ng;
  ++t_;
  const double c1 = 1 - std::pow(o_.beta1, static_cast<double>(t_));
  const double c2 = 1 - std::pow(o_.beta2, static_cast<double>(t_));
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    if (!p.grad().defined()) continue;
    Tensor g = p.grad();
    if (!m_[i].defined()) {
      m_[i] = zeros_like(p);
      v_[i] = zeros_like(p);
    }
    if (fusable(p, {&g, &m_[i], &v_[i]})) {  // one pass (kernels/optimizer.h)
      // Profiled as one op (src/profile/profiler.h: adam_step): reads p, g, m, v; writes p, m, v.
      detail::OpTimer timer("adam_step", {&p, &g, &m_[i], &v_[i]});
      const double n = static_cast<double>(p.numel()), es = static_cast<double>(dtype_size(p.dtype()));
      const kernels::AdamParams ap{lr_, o_.beta1, o_.beta2, o_.eps, o_.weight_decay, c1, c2, o_.decoupled};
      visit_floating(p.dtype(), "Adam", [&](auto tag) {
        using T = typename decltype(tag)::type;
        kernels::adam_step<T>(p.numel(), p.data<T>(), g.data<T>(), m_[i].data<T>(), v_[i].data<T>(), ap);
      });
      timer.done(p, n * 14 + (o_.weight_decay != 0 ? 2 * n : 0), 2 * n * es);
      continue;
    }
    if (o_.decoupled) {
      if (o_.weight_decay != 0) p.copy_(p * (1 - lr_ * o_.weight_decay));
    } else if (o_.weight_decay != 0) {
      g = g + p * o_.weight_decay;
    }
    m_[i] = m_[i] * o_.beta1 + g * (1 - o_.beta1);
    v_[i] = v_[i] * o_.beta2 + g * g * (1 - o_.beta2);
    p.copy_(p - (m_[i] / c1) / (sqrt(v_[i] / c2) + o_.eps) * lr_);
  }
}

namespace {
void put(std::map<std::string, Tensor>& out, const std::string& prefix, const std::vector<Tensor>& ts) {
  for (size_t i = 0; i < ts.size(); ++i)
    if (ts[i].defined()) out[prefix + std::to_string(i)] = ts[i];
}
void take(const std::map<std::string, Tensor>& in, const std::string& prefix, std::vector<Tensor>& ts,
          const std::vector<Tensor>& params) {
  for (size_t i = 0; i < ts.size(); ++i) {
    auto it = in.find(prefix + std::to_string(i));
    if (it == in.end()) {
      ts[i] = Tensor();
      continue;
    }
    BSTACK_CHECK(it->second.shape() == params[i].shape(), "optimizer state '{}{}' is {}, parameter is {}",
                 prefix, i, shape_str(it->second.shape()), shape_str(params[i].shape()));
    ts[i] = it->second.to(params[i].dtype()).clone();
  }
}
}  // namespace

std::map<std::string, Tensor> SGD::state() const {
  std::map<std::string, Tensor> out;
  put(out, "momentum.", buf_);
  return out;
}
void SGD::load_state(const std::map<std::string, Tensor>& s, int64_t steps) {
  take(s, "momentum.", buf_, params_);
  t_ = steps;
}
std::map<std::string, Tensor> Adam::state() const {
  std::map<std::string, Tensor> out;
  put(out, "m.", m_);
  put(out, "v.", v_);
  return out;
}
void Adam::load_state(const std::map<std::string, Tensor>& s, int64_t steps) {
  take(s, "m.", m_, params_);
  take(s, "v.", v_, params_);
  t_ = steps;
}

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm) {
  NoGradGuard ng;
  double sq = 0;
  for (const Tensor& p : params)
    if (p.grad().defined()) sq += sum(p.grad().to(DType::f64) * p.grad().to(DType::f64)).item();
  const double norm = std::sqrt(sq);
  if (norm > max_norm) {
    const double scale = max_norm / (norm + 1e-6);
    for (const Tensor& p : params)
      if (p.grad().defined()) p.set_grad(p.grad() * scale);
  }
  return norm;
}

double step_lr(double base, int64_t epoch, int64_t step_size, double gamma) {
  BSTACK_CHECK(step_size > 0, "step_lr: step_size must be positive, got {}", step_size);
  return base * std::pow(gamma, static_cast<double>(epoch / step_size));
}

double cosine_with_warmup(double base, int64_t step, int64_t warmup, int64_t total, double min_lr) {
  BSTACK_CHECK(total > warmup && warmup >= 0, "cosine_with_warmup: need 0 <= warmup < total, got {} and {}",
               warmup, total);
  if (step < warmup) return base * static_cast<double>(step + 1) / static_cast<double>(warmup);
  const double t = std::min(1.0, static_cast<double>(step - warmup) / static_cast<double>(total - warmup));
  return min_lr + 0.5 * (base - min_lr) * (1 + std::cos(std::numbers::pi * t));
}

}  // namespace bstack::optim
