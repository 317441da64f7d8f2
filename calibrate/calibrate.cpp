#include "calibrate/calibrate.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include <unistd.h>

#include "dist/comm.h"
#include "kernels/parallel.h"
#include "src/error.h"

namespace bstack::calibrate {

const std::vector<Section>& sections() {
  // Weights: seconds each section takes on the 2-core development machine (progress bar only).
  static const std::vector<Section> s = {
      {"interconnect", "interconnect (MPI ping-pong, allreduce)", 5, 25, calibrate_interconnect},
      {"corun", "ranks stepping together vs alone (under mpirun)", 3, 12, calibrate_corun},
      {"memory", "memory (bandwidth sweep, latency)", 10, 80, calibrate_memory},
      {"compute", "compute (clock, FMA and int8 peaks)", 3, 8, calibrate_compute},
      {"gemm", "GEMM efficiency", 3, 15, calibrate_gemm},
      {"dispatch", "dispatch tax", 0.5, 1, calibrate_dispatch},
      {"ops", "bstack op classes (per-call cost, bandwidth, GEMM-class efficiency)", 10, 30, calibrate_ops},
      {"datapath", "data path (file read, loader)", 3, 15, calibrate_datapath},
      {"power", "power (RAPL)", 0.5, 2, calibrate_power},
      {"gpu", "GPU", 1, 10, calibrate_gpu},
  };
  return s;
}

std::vector<std::string> section_names() {
  std::vector<std::string> n;
  for (const Section& s : sections()) n.push_back(s.name);
  return n;
}

MachineProfile calibrate(const Options& o, const ProgressFn& progress) {
  const std::vector<std::string> names = section_names();
  for (const std::string& name : o.sections) {
    BSTACK_CHECK(std::find(names.begin(), names.end(), name) != names.end(),
                 "--sections: unknown section '{}' (known: {})", name, fmt::join(names, ", "));
  }
  auto chosen = [&](const std::string& name) {
    return o.sections.empty() ||
           std::find(o.sections.begin(), o.sections.end(), name) != o.sections.end();
  };
  std::vector<const Section*> run;
  double total = 0;
  for (const Section& s : sections())
    if (chosen(s.name)) {
      run.push_back(&s);
      total += o.quick ? s.weight_quick : s.weight_full;
    }

  dist::Communicator& comm = dist::Communicator::world();
  MachineProfile p;
  fill_metadata(p, o.quick ? "quick" : "full");
  p.set_meta("ranks", std::to_string(comm.size()));
  const long online = sysconf(_SC_NPROCESSORS_ONLN);
  const bool node_sections = std::any_of(run.begin(), run.end(), [](const Section* s) {
    return !s->every_rank();
  });
  if (comm.rank() == 0 && node_sections && online > kernels::max_threads())
    p.note(fmt::format("calibrate: this process may use {} of the machine's {} cores (mpirun binds each "
                       "rank to a core by default; taskset); the node sections measured {} core(s). "
                       "Launch with `mpirun --bind-to none`, or measure the node with a plain `bstack "
                       "calibrate` and only the interconnect under mpirun (`--sections interconnect` "
                       "updates an existing profile)",
                       kernels::max_threads(), online, kernels::max_threads()));
  double before = 0;
  for (const Section* s : run) {
    const double w = o.quick ? s->weight_quick : s->weight_full;
    const bool every_rank = s->every_rank();
    if (comm.rank() == 0 || every_rank) {
      const auto t0 = std::chrono::steady_clock::now();
      s->run(o, p, [&](double f, const std::string& what) {
        if (comm.rank() == 0) progress((before + w * std::clamp(f, 0.0, 1.0)) / total, what);
      });
      const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      p.set_meta("seconds_" + s->name, fmt::format("{:.2f}", dt));
    }
    before += w;
  }
  // Rank 0 measured the node alone while the others waited without spinning a core.
  if (comm.size() > 1) comm.idle_barrier();
  progress(1.0, "done");
  return p;
}

}  // namespace bstack::calibrate
