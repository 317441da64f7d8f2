// Section "corun" of bstack calibrate (every rank, under mpirun): how much slower a rank's training
// step runs when every rank of a data-parallel job steps at once, in lockstep, than when it runs
// alone on the node. The node sections (ops, gemm, memory) measure one process with the rest of
// the machine idle; P ranks on one node share its caches, memory bandwidth and (on a VM) the
// host's cores, and a lockstep step waits for the slowest rank each time, so a burst of noise on
// any one rank delays them all (Petrini, Kerbyson, Pakin, "The Case of the Missing Supercomputer
// Performance", SC 2003: noise amplification in bulk-synchronous programs; Dean, Barroso, "The
// Tail at Scale", CACM 2013: the fan-out waits for its slowest part). Measured on this 2-core VM:
// cnn at 32 per rank 0.57 ms a step alone, 0.61-0.94 ms under `mpirun -np 2`.
//
// Method: zoo models at per-rank batches apart from the ones training is usually run at (mlp 48,
// cnn 48, gpt-tiny 6), each a `bstack train` step (calibrate::ZooStep). In blocks of ~10 ms,
// interleaved (so a slow spell of the machine falls on both phases alike), per model:
//   alone:    each rank in turn runs its steps while the others wait without spinning a core
//             (Communicator::idle_barrier); a step's time is the step;
//   together: every rank runs the same number of steps at once, each followed by a barrier (the
//             point where a data-parallel step waits for the gradients of every rank); a step's
//             time is the step and the barrier.
// factor = median(together) / mean over ranks of median(alone); corun_factor = the median of the
// models' factors. The predictor multiplies a rank's node time (walls 1-3) by it when ranks > 1
// (walls::predict_step); 1 means the ranks do not slow each other.
// Profile: param corun_factor (dimensionless); series "corun" (model: 0 mlp, 1 cnn, 2 gpt-tiny;
// batch per rank; alone_s; together_s; factor).
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "calibrate/calibrate.h"
#include "calibrate/util.h"
#include "dist/comm.h"
#include "kernels/parallel.h"

namespace bstack::calibrate {

void calibrate_corun(const Options& o, MachineProfile& p, const ProgressFn& progress) {
  auto& comm = dist::Communicator::world();
  if (comm.size() < 2) {
    p.note("corun: not under mpirun (run `mpirun -np P bstack calibrate --sections corun`); skipped");
    return;
  }
  struct Run { const char* model; int64_t batch; };
  const std::vector<Run> runs = {{"mlp", 48}, {"cnn", 48}, {"gpt-tiny", 6}};
  const int blocks = o.quick ? 24 : 80;
  const double block_s = 0.01;  // the steps of one block, alone: ~10 ms
  using clock = std::chrono::steady_clock;
  auto seconds_since = [](clock::time_point t) {
    return std::chrono::duration<double>(clock::now() - t).count();
  };

  std::vector<std::vector<double>> alone(runs.size()), together(runs.size());
  for (size_t w = 0; w < runs.size(); ++w) {
    progress(double(w) / double(runs.size()),
             fmt::format("corun: {} batch {} per rank", runs[w].model, runs[w].batch));
    ZooStep zoo(runs[w].model, runs[w].batch);
    zoo.step();  // warm-up: first touch, allocator growth
    // Steps per block: as many as fill block_s on rank 0, the same on every rank.
    double k = 0;
    if (comm.rank() == 0) {
      const auto t0 = clock::now();
      zoo.step();
      k = std::max(1.0, std::round(block_s / seconds_since(t0)));
    }
    comm.idle_barrier();  // the others wait off their cores while rank 0 times its step
    comm.broadcast(&k, sizeof k, 0);
    // Blocks of k steps, alone on each rank in turn then together, interleaved every ~10 ms, so
    // the machine's drift (seconds to minutes) falls on both alike.
    for (int b = 0; b < blocks; ++b) {
      for (int r = 0; r < comm.size(); ++r) {
        comm.idle_barrier();
        if (comm.rank() != r) continue;
        for (int i = 0; i < static_cast<int>(k); ++i) {
          const auto t0 = clock::now();
          zoo.step();
          alone[w].push_back(seconds_since(t0));
        }
      }
      // Idle, not Open MPI's spinning barrier: the last rank's alone steps run with the others
      // off their cores too.
      comm.idle_barrier();
      for (int i = 0; i < static_cast<int>(k); ++i) {
        const auto t0 = clock::now();
        zoo.step();
        comm.barrier();
        together[w].push_back(seconds_since(t0));
      }
    }
  }
  comm.idle_barrier();

  Series s{"corun", {"model", "batch", "alone_s", "together_s", "factor"}, {}, ""};
  std::vector<double> factors;
  for (size_t w = 0; w < runs.size(); ++w) {
    double a = median(alone[w]), t = median(together[w]);
    comm.allreduce(&a, 1, dist::ReduceOp::Avg);  // the ranks' own alone speeds, averaged
    comm.allreduce(&t, 1, dist::ReduceOp::Max);  // lockstep: equal up to the barrier's skew
    factors.push_back(t / a);
    s.add_row({double(w), double(runs[w].batch), a, t, t / a});
  }
  const std::string method = fmt::format(
      "{} ranks x {} thread(s); zoo models mlp 48, cnn 48, gpt-tiny 6 per rank as `bstack train` "
      "steps after a warm-up, in {} blocks of ~{:.0f} ms each: every rank alone in turn (the others "
      "idle), then all together with a barrier after each step; factor = median(together) / mean "
      "over ranks of median(alone), corun_factor = the median over the models (noise amplification "
      "in lockstep: Petrini et al. SC 2003)",
      comm.size(), kernels::num_threads(), blocks, block_s * 1e3);
  s.method = method;
  p.set({"corun_factor", median(factors), "1", method});
  p.add_series(std::move(s));
  p.set_meta("corun_ranks", std::to_string(comm.size()));
  progress(1.0, "corun done");
}

}  // namespace bstack::calibrate
