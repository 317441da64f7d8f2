// scaled_dot_product_attention: the Tensor op over the tiled kernels of kernels/attention.h
// (FlashAttention-2, Dao 2023), with its backward. Saves q, k, v, the output and the per-row
// log-sum-exp (B*H*Tq values), never the (Tq, Tk) probabilities: memory stays linear in T.
//
// Layout: operands are read through their strides (a head slice of a fused qkv projection is
// not copied) as long as D is unit-stride; others are made contiguous first. The output is
// allocated (B, T, H, D) in memory and returned as a (B, H, T, D) view, so the usual
// y.transpose(1, 2).reshape({B, T, H*D}) that merges heads is a view, not a copy; so are the
// gradients of non-contiguous inputs (head slices), while contiguous inputs get contiguous ones.
#include "kernels/attention.h"
#include "src/ops.h"
#include "src/ops_internal.h"
#include "src/profile/profiler.h"

#include <cmath>

namespace bstack {

namespace {

// (B, H, T, D) memory laid out as (B, T, H, D).
Tensor empty_bthd(int64_t B, int64_t H, int64_t T, int64_t D, DType dt) {
  return empty({B, T, H, D}, dt).transpose(1, 2);
}

// The gradient of input x: contiguous when x is (a leaf's clone then stays a plain copy),
// else (B, T, H, D) in memory, which is what the head-split views of a qkv projection undo
// without a copy (transpose, then reshape to (B, T, H*D)).
Tensor empty_grad_like(const Tensor& x) {
  if (x.is_contiguous()) return empty(x.shape(), x.dtype());
  return empty_bthd(x.size(0), x.size(1), x.size(2), x.size(3), x.dtype());
}

// x itself when its last dim is unit-stride (or has one element), else a contiguous copy.
Tensor unit_last(const Tensor& x) {
  return x.size(3) <= 1 || x.strides()[3] == 1 ? x : x.contiguous();
}

template <class T, class P>
kernels::AttnTensor<P> view_of(const Tensor& x) {
  const Shape& s = x.strides();
  return {static_cast<P*>(x.data_ptr()), s[0], s[1], s[2]};
}

template <class T>
kernels::AttnTensor<const T> cview(const Tensor& x) {
  return view_of<T, const T>(x);
}
template <class T>
kernels::AttnTensor<T> mview(const Tensor& x) {
  return view_of<T, T>(x);
}

// (B, T, 3*H*D) -> the (B, H, T, D) view of block i (0 q, 1 k, 2 v): no copy.
Tensor head_block(const Tensor& qkv, int64_t i, int64_t heads) {
  const int64_t B = qkv.size(0), T = qkv.size(1), C = qkv.size(2) / 3;
  return qkv.slice(2, i * C, (i + 1) * C).reshape({B, T, heads, C / heads}).transpose(1, 2);
}

// The forward kernel under the profiler; lse (B, H, Tq) is filled when `keep_lse`.
std::pair<Tensor, Tensor> attention_forward_op(const kernels::AttentionDims& dims, const Tensor& q,
                                               const Tensor& k, const Tensor& v, bool keep_lse,
                                               std::initializer_list<const Tensor*> profiled,
                                               double pairs) {
  detail::OpTimer timer("scaled_dot_product_attention", profiled);
  Tensor out = empty_bthd(dims.B, dims.H, dims.Tq, dims.D, q.dtype());
  Tensor lse = keep_lse ? empty({dims.B, dims.H, dims.Tq}, q.dtype()) : Tensor();
  visit_floating(q.dtype(), "scaled_dot_product_attention", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::attention_forward<T>(dims, cview<T>(q), cview<T>(k), cview<T>(v), mview<T>(out),
                                  lse.defined() ? lse.data<T>() : nullptr);
  });
  // FLOPs per visible (query, key) pair: q.k and p.v (2*D each) and the softmax's 5.
  timer.done(out, pairs * (4.0 * dims.D + 5), lse.defined() ? lse.numel() * dtype_size(lse.dtype()) : 0);
  return {out, lse};
}

// The backward kernel under the profiler, writing into dq, dk, dv (any strides, D unit-stride).
void attention_backward_op(const kernels::AttentionDims& dims, double pairs, const Tensor& q,
                           const Tensor& k, const Tensor& v, const Tensor& o, const Tensor& lse,
                           const Tensor& g_in, const Tensor& dq, const Tensor& dk,
                           const Tensor& dv) {
  const Tensor g = unit_last(g_in);
  detail::OpTimer t("scaled_dot_product_attention_backward", {&q, &k, &v, &o, &g});
  visit_floating(q.dtype(), "scaled_dot_product_attention", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::attention_backward<T>(dims, cview<T>(q), cview<T>(k), cview<T>(v), cview<T>(o),
                                   cview<T>(g), lse.data<T>(), mview<T>(dq), mview<T>(dk),
                                   mview<T>(dv));
  });
  // Per visible pair: S, dP, dV, dK, dQ products (2*D each) and exp, subtract, multiply; plus
  // D_i = rowsum(dO * O) per query row.
  t.done(dq, pairs * (10.0 * dims.D + 3) + 2.0 * dims.B * dims.H * dims.Tq * dims.D,
         static_cast<double>(lse.numel() + dk.numel() + dv.numel()) * dtype_size(q.dtype()));
}

}  // namespace

Tensor scaled_dot_product_attention(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in,
                                    bool causal, int64_t q_offset) {
  const char* op = "scaled_dot_product_attention";
  detail::check_defined(op, q_in);
  detail::check_defined(op, k_in);
  detail::check_defined(op, v_in);
  detail::check_same_dtype(op, q_in, k_in);
  detail::check_same_dtype(op, q_in, v_in);
  BSTACK_CHECK(q_in.dim() == 4 && k_in.dim() == 4 && v_in.dim() == 4,
               "{}: q, k, v must be (B, H, T, D), got {}, {}, {}", op, shape_str(q_in.shape()),
               shape_str(k_in.shape()), shape_str(v_in.shape()));
  const int64_t B = q_in.size(0), H = q_in.size(1), Tq = q_in.size(2), D = q_in.size(3);
  const int64_t Tk = k_in.size(2);
  BSTACK_CHECK(k_in.size(0) == B && k_in.size(1) == H && k_in.size(3) == D &&
                   v_in.shape() == k_in.shape(),
               "{}: q {} needs k and v of shape [{}, {}, Tk, {}], got k {} and v {}", op,
               shape_str(q_in.shape()), B, H, D, shape_str(k_in.shape()), shape_str(v_in.shape()));
  BSTACK_CHECK(is_floating(q_in.dtype()), "{}: needs f32 or f64 tensors, got {}", op,
               dtype_name(q_in.dtype()));
  BSTACK_CHECK(D >= 1, "{}: head dimension D must be >= 1, got q {}", op, shape_str(q_in.shape()));
  BSTACK_CHECK(q_offset >= 0, "{}: q_offset must be >= 0, got {}", op, q_offset);

  kernels::AttentionDims dims;
  dims.B = B, dims.H = H, dims.Tq = Tq, dims.Tk = Tk, dims.D = D;
  dims.causal = causal, dims.q_offset = q_offset;
  const double pairs = static_cast<double>(kernels::attention_visible_pairs(dims));

  const Tensor q = unit_last(q_in.detach()), k = unit_last(k_in.detach()),
               v = unit_last(v_in.detach());
  const bool needs_grad =
      grad_enabled() && (q_in.requires_grad() || k_in.requires_grad() || v_in.requires_grad());
  auto [out, lse] = attention_forward_op(dims, q, k, v, needs_grad, {&q_in, &k_in, &v_in}, pairs);
  if (!needs_grad) return out;

  const Tensor o = out.detach();
  return record(out, "scaled_dot_product_attention", {q_in, k_in, v_in},
                [q, k, v, o, lse, dims, pairs](const Tensor& g) {
                  Tensor dq = empty_grad_like(q), dk = empty_grad_like(k), dv = empty_grad_like(v);
                  attention_backward_op(dims, pairs, q, k, v, o, lse, g, dq, dk, dv);
                  return std::vector<Tensor>{dq, dk, dv};
                });
}

Tensor scaled_dot_product_attention_qkv(const Tensor& qkv_in, int64_t heads, bool causal) {
  const char* op = "scaled_dot_product_attention_qkv";
  detail::check_defined(op, qkv_in);
  BSTACK_CHECK(qkv_in.dim() == 3, "{}: qkv must be (B, T, 3*H*D), got {}", op,
               shape_str(qkv_in.shape()));
  BSTACK_CHECK(heads >= 1 && qkv_in.size(2) % (3 * heads) == 0 && qkv_in.size(2) > 0,
               "{}: the last dim of qkv {} is not 3 x {} heads x D", op, shape_str(qkv_in.shape()),
               heads);
  BSTACK_CHECK(is_floating(qkv_in.dtype()), "{}: needs f32 or f64 tensors, got {}", op,
               dtype_name(qkv_in.dtype()));
  const int64_t B = qkv_in.size(0), T = qkv_in.size(1), C = qkv_in.size(2) / 3;
  kernels::AttentionDims dims;
  dims.B = B, dims.H = heads, dims.Tq = T, dims.Tk = T, dims.D = C / heads;
  dims.causal = causal, dims.q_offset = 0;
  const double pairs = static_cast<double>(kernels::attention_visible_pairs(dims));

  // The head views read qkv in place once its last dim is unit-stride.
  const Tensor qkv = qkv_in.detach().strides()[2] == 1 ? qkv_in.detach() : qkv_in.detach().contiguous();
  const Tensor q = head_block(qkv, 0, heads), k = head_block(qkv, 1, heads),
               v = head_block(qkv, 2, heads);
  const bool needs_grad = grad_enabled() && qkv_in.requires_grad();
  auto [out, lse] = attention_forward_op(dims, q, k, v, needs_grad, {&q, &k, &v}, pairs);
  if (!needs_grad) return out;

  const Tensor o = out.detach();
  return record(out, "scaled_dot_product_attention", {qkv_in},
                [qkv, q, k, v, o, lse, dims, pairs, heads](const Tensor& g) {
                  Tensor dqkv = empty(qkv.shape(), qkv.dtype());
                  attention_backward_op(dims, pairs, q, k, v, o, lse, g, head_block(dqkv, 0, heads),
                                        head_block(dqkv, 1, heads), head_block(dqkv, 2, heads));
                  return std::vector<Tensor>{dqkv};
                });
}

}  // namespace bstack
