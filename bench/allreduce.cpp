// bench_allreduce: bstack's all-reduces beside the MPI library's, in one run on one machine.
//
//   mpirun -np P bench_allreduce [--max-bytes 64MiB] [--factor 4] [--iters 20] [--warmup 5]
//                                [--rounds 3] [--alpha S --beta B/s] [--json]
//
// Sides, all float sums over every rank, in place:
//   MPI_Allreduce   the peer: MPI_Allreduce(MPI_IN_PLACE, ..., MPI_COMM_WORLD) called directly
//   comm            Communicator::allreduce (the same call on the Communicator's duplicate
//                   communicator, behind bstack's checks: its overhead is the ratio comm/MPI)
//   mpi-backend     make_backend("mpi", Algorithm::Mpi): MPI_Iallreduce, waited on with test()
//                   (what DistributedDataParallel runs with --allreduce mpi)
//   ring, rd, rabenseifner
//                   bstack's own algorithms (dist/allreduce.h) through the same MPI backend
//
// Method (nccl-tests' all_reduce_perf, doc/PERFORMANCE.md): per size and side, `warmup`
// untimed iterations, then `iters` back to back between two MPI_Wtime reads; a rank's time is
// the mean per iteration, the side's time the maximum over ranks. The sides alternate within a
// size (MPI, comm, backend, ring, rd, rabenseifner, then again) `rounds` times, and each keeps
// its best round, so all see the same machine state on a shared host (one untimed pass of every
// side comes before the sweep: a process's first collectives set up connections). algbw = S / t and busbw =
// algbw * 2(N-1)/N (walls/communication.h), S the bytes each rank contributes. Before timing,
// each side's result is checked once on data whose sums are exact in floating point; the timed
// buffers hold zeros, so repeated in-place sums stay finite (nonzero data would overflow to inf
// within ~64 iterations) and every iteration does the same arithmetic.
//
// With --alpha and --beta the ring model of wall 14 (walls::ring_allreduce_seconds: 2(N-1) a +
// 2(N-1)/N S/b) is printed beside the measured ring. --json prints one JSON object on stdout
// (the table then goes to stderr). Exit codes: 0, 1 runtime error (a wrong result included),
// 2 usage error.
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "calibrate/util.h"
#include "dist/allreduce.h"
#include "dist/backend.h"
#include "dist/comm.h"
#include "src/error.h"
#include "walls/communication.h"

namespace {

using bstack::dist::Algorithm;
using bstack::dist::Communicator;
using bstack::dist::ReduceOp;

struct Options {
  uint64_t min_bytes = 4;
  uint64_t max_bytes = uint64_t{64} << 20;
  int factor = 4;
  int iters = 20;
  int warmup = 5;
  int rounds = 3;
  double alpha = -1;  // s; < 0: no model
  double beta = -1;   // B/s
  bool json = false;
};

// One side of the comparison: an in-place float sum over all ranks.
struct Side {
  std::string name;
  std::function<void(float*, size_t)> run;
};

std::vector<Side> make_sides(Communicator& comm,
                             std::vector<std::unique_ptr<bstack::dist::Backend>>& keep) {
  std::vector<Side> sides;
  sides.push_back({"MPI_Allreduce", [](float* x, size_t n) {
                     const int rc = MPI_Allreduce(MPI_IN_PLACE, x, static_cast<int>(n), MPI_FLOAT,
                                                  MPI_SUM, MPI_COMM_WORLD);
                     if (rc != MPI_SUCCESS) bstack::fail("MPI_Allreduce failed (code {})", rc);
                   }});
  sides.push_back({"comm", [&comm](float* x, size_t n) { comm.allreduce(x, n, ReduceOp::Sum); }});
  for (Algorithm a : {Algorithm::Mpi, Algorithm::Ring, Algorithm::RecursiveDoubling,
                      Algorithm::Rabenseifner}) {
    keep.push_back(bstack::dist::make_backend("mpi", a, comm));
    bstack::dist::Backend* b = keep.back().get();
    sides.push_back({a == Algorithm::Mpi ? "mpi-backend" : bstack::dist::algorithm_name(a),
                     [b](float* x, size_t n) { b->start_allreduce(x, n, ReduceOp::Sum)->wait(); }});
  }
  return sides;
}

// One all-reduce of data whose sums are exact (small integers): rank r's element i is
// (r + i) mod 16. Throws naming the side and the first wrong element.
void validate(Communicator& comm, const Side& side, std::vector<float>& buf, size_t n) {
  const int N = comm.size();
  for (size_t i = 0; i < n; ++i) buf[i] = static_cast<float>((comm.rank() + i) % 16);
  side.run(buf.data(), n);
  for (size_t i = 0; i < n; ++i) {
    double want = 0;
    for (int r = 0; r < N; ++r) want += static_cast<double>((r + i) % 16);
    if (buf[i] != static_cast<float>(want))
      bstack::fail("bench_allreduce: {} gave {} at element {} of {} on rank {}, expected {}",
                   side.name, buf[i], i, n, comm.rank(), want);
  }
}

// The side's time for one round: mean per iteration on each rank, maximum over ranks.
double time_round(const Side& side, float* buf, size_t n, int warmup, int iters) {
  for (int i = 0; i < warmup; ++i) side.run(buf, n);
  MPI_Barrier(MPI_COMM_WORLD);
  const double t0 = MPI_Wtime();
  for (int i = 0; i < iters; ++i) side.run(buf, n);
  double t = (MPI_Wtime() - t0) / iters;
  MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return t;
}

int run(const Options& o) {
  auto& comm = Communicator::world();
  if (!comm.uses_mpi()) {
    // The peer calls MPI directly, and MPI is only initialised under a launcher.
    std::fprintf(stderr, "bench_allreduce: start it under a launcher: mpirun -np P %s\n",
                 "bench_allreduce [options]");
    return 2;
  }
  const int N = comm.size();
  const bool root = comm.rank() == 0;
  std::FILE* human = o.json ? stderr : stdout;
  std::vector<std::unique_ptr<bstack::dist::Backend>> backends;
  const std::vector<Side> sides = make_sides(comm, backends);
  const bool model = o.alpha >= 0 && o.beta > 0;

  std::vector<uint64_t> sizes;
  for (uint64_t s = std::max<uint64_t>(o.min_bytes, 4); s <= o.max_bytes; s *= o.factor)
    sizes.push_back(s / 4 * 4);
  if (root) {
    fmt::print(human,
               "bench_allreduce: {} ranks, float sum in place, sizes {} .. {} (x{} steps)\n"
               "method (nccl-tests all_reduce_perf): per size and side {} warm-up + {} timed "
               "iterations; time = max over ranks\n"
               "  of the mean per-iteration time (MPI_Wtime); the sides alternate {} time(s) per "
               "size, each keeping its best round;\n"
               "  busbw (GB/s, 1 GB = 1e9 B) = algbw * 2(N-1)/N = S/t * {:.3f}; every side's "
               "result checked before timing\n",
               N,
               bstack::calibrate::human_bytes(sizes.empty() ? 0.0 : static_cast<double>(sizes[0])),
               bstack::calibrate::human_bytes(static_cast<double>(o.max_bytes)), o.factor,
               o.warmup, o.iters, o.rounds, bstack::walls::allreduce_bus_factor(N));
    if (model)
      fmt::print(human, "ring model (wall 14): T = 2(N-1) a + 2(N-1)/N S/b, a = {:.3g} us, "
                 "b = {:.3g} GB/s\n", o.alpha * 1e6, o.beta / 1e9);
    // Two header lines: the side, then its columns (time per all-reduce, bus bandwidth).
    std::string names = fmt::format("{:>10} {:>9}", "", "");
    std::string units = fmt::format("{:>10} {:>9}", "size", "count");
    for (const Side& s : sides) {
      names += fmt::format(" | {:^20}", s.name);
      units += fmt::format(" | {:>12} {:>7}", "time us", "busbw");  // busbw in GB/s
    }
    names += fmt::format(" | {:^19}", "time ratio");
    units += fmt::format(" | {:>9} {:>9}", "comm/MPI", "bknd/MPI");
    if (model) {
      names += fmt::format(" | {:>10}", "ring model");
      units += fmt::format(" | {:>10}", "time us");
    }
    fmt::print(human, "{}\n{}\n", names, units);
  }

  nlohmann::json rows = nlohmann::json::array();
  std::vector<float> buf(static_cast<size_t>(o.max_bytes / 4));
  // One untimed pass of every side before the sweep: the first collectives of a process set up
  // connections and shared-memory segments (measured: the first side's 4 B time ~10x otherwise).
  if (!sizes.empty())
    for (const Side& s : sides)
      time_round(s, buf.data(), static_cast<size_t>(sizes[0] / 4), o.warmup, 1);
  for (uint64_t bytes : sizes) {
    const size_t n = static_cast<size_t>(bytes / 4);
    for (const Side& s : sides) validate(comm, s, buf, n);
    std::fill(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n), 0.0f);
    std::vector<double> best(sides.size(), std::numeric_limits<double>::infinity());
    for (int round = 0; round < o.rounds; ++round)
      for (size_t k = 0; k < sides.size(); ++k)
        best[k] = std::min(best[k], time_round(sides[k], buf.data(), n, o.warmup, o.iters));

    const auto busbw = [&](double t) {
      return bstack::walls::allreduce_bus_bandwidth(
          bstack::walls::algorithm_bandwidth(static_cast<double>(bytes), t), N);
    };
    const double ratio_comm = best[1] / best[0], ratio_backend = best[2] / best[0];
    const double predicted = model ? bstack::walls::ring_allreduce_seconds(
                                         {N, static_cast<double>(bytes), o.alpha, o.beta})
                                   : 0;
    if (root) {
      std::string line = fmt::format("{:>10} {:>9}",
                                     bstack::calibrate::human_bytes(static_cast<double>(bytes)), n);
      for (size_t k = 0; k < sides.size(); ++k)
        line += fmt::format(" | {:>12.1f} {:>7.3f}", best[k] * 1e6, busbw(best[k]) / 1e9);
      line += fmt::format(" | {:>9.3f} {:>9.3f}", ratio_comm, ratio_backend);
      if (model) line += fmt::format(" | {:>10.1f}", predicted * 1e6);
      fmt::print(human, "{}\n", line);
      std::fflush(human);
    }
    nlohmann::json row = {{"bytes", bytes}, {"count", n}, {"ratio_comm_mpi", ratio_comm},
                          {"ratio_backend_mpi", ratio_backend}};
    for (size_t k = 0; k < sides.size(); ++k)
      row["sides"][sides[k].name] = {{"time_s", best[k]},
                                     {"algbw_bytes_per_s", static_cast<double>(bytes) / best[k]},
                                     {"busbw_bytes_per_s", busbw(best[k])}};
    if (model) row["ring_model_s"] = predicted;
    rows.push_back(row);
  }
  if (root && o.json) {
    nlohmann::json out = {
        {"bench", "allreduce"},
        {"ranks", N},
        {"method",
         {{"reference", "nccl-tests all_reduce_perf"},
          {"warmup_iters", o.warmup},
          {"iters", o.iters},
          {"rounds", o.rounds},
          {"time", "max over ranks of the mean per-iteration time; best of the alternating rounds"},
          {"busbw", "algbw * 2(N-1)/N"}}},
        {"sizes", rows}};
    if (model) out["ring_model"] = {{"alpha_s", o.alpha}, {"beta_bytes_per_s", o.beta}};
    fmt::print("{}\n", out.dump());
  }
  comm.finalize();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"bstack's all-reduce algorithms beside MPI_Allreduce (run under mpirun -np P)"};
  app.add_option("--min-bytes", o.min_bytes, "smallest size (default 4 B; accepts KiB, MiB)")
      ->transform(CLI::AsSizeValue(false));
  app.add_option("--max-bytes", o.max_bytes, "largest size (default 64 MiB; accepts KiB, MiB)")
      ->transform(CLI::AsSizeValue(false));
  app.add_option("--factor", o.factor, "size step (default 4)")->check(CLI::IsMember({2, 4}));
  app.add_option("--iters", o.iters, "timed iterations per size and side (default 20)")
      ->check(CLI::PositiveNumber);
  app.add_option("--warmup", o.warmup, "untimed iterations first (default 5)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--rounds", o.rounds, "alternating rounds, best kept (default 3)")
      ->check(CLI::PositiveNumber);
  auto* alpha = app.add_option("--alpha", o.alpha, "ring model: latency per message, s")
                    ->check(CLI::NonNegativeNumber);
  app.add_option("--beta", o.beta, "ring model: link bandwidth, B/s")
      ->check(CLI::PositiveNumber)
      ->needs(alpha);
  alpha->needs(app.get_option("--beta"));
  app.add_flag("--json", o.json, "one JSON object on stdout (the table goes to stderr)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (o.max_bytes < 4 || o.min_bytes > o.max_bytes ||
      o.max_bytes / 4 > static_cast<uint64_t>(std::numeric_limits<int>::max())) {
    std::fprintf(stderr, "bench_allreduce: sizes %llu .. %llu B: need 4 <= min <= max and max / 4 "
                 "<= INT_MAX floats\n",
                 static_cast<unsigned long long>(o.min_bytes),
                 static_cast<unsigned long long>(o.max_bytes));
    return 2;
  }
  try {
    return run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_allreduce: %s\n", e.what());
    Communicator::world().abort(1);
  }
}
