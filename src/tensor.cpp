// Tensor handle methods: metadata, element access, views and copies (with their gradients),
// in-place fills, and the factories.
#include "src/tensor.h"

#include "kernels/parallel.h"
#include "src/ops.h"
#include "src/ops_internal.h"
#include "src/profile/profiler.h"
#include "src/random.h"
#include "src/tensor_impl.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>

namespace bstack {

using detail::normalize_axis;

std::string shape_str(const Shape& s) { return fmt::format("[{}]", fmt::join(s, ", ")); }

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

Shape contiguous_strides(const Shape& s) {
  Shape st(s.size());
  int64_t acc = 1;
  for (int64_t d = static_cast<int64_t>(s.size()) - 1; d >= 0; --d) {
    st[d] = acc;
    acc *= std::max<int64_t>(s[d], 1);
  }
  return st;
}

// ---- metadata -------------------------------------------------------------------------------

#define BSTACK_REQUIRE_DEFINED(what) \
  BSTACK_CHECK(impl_ != nullptr, "{}: the tensor is undefined (default-constructed)", what)

DType Tensor::dtype() const { BSTACK_REQUIRE_DEFINED("dtype"); return impl_->dtype; }
Device Tensor::device() const { BSTACK_REQUIRE_DEFINED("device"); return impl_->storage->device(); }
const Shape& Tensor::shape() const { BSTACK_REQUIRE_DEFINED("shape"); return impl_->shape; }
const Shape& Tensor::strides() const { BSTACK_REQUIRE_DEFINED("strides"); return impl_->strides; }
int64_t Tensor::offset() const { BSTACK_REQUIRE_DEFINED("offset"); return impl_->offset; }
int64_t Tensor::dim() const { return static_cast<int64_t>(shape().size()); }
int64_t Tensor::size(int64_t d) const {
  BSTACK_CHECK(dim() > 0, "size: a 0-d tensor has no dim {}", d);
  return shape()[normalize_axis("size", d, dim())];
}
int64_t Tensor::numel() const { return shape_numel(shape()); }
const std::shared_ptr<Storage>& Tensor::storage() const { BSTACK_REQUIRE_DEFINED("storage"); return impl_->storage; }

bool Tensor::is_contiguous() const {
  const Shape& sh = shape();
  int64_t expect = 1;
  for (int64_t d = dim() - 1; d >= 0; --d) {
    if (sh[d] == 1) continue;
    if (impl_->strides[d] != expect) return false;
    expect *= sh[d];
  }
  return true;
}

void Tensor::check_dtype(DType t, const char* op) const {
  BSTACK_CHECK(dtype() == t, "{}: tensor has dtype {}, requested {}", op, dtype_name(dtype()),
               dtype_name(t));
}

void* Tensor::data_ptr() const {
  BSTACK_REQUIRE_DEFINED("data_ptr");
  return static_cast<char*>(impl_->storage->data()) + impl_->offset * dtype_size(impl_->dtype);
}

// ---- element access -------------------------------------------------------------------------

namespace {
int64_t element_offset(const Tensor& t, const Shape& index, const char* op) {
  BSTACK_CHECK(static_cast<int64_t>(index.size()) == t.dim(),
               "{}: index {} has {} dims, tensor {} has {}", op, shape_str(index), index.size(),
               shape_str(t.shape()), t.dim());
  int64_t off = 0;
  for (int64_t d = 0; d < t.dim(); ++d) {
    int64_t i = index[d] < 0 ? index[d] + t.shape()[d] : index[d];
    BSTACK_CHECK(i >= 0 && i < t.shape()[d], "{}: index {} out of range for shape {}", op,
                 shape_str(index), shape_str(t.shape()));
    off += i * t.strides()[d];
  }
  return off;
}
}  // namespace

double Tensor::get(const Shape& index) const {
  const int64_t off = element_offset(*this, index, "get");
  return visit_dtype(dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    return static_cast<double>(static_cast<const T*>(data_ptr())[off]);
  });
}

void Tensor::set(const Shape& index, double v) const {
  const int64_t off = element_offset(*this, index, "set");
  visit_dtype(dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    static_cast<T*>(data_ptr())[off] = static_cast<T>(v);
  });
}

double Tensor::item() const {
  BSTACK_CHECK(numel() == 1, "item: tensor of shape {} has {} elements, expected 1",
               shape_str(shape()), numel());
  return get(Shape(dim(), 0));
}

template <class T>
std::vector<T> Tensor::to_vector_as() const {
  std::vector<T> out(static_cast<size_t>(numel()));
  if (out.empty()) return out;
  Tensor c = contiguous();
  visit_dtype(dtype(), [&](auto tag) {
    using S = typename decltype(tag)::type;
    const S* p = static_cast<const S*>(c.data_ptr());
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<T>(p[i]);
  });
  return out;
}
template std::vector<float> Tensor::to_vector_as<float>() const;
template std::vector<double> Tensor::to_vector_as<double>() const;
template std::vector<int8_t> Tensor::to_vector_as<int8_t>() const;
template std::vector<int32_t> Tensor::to_vector_as<int32_t>() const;
template std::vector<int64_t> Tensor::to_vector_as<int64_t>() const;

std::vector<double> Tensor::to_vector() const { return to_vector_as<double>(); }

std::string Tensor::str() const {
  if (!defined()) return "tensor(undefined)";
  // Prints up to 6 values per dimension, nested like NumPy.
  std::string body;
  Shape idx(dim(), 0);
  auto rec = [&](auto&& self, int64_t d) -> void {
    if (d == dim()) {
      body += is_floating(dtype()) ? fmt::format("{:.4g}", get(idx))
                                   : fmt::format("{}", static_cast<int64_t>(get(idx)));
      return;
    }
    body += "[";
    const int64_t n = shape()[d];
    for (int64_t i = 0; i < n; ++i) {
      if (n > 6 && i == 3) {
        body += "..., ";
        i = n - 3;
      }
      idx[d] = i;
      self(self, d + 1);
      if (i + 1 < n) body += ", ";
    }
    body += "]";
  };
  rec(rec, 0);
  return fmt::format("tensor({}, {}, {})", dtype_name(dtype()), shape_str(shape()), body);
}

// ---- views ----------------------------------------------------------------------------------

Tensor make_view(const Tensor& base, Shape shape, Shape strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.storage();
  impl->shape = std::move(shape);
  impl->strides = std::move(strides);
  impl->offset = offset;
  impl->dtype = base.dtype();
  return Tensor(std::move(impl));
}

namespace {
// Resolves one -1 in `shape` against `numel`; checks the element count.
Shape infer_shape(const char* op, const Shape& from, Shape shape) {
  const int64_t n = shape_numel(from);
  int64_t known = 1, infer = -1;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == -1) {
      BSTACK_CHECK(infer < 0, "{}: only one dimension can be -1, got {}", op, shape_str(shape));
      infer = static_cast<int64_t>(d);
    } else {
      BSTACK_CHECK(shape[d] >= 0, "{}: negative dimension in {}", op, shape_str(shape));
      known *= shape[d];
    }
  }
  if (infer >= 0) {
    BSTACK_CHECK(known != 0 && n % known == 0, "{}: cannot reshape {} ({} elements) into {}", op,
                 shape_str(from), n, shape_str(shape));
    shape[infer] = n / known;
  }
  BSTACK_CHECK(shape_numel(shape) == n, "{}: cannot reshape {} ({} elements) into {} ({} elements)",
               op, shape_str(from), n, shape_str(shape), shape_numel(shape));
  return shape;
}

// Strides that view (shape, strides) as `target` without copying, or an empty optional.
// Groups old dims into chunks that are contiguous among themselves (as torch's computeStride).
std::optional<Shape> view_strides(const Shape& shape, const Shape& strides, const Shape& target) {
  if (shape.empty() || shape_numel(shape) == 0) return contiguous_strides(target);
  Shape out(target.size());
  int64_t view_d = static_cast<int64_t>(target.size()) - 1;
  int64_t chunk_base_stride = strides.empty() ? 1 : strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    tensor_numel *= shape[d];
    if (d == 0 || (shape[d - 1] != 1 && strides[d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || target[view_d] == 1)) {
        out[view_d] = view_numel * chunk_base_stride;
        view_numel *= target[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (d > 0) {
        chunk_base_stride = strides[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return out;
}
}  // namespace

Tensor Tensor::view(const Shape& shape_in) const {
  const Shape target = infer_shape("view", shape(), shape_in);
  auto st = view_strides(shape(), strides(), target);
  BSTACK_CHECK(st.has_value(),
               "view: a tensor of shape {} with strides {} cannot be viewed as {} without a copy; "
               "use reshape()", shape_str(shape()), shape_str(strides()), shape_str(target));
  Tensor out = make_view(*this, target, *st, offset());
  const Shape from = shape();
  return record(out, "view", {*this}, [from](const Tensor& g) {
    return std::vector<Tensor>{g.reshape(from)};
  });
}

Tensor Tensor::reshape(const Shape& shape_in) const {
  const Shape target = infer_shape("reshape", shape(), shape_in);
  if (view_strides(shape(), strides(), target)) return view(target);
  return contiguous().view(target);
}

Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
  BSTACK_CHECK(static_cast<int64_t>(dims.size()) == dim(),
               "permute: {} dims given for a tensor of shape {}", dims.size(), shape_str(shape()));
  Shape sh(dim()), st(dim());
  std::vector<int64_t> inverse(dim(), -1);
  for (int64_t i = 0; i < dim(); ++i) {
    const int64_t d = normalize_axis("permute", dims[i], dim());
    BSTACK_CHECK(inverse[d] < 0, "permute: dim {} repeated in {}", d, shape_str(dims));
    inverse[d] = i;
    sh[i] = shape()[d];
    st[i] = strides()[d];
  }
  Tensor out = make_view(*this, sh, st, offset());
  return record(out, "permute", {*this}, [inverse](const Tensor& g) {
    return std::vector<Tensor>{g.permute(inverse)};
  });
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
  d0 = normalize_axis("transpose", d0, dim());
  d1 = normalize_axis("transpose", d1, dim());
  if (dim() == 0) return *this;  // transpose(0, -1) of a 0-d tensor: nothing to swap
  std::vector<int64_t> p(dim());
  std::iota(p.begin(), p.end(), 0);
  std::swap(p[d0], p[d1]);
  return permute(p);
}

Tensor Tensor::t() const {
  BSTACK_CHECK(dim() >= 2, "t: needs at least 2 dims, got shape {}", shape_str(shape()));
  return transpose(-2, -1);
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
  BSTACK_CHECK(dim() > 0, "slice: cannot slice a 0-d tensor");
  d = normalize_axis("slice", d, dim());
  BSTACK_CHECK(step > 0, "slice: step must be positive, got {}", step);
  const int64_t n = shape()[d];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape sh = shape(), st = strides();
  sh[d] = (end - start + step - 1) / step;
  st[d] = strides()[d] * step;
  Tensor out = make_view(*this, sh, st, offset() + start * strides()[d]);
  const Shape from = shape();
  return record(out, "slice", {*this}, [from, d, start, end, step](const Tensor& g) {
    detail::OpTimer timer("slice_backward", {&g});  // zero-fill + copy: real traffic
    Tensor z = zeros(from, g.dtype());
    z.slice(d, start, end, step).copy_(g);
    timer.done(z, 0, static_cast<double>(g.numel()) * dtype_size(g.dtype()));
    return std::vector<Tensor>{z};
  });
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  BSTACK_CHECK(dim() > 0, "select: cannot select from a 0-d tensor");
  d = normalize_axis("select", d, dim());
  const int64_t n = shape()[d];
  BSTACK_CHECK(index >= -n && index < n, "select: index {} out of range for dim {} of size {}",
               index, d, n);
  if (index < 0) index += n;
  return slice(d, index, index + 1).squeeze(d);
}

Tensor Tensor::expand(const Shape& target) const {
  BSTACK_CHECK(static_cast<int64_t>(target.size()) >= dim(),
               "expand: cannot expand shape {} to fewer dims {}", shape_str(shape()),
               shape_str(target));
  const int64_t lead = static_cast<int64_t>(target.size()) - dim();
  Shape sh(target.size()), st(target.size());
  for (int64_t i = 0; i < static_cast<int64_t>(target.size()); ++i) {
    if (i < lead) {
      BSTACK_CHECK(target[i] >= 0, "expand: -1 not allowed in new leading dim of {}", shape_str(target));
      sh[i] = target[i];
      st[i] = 0;
      continue;
    }
    const int64_t have = shape()[i - lead];
    const int64_t want = target[i] == -1 ? have : target[i];
    BSTACK_CHECK(have == want || have == 1, "expand: cannot expand shape {} to {} (dim {}: {} vs {})",
                 shape_str(shape()), shape_str(target), i, have, want);
    sh[i] = want;
    st[i] = have == want ? strides()[i - lead] : 0;
  }
  Tensor out = make_view(*this, sh, st, offset());
  const Shape from = shape();
  return record(out, "expand", {*this}, [from](const Tensor& g) {
    return std::vector<Tensor>{sum_to(g, from)};
  });
}

Tensor Tensor::squeeze(int64_t d) const {
  d = normalize_axis("squeeze", d, dim());
  if (dim() == 0 || shape()[d] != 1) return *this;
  Shape sh = shape(), st = strides();
  sh.erase(sh.begin() + d);
  st.erase(st.begin() + d);
  Tensor out = make_view(*this, sh, st, offset());
  const Shape from = shape();
  return record(out, "squeeze", {*this}, [from](const Tensor& g) {
    return std::vector<Tensor>{g.reshape(from)};
  });
}

Tensor Tensor::unsqueeze(int64_t d) const {
  d = normalize_axis("unsqueeze", d, dim() + 1);
  Shape sh = shape(), st = strides();
  const int64_t stride = d < dim() ? strides()[d] * shape()[d] : 1;
  sh.insert(sh.begin() + d, 1);
  st.insert(st.begin() + d, stride);
  Tensor out = make_view(*this, sh, st, offset());
  const Shape from = shape();
  return record(out, "unsqueeze", {*this}, [from](const Tensor& g) {
    return std::vector<Tensor>{g.reshape(from)};
  });
}

Tensor Tensor::flatten() const { return reshape({numel()}); }

// ---- copies ---------------------------------------------------------------------------------

namespace {
// dst[i] = convert(src[i]) over dst's shape; src is read broadcast to it. No autograd.
void copy_elements(const Tensor& dst, const Tensor& src) {
  const Shape sst = detail::broadcast_strides(src, dst.shape());
  const Shape& dst_st = dst.strides();
  // Fast paths for the common cases (zeros/full: a broadcast scalar; clone of a contiguous
  // tensor): the general strided loop below does not vectorise and took 3% of a gpt-tiny step.
  const int64_t n = dst.numel();
  const bool src_scalar = std::all_of(sst.begin(), sst.end(), [](int64_t x) { return x == 0; });
  if (n > 0 && dst.is_contiguous() &&
      (src_scalar || (src.dtype() == dst.dtype() && src.is_contiguous() && src.shape() == dst.shape()))) {
    visit_dtype(dst.dtype(), [&](auto dtag) {
      using D = typename decltype(dtag)::type;
      D* d = static_cast<D*>(dst.data_ptr());
      if (src_scalar) {
        D v{};
        visit_dtype(src.dtype(), [&](auto stag) {
          using S = typename decltype(stag)::type;
          v = static_cast<D>(*static_cast<const S*>(src.data_ptr()));
        });
        kernels::parallel_for(n, 1, [&](int64_t b, int64_t e) { std::fill(d + b, d + e, v); });
      } else {
        const D* sp = static_cast<const D*>(src.data_ptr());
        kernels::parallel_for(n, 1, [&](int64_t b, int64_t e) { std::copy(sp + b, sp + e, d + b); });
      }
    });
    return;
  }
  visit_dtype(dst.dtype(), [&](auto dtag) {
    using D = typename decltype(dtag)::type;
    visit_dtype(src.dtype(), [&](auto stag) {
      using S = typename decltype(stag)::type;
      D* d = static_cast<D*>(dst.data_ptr());
      const S* s = static_cast<const S*>(src.data_ptr());
      detail::for_each_strided<2>(dst.shape(), {&dst_st, &sst},
                                  [&](const std::array<int64_t, 2>& off, int64_t n,
                                      const std::array<int64_t, 2>& inc) {
                                    D* dp = d + off[0];
                                    const S* sp = s + off[1];
                                    for (int64_t k = 0; k < n; ++k)
                                      dp[k * inc[0]] = static_cast<D>(sp[k * inc[1]]);
                                  });
    });
  });
}
}  // namespace

Tensor Tensor::clone() const {
  detail::OpTimer timer("clone", {this});
  Tensor out = empty(shape(), dtype());
  copy_elements(out, *this);
  timer.done(out, 0);
  return record(out, "clone", {*this}, [](const Tensor& g) { return std::vector<Tensor>{g}; });
}

Tensor Tensor::contiguous() const { return is_contiguous() ? *this : clone(); }

Tensor Tensor::to(DType t) const {
  if (t == dtype()) return *this;
  detail::OpTimer timer("to", {this});
  Tensor out = empty(shape(), t);
  copy_elements(out, *this);
  timer.done(out, 0);
  if (!is_floating(t) || !is_floating(dtype())) return out;  // no gradient through integers
  const DType from = dtype();
  return record(out, "to", {*this}, [from](const Tensor& g) { return std::vector<Tensor>{g.to(from)}; });
}

Tensor Tensor::detach() const { return make_view(*this, shape(), strides(), offset()); }

// ---- in-place -------------------------------------------------------------------------------

namespace {
void check_inplace(const Tensor& t, const char* op) {
  BSTACK_CHECK(!(grad_enabled() && t.requires_grad()),
               "{}: in-place change of a tensor of shape {} that requires grad; use NoGradGuard "
               "(e.g. for optimizer updates) or detach() first", op, shape_str(t.shape()));
}
}  // namespace

const Tensor& Tensor::fill_(double v) const {
  check_inplace(*this, "fill_");
  copy_elements(*this, scalar_tensor(v, DType::f64));
  return *this;
}

const Tensor& Tensor::copy_(const Tensor& src) const {
  check_inplace(*this, "copy_");
  detail::check_defined("copy_", src);
  detail::broadcast_shapes("copy_", src.shape(), shape());  // throws when not broadcastable
  BSTACK_CHECK(static_cast<int64_t>(src.dim()) <= dim() ||
                   shape_numel(src.shape()) == numel(),
               "copy_: source {} does not broadcast to {}", shape_str(src.shape()),
               shape_str(shape()));
  if (src.storage() == storage()) {  // may overlap: go through a temporary
    copy_elements(*this, src.detach().clone());
  } else {
    copy_elements(*this, src);
  }
  return *this;
}

// ---- autograd accessors ---------------------------------------------------------------------

bool Tensor::requires_grad() const { return impl_ && impl_->requires_grad; }
bool Tensor::is_leaf() const { return impl_ && !impl_->grad_fn; }
Tensor Tensor::grad() const { BSTACK_REQUIRE_DEFINED("grad"); return impl_->grad; }
const std::shared_ptr<Node>& Tensor::grad_fn() const { BSTACK_REQUIRE_DEFINED("grad_fn"); return impl_->grad_fn; }
void Tensor::zero_grad() const { BSTACK_REQUIRE_DEFINED("zero_grad"); impl_->grad = Tensor(); }

void Tensor::set_grad(const Tensor& g) const {
  BSTACK_REQUIRE_DEFINED("set_grad");
  if (g.defined())
    BSTACK_CHECK(g.shape() == shape() && g.dtype() == dtype(),
                 "set_grad: gradient {} {} does not match tensor {} {}", dtype_name(g.dtype()),
                 shape_str(g.shape()), dtype_name(dtype()), shape_str(shape()));
  impl_->grad = g;
}

const Tensor& Tensor::requires_grad_(bool on) const {
  BSTACK_REQUIRE_DEFINED("requires_grad_");
  BSTACK_CHECK(is_leaf(), "requires_grad_: only leaf tensors can change requires_grad");
  BSTACK_CHECK(!on || is_floating(dtype()), "requires_grad_: only f32/f64 tensors can require "
               "grad, got {}", dtype_name(dtype()));
  impl_->requires_grad = on;
  return *this;
}

// ---- factories ------------------------------------------------------------------------------

Tensor empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t d : shape)
    BSTACK_CHECK(d >= 0, "empty: negative dimension in shape {}", shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(shape_numel(shape) * dtype_size(dtype), device);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor full(const Shape& shape, double value, DType dtype) {
  Tensor t = empty(shape, dtype);
  NoGradGuard ng;
  t.fill_(value);
  return t;
}
Tensor zeros(const Shape& shape, DType dtype) { return full(shape, 0.0, dtype); }
Tensor ones(const Shape& shape, DType dtype) { return full(shape, 1.0, dtype); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype()); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), t.dtype()); }

Tensor scalar_tensor(double value, DType dtype) {
  Tensor t = empty({}, dtype);
  visit_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    *static_cast<T*>(t.data_ptr()) = static_cast<T>(value);
  });
  return t;
}

Tensor arange(double start, double end, double step, DType dtype) {
  BSTACK_CHECK(step != 0.0, "arange: step must be non-zero");
  const double n = std::ceil((end - start) / step);
  Tensor t = empty({n > 0 ? static_cast<int64_t>(n) : 0}, dtype);
  visit_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = static_cast<T*>(t.data_ptr());
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(start + i * step);
  });
  return t;
}

namespace {
// Fills a new tensor from the generator in row-major order (deterministic given the seed,
// independent of the thread count).
template <class Draw>
Tensor random_fill(const Shape& shape, DType dtype, Draw draw) {
  Tensor t = empty(shape, dtype);
  visit_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = static_cast<T*>(t.data_ptr());
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(draw());
  });
  return t;
}
}  // namespace

Tensor rand(const Shape& shape, Generator& gen, DType dtype) {
  return random_fill(shape, dtype, [&] { return gen.uniform(); });
}
Tensor randn(const Shape& shape, Generator& gen, DType dtype) {
  return random_fill(shape, dtype, [&] { return gen.normal(); });
}
Tensor uniform(const Shape& shape, double lo, double hi, Generator& gen, DType dtype) {
  return random_fill(shape, dtype, [&] { return lo + (hi - lo) * gen.uniform(); });
}

template <class T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape) {
  BSTACK_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape),
               "from_vector: {} values for shape {} ({} elements)", values.size(), shape_str(shape),
               shape_numel(shape));
  Tensor t = empty(shape, dtype_of<T>);
  std::copy(values.begin(), values.end(), static_cast<T*>(t.data_ptr()));
  return t;
}
template Tensor from_vector<float>(const std::vector<float>&, const Shape&);
template Tensor from_vector<double>(const std::vector<double>&, const Shape&);
template Tensor from_vector<int8_t>(const std::vector<int8_t>&, const Shape&);
template Tensor from_vector<int32_t>(const std::vector<int32_t>&, const Shape&);
template Tensor from_vector<int64_t>(const std::vector<int64_t>&, const Shape&);

Tensor from_doubles(const std::vector<double>& values, const Shape& shape, DType dtype) {
  return from_vector(values, shape).to(dtype);
}

}  // namespace bstack
