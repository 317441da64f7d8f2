#include "src/nn/module.h"

#include "src/io/tensor_io.h"
#include "src/ops.h"
#include "src/tensor_impl.h"

#include <fmt/format.h>


namespace bstack::nn {

void Module::register_parameter(const std::string& name, Tensor* t) {
  BSTACK_CHECK(t && t->defined(), "{}: parameter '{}' is undefined", type_name_, name);
  t->requires_grad_(true);
  params_.emplace_back(name, t);
}

void Module::register_buffer(const std::string& name, Tensor* t) {
  BSTACK_CHECK(t && t->defined(), "{}: buffer '{}' is undefined", type_name_, name);
  buffers_.emplace_back(name, t);
}

void Module::collect(const std::string& prefix, bool params,
                     std::vector<std::pair<std::string, Tensor*>>& out) const {
  for (const auto& [n, t] : params ? params_ : buffers_) out.emplace_back(prefix + n, t);
  for (const auto& [n, c] : children_) c->collect(prefix + n + ".", params, out);
}

namespace {
std::vector<std::pair<std::string, Tensor>> values(const std::vector<std::pair<std::string, Tensor*>>& refs) {
  std::vector<std::pair<std::string, Tensor>> out;
  for (const auto& [n, t] : refs) out.emplace_back(n, *t);
  return out;
}
}  // namespace

std::vector<std::pair<std::string, Tensor>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Tensor*>> ps;
  collect("", true, ps);
  return values(ps);
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers() const {
  std::vector<std::pair<std::string, Tensor*>> bs;
  collect("", false, bs);
  return values(bs);
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters()) out.push_back(t);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const Tensor& t : parameters()) n += t.numel();
  return n;
}

std::string Module::str() const {
  if (children_.empty()) return repr();
  std::string s = type_name_ + "(\n";
  for (const auto& [n, c] : children_) {
    std::string child = c->str();
    // indent nested lines
    std::string indented;
    for (char ch : child) {
      indented += ch;
      if (ch == '\n') indented += "  ";
    }
    s += fmt::format("  ({}): {}\n", n, indented);
  }
  return s + ")";
}

std::map<std::string, Tensor> Module::state_dict() const {
  std::map<std::string, Tensor> out;
  for (auto& [n, t] : named_parameters()) out[n] = t;
  for (auto& [n, t] : named_buffers()) out[n] = t;
  return out;
}

void Module::load_state_dict(const std::map<std::string, Tensor>& state, const std::string& source) {
  std::vector<std::pair<std::string, Tensor*>> mine;
  collect("", true, mine);
  collect("", false, mine);
  for (const auto& [n, t] : mine) {
    auto it = state.find(n);
    BSTACK_CHECK(it != state.end(), "{}: missing '{}' ({} {}) for {}", source, n,
                 dtype_name(t->dtype()), shape_str(t->shape()), type_name_);
    BSTACK_CHECK(it->second.shape() == t->shape() && it->second.dtype() == t->dtype(),
                 "{}: '{}' is {} {}, the model expects {} {}", source, n,
                 dtype_name(it->second.dtype()), shape_str(it->second.shape()),
                 dtype_name(t->dtype()), shape_str(t->shape()));
  }
  for (const auto& [n, t] : state) {
    bool known = false;
    for (const auto& m : mine) known = known || m.first == n;
    BSTACK_CHECK(known, "{}: unexpected entry '{}' (not in {})", source, n, type_name_);
  }
  NoGradGuard ng;
  for (const auto& [n, t] : mine) t->copy_(state.at(n));
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, c] : children_) c->train(on);
}

void Module::zero_grad() {
  for (const Tensor& t : parameters()) t.zero_grad();
}

void Module::to(DType dtype) {
  std::vector<std::pair<std::string, Tensor*>> all;
  collect("", true, all);
  const size_t nparams = all.size();
  collect("", false, all);
  for (size_t i = 0; i < all.size(); ++i) {
    Tensor* t = all[i].second;
    if (!is_floating(t->dtype()) || t->dtype() == dtype) continue;
    *t = t->detach().to(dtype);
    if (i < nparams) t->requires_grad_(true);
  }
}

void save_checkpoint(const Module& m, const std::string& path) {
  H5Writer w(path, "bstack-checkpoint", 1);
  for (const auto& [n, t] : m.state_dict()) write_tensor(w, "state/" + n, t);
  w.attr("/", "model", m.type_name());
  w.commit();
}

void load_checkpoint(Module& m, const std::string& path) {
  H5Reader r(path, "bstack-checkpoint", 1, 1);
  std::map<std::string, Tensor> state;
  for (const auto& [n, t] : m.state_dict()) {
    const std::string key = "state/" + n;
    BSTACK_CHECK(r.has(key), "{}: missing '{}' ({} {}) for {}", path, n, dtype_name(t.dtype()),
                 shape_str(t.shape()), m.type_name());
    state[n] = read_tensor(r, key);
  }
  m.load_state_dict(state, path);
}

}  // namespace bstack::nn
