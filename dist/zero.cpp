// ZeRO-1 (see zero.h).
#include "dist/zero.h"

#include "src/error.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <set>

namespace bstack::dist {

ZeroOptimizer::ZeroOptimizer(std::vector<Tensor> params, Backend& backend, const MakeOptimizer& make, double timeout_s)
    : Optimizer(std::move(params), 0), backend_(backend), timeout_s_(timeout_s) {
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    BSTACK_CHECK(p.dtype() == DType::f32 && p.is_contiguous(), "ZeRO-1: parameter {} must be a contiguous f32 tensor", i);
    offsets_.push_back(total_);
    total_ += static_cast<size_t>(p.numel());
  }
  const size_t P = static_cast<size_t>(backend_.size());
  shard_ = (total_ + P - 1) / P;
  flat_grad_.assign(shard_ * P, 0.0f);
  flat_param_.assign(shard_ * P, 0.0f);
  shard_param_ = zeros({static_cast<int64_t>(shard_)}, DType::f32);
  shard_param_.requires_grad_(true);
  inner_ = make({shard_param_});
  lr_ = inner_->lr();
}

void ZeroOptimizer::finish(WorkPtr w, const char* what) const {
  if (!wait_for(*w, timeout_s_)) {
    (void)w.release();  // destroying it would wait forever
    fail("rank {}: the ZeRO-1 {} has not completed after {:.0f} s: another rank has stopped (crashed, killed or "
         "hung); giving up", backend_.rank(), what, timeout_s_);
  }
}

void ZeroOptimizer::step() {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  auto since = [&t0] { return std::chrono::duration<double>(Clock::now() - t0).count(); };
  last_comm_.clear();
  NoGradGuard ng;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor g = params_[i].grad();
    float* dst = flat_grad_.data() + offsets_[i];
    const size_t n = static_cast<size_t>(params_[i].numel());
    if (g.defined()) {
      const Tensor gc = g.is_contiguous() && g.dtype() == DType::f32 ? g : g.contiguous().to(DType::f32);
      std::memcpy(dst, gc.data<float>(), n * sizeof(float));
    } else {
      std::fill(dst, dst + n, 0.0f);
    }
  }
  // 1. averaged gradient of this rank's slice
  Tensor shard_grad = empty({static_cast<int64_t>(shard_)}, DType::f32);
  double t = since();
  finish(backend_.start_reduce_scatter(flat_grad_.data(), shard_grad.data<float>(), shard_, ReduceOp::Avg),
         "gradient reduce-scatter");
  last_comm_.push_back({"reduce_scatter", static_cast<double>(flat_grad_.size() * sizeof(float)), t, since() - t,
                        since() - t, 0});
  // 2. the wrapped optimizer on the slice, taken from the parameters as they are now (identical
  // on every rank; a resumed run has loaded them since construction)
  {
    const size_t lo = static_cast<size_t>(backend_.rank()) * shard_, hi = lo + shard_;
    float* dst = shard_param_.data<float>();
    std::fill(dst, dst + shard_, 0.0f);
    for (size_t i = 0; i < params_.size(); ++i) {
      const size_t a = std::max(lo, offsets_[i]), b = std::min(hi, offsets_[i] + params_[i].numel());
      if (a < b) std::memcpy(dst + (a - lo), params_[i].data<float>() + (a - offsets_[i]), (b - a) * sizeof(float));
    }
  }
  shard_param_.set_grad(shard_grad);
  inner_->set_lr(lr_);
  inner_->step();
  t_ = inner_->steps();
  // 3. every rank's updated slice into every rank's parameters
  t = since();
  finish(backend_.start_allgather(shard_param_.data<float>(), flat_param_.data(), shard_), "parameter all-gather");
  last_comm_.push_back({"allgather", static_cast<double>(flat_param_.size() * sizeof(float)), t, since() - t,
                        since() - t, 0});
  for (size_t i = 0; i < params_.size(); ++i)
    std::memcpy(params_[i].data<float>(), flat_param_.data() + offsets_[i], params_[i].numel() * sizeof(float));
}

std::map<std::string, Tensor> ZeroOptimizer::state() const {
  std::map<std::string, Tensor> out;
  const std::map<std::string, Tensor> mine = inner_->state();
  // Every rank holds the same names (the inner optimizer over one tensor: "m.0", "v.0", ...), in
  // the same order (a std::map), so the all-gathers below pair up.
  std::vector<float> full(shard_ * static_cast<size_t>(backend_.size()));
  for (const auto& [name, t] : mine) {
    BSTACK_CHECK(name.size() > 2 && name.substr(name.size() - 2) == ".0",
                 "ZeRO-1: unexpected optimizer state '{}' (expected one entry per tensor, named PREFIX.0)", name);
    const std::string prefix = name.substr(0, name.size() - 1);
    const Tensor c = t.contiguous().to(DType::f32);
    finish(backend_.start_allgather(c.data<float>(), full.data(), shard_), "optimizer-state all-gather");
    for (size_t i = 0; i < params_.size(); ++i) {
      Tensor s = empty(params_[i].shape(), DType::f32);
      std::memcpy(s.data<float>(), full.data() + offsets_[i], params_[i].numel() * sizeof(float));
      out[prefix + std::to_string(i)] = s;
    }
  }
  return out;
}

void ZeroOptimizer::load_state(const std::map<std::string, Tensor>& state, int64_t steps) {
  // Prefixes ("m.", "v.", "momentum.") of the full state, each assembled flat, this rank's slice kept.
  std::set<std::string> prefixes;
  for (const auto& [name, t] : state) {
    const size_t dot = name.rfind('.');
    BSTACK_CHECK(dot != std::string::npos, "ZeRO-1: optimizer state '{}' has no parameter index", name);
    prefixes.insert(name.substr(0, dot + 1));
  }
  std::map<std::string, Tensor> mine;
  std::vector<float> full(shard_ * static_cast<size_t>(backend_.size()), 0.0f);
  for (const std::string& prefix : prefixes) {
    std::fill(full.begin(), full.end(), 0.0f);
    for (size_t i = 0; i < params_.size(); ++i) {
      auto it = state.find(prefix + std::to_string(i));
      BSTACK_CHECK(it != state.end(), "ZeRO-1: optimizer state '{}{}' is missing", prefix, i);
      BSTACK_CHECK(it->second.shape() == params_[i].shape(), "optimizer state '{}{}' is {}, parameter is {}", prefix,
                   i, shape_str(it->second.shape()), shape_str(params_[i].shape()));
      const Tensor c = it->second.contiguous().to(DType::f32);
      std::memcpy(full.data() + offsets_[i], c.data<float>(), params_[i].numel() * sizeof(float));
    }
    Tensor s = empty({static_cast<int64_t>(shard_)}, DType::f32);
    std::memcpy(s.data<float>(), full.data() + backend_.rank() * shard_, shard_ * sizeof(float));
    mine[prefix + "0"] = s;
  }
  inner_->load_state(mine, steps);
  t_ = steps;
}

}  // namespace bstack::dist
