// DistributedDataParallel (see ddp.h).
#include "dist/ddp.h"

#include "src/error.h"

#include <algorithm>
#include <cstring>
#include <numeric>

namespace bstack::dist {

DistributedDataParallel::DistributedDataParallel(std::vector<Tensor> params, Backend& backend, DDPOptions options)
    : params_(std::move(params)), backend_(backend), opt_(options) {
  BSTACK_CHECK(opt_.timeout_s > 0, "DistributedDataParallel: the timeout must be positive, got {} s", opt_.timeout_s);
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    BSTACK_CHECK(p.defined() && p.dtype() == DType::f32 && p.is_contiguous(),
                 "DistributedDataParallel: parameter {} must be a contiguous f32 tensor", i);
    BSTACK_CHECK(index_.emplace(p.impl(), i).second, "DistributedDataParallel: parameter {} is listed twice", i);
  }
  // Reverse registration order: the last layer's gradients are the first backward produces.
  std::vector<size_t> order(params_.size());
  std::iota(order.rbegin(), order.rend(), size_t{0});
  build_buckets(order);
}

DistributedDataParallel::~DistributedDataParallel() {
  // Work still in flight (an exception during backward) completes in its destructor.
  for (auto& b : buckets_) b.work.reset();
}

double DistributedDataParallel::now() const { return std::chrono::duration<double>(Clock::now() - t0_).count(); }

void DistributedDataParallel::build_buckets(const std::vector<size_t>& order) {
  buckets_.clear();
  bucket_of_.assign(params_.size(), 0);
  Bucket cur;
  size_t bytes = 0;
  for (size_t i : order) {
    const size_t pb = static_cast<size_t>(params_[i].numel()) * sizeof(float);
    // bucket_bytes 0: everything in one bucket (one all-reduce after backward).
    if (opt_.bucket_bytes > 0 && !cur.params.empty() && bytes + pb > opt_.bucket_bytes) {
      buckets_.push_back(std::move(cur));
      cur = Bucket{};
      bytes = 0;
    }
    cur.offsets.push_back(bytes / sizeof(float));
    cur.params.push_back(i);
    bytes += pb;
  }
  if (!cur.params.empty()) buckets_.push_back(std::move(cur));
  for (size_t b = 0; b < buckets_.size(); ++b) {
    Bucket& k = buckets_[b];
    const size_t last = k.params.back();
    k.flat.assign(k.offsets.back() + static_cast<size_t>(params_[last].numel()), 0.0f);
    for (size_t i : k.params) bucket_of_[i] = b;
  }
}

std::vector<std::vector<size_t>> DistributedDataParallel::buckets() const {
  std::vector<std::vector<size_t>> out;
  for (const auto& b : buckets_) out.push_back(b.params);
  return out;
}

void DistributedDataParallel::broadcast_parameters() {
  NoGradGuard ng;
  for (Tensor& p : params_) backend_.broadcast(p.data<float>(), static_cast<size_t>(p.numel()), 0);
}

void DistributedDataParallel::reset_step() {
  ready_.assign(params_.size(), 0);
  ready_order_.clear();
  next_launch_ = 0;
  for (auto& b : buckets_) {
    b.pending = b.params.size();
    b.work.reset();
    b.launched = b.done = false;
    b.t_launch = b.t_done = b.waited = 0;
  }
}

void DistributedDataParallel::grad_ready(TensorImpl* leaf) {
  auto it = index_.find(leaf);
  if (it == index_.end()) return;  // a leaf that is not one of ours (an input that needs grad)
  const size_t i = it->second;
  if (ready_[i]) return;
  ready_[i] = 1;
  ready_order_.push_back(i);
  --buckets_[bucket_of_[i]].pending;
  if (opt_.overlap) launch_ready();
}

void DistributedDataParallel::node_done() {
  if (opt_.overlap) poll();
}

// Buckets start in index order on every rank: a bucket whose gradients are ready waits for the
// ones before it, so all ranks issue the same collectives in the same order.
void DistributedDataParallel::launch_ready() {
  while (next_launch_ < buckets_.size() && buckets_[next_launch_].pending == 0) launch(buckets_[next_launch_++]);
}

void DistributedDataParallel::launch(Bucket& b) {
  for (size_t k = 0; k < b.params.size(); ++k) {
    const Tensor& p = params_[b.params[k]];
    float* dst = b.flat.data() + b.offsets[k];
    const size_t n = static_cast<size_t>(p.numel());
    const Tensor g = p.grad();
    if (g.defined()) {
      const Tensor gc = g.is_contiguous() && g.dtype() == DType::f32 ? g : g.contiguous().to(DType::f32);
      std::memcpy(dst, gc.data<float>(), n * sizeof(float));
    } else {
      std::fill(dst, dst + n, 0.0f);  // no gradient this step on this rank: contributes zero
    }
  }
  b.t_launch = now();
  b.work = backend_.start_allreduce(b.flat.data(), b.flat.size(), ReduceOp::Avg);
  b.launched = true;
}

void DistributedDataParallel::poll() {
  for (size_t k = 0; k < next_launch_; ++k) {
    Bucket& b = buckets_[k];
    if (b.launched && !b.done && b.work->test()) {
      b.done = true;
      b.t_done = now();
    }
  }
}

void DistributedDataParallel::wait(Bucket& b, size_t index) {
  if (b.done) return;
  const double start = now();
  if (!wait_for(*b.work, opt_.timeout_s)) {
    // Unfinished work waits for completion when destroyed, which would hang the unwinding
    // forever: abandon it (the job is about to end).
    for (auto& k : buckets_) (void)k.work.release();
    fail("rank {}: the gradient all-reduce of bucket {} of {} ({} bytes) has not completed after {:.0f} s: "
         "another rank has stopped (crashed, killed or hung); giving up (raise --dist-timeout for "
         "very long steps)",
         backend_.rank(), index + 1, buckets_.size(), b.flat.size() * sizeof(float), opt_.timeout_s);
  }
  b.done = true;
  b.t_done = now();
  b.waited = b.t_done - start;
}

void DistributedDataParallel::backward(const Tensor& loss) {
  reset_step();
  t0_ = Clock::now();
  {
    BackwardObserverScope scope(this);
    loss.backward();
  }
  const double t_backward = now();
  // Whatever was not launched during backward (no overlap, parameters without a gradient, or a
  // bucket waiting behind one) goes now, in order; then every bucket is waited for in order.
  for (auto& b : buckets_) b.pending = 0;
  launch_ready();
  for (size_t k = 0; k < buckets_.size(); ++k) wait(buckets_[k], k);
  {
    NoGradGuard ng;
    for (auto& b : buckets_)
      for (size_t k = 0; k < b.params.size(); ++k) {
        Tensor& p = params_[b.params[k]];
        if (!p.grad().defined()) continue;  // keep "no gradient" (the optimizer skips it)
        const float* src = b.flat.data() + b.offsets[k];
        Tensor g = p.grad();
        if (!(g.is_contiguous() && g.dtype() == DType::f32)) {
          g = empty(p.shape(), DType::f32);
          p.set_grad(g);
        }
        std::memcpy(g.data<float>(), src, static_cast<size_t>(p.numel()) * sizeof(float));
      }
  }
  last_ = {};
  last_.backward_s = t_backward;
  last_.exposed_s = now() - t_backward;
  for (const auto& b : buckets_)
    last_.comm.push_back({"allreduce", static_cast<double>(b.flat.size() * sizeof(float)), b.t_launch,
                          b.t_done - b.t_launch, b.waited, 0});
  // After the first step: buckets in the order gradients really became ready (deterministic, so
  // the same on every rank); parameters that never got one go last.
  if (!rebuilt_) {
    rebuilt_ = true;
    std::vector<size_t> order = ready_order_;
    std::vector<char> seen(params_.size(), 0);
    for (size_t i : order) seen[i] = 1;
    for (size_t i = params_.size(); i-- > 0;)
      if (!seen[i]) order.push_back(i);
    build_buckets(order);
  }
}

}  // namespace bstack::dist
