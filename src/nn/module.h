// Module: the base of every layer and model. A module owns named parameters (tensors that
// require grad), named buffers (state that is saved but not trained, e.g. BatchNorm's running
// mean) and named children; it has a train/eval mode, prints itself as a tree, and saves and
// loads its state_dict as an HDF5 checkpoint (atomic write; names, shapes and dtypes checked).
//
// Parameters live in the layer's own Tensor members; the module registers pointers to them,
// so to(dtype) and load_state_dict update what forward() uses. Modules are held by shared_ptr
// and never copied.
#pragma once

#include "src/tensor.h"

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace bstack::nn {

class Module {
 public:
  explicit Module(std::string type_name) : type_name_(std::move(type_name)) {}
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }

  const std::string& type_name() const { return type_name_; }
  virtual std::string repr() const { return type_name_ + "()"; }  // one line, no children
  std::string str() const;                                         // the whole tree

  // Recursive, in registration order, names joined with '.' ("blocks.0.attn.qkv.weight").
  std::vector<std::pair<std::string, Tensor>> named_parameters() const;
  std::vector<std::pair<std::string, Tensor>> named_buffers() const;
  std::vector<Tensor> parameters() const;
  int64_t num_parameters() const;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children() const { return children_; }

  std::map<std::string, Tensor> state_dict() const;  // parameters and buffers
  // Copies values in; every name must match, with equal shape and dtype (named on mismatch).
  void load_state_dict(const std::map<std::string, Tensor>& state, const std::string& source = "state_dict");

  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  void zero_grad();
  void to(DType dtype);  // converts floating parameters and buffers

 protected:
  void register_parameter(const std::string& name, Tensor* t);  // sets requires_grad
  void register_buffer(const std::string& name, Tensor* t);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    children_.emplace_back(name, m);
    return m;
  }

 private:
  void collect(const std::string& prefix, bool params,
               std::vector<std::pair<std::string, Tensor*>>& out) const;
  std::string type_name_;
  std::vector<std::pair<std::string, Tensor*>> params_, buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

// Checkpoints: format "bstack-checkpoint", version 1; tensors under "state/<name>".
void save_checkpoint(const Module& m, const std::string& path);
void load_checkpoint(Module& m, const std::string& path);

}  // namespace bstack::nn
