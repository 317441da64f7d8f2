// TensorImpl and the autograd Node: the data behind a Tensor handle. Internal to src/.
#pragma once

#include "src/tensor.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace bstack {

// Maps the gradient of an op's output to the gradients of its inputs (same order as
// Node::inputs; an undefined Tensor for an input that gets none). Runs under NoGradGuard.
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_out)>;

struct Node {
  std::string name;            // the op, for error messages and profiles
  std::vector<Tensor> inputs;  // the op's tensor inputs
  BackwardFn backward;         // empty once the graph is released
  Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  ~Node();  // iterative, so dropping a long chain of ops cannot overflow the stack
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;  // elements
  int64_t offset = 0;
  DType dtype = DType::f32;
  bool requires_grad = false;
  Tensor grad;
  std::shared_ptr<Node> grad_fn;
};

// Records `out` as the result of op `name` over `inputs` when grad mode is on and some input
// requires grad; returns `out`. Saved tensors captured by `fn` must be detached (no cycles).
Tensor record(Tensor out, const char* name, std::vector<Tensor> inputs, BackwardFn fn);

// A new tensor sharing `base`'s storage with the given geometry (no autograd history).
Tensor make_view(const Tensor& base, Shape shape, Shape strides, int64_t offset);

// The graph below `root` in the order Tensor::backward runs it reversed: every tensor that needs a
// gradient after the ones it was computed from (iterative DFS, inputs in order), `root` last.
std::vector<TensorImpl*> backward_order(TensorImpl* root);

}  // namespace bstack
