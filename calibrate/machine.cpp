#include "calibrate/machine.h"

#include "calibrate/compare.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <fmt/format.h>
#include <string>
#include <tuple>

#include "src/error.h"

namespace bstack::calibrate {

walls::Machine machine_from_profile(const MachineProfile& p, int threads) {
  const int all = std::max(1, std::atoi(p.meta_value("threads").c_str()));
  const bool one = threads <= 1 || all == 1;
  const std::string sfx = one ? "_1t" : "";
  auto need = [&](const std::string& key) {
    BSTACK_CHECK(p.has(key), "profile has no '{}': run `bstack calibrate` (its sections memory, "
                 "compute, gemm and dispatch) to measure it", key);
    return p.value(key);
  };
  walls::Machine m;
  m.name = p.meta_value("cpu_model");
  m.threads = one ? 1 : all;
  m.peak_flops_per_s = need("peak_flops_fp32" + sfx);
  m.peak_flops_per_s_1t = need("peak_flops_fp32_1t");

  // Memory levels, fastest first: the triad plateaus (a + b*c: two reads and a write, the
  // traffic of a typical elementwise op) with the capacity the 1-thread triad fell at.
  const double ram = p.value_or("ram_bytes", double(sysconf(_SC_PHYS_PAGES)) * double(sysconf(_SC_PAGESIZE)));
  for (const char* lvl : {"l1", "l2", "l3", "l4"}) {
    const std::string bw = std::string(lvl) + "_triad_bytes_per_s" + sfx,
                      cap = std::string(lvl) + "_fitted_bytes";
    if (!p.has(bw) || !p.has(cap)) continue;
    const bool priv = std::string(lvl) == "l1" || std::string(lvl) == "l2";
    m.levels.push_back({lvl, p.value(cap) * (priv && !one ? m.threads : 1), p.value(bw)});
  }
  m.levels.push_back({"dram", ram, need("dram_triad_bytes_per_s" + sfx)});

  // GEMM efficiency by size, at this thread count, against the peak of that thread count.
  if (const Series* s = p.find_series("gemm/sgemm")) {
    for (size_t r = 0; r < s->rows(); ++r) {
      const int t = static_cast<int>(s->at(r, 3));
      if ((one && t != 1) || (!one && t != m.threads)) continue;
      const double flops = 2.0 * s->at(r, 0) * s->at(r, 1) * s->at(r, 2);
      const double eff = s->at(r, 4) / m.peak_flops_per_s;
      m.gemm_efficiency.push_back({flops, std::clamp(eff, 1e-3, 1.0)});
    }
  }
  BSTACK_CHECK(!m.gemm_efficiency.empty(), "profile has no GEMM samples for {} thread(s): run "
               "`bstack calibrate --sections gemm`", m.threads);
  m.dispatch_s = need("dispatch_s");
  m.dispatch_autograd_s = need("dispatch_autograd_s");
  // Per op class (section ops), at this thread count; absent in older profiles (roofline only).
  for (const Series& s : p.series) {
    // Per layer of a zoo model (section ops): "layers/<model>/<class>" (threads, k, flops, bytes,
    // seconds), one LayerModel per k.
    if (s.name.rfind("layers/", 0) == 0 && s.columns.size() == 5) {
      const std::string rest = s.name.substr(7);
      const size_t slash = rest.find('/');
      if (slash == std::string::npos) continue;
      const std::string model = rest.substr(0, slash), cls = rest.substr(slash + 1);
      const std::string name = op_class_name(cls).first;
      std::map<int, walls::LayerModel> by_k;
      for (size_t r = 0; r < s.rows(); ++r) {
        if (static_cast<int>(s.at(r, 0)) != (one ? 1 : all) || !(s.at(r, 4) > 0)) continue;
        const int k = static_cast<int>(s.at(r, 1));
        walls::LayerModel& l = by_k[k];
        l.key = layer_key(model, cls, k);
        l.by_flops = is_gemm_op(name);
        const double x = l.by_flops ? s.at(r, 2) : s.at(r, 3);
        if (x > 0) l.time.push_back({x, s.at(r, 4)});
      }
      for (auto& [k, l] : by_k)
        if (!l.time.empty()) m.layers.push_back(std::move(l));
      continue;
    }
    if (s.name.rfind("ops/", 0) != 0 || s.columns.size() != 4) continue;
    const std::string cls = s.name.substr(4);
    walls::OpClassModel c;
    std::tie(c.name, c.backward) = op_class_name(cls);
    if (is_gemm_op(c.name)) {
      // eta_i = FLOPs_i / (Peak x T_i): the measured time reproduced at each measured size.
      for (size_t r = 0; r < s.rows(); ++r)
        if (static_cast<int>(s.at(r, 0)) == (one ? 1 : all) && s.at(r, 1) > 0 && s.at(r, 3) > 0)
          c.efficiency.push_back(
              {s.at(r, 1), std::clamp(s.at(r, 1) / (m.peak_flops_per_s * s.at(r, 3)), 1e-4, 1.0)});
      if (c.efficiency.empty()) continue;
    } else {
      const std::string t0 = "op_" + cls + "_t0_s" + sfx, bw = "op_" + cls + "_bytes_per_s" + sfx;
      if (!p.has(t0) || !p.has(bw)) continue;
      c.t0_s = p.value(t0);
      c.bytes_per_s = p.value(bw);
      for (size_t r = 0; r < s.rows(); ++r)  // the measured times the predictor interpolates
        if (static_cast<int>(s.at(r, 0)) == (one ? 1 : all) && s.at(r, 2) > 0 && s.at(r, 3) > 0)
          c.time_by_bytes.push_back({s.at(r, 2), s.at(r, 3)});
    }
    m.op_classes.push_back(std::move(c));
  }
  m.step_overhead_s = p.value_or("op_step_overhead_s" + sfx, 0.0);
  m.overhead_per_op_s = p.value_or("op_overhead_per_op_s" + sfx, 0.0);
  m.alpha_s = p.value_or("alpha_s", std::nan(""));
  m.beta_bytes_per_s = p.value_or("beta_bytes_per_s", std::nan(""));
  m.corun_factor = p.value_or("corun_factor", 1.0);
  if (const std::string r = p.meta_value("corun_ranks"); !r.empty() && p.has("corun_factor"))
    m.corun_ranks = std::atoi(r.c_str());
  // The DDP's all-reduce by bytes (series columns bytes, ranks, avg_s, min_s, max_s, iterations):
  // the slowest rank's time is what the job waits for.
  if (const Series* s = p.find_series("interconnect/ddp_allreduce"); s && s->columns.size() >= 5) {
    for (size_t r = 0; r < s->rows(); ++r)
      if (s->at(r, 0) > 0 && s->at(r, 4) > 0) m.allreduce_time.push_back({s->at(r, 0), s->at(r, 4)});
    if (s->rows() > 0) m.allreduce_ranks = static_cast<int>(s->at(0, 1));
  }
  return m;
}

}  // namespace bstack::calibrate
