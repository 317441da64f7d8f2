#include "src/profile/profiler.h"

#include "src/io/h5.h"

#include <fmt/format.h>
#include <map>

namespace bstack {

namespace {
thread_local Profiler* t_profiler = nullptr;
thread_local bool t_backward = false;
}  // namespace

namespace detail {
Profiler* active_profiler() { return t_profiler; }
bool in_backward() { return t_backward; }
void set_in_backward(bool on) { t_backward = on; }

OpTimer::OpTimer(const char* name, std::initializer_list<const Tensor*> inputs) : p_(t_profiler), name_(name) {
  if (!p_) return;
  for (const Tensor* t : inputs) {
    shapes_.push_back(t->shape());
    in_bytes_ += static_cast<double>(t->numel()) * dtype_size(t->dtype());
  }
  t0_ = std::chrono::steady_clock::now();
}

void OpTimer::done(const Tensor& out, double flops, double extra_bytes) {
  if (!p_) return;
  OpRecord r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  r.name = name_;
  r.backward = t_backward;
  r.inputs = std::move(shapes_);
  r.output = out.shape();
  r.flops = flops;
  r.bytes = in_bytes_ + extra_bytes + static_cast<double>(out.numel()) * dtype_size(out.dtype());
  r.step = p_->step;
  p_->ops.push_back(std::move(r));
}
}  // namespace detail

ProfileScope::ProfileScope(Profiler& p) : prev_(t_profiler) { t_profiler = &p; }
ProfileScope::~ProfileScope() { t_profiler = prev_; }

std::string OpRecord::signature() const {
  std::string s;
  for (const auto& i : inputs) s += shape_str(i) + " ";
  return s + "-> " + shape_str(output);
}

double Profiler::total_flops(bool backward) const {
  double f = 0;
  for (const auto& r : ops)
    if (r.backward == backward) f += r.flops;
  return f;
}

double Profiler::total_bytes(bool backward) const {
  double b = 0;
  for (const auto& r : ops)
    if (r.backward == backward) b += r.bytes;
  return b;
}

void Profiler::save(const std::string& path, const std::string& model, int64_t threads) const {
  // Names and shape signatures are stored once each; records refer to them by index.
  std::map<std::string, int32_t> name_id, sig_id;
  std::string names, sigs;
  std::vector<int32_t> nid, sid, step;
  std::vector<int8_t> bwd;
  std::vector<double> flops, bytes, secs;
  for (const auto& r : ops) {
    auto [ni, fresh_n] = name_id.try_emplace(r.name, static_cast<int32_t>(name_id.size()));
    if (fresh_n) names += r.name + "\n";
    const std::string sig = r.signature();
    auto [si, fresh_s] = sig_id.try_emplace(sig, static_cast<int32_t>(sig_id.size()));
    if (fresh_s) sigs += sig + "\n";
    nid.push_back(ni->second);
    sid.push_back(si->second);
    step.push_back(static_cast<int32_t>(r.step));
    bwd.push_back(r.backward ? 1 : 0);
    flops.push_back(r.flops);
    bytes.push_back(r.bytes);
    secs.push_back(r.seconds);
  }
  const int64_t n = static_cast<int64_t>(ops.size());
  H5Writer w(path, "bstack-trace", 1);
  w.write("ops/name_id", nid, {n});
  w.write("ops/signature_id", sid, {n});
  w.write("ops/step", step, {n});
  w.write("ops/backward", bwd, {n});
  w.write("ops/flops", flops, {n});
  w.write("ops/bytes", bytes, {n});
  w.write("ops/seconds", secs, {n});
  w.write("steps/seconds", step_seconds, {static_cast<int64_t>(step_seconds.size())});
  if (dist.ranks > 1) {
    std::vector<double> cb, cs, cd, ce;
    std::vector<int32_t> cstep, ckind;
    std::string kinds;
    std::map<std::string, int32_t> kind_id;
    for (const auto& c : comm) {
      auto [ki, fresh] = kind_id.try_emplace(c.name, static_cast<int32_t>(kind_id.size()));
      if (fresh) kinds += c.name + "\n";
      ckind.push_back(ki->second);
      cb.push_back(c.bytes);
      cs.push_back(c.start);
      cd.push_back(c.seconds);
      ce.push_back(c.exposed);
      cstep.push_back(static_cast<int32_t>(c.step));
    }
    const int64_t m = static_cast<int64_t>(comm.size());
    w.write("comm/name_id", ckind, {m});
    w.write("comm/bytes", cb, {m});
    w.write("comm/start", cs, {m});
    w.write("comm/seconds", cd, {m});
    w.write("comm/exposed", ce, {m});
    w.write("comm/step", cstep, {m});
    w.attr("comm", "names", kinds);
    w.write("steps/backward_seconds", step_backward_seconds, {static_cast<int64_t>(step_backward_seconds.size())});
    w.write("steps/exposed_seconds", step_exposed_seconds, {static_cast<int64_t>(step_exposed_seconds.size())});
    w.attr("dist", "rank", dist.rank);
    w.attr("dist", "ranks", dist.ranks);
    w.attr("dist", "backend", dist.backend);
    w.attr("dist", "bucket_bytes", dist.bucket_bytes);
    w.attr("dist", "overlap", static_cast<int64_t>(dist.overlap));
    w.attr("dist", "zero1", static_cast<int64_t>(dist.zero1));
  }
  w.attr("ops", "names", names);
  w.attr("ops", "signatures", sigs);
  w.attr("/", "model", model);
  w.attr("/", "threads", threads);
  w.attr("/", "definitions", "flops: matmul 2MNK, elementwise 1/output, reductions 1/input, softmax 5/element, "
                             "data movement 0; bytes: operands as stored read once + output written once");
  w.commit();
}

namespace {
std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t end = s.find('\n', pos);
    out.push_back(s.substr(pos, end == std::string::npos ? std::string::npos : end - pos));
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  return out;
}
}  // namespace

Trace read_trace(const std::string& path) {
  H5Reader r(path, "bstack-trace", 1, 1);
  Trace t;
  t.path = path;
  t.model = r.attr_string("/", "model");
  t.threads = r.attr_int("/", "threads");
  const std::vector<std::string> names = split_lines(r.attr_string("ops", "names"));
  const std::vector<std::string> sigs = split_lines(r.attr_string("ops", "signatures"));
  const auto nid = r.read_vector<int32_t>("ops/name_id"), sid = r.read_vector<int32_t>("ops/signature_id"),
             step = r.read_vector<int32_t>("ops/step");
  const auto bwd = r.read_vector<int8_t>("ops/backward");
  const auto flops = r.read_vector<double>("ops/flops"), bytes = r.read_vector<double>("ops/bytes"),
             secs = r.read_vector<double>("ops/seconds");
  const size_t n = nid.size();
  BSTACK_CHECK(sid.size() == n && step.size() == n && bwd.size() == n && flops.size() == n &&
                   bytes.size() == n && secs.size() == n,
               "{}: the ops/ arrays differ in length", path);
  t.ops.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    BSTACK_CHECK(nid[i] >= 0 && static_cast<size_t>(nid[i]) < names.size() && sid[i] >= 0 &&
                     static_cast<size_t>(sid[i]) < sigs.size(),
                 "{}: op {} names a name or signature the file does not hold", path, i);
    t.ops.push_back({names[nid[i]], sigs[sid[i]], bwd[i] != 0, flops[i], bytes[i], secs[i], step[i]});
  }
  t.step_seconds = r.read_vector<double>("steps/seconds");
  if (r.has("dist")) {
    t.dist.rank = r.attr_int("dist", "rank");
    t.dist.ranks = r.attr_int("dist", "ranks");
    t.dist.backend = r.attr_string("dist", "backend");
    t.dist.bucket_bytes = r.attr_int("dist", "bucket_bytes");
    t.dist.overlap = r.attr_int("dist", "overlap") != 0;
    t.dist.zero1 = r.attr_int("dist", "zero1") != 0;
    const std::vector<std::string> kinds = split_lines(r.attr_string("comm", "names"));
    const auto kid = r.read_vector<int32_t>("comm/name_id"), cstep = r.read_vector<int32_t>("comm/step");
    const auto cb = r.read_vector<double>("comm/bytes"), cs = r.read_vector<double>("comm/start"),
               cd = r.read_vector<double>("comm/seconds"), ce = r.read_vector<double>("comm/exposed");
    const size_t m = kid.size();
    BSTACK_CHECK(cstep.size() == m && cb.size() == m && cs.size() == m && cd.size() == m && ce.size() == m,
                 "{}: the comm/ arrays differ in length", path);
    for (size_t i = 0; i < m; ++i) {
      BSTACK_CHECK(kid[i] >= 0 && static_cast<size_t>(kid[i]) < kinds.size(),
                   "{}: communication record {} names a kind the file does not hold", path, i);
      t.comm.push_back({kinds[kid[i]], cb[i], cs[i], cd[i], ce[i], cstep[i]});
    }
    t.step_backward_seconds = r.read_vector<double>("steps/backward_seconds");
    t.step_exposed_seconds = r.read_vector<double>("steps/exposed_seconds");
  }
  return t;
}

}  // namespace bstack
