// Tensor: a typed, strided view over shared, 64-byte-aligned storage, with reverse-mode
// autograd. Views (reshape of contiguous data, view, transpose, permute, slice, expand,
// squeeze/unsqueeze) share storage and never copy. Ops live in src/ops.h; factories below.
//
// Leaves out on purpose: dtype promotion (ops require equal dtypes and say so), in-place
// ops on tensors that record gradients (only under NoGradGuard or on non-grad tensors),
// and a bool dtype (comparisons return i8 masks of 0/1).
#pragma once

#include "src/dtype.h"
#include "src/storage.h"

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

namespace bstack {

using Shape = std::vector<int64_t>;

std::string shape_str(const Shape& s);         // "[2, 3]"
int64_t shape_numel(const Shape& s);           // product; 1 for a 0-d shape
Shape contiguous_strides(const Shape& s);      // row-major strides in elements

class Generator;
struct Node;
struct TensorImpl;

class Tensor {
 public:
  Tensor() = default;  // an undefined tensor
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  TensorImpl* impl() const { return impl_.get(); }
  long impl_use_count() const { return impl_.use_count(); }

  // ---- metadata -----------------------------------------------------------------------------
  DType dtype() const;
  Device device() const;
  const Shape& shape() const;
  const Shape& strides() const;  // in elements
  int64_t offset() const;        // in elements, into the storage
  int64_t dim() const;
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const;
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const;
  std::string str() const;  // "tensor(f32, [2, 3], [[...]])" (at most a few elements per dim)

  // ---- data access --------------------------------------------------------------------------
  void* data_ptr() const;  // the first element (storage + offset)
  template <class T> T* data() const {
    check_dtype(dtype_of<T>, "data");
    return static_cast<T*>(data_ptr());
  }
  double item() const;  // a one-element tensor's value
  double get(const Shape& index) const;          // one element, as double
  void set(const Shape& index, double v) const;  // one element (no autograd)
  std::vector<double> to_vector() const;         // all elements, row-major, as double
  template <class T> std::vector<T> to_vector_as() const;

  // ---- views (share storage) ----------------------------------------------------------------
  Tensor view(const Shape& shape) const;     // needs compatible strides; -1 infers one dim
  Tensor reshape(const Shape& shape) const;  // a view when possible, else a copy
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;  // clamps
  Tensor select(int64_t dim, int64_t index) const;  // slice + squeeze
  Tensor expand(const Shape& shape) const;  // broadcast size-1 dims (stride 0); -1 keeps a dim
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor flatten() const;  // reshape({numel})
  Tensor t() const;        // transpose of the last two dims

  // ---- copies -------------------------------------------------------------------------------
  Tensor contiguous() const;  // self when already contiguous
  Tensor clone() const;       // always a new contiguous tensor (autograd: identity)
  Tensor to(DType t) const;   // converting copy (self when dtype equal)
  Tensor detach() const;      // shares storage, no autograd history

  // ---- in-place (refused when recording gradients for this tensor) --------------------------
  const Tensor& fill_(double v) const;
  const Tensor& copy_(const Tensor& src) const;  // src broadcast to this shape, dtype converted
  const Tensor& zero_() const { return fill_(0.0); }

  // ---- autograd -----------------------------------------------------------------------------
  bool requires_grad() const;
  const Tensor& requires_grad_(bool on = true) const;  // leaves only
  bool is_leaf() const;
  Tensor grad() const;  // undefined until backward reaches this leaf
  void set_grad(const Tensor& g) const;
  void zero_grad() const;  // drops the gradient
  const std::shared_ptr<Node>& grad_fn() const;
  // Reverse-mode backward. `grad` defaults to 1 for a one-element tensor; any other shape
  // needs an explicit gradient of the same shape. The graph is released unless retain_graph.
  void backward(const Tensor& grad = Tensor(), bool retain_graph = false) const;

 private:
  void check_dtype(DType t, const char* op) const;
  std::shared_ptr<TensorImpl> impl_;
};

// ---- factories ----------------------------------------------------------------------------
Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
Tensor zeros(const Shape& shape, DType dtype = DType::f32);
Tensor ones(const Shape& shape, DType dtype = DType::f32);
Tensor full(const Shape& shape, double value, DType dtype = DType::f32);
Tensor scalar_tensor(double value, DType dtype = DType::f32);  // 0-d
Tensor arange(double start, double end, double step = 1.0, DType dtype = DType::f32);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor rand(const Shape& shape, Generator& gen, DType dtype = DType::f32);   // U[0, 1)
Tensor randn(const Shape& shape, Generator& gen, DType dtype = DType::f32);  // N(0, 1)
Tensor uniform(const Shape& shape, double lo, double hi, Generator& gen, DType dtype = DType::f32);
template <class T> Tensor from_vector(const std::vector<T>& values, const Shape& shape);
Tensor from_doubles(const std::vector<double>& values, const Shape& shape, DType dtype);

// ---- gradient mode --------------------------------------------------------------------------
bool grad_enabled();  // per thread
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

// ---- backward observers ---------------------------------------------------------------------
// While a BackwardObserverScope is active on a thread, Tensor::backward() on that thread tells
// the observer when a leaf's gradient is final (every contribution accumulated into .grad) and
// after each op's backward. dist::DistributedDataParallel uses it to start a bucket's all-reduce
// as soon as its gradients are ready and to advance communication while backward computes (the
// role of PyTorch's post-accumulate-grad hooks in its DDP reducer).
class BackwardObserver {
 public:
  virtual ~BackwardObserver() = default;
  virtual void grad_ready(TensorImpl* leaf) = 0;  // compare with param.impl()
  virtual void node_done() {}
};
class BackwardObserverScope {
 public:
  explicit BackwardObserverScope(BackwardObserver* o);
  ~BackwardObserverScope();
  BackwardObserverScope(const BackwardObserverScope&) = delete;
  BackwardObserverScope& operator=(const BackwardObserverScope&) = delete;

 private:
  BackwardObserver* prev_;
};

}  // namespace bstack
