#include "calibrate/model_workload.h"
#include "src/util/strings.h"

#include "calibrate/compare.h"
#include "src/data/datasets.h"
#include "src/nn/loss.h"
#include "src/nn/zoo.h"
#include "src/ops.h"
#include "src/optim/optim.h"
#include "src/profile/profiler.h"
#include "src/storage.h"
#include "src/tensor_impl.h"  // the autograd graph's nodes, read (never changed) for the memory model
#include "src/train/train.h"
#include "walls/footprint.h"

#include <cmath>
#include <fmt/format.h>
#include <memory>
#include <optional>
#include <unordered_map>
#include <unordered_set>

namespace bstack::calibrate {
namespace {

// The two small batches every figure is extrapolated from (see the header).
constexpr int64_t kB1 = 2, kB2 = 3;

struct Inputs {
  nn::ModelSpec spec;
  bool tokens = false;  // gpt-tiny: (B, T) token ids; image models: (B, C, H, W) floats
  int64_t context = 0;
  std::string source;
};

// The model's input shape, as train.cpp's load() derives it. The shipped digits are 1x8x8 with
// 10 classes (data/digits.csv.gz; tests check this against the file), so the default needs no
// loading; gpt-tiny's vocabulary is the text's distinct characters (data::CharTokenizer), read
// from the text (GPL-3 is 35 KB); other data sets are loaded to learn their shape and classes.
Inputs model_inputs(const ModelWorkloadOptions& o) {
  Inputs in;
  in.spec.name = o.model;
  if (o.model == "gpt-tiny") {
    in.source = o.data.empty() ? "/usr/share/common-licenses/GPL-3" : o.data;
    in.spec.vocab = data::CharTokenizer(data::read_file(in.source)).size();
    in.tokens = true;
    in.context = nn::GPTConfig{}.context;
    return in;
  }
  const std::string d = o.data.empty() ? "digits" : o.data;
  if (d == "digits") {
    in.source = "digits";
    in.spec.input = {1, 8, 8};
    in.spec.classes = 10;
    return in;
  }
  data::Dataset ds;
  if (d.rfind("idx:", 0) == 0) {
    const auto parts = split_commas(d.substr(4));
    BSTACK_CHECK(parts.size() == 2, "--data idx:IMAGES,LABELS needs two files, got '{}'", d);
    ds = data::load_idx(parts[0], parts[1]);
  } else if (d.rfind("cifar10:", 0) == 0) {
    ds = data::load_cifar10(split_commas(d.substr(8)));
  } else {
    ds = data::load_digits(d);
  }
  in.source = d;
  in.spec.input = Shape(ds.x.shape().begin() + 1, ds.x.shape().end());
  in.spec.classes = std::max<int64_t>(2, static_cast<int64_t>(max(ds.y).item()) + 1);
  return in;
}

// Synthetic inputs of the right shape and dtype (the loader's: f32 images, i64 labels and ids).
// Values do not change any op's FLOPs or bytes (causal attention counts pairs by position).
std::pair<Tensor, Tensor> synthetic_batch(const Inputs& in, int64_t B) {
  if (in.tokens) {
    const int64_t T = in.context, V = in.spec.vocab;
    std::vector<int64_t> x(B * T), y(B * T);
    for (int64_t i = 0; i < B * T; ++i) {
      x[i] = (i * 7 + 3) % V;
      y[i] = (i * 7 + 10) % V;
    }
    return {from_vector(x, {B, T}), from_vector(y, {B, T})};
  }
  Shape xs = in.spec.input;
  xs.insert(xs.begin(), B);
  int64_t n = B;
  for (int64_t d : in.spec.input) n *= d;
  std::vector<float> x(n);
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>((i * 37) % 17) / 16.0f;
  std::vector<int64_t> y(B);
  for (int64_t i = 0; i < B; ++i) y[i] = i % in.spec.classes;
  return {from_vector(x, xs), from_vector(y, {B})};
}

std::unique_ptr<optim::Optimizer> make_optimizer(const std::string& name, std::vector<Tensor> params) {
  // As train.cpp's make_optimizer (its lr does not change any figure here).
  if (name == "adam") return std::make_unique<optim::Adam>(params, optim::AdamOptions{});
  if (name == "adamw") return std::make_unique<optim::Adam>(params, optim::AdamOptions{.decoupled = true});
  if (name == "sgd") return std::make_unique<optim::SGD>(params, optim::SGDOptions{.momentum = 0.9});
  fail("unknown optimizer '{}' (choose adam, adamw or sgd)", name);
}

// ---- the memory model ------------------------------------------------------------------------
//
// bstack's autograd (src/autograd.cpp) decides what a training step holds:
//  - every recorded op's Node keeps its inputs (Node::inputs) until the graph is destroyed at the
//    end of the step, so every tensor that fed an op -- the batch, every intermediate output --
//    stays through the whole backward pass: "activations kept for backward" are the distinct
//    storages reachable as node inputs (parameters excluded), plus the loss;
//  - some backward closures keep extra tensors, released when their op's backward has run: the
//    max-pool winners (i32, output-sized), the row statistics of layer norm (mean, rstd) and of
//    cross-entropy and attention (log-sum-exp), copies of non-contiguous inputs;
//  - the previous step's gradients live until zero_grad(), which train.cpp calls after the
//    forward pass: at the end of forward, parameters + gradients + optimizer state + activations
//    are all held (Korthikanti et al. 2022 sec. 4 count the same activations per layer);
//  - backward walks the graph in reverse topological order with a map of pending gradients; an
//    op's backward allocates its input gradients (views -- view, permute, squeeze, add's
//    same-shape operands -- share the incoming gradient's storage instead), copies a
//    non-contiguous incoming gradient where the kernel needs contiguous data, and two gradients
//    reaching one tensor are summed into a third; parameter gradients become .grad;
//  - the loader assembles the next batch on its thread during the step (workspace).
// The replay below follows those rules over the real graph of a small batch (its shapes and
// strides); each point where the held total can peak is one moment.
struct GradRef {
  int buf = -1;
  Shape shape, strides;
};

Shape contiguous_strides(const Shape& s) {
  Shape st(s.size());
  int64_t acc = 1;
  for (size_t i = s.size(); i-- > 0;) {
    st[i] = acc;
    acc *= s[i];
  }
  return st;
}

bool contiguous(const Shape& shape, const Shape& strides) {
  int64_t acc = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    if (shape[i] == 1) continue;
    if (strides[i] != acc) return false;
    acc *= shape[i];
  }
  return true;
}

double numel(const Shape& s) {
  double n = 1;
  for (int64_t d : s) n *= static_cast<double>(d);
  return n;
}

double tensor_bytes(const Tensor& t) { return numel(t.shape()) * static_cast<double>(dtype_size(t.dtype())); }

class Replay {
 public:
  Replay(const Tensor& loss, const nn::Module& model, const Tensor& bx, const Tensor& by, double opt_states)
      : es_(static_cast<double>(dtype_size(loss.dtype()))) {
    std::unordered_set<const Storage*> params;
    for (const Tensor& p : model.parameters()) {
      params.insert(p.storage().get());
      param_bytes_ += tensor_bytes(p);
    }
    opt_bytes_ = opt_states * param_bytes_;
    next_batch_ = tensor_bytes(bx) + tensor_bytes(by);
    order_ = backward_order(loss.impl());  // as Tensor::backward runs it
    // Activations: distinct storages the graph holds (all of a node's inputs, whether or not they
    // need a gradient), the batch and the loss.
    // A storage's nbytes is the byte size of the tensor that created it (numel x dtype size; the
    // views into it -- q, k, v of one qkv projection -- share it): a shape, not an allocator figure.
    std::unordered_set<const Storage*> kept;
    auto keep = [&](const Tensor& t) {
      const Storage* s = t.storage().get();
      if (s && !params.count(s) && kept.insert(s).second) activations_ += static_cast<double>(s->nbytes());
    };
    keep(loss);
    keep(bx);
    keep(by);
    for (TensorImpl* t : order_) {
      if (!t->grad_fn) continue;
      for (const Tensor& in : t->grad_fn->inputs) keep(in);
      const double e = closure_extra(*t->grad_fn, *t);
      extra_[t->grad_fn.get()] = e;
      extras_ += e;
    }
    // The accuracy (argmax, eq, sum under no-grad) right after forward: an i64 and an i8 per row.
    const Shape logits = loss.grad_fn() ? loss.grad_fn()->inputs[0].shape() : Shape{1};
    const double rows = numel(logits) / static_cast<double>(std::max<int64_t>(1, logits.back()));
    accuracy_temp_ = rows * (8 + 1);
  }

  std::vector<walls::MemoryInventory> moments() {
    std::vector<walls::MemoryInventory> out;
    // End of forward (previous step's gradients still held; train.cpp zeroes them after forward).
    out.push_back({param_bytes_, param_bytes_, opt_bytes_, activations_ + extras_, next_batch_ + accuracy_temp_});
    // Backward, after zero_grad.
    double grads = 0, extras = extras_;
    auto moment = [&](double temp) {
      double leaf = 0;
      std::unordered_set<int> counted;
      for (const auto& [t, g] : pending_)
        if (!t->grad_fn && counted.insert(g.buf).second) leaf += bufs_[g.buf].bytes;
      out.push_back({param_bytes_, grads + leaf, opt_bytes_, activations_ + extras,
                     live_ - leaf + temp + next_batch_});
    };
    TensorImpl* root = order_.back();
    pending_[root] = alloc(root->shape);  // ones(): the loss's gradient
    for (auto it = order_.rbegin(); it != order_.rend(); ++it) {
      TensorImpl* t = *it;
      auto found = pending_.find(t);
      if (found == pending_.end()) continue;
      const GradRef g = found->second;
      pending_.erase(found);
      if (!t->grad_fn) {  // a leaf: the gradient becomes .grad, moved when nobody shares it
        const double bytes = numel(t->shape) * es_;
        if (bufs_[g.buf].refs == 1 && contiguous(g.shape, g.strides)) {
          unref(g.buf);
          grads += bytes;
        } else {
          moment(bytes);  // the clone beside its source
          grads += bytes;
          unref(g.buf);
        }
        continue;
      }
      const Node& node = *t->grad_fn;
      double temp = 0;
      std::vector<std::optional<GradRef>> gin = input_grads(node, *t, g, temp);
      moment(temp);
      for (size_t i = 0; i < gin.size(); ++i) {
        if (!gin[i]) continue;
        TensorImpl* in = node.inputs[i].impl();
        auto slot = pending_.find(in);
        if (slot == pending_.end()) {
          ref(gin[i]->buf);
          pending_[in] = *gin[i];
          continue;
        }
        GradRef sum = alloc(in->shape);  // slot + gin: a new tensor beside both
        moment(0);
        unref(slot->second.buf);
        slot->second = sum;
      }
      for (auto& r : gin)
        if (r) unref(r->buf);
      extras -= extra_[t->grad_fn.get()];
      unref(g.buf);
    }
    return out;
  }

 private:
  struct Buf {
    double bytes = 0;
    int refs = 0;
  };

  GradRef alloc(const Shape& s, Shape strides = {}) {
    bufs_.push_back({numel(s) * es_, 0});
    GradRef r{static_cast<int>(bufs_.size()) - 1, s, strides.empty() ? contiguous_strides(s) : strides};
    ref(r.buf);
    return r;
  }
  void ref(int b) {
    if (bufs_[b].refs++ == 0) live_ += bufs_[b].bytes;
  }
  void unref(int b) {
    if (--bufs_[b].refs == 0) live_ -= bufs_[b].bytes;
  }
  GradRef share(const GradRef& g, const Shape& shape, const Shape& strides) {
    ref(g.buf);
    return {g.buf, shape, strides};
  }

  // Tensors a backward closure holds beyond its node's inputs (see the rules above).
  double closure_extra(const Node& n, const TensorImpl& out) const {
    const auto& in = n.inputs;
    auto copy_if_strided = [&](const Tensor& x) { return x.is_contiguous() ? 0.0 : tensor_bytes(x); };
    if (n.name == "max_pool2d") return numel(out.shape) * 4;  // i32 winners
    if (n.name == "cross_entropy") return static_cast<double>(in[0].size(0)) * es_;  // lse per row
    if (n.name == "layer_norm")
      return 2 * numel(in[0].shape()) / static_cast<double>(in[0].size(-1)) * es_ + copy_if_strided(in[0]);
    if (n.name == "scaled_dot_product_attention") {
      double e = numel(in[0].shape()) / static_cast<double>(in[0].size(-1)) * es_;  // lse (B, H, Tq)
      for (const Tensor& x : in)
        if (x.size(-1) > 1 && x.strides().back() != 1) e += tensor_bytes(x);  // unit_last copies
      return e;
    }
    if (n.name == "linear" || n.name == "conv2d") return copy_if_strided(in[0]);
    return 0;
  }

  // The gradients an op's backward hands its inputs (null: none), and the temporaries it holds
  // while it runs (added to `temp`).
  std::vector<std::optional<GradRef>> input_grads(const Node& n, const TensorImpl& out, const GradRef& g,
                                                 double& temp) {
    const auto& in = n.inputs;
    std::vector<std::optional<GradRef>> gin(in.size());
    const bool g_contig = contiguous(g.shape, g.strides);
    const double g_bytes = bufs_[g.buf].bytes;
    auto fresh = [&](size_t i) { gin[i] = alloc(in[i].shape()); };
    const std::string& op = n.name;
    if (op == "view" || op == "squeeze" || op == "unsqueeze") {  // g.reshape(input shape)
      const Shape& from = in[0].shape();
      if (g_contig) {
        gin[0] = share(g, from, contiguous_strides(from));
      } else {
        // Only size-1 dims added or dropped: a view with g's strides; otherwise a copy.
        Shape gs, gt, fs;
        for (size_t d = 0; d < g.shape.size(); ++d)
          if (g.shape[d] != 1) gs.push_back(g.shape[d]), gt.push_back(g.strides[d]);
        for (int64_t d : from)
          if (d != 1) fs.push_back(d);
        if (gs == fs) {
          Shape st(from.size(), 1);
          for (size_t d = 0, k = 0; d < from.size(); ++d)
            if (from[d] != 1) st[d] = gt[k++];
          gin[0] = share(g, from, st);
        } else {
          gin[0] = alloc(from);
        }
      }
    } else if (op == "permute") {  // g.permute(inverse): a view
      // The forward permutation p (out dim i = input dim p[i]), from the output's shape and strides.
      const Shape &os = out.shape, &xs = in[0].shape(), &xt = in[0].strides();
      std::vector<int> used(xs.size(), 0);
      Shape st(xs.size(), 1);
      bool ok = true;
      for (size_t i = 0; i < os.size(); ++i) {
        // out stride i == input stride p[i] and sizes match; pick the first unused.
        size_t j = 0;
        while (j < xs.size() && (used[j] || xs[j] != os[i] || xt[j] != out.strides[i])) ++j;
        if (j == xs.size()) {
          ok = false;
          break;
        }
        used[j] = 1;
        st[j] = g.strides[i];
      }
      if (ok)
        gin[0] = share(g, xs, st);
      else
        fresh(0);
    } else if (op == "add" || op == "sub") {  // sum_to(g, shape): g itself when shapes agree
      for (size_t i = 0; i < in.size(); ++i) {
        if (!in[i].requires_grad()) continue;
        if (in[i].shape() == g.shape && !(op == "sub" && i == 1)) gin[i] = share(g, g.shape, g.strides);
        else fresh(i);
      }
    } else if (op == "scaled_dot_product_attention") {
      if (g.shape.back() > 1 && g.strides.back() != 1) temp += g_bytes;  // unit_last(g)
      for (size_t i = 0; i < in.size(); ++i) {
        if (!in[i].requires_grad()) continue;
        const Shape& s = in[i].shape();
        if (in[i].is_contiguous() || s.size() != 4) {
          fresh(i);
        } else {  // empty_grad_like: (B, T, H, D) memory seen as (B, H, T, D)
          gin[i] = alloc(s, {s[2] * s[1] * s[3], s[3], s[1] * s[3], 1});
        }
      }
    } else {
      // The fused kernels (linear, conv2d, layer_norm, max_pool2d, the unary ops' gradients,
      // cross_entropy) read a contiguous gradient: a strided one is copied first.
      if (!g_contig) temp += g_bytes;
      for (size_t i = 0; i < in.size(); ++i)
        if (in[i].requires_grad()) fresh(i);
    }
    return gin;
  }

  double es_;
  double param_bytes_ = 0, opt_bytes_ = 0, next_batch_ = 0, activations_ = 0, extras_ = 0, accuracy_temp_ = 0;
  std::vector<TensorImpl*> order_;
  std::unordered_map<const Node*, double> extra_;
  std::vector<Buf> bufs_;
  double live_ = 0;
  std::unordered_map<TensorImpl*, GradRef> pending_;
};

struct SmallStep {
  std::vector<OpRecord> ops;
  std::vector<walls::MemoryInventory> moments;
  int64_t parameters = 0;
  double gradient_bytes = 0, parameter_bytes = 0;
};

// One step of train.cpp at batch B (after one unprofiled warm-up step, so the optimizer's state
// exists as in every later step), profiled; and its memory moments.
SmallStep small_step(const Inputs& in, const ModelWorkloadOptions& o, int64_t B) {
  Generator init(0);
  std::shared_ptr<nn::Module> model = nn::make_model(in.spec, init);
  SmallStep r;
  r.parameters = model->num_parameters();
  for (const Tensor& p : model->parameters()) {
    r.parameter_bytes += tensor_bytes(p);
    if (p.requires_grad()) r.gradient_bytes += tensor_bytes(p);
  }
  auto [x, y] = synthetic_batch(in, B);
  if (!o.training) {
    model->eval();
    NoGradGuard ng;
    Profiler prof;
    {
      ProfileScope scope(prof);
      Tensor logits = model->forward(x);
    }
    r.ops = prof.ops;
    // Inference holds the weights, the batch and, at each op, its operands and output (the op's
    // bytes, which count the weights it reads too: an upper bound by at most the weights).
    for (const OpRecord& op : r.ops)
      r.moments.push_back({r.parameter_bytes, 0, 0, tensor_bytes(x), op.bytes});
    return r;
  }
  std::unique_ptr<optim::Optimizer> opt = make_optimizer(o.optimizer, model->parameters());
  const double opt_states = walls::optimizer_states_per_parameter(o.optimizer);
  for (int step = 0; step < 2; ++step) {
    Profiler prof;
    std::optional<ProfileScope> scope;
    if (step == 1) scope.emplace(prof);
    // train.cpp's loss_and_correct, then zero_grad, backward, step.
    Tensor logits = model->forward(x);
    const int64_t V = logits.size(-1);
    Tensor flat = logits.reshape({-1, V});
    Tensor target = y.reshape({-1});
    Tensor loss = nn::cross_entropy(flat, target);
    if (step == 1) {
      scope.reset();  // the replay runs no op, but keep the profile to the step's own ops
      Replay replay(loss, *model, x, y, opt_states);
      r.moments = replay.moments();
      scope.emplace(prof);
    }
    {
      NoGradGuard ng;
      (void)sum(eq(argmax(flat.detach(), 1), target)).item();
    }
    opt->zero_grad();
    loss.backward();
    opt->step();
    if (step == 1) {
      scope.reset();
      r.ops = prof.ops;
    }
  }
  return r;
}

}  // namespace

bool is_zoo_model(const std::string& name) {
  for (const std::string& n : nn::zoo_names())
    if (n == name) return true;
  return false;
}

walls::Workload model_workload(const ModelWorkloadOptions& o) {
  BSTACK_CHECK(is_zoo_model(o.model), "unknown model '{}' (choose one of perceptron, mlp, cnn, gpt-tiny)", o.model);
  BSTACK_CHECK(o.batch >= 1, "batch must be at least 1, got {}", o.batch);
  BSTACK_CHECK(o.optimizer == "adam" || o.optimizer == "adamw" || o.optimizer == "sgd",
               "unknown optimizer '{}' (choose adam, adamw or sgd)", o.optimizer);
  const Inputs in = model_inputs(o);
  const SmallStep a = small_step(in, o, kB1), b = small_step(in, o, kB2);
  BSTACK_CHECK(a.ops.size() == b.ops.size() && a.moments.size() == b.moments.size(),
               "{}: a step at batch {} runs {} ops, at batch {} {}: the workload cannot be extrapolated",
               o.model, kB1, a.ops.size(), kB2, b.ops.size());
  const double t = static_cast<double>(o.batch - kB1) / static_cast<double>(kB2 - kB1);
  walls::Workload w;
  w.name = o.model;
  w.training = o.training;
  w.batch = o.batch;
  w.parameters = static_cast<double>(a.parameters);
  w.bytes_per_element = 4;
  w.gradient_bytes = o.training ? a.gradient_bytes : 0;
  for (size_t i = 0; i < a.ops.size(); ++i) {
    const OpRecord &p = a.ops[i], &q = b.ops[i];
    BSTACK_CHECK(p.name == q.name && p.backward == q.backward,
                 "{}: op {} is {}{} at batch {} but {}{} at batch {}: the workload cannot be extrapolated", o.model,
                 i, p.name, p.backward ? " (backward)" : "", kB1, q.name, q.backward ? " (backward)" : "", kB2);
    walls::OpCost c;
    c.name = p.name;
    c.backward = p.backward;
    c.flops = p.flops + (q.flops - p.flops) * t;
    c.bytes = p.bytes + (q.bytes - p.bytes) * t;
    c.is_gemm = is_gemm_op(p.name);
    w.ops.push_back(c);
  }
  const walls::PeakMemory peak = walls::peak_at_batch(a.moments, kB1, b.moments, kB2, static_cast<double>(o.batch));
  w.memory = peak.memory;
  w.description = fmt::format("bstack {} ({}), batch {}, {} parameters, fp32, {}", o.model, in.source, o.batch,
                              a.parameters, o.training ? fmt::format("training with {}", o.optimizer) : "inference");
  return w;
}

}  // namespace bstack::calibrate
