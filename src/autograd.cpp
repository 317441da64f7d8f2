// Reverse-mode autograd: grad mode, recording ops, and backward().
//
// backward() is micrograd's engine made iterative and deterministic: a depth-first topological
// sort from the root (explicit stack, inputs in order), then one reverse walk that calls each
// node's backward once with the sum of the gradients that reached it. Leaves accumulate
// into .grad with +=, so two backward() calls add up, as in PyTorch.
#include "src/ops.h"
#include "src/profile/profiler.h"
#include "src/tensor_impl.h"

#include <unordered_map>
#include <unordered_set>

namespace bstack {

namespace {
thread_local bool t_grad_enabled = true;
thread_local BackwardObserver* t_observer = nullptr;
}

BackwardObserverScope::BackwardObserverScope(BackwardObserver* o) : prev_(t_observer) { t_observer = o; }
BackwardObserverScope::~BackwardObserverScope() { t_observer = prev_; }

bool grad_enabled() { return t_grad_enabled; }
NoGradGuard::NoGradGuard() : prev_(t_grad_enabled) { t_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { t_grad_enabled = prev_; }

Node::~Node() {
  // Unlink the chain of nodes only this one keeps alive, one level at a time, instead of
  // letting each shared_ptr destructor recurse into the next.
  std::vector<Tensor> pending = std::move(inputs);
  while (!pending.empty()) {
    Tensor t = std::move(pending.back());
    pending.pop_back();
    TensorImpl* impl = t.impl();
    if (impl && t.impl_use_count() == 1 && impl->grad_fn && impl->grad_fn.use_count() == 1) {
      std::shared_ptr<Node> node = std::move(impl->grad_fn);
      for (Tensor& in : node->inputs) pending.push_back(std::move(in));
      node->inputs.clear();
    }
  }
}

Tensor record(Tensor out, const char* name, std::vector<Tensor> inputs, BackwardFn fn) {
  if (!grad_enabled()) return out;
  bool any = false;
  for (const Tensor& t : inputs) any = any || t.requires_grad();
  if (!any) return out;
  BSTACK_CHECK(is_floating(out.dtype()), "{}: cannot record gradients for a {} result", name,
               dtype_name(out.dtype()));
  auto node = std::make_shared<Node>();
  node->name = name;
  node->inputs = std::move(inputs);
  node->backward = std::move(fn);
  out.impl()->grad_fn = std::move(node);
  out.impl()->requires_grad = true;
  return out;
}

std::vector<TensorImpl*> backward_order(TensorImpl* root) {
  // Topological order (inputs before the ops that use them), iterative DFS.
  std::vector<TensorImpl*> order;
  std::unordered_set<TensorImpl*> seen{root};
  std::vector<std::pair<TensorImpl*, size_t>> stack{{root, 0}};
  while (!stack.empty()) {
    auto& [t, next] = stack.back();
    const auto& fn = t->grad_fn;
    if (fn && next < fn->inputs.size()) {
      TensorImpl* in = fn->inputs[next++].impl();
      if (in && in->requires_grad && seen.insert(in).second) stack.push_back({in, 0});
      continue;
    }
    order.push_back(t);
    stack.pop_back();
  }
  return order;
}

void Tensor::backward(const Tensor& grad_in, bool retain_graph) const {
  BSTACK_CHECK(defined(), "backward: the tensor is undefined");
  BSTACK_CHECK(requires_grad(), "backward: tensor of shape {} does not require grad (no input of "
               "the ops that made it has requires_grad set)", shape_str(shape()));
  Tensor grad = grad_in;
  if (!grad.defined()) {
    BSTACK_CHECK(numel() == 1, "backward: tensor of shape {} is not a scalar; pass a gradient of "
                 "the same shape (backward(grad))", shape_str(shape()));
    grad = ones(shape(), dtype());
  }
  BSTACK_CHECK(grad.shape() == shape() && grad.dtype() == dtype(),
               "backward: gradient {} {} does not match tensor {} {}", dtype_name(grad.dtype()),
               shape_str(grad.shape()), dtype_name(dtype()), shape_str(shape()));

  const std::vector<TensorImpl*> order = backward_order(impl());

  NoGradGuard no_grad;
  struct BackwardPhase {  // ops below are recorded as backward by the profiler
    bool prev = detail::in_backward();
    BackwardPhase() { detail::set_in_backward(true); }
    ~BackwardPhase() { detail::set_in_backward(prev); }
  } phase;
  std::unordered_map<TensorImpl*, Tensor> grads{{impl(), grad}};
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    TensorImpl* t = *it;
    auto found = grads.find(t);
    if (found == grads.end()) continue;
    Tensor g = std::move(found->second);
    grads.erase(found);
    if (!t->grad_fn) {  // a leaf: accumulate
      if (!t->grad.defined()) {
        // A gradient nobody else holds (a fresh result of a backward function) becomes .grad as
        // it is; one shared with another tensor or the graph is copied.
        const bool exclusive = g.impl_use_count() == 1 && g.impl()->storage.use_count() == 1 &&
                               !g.impl()->grad_fn && g.is_contiguous();
        t->grad = exclusive ? std::move(g) : g.clone();
      } else {
        t->grad = t->grad + g;
      }
      // A leaf is visited once, after every op that feeds it: its gradient is final.
      if (t_observer) t_observer->grad_ready(t);
      continue;
    }
    Node& node = *t->grad_fn;
    BSTACK_CHECK(static_cast<bool>(node.backward),
                 "backward: the graph through '{}' was already released by an earlier "
                 "backward(); pass retain_graph=true to the first call", node.name);
    std::vector<Tensor> gin = node.backward(g);
    BSTACK_CHECK(gin.size() == node.inputs.size(), "backward: op '{}' returned {} gradients for {} "
                 "inputs", node.name, gin.size(), node.inputs.size());
    for (size_t i = 0; i < gin.size(); ++i) {
      const Tensor& in = node.inputs[i];
      if (!in.requires_grad() || !gin[i].defined()) continue;
      BSTACK_CHECK(gin[i].shape() == in.shape(), "backward: op '{}' gave a gradient of shape {} "
                   "for input {} of shape {}", node.name, shape_str(gin[i].shape()), i,
                   shape_str(in.shape()));
      auto [slot, inserted] = grads.try_emplace(in.impl(), gin[i]);
      if (!inserted) slot->second = slot->second + gin[i];
    }
    if (!retain_graph) node.backward = nullptr;  // frees the saved tensors
    if (t_observer) t_observer->node_done();
  }
}

}  // namespace bstack
