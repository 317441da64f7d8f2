// Section "interconnect" of bstack calibrate: OSU ping-pong latency, OSU windowed bandwidth and
// OSU all-reduce time over the Communicator, the alpha-beta fits of wall 14 and nccl-tests' bus
// bandwidth. Methods and iteration counts: see interconnect.h.
#include "calibrate/interconnect.h"
#include "calibrate/util.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "calibrate/calibrate.h"
#include "calibrate/lsq.h"
#include "dist/backend.h"
#include "src/error.h"
#include "walls/communication.h"

namespace bstack::calibrate {
namespace {


// Page-aligned buffer (OSU aligns its buffers to the page size), touched once so page faults
// stay out of the warm-up.
class Buffer {
 public:
  explicit Buffer(size_t bytes) : bytes_(std::max<size_t>(bytes, 1)) {
    const size_t rounded = (bytes_ + 4095) / 4096 * 4096;
    p_.reset(static_cast<char*>(std::aligned_alloc(4096, rounded)));
    BSTACK_CHECK(p_ != nullptr, "calibrate interconnect: cannot allocate {} bytes", rounded);
    std::memset(p_.get(), 0, bytes_);
  }
  char* data() { return p_.get(); }
  float* floats() { return reinterpret_cast<float*>(p_.get()); }

 private:
  struct Free {
    void operator()(char* p) const { std::free(p); }
  };
  size_t bytes_;
  std::unique_ptr<char, Free> p_;
};

// OSU's default iteration counts (osu_util.h), "large" meaning above 8 KiB.
struct OsuCounts {
  int skip_small, iters_small, skip_large, iters_large;
  int skip(size_t bytes) const { return bytes > 8192 ? skip_large : skip_small; }
  int iters(size_t bytes) const { return bytes > 8192 ? iters_large : iters_small; }
};
constexpr OsuCounts kLatencyCounts{100, 10000, 10, 1000};  // osu_latency
constexpr OsuCounts kBandwidthCounts{10, 100, 2, 20};      // osu_bw
constexpr OsuCounts kCollectiveCounts{200, 1000, 10, 100}; // osu_allreduce

constexpr int kCtlTag = 7001;   // iteration counts, rank 0 -> 1
constexpr int kDataTag = 7002;  // the measured messages
constexpr int kAckTag = 7003;   // osu_bw's ack

// One size, OSU style: a first iteration (page faults, connection set-up), `skip` warm-up
// iterations, then `iters` timed ones. `loop(n)` runs n iterations on this rank and returns the
// seconds it counts for them. Rank 0 picks skip and iters from what the iterations before took
// (OSU's counts at most, about `b.budget_s` in all, at least `b.min_iters` timed) and `share`
// passes each choice to the other participants. Returns {seconds of the timed loop, iters}.
template <class Loop, class Share>
std::pair<double, int> run_size(size_t bytes, const OsuCounts& osu, const SweepBudget& b,
                                bool leader, Loop&& loop, Share&& share) {
  const double first = loop(1);
  int skip = 0;
  if (leader) {
    const double per = std::max(first, 1e-9);
    skip = std::clamp(static_cast<int>(0.2 * b.budget_s / per), 1, osu.skip(bytes));
  }
  share(skip);
  const double warm = loop(skip);
  int iters = 0;
  if (leader) {
    const double per = std::max(warm / skip, 1e-9);
    const double left = std::max(b.budget_s - first - warm, 0.0);
    iters = std::clamp(static_cast<int>(left / per), std::max(b.min_iters, 1),
                       std::max(osu.iters(bytes), b.min_iters));
  }
  share(iters);
  return {loop(iters), iters};
}

void require_pair(const dist::Communicator& comm, const char* what) {
  BSTACK_CHECK(comm.size() >= 2, "{}: needs at least 2 ranks (run under `mpirun -np 2`), have {}",
               what, comm.size());
}

// Rank 0's values to every rank.
void share_from_root(dist::Communicator& comm, std::vector<double>& v) {
  comm.broadcast(v.data(), v.size() * sizeof(double), 0);
}

// Sizes double from one point to the next, so in any model where time grows with size a point
// may cost at most ~2x its predecessor and at least as much. A point that took more than twice
// as long as the next larger size is interference (another process on the core), not the
// network; a rise of more than 3x that the next size keeps is a switch of algorithm or protocol
// inside the MPI library (e.g. ~27x between 16 and 32 MiB for Open MPI's all-reduce on shared
// memory, PLATFORM.md). Both go into the profile's notes.
// Returns the index of the step noted (the first size above it), 0 when none or when the
// series has spikes (then a step may be interference too).
size_t note_steps(MachineProfile& p, const char* what, const std::vector<size_t>& sizes,
                  const std::vector<double>& t) {
  std::vector<std::string> spikes;
  for (size_t i = 0; i + 1 < t.size(); ++i)
    if (t[i] > 2.0 * t[i + 1]) spikes.push_back(human_bytes(static_cast<double>(sizes[i])));
  if (!spikes.empty())
    p.note(fmt::format("interconnect: {}: {} size(s) ({}) took more than twice as long as the next "
                       "larger size: interference from other processes, not the network; kept "
                       "in the fit (see its R^2). A quiet machine gives cleaner figures",
                       what, spikes.size(), fmt::join(spikes, ", ")));
  // The largest rise from one size to the next that the next size keeps (a spike falls back at
  // once; a rise at the largest size has nothing to confirm it).
  size_t at = 0;
  double rise = 0;
  for (size_t i = 1; i + 1 < t.size(); ++i) {
    const bool kept = t[i + 1] >= t[i] / 2.0;
    if (kept && t[i] / t[i - 1] > rise) {
      rise = t[i] / t[i - 1];
      at = i;
    }
  }
  if (rise > 3.0)
    p.note(fmt::format("interconnect: {}: the largest step, x{:.1f} from {} to {}, is kept by the "
                       "larger sizes (the alpha-beta model allows at most ~x2 per doubling): a "
                       "switch of algorithm or protocol inside the MPI library{}",
                       what, rise, human_bytes(static_cast<double>(sizes[at - 1])),
                       human_bytes(static_cast<double>(sizes[at])),
                       spikes.empty() ? "" : ", or interference on this busy machine"));
  return rise > 3.0 && spikes.empty() ? at : 0;
}

}  // namespace

std::vector<size_t> power_of_two_sizes(size_t lo, size_t hi) {
  std::vector<size_t> s;
  for (size_t b = std::max<size_t>(lo, 1); b <= hi; b *= 2) s.push_back(b);
  return s;
}

int bandwidth_window(size_t bytes) {
  const size_t fit = kMaxWindowBytes / std::max<size_t>(bytes, 1);
  return static_cast<int>(std::clamp<size_t>(fit, 1, kOsuWindow));
}

std::vector<PingPongPoint> osu_latency(dist::Communicator& comm, std::span<const size_t> sizes,
                                       const SweepBudget& b, const SizeDone& done) {
  require_pair(comm, "osu_latency");
  const int me = comm.rank();
  const size_t max_bytes = sizes.empty() ? 1 : *std::max_element(sizes.begin(), sizes.end());
  std::vector<double> out(sizes.size() * 2, 0.0);  // half round trip, iters
  if (me <= 1) {
    Buffer buf(max_bytes);
    auto share = [&](int& n) {
      if (me == 0) comm.send(&n, sizeof n, 1, kCtlTag);
      else comm.recv(&n, sizeof n, 0, kCtlTag);
    };
    for (size_t i = 0; i < sizes.size(); ++i) {
      const size_t bytes = sizes[i];
      // osu_latency: the loop is timed as a whole on rank 0 (no clock read per iteration).
      auto loop = [&](int n) {
        const auto t0 = Clock::now();
        if (me == 0) {
          for (int k = 0; k < n; ++k) {
            comm.send(buf.data(), bytes, 1, kDataTag);
            comm.recv(buf.data(), bytes, 1, kDataTag);
          }
        } else {
          for (int k = 0; k < n; ++k) {
            comm.recv(buf.data(), bytes, 0, kDataTag);
            comm.send(buf.data(), bytes, 0, kDataTag);
          }
        }
        return seconds_since(t0);
      };
      const auto [t, iters] = run_size(bytes, kLatencyCounts, b, me == 0, loop, share);
      out[2 * i] = t / (2.0 * iters);
      out[2 * i + 1] = iters;
      if (done) done(i);
    }
  }
  comm.idle_barrier();
  share_from_root(comm, out);
  std::vector<PingPongPoint> r(sizes.size());
  for (size_t i = 0; i < sizes.size(); ++i)
    r[i] = {static_cast<double>(sizes[i]), out[2 * i], static_cast<int>(out[2 * i + 1])};
  return r;
}

std::vector<BandwidthPoint> osu_bandwidth(dist::Communicator& comm, std::span<const size_t> sizes,
                                          const SweepBudget& b, const SizeDone& done) {
  require_pair(comm, "osu_bandwidth");
  const int me = comm.rank();
  const size_t max_bytes = sizes.empty() ? 1 : *std::max_element(sizes.begin(), sizes.end());
  std::vector<double> out(sizes.size() * 2, 0.0);  // bytes/s, iters
  if (me <= 1) {
    // As in osu_bw, every message of a window uses the same buffer (its content is not checked).
    Buffer buf(max_bytes);
    char ack[4] = {0, 0, 0, 0};
    std::vector<dist::Request> reqs(kOsuWindow);
    auto share = [&](int& n) {
      if (me == 0) comm.send(&n, sizeof n, 1, kCtlTag);
      else comm.recv(&n, sizeof n, 0, kCtlTag);
    };
    for (size_t i = 0; i < sizes.size(); ++i) {
      const size_t bytes = sizes[i];
      const int window = bandwidth_window(bytes);
      const std::span<dist::Request> win(reqs.data(), static_cast<size_t>(window));
      auto loop = [&](int n) {
        const auto t0 = Clock::now();
        for (int k = 0; k < n; ++k) {
          if (me == 0) {
            for (auto& r : win) r = comm.isend(buf.data(), bytes, 1, kDataTag);
            dist::Request::wait_all(win);
            comm.recv(ack, sizeof ack, 1, kAckTag);
          } else {
            for (auto& r : win) r = comm.irecv(buf.data(), bytes, 0, kDataTag);
            dist::Request::wait_all(win);
            comm.send(ack, sizeof ack, 0, kAckTag);
          }
        }
        return seconds_since(t0);
      };
      const auto [t, iters] = run_size(bytes, kBandwidthCounts, b, me == 0, loop, share);
      out[2 * i] = static_cast<double>(bytes) * window * iters / t;
      out[2 * i + 1] = iters;
      if (done) done(i);
    }
  }
  comm.idle_barrier();
  share_from_root(comm, out);
  std::vector<BandwidthPoint> r(sizes.size());
  for (size_t i = 0; i < sizes.size(); ++i)
    r[i] = {static_cast<double>(sizes[i]), out[2 * i], bandwidth_window(sizes[i]),
            static_cast<int>(out[2 * i + 1])};
  return r;
}

namespace {
// osu_allreduce's loop over `sizes` with `call(data, n_floats)` as the collective; `what` names
// the sweep in errors.
template <class Call>
std::vector<AllreducePoint> allreduce_sweep(dist::Communicator& comm, std::span<const size_t> sizes,
                                            const SweepBudget& b, const SizeDone& done,
                                            const char* what, Call&& call) {
  size_t max_bytes = 4;
  for (size_t s : sizes) {
    BSTACK_CHECK(s >= 4 && s % 4 == 0, "{}: {} bytes is not a whole number of floats", what, s);
    max_bytes = std::max(max_bytes, s);
  }
  // Zeros: the in-place sum stays 0, so no value ever grows to inf or into denormals.
  Buffer buf(max_bytes);
  std::vector<AllreducePoint> r(sizes.size());
  auto share = [&](int& n) { comm.broadcast(&n, sizeof n, 0); };
  for (size_t i = 0; i < sizes.size(); ++i) {
    const size_t n_floats = sizes[i] / 4;
    comm.barrier();
    // osu_allreduce: each call timed on its own, then an untimed barrier.
    auto loop = [&](int n) {
      double t = 0;
      for (int k = 0; k < n; ++k) {
        const auto t0 = Clock::now();
        call(buf.floats(), n_floats);
        t += seconds_since(t0);
        comm.barrier();
      }
      return t;
    };
    const auto [t, iters] = run_size(sizes[i], kCollectiveCounts, b, comm.rank() == 0, loop, share);
    double mean = t / iters, lo = mean, hi = mean, avg = mean;
    comm.allreduce(&lo, 1, dist::ReduceOp::Min);
    comm.allreduce(&hi, 1, dist::ReduceOp::Max);
    comm.allreduce(&avg, 1, dist::ReduceOp::Avg);
    r[i] = {static_cast<double>(sizes[i]), avg, lo, hi, iters};
    if (done) done(i);
  }
  return r;
}
}  // namespace

std::vector<AllreducePoint> osu_allreduce(dist::Communicator& comm, std::span<const size_t> sizes,
                                          const SweepBudget& b, const SizeDone& done) {
  require_pair(comm, "osu_allreduce");
  return allreduce_sweep(comm, sizes, b, done, "osu_allreduce", [&](float* data, size_t n) {
    comm.allreduce(data, n, dist::ReduceOp::Sum);
  });
}

std::vector<AllreducePoint> ddp_allreduce(dist::Communicator& comm, std::span<const size_t> sizes,
                                          const SweepBudget& b, const SizeDone& done) {
  require_pair(comm, "ddp_allreduce");
  const auto backend = dist::make_backend("mpi", dist::Algorithm::Ring, comm);
  return allreduce_sweep(comm, sizes, b, done, "ddp_allreduce", [&](float* data, size_t n) {
    backend->start_allreduce(data, n, dist::ReduceOp::Avg)->wait();
  });
}

// ---- the section -----------------------------------------------------------------------------

void calibrate_interconnect(const Options& o, MachineProfile& p, const ProgressFn& progress) {
  auto& comm = dist::Communicator::world();
  p.set_meta("ranks", std::to_string(comm.size()));
  if (comm.size() < 2) {
    p.note("interconnect: not under mpirun (run `mpirun -np 2 bstack calibrate`); skipped");
    return;
  }
  const int ranks = comm.size();
  // Per-size budgets: quick keeps the section within ~6 s on 2 cores, full within ~30 s.
  const double scale = o.quick ? 1.0 : 5.0;
  const SweepBudget lat_b{0.02 * scale, o.quick ? 5 : 20};
  const SweepBudget bw_b{0.03 * scale, o.quick ? 2 : 10};
  const SweepBudget ar_b{0.04 * scale, o.quick ? 3 : 20};

  const size_t top = o.max_message_bytes ? o.max_message_bytes : size_t(64) << 20;
  BSTACK_CHECK(top >= 4, "--max-message {} B: the sweeps need at least 4 B", top);
  const auto lat_sizes = power_of_two_sizes(1, std::min(size_t(4) << 20, top));
  const auto bw_sizes = power_of_two_sizes(1, top);
  const auto ar_sizes = power_of_two_sizes(4, top);
  // Progress weights: the four sweeps take about the same time.
  auto report = [&](double base, size_t i, size_t n, const char* what, size_t bytes) {
    if (progress)
      progress((base + double(i + 1) / n) / 4.0,
               fmt::format("{} {}", what, human_bytes(static_cast<double>(bytes))));
  };

  const auto lat = osu_latency(comm, lat_sizes, lat_b, [&](size_t i) {
    report(0, i, lat_sizes.size(), "ping-pong", lat_sizes[i]);
  });
  const auto bw = osu_bandwidth(comm, bw_sizes, bw_b, [&](size_t i) {
    report(1, i, bw_sizes.size(), "bandwidth", bw_sizes[i]);
  });
  const auto ar = osu_allreduce(comm, ar_sizes, ar_b, [&](size_t i) {
    report(2, i, ar_sizes.size(), "all-reduce", ar_sizes[i]);
  });
  // The all-reduce `bstack train` runs (DDP's default, bstack's ring), up to 16 MiB: what wall 14
  // predicts a trace's buckets from (walls::allreduce_seconds).
  const auto ddp_sizes = power_of_two_sizes(4, std::min(size_t(16) << 20, top));
  const auto ddp = ddp_allreduce(comm, ddp_sizes, ar_b, [&](size_t i) {
    report(3, i, ddp_sizes.size(), "DDP all-reduce", ddp_sizes[i]);
  });

  // ---- fits (wall 14) and records ----
  std::vector<double> s, t;
  for (const auto& q : lat) {
    s.push_back(q.bytes);
    t.push_back(q.half_round_trip_s);
  }
  const AlphaBetaFit hock = fit_hockney(s, t);
  Series pp{"interconnect/pingpong",
            {"bytes", "half_round_trip_s", "iterations", "hockney_fit_s"},
            {},
            "OSU osu_latency: rank 0 <-> 1 MPI_Send/MPI_Recv through bstack's Communicator, half "
            "the mean round trip after warm-up; hockney_fit_s = p2p_alpha_s + bytes / "
            "p2p_beta_bytes_per_s"};
  for (size_t i = 0; i < lat.size(); ++i)
    pp.add_row({lat[i].bytes, lat[i].half_round_trip_s, double(lat[i].iters),
                walls::hockney_seconds({lat[i].bytes, hock.alpha_s, hock.beta_bytes_per_s})});
  p.add_series(std::move(pp));

  Series bws{"interconnect/bandwidth",
             {"bytes", "bytes_per_s", "window", "iterations"},
             {},
             fmt::format("OSU osu_bw: rank 0 -> 1, a window of {} MPI_Isend (fewer above 2 MiB: at "
                         "most {} MiB per window) then a 4-byte ack; bytes x window x iterations "
                         "/ time",
                         kOsuWindow, kMaxWindowBytes >> 20)};
  for (const auto& q : bw) bws.add_row({q.bytes, q.bytes_per_s, double(q.window), double(q.iters)});
  p.add_series(std::move(bws));

  s.clear();
  t.clear();
  for (const auto& q : ar) {
    s.push_back(q.bytes);
    t.push_back(q.max_s);
  }
  const AlphaBetaFit ring = fit_ring_allreduce(ranks, s, t);
  Series ars{"interconnect/allreduce",
             {"bytes", "avg_s", "min_s", "max_s", "iterations", "algbw_bytes_per_s",
              "busbw_bytes_per_s", "ring_fit_s"},
             {},
             "OSU osu_allreduce: MPI_Allreduce (float32 sum, in place) through bstack's "
             "Communicator, each call timed, barrier between calls; per-rank mean over "
             "iterations, then min/avg/max over ranks. nccl-tests (doc/PERFORMANCE.md): algbw = "
             "bytes / max_s, busbw = algbw x 2(N-1)/N. ring_fit_s = 2(N-1) alpha_s + 2(N-1)/N x "
             "bytes / beta_bytes_per_s"};
  for (const auto& q : ar) {
    const double algbw = walls::algorithm_bandwidth(q.bytes, q.max_s);
    ars.add_row({q.bytes, q.avg_s, q.min_s, q.max_s, double(q.iters), algbw,
                 walls::allreduce_bus_bandwidth(algbw, ranks),
                 walls::ring_allreduce_seconds({ranks, q.bytes, ring.alpha_s,
                                                ring.beta_bytes_per_s})});
  }
  p.add_series(std::move(ars));
  Series ds{"interconnect/ddp_allreduce",
            {"bytes", "ranks", "avg_s", "min_s", "max_s", "iterations"},
            {},
            "osu_allreduce's method over the all-reduce `bstack train` runs by default: dist::Backend "
            "mpi with bstack's ring (dist/allreduce.h), float32 average in place, started and "
            "waited for; per-rank mean over iterations, then min/avg/max over ranks. walls compare "
            "and predict take a bucket's all-reduce time from max_s by bytes (log-log)"};
  for (const auto& q : ddp) ds.add_row({q.bytes, double(ranks), q.avg_s, q.min_s, q.max_s, double(q.iters)});
  p.add_series(std::move(ds));

  const auto& l0 = lat.front();
  p.set({"p2p_latency_s", l0.half_round_trip_s, "s",
         fmt::format("OSU osu_latency: half round trip of a {:g} B MPI_Send/MPI_Recv ping-pong "
                     "between ranks 0 and 1, mean of {} after warm-up",
                     l0.bytes, l0.iters)});
  const auto& bl = bw.back();
  p.set({"p2p_bandwidth_bytes_per_s", bl.bytes_per_s, "B/s",
         fmt::format("OSU osu_bw: {} messages of {} in flight, then an ack; {} windows",
                     bl.window, human_bytes(bl.bytes), bl.iters)});
  const std::string hock_method = fmt::format(
      "Hockney T = alpha + M/beta, least squares on relative error (Eigen QR) over the OSU "
      "ping-pong, {} .. {}; quality: weighted R^2{}",
      human_bytes(lat.front().bytes), human_bytes(lat.back().bytes),
      hock.alpha_clamped ? "; alpha fitted < 0, fixed at 0" : "");
  p.set({"p2p_alpha_s", hock.alpha_s, "s", hock_method, hock.r2, "r2"});
  p.set({"p2p_beta_bytes_per_s", hock.beta_bytes_per_s, "B/s", hock_method, hock.r2, "r2"});
  const std::string ring_method = fmt::format(
      "ring all-reduce T = 2(N-1) alpha + 2(N-1)/N M/beta (Patarasuk & Yuan 2009), N = {}, least "
      "squares on relative error (Eigen QR) over the OSU all-reduce times (max over ranks), {} .. "
      "{}; quality: weighted R^2{}",
      ranks, human_bytes(ar.front().bytes), human_bytes(ar.back().bytes),
      ring.alpha_clamped ? "; alpha fitted < 0, fixed at 0" : "");
  p.set({"alpha_s", ring.alpha_s, "s", ring_method, ring.r2, "r2"});
  p.set({"beta_bytes_per_s", ring.beta_bytes_per_s, "B/s", ring_method, ring.r2, "r2"});
  const auto& al = ar.back();
  p.set({"allreduce_busbw_bytes_per_s",
         walls::allreduce_bus_bandwidth(walls::algorithm_bandwidth(al.bytes, al.max_s), ranks),
         "B/s",
         fmt::format("nccl-tests bus bandwidth of the OSU all-reduce at {}: bytes / max_s x "
                     "2(N-1)/N, N = {}",
                     human_bytes(al.bytes), ranks)});

  // The model is one line through every size; MPI libraries switch algorithm and protocol with
  // size (Open MPI's tuned all-reduce, eager -> rendezvous), which shows up as a step the line
  // can't follow, and a shared machine adds spikes. Say which is which; drop nothing.
  note_steps(p, "ping-pong", lat_sizes, [&] {
    std::vector<double> v;
    for (const auto& q : lat) v.push_back(q.half_round_trip_s);
    return v;
  }());
  const size_t step = note_steps(p, "all-reduce", ar_sizes, t);
  if (step >= 4) {
    // The same fit over the sizes below the step only, named by its range (a note: the walls
    // take alpha_s and beta_bytes_per_s, fitted over every size).
    const std::vector<double> s_below(s.begin(), s.begin() + step);
    const std::vector<double> t_below(t.begin(), t.begin() + step);
    const AlphaBetaFit below = fit_ring_allreduce(ranks, s_below, t_below);
    p.note(fmt::format("interconnect: ring fit of the all-reduce over {} .. {} only (below that "
                       "step): alpha = {:.3g} s, beta = {:.3g} B/s, weighted R^2 = {:.3f}",
                       human_bytes(s_below.front()), human_bytes(s_below.back()), below.alpha_s,
                       below.beta_bytes_per_s, below.r2));
  }
  if (ring.r2 < 0.9)
    p.note(fmt::format("interconnect: the ring model fits the all-reduce poorly over {} .. {} "
                       "(weighted R^2 = {:.3f}); alpha_s and beta_bytes_per_s are a compromise "
                       "across the library's algorithm switches (and any interference noted), "
                       "see series interconnect/allreduce (ring_fit_s beside max_s)",
                       human_bytes(ar.front().bytes), human_bytes(ar.back().bytes), ring.r2));
  if (hock.r2 < 0.9)
    p.note(fmt::format("interconnect: the Hockney model fits the ping-pong poorly over {} .. {} "
                       "(weighted R^2 = {:.3f}); see series interconnect/pingpong "
                       "(hockney_fit_s beside half_round_trip_s)",
                       human_bytes(lat.front().bytes), human_bytes(lat.back().bytes), hock.r2));
}

}  // namespace bstack::calibrate
