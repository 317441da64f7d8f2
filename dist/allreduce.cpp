// bstack's own all-reduce algorithms (see allreduce.h for the algorithms, their cost models and
// sources). Each algorithm is written as a plan: the list of rounds this rank takes part in, each
// round at most one send and one receive, computed up front from (N, rank, n). One executor
// (ScheduleWork) runs any plan without blocking: it posts a round's isend/irecv, and a test()
// that finds both complete reduces what arrived, then posts the next round.
//
// Layout: `data` holds n elements of T on every rank; ranges below are [offset, offset + len)
// in elements of `data`. A round that reduces receives into a scratch buffer, then combines it
// into its range of `data`; a round that only gathers receives straight into `data`. A round
// never sends from the range it receives into, and the executor waits for both its send and
// its receive before touching `data`, so no buffer is written while in flight.
//
// Fixed reduction order (bit-identical results on every rank): every round names which operand
// comes first, by position in the algorithm (ring: the partial sum that went round is the left
// operand, so chunk c sums ranks c, c+1, ..., c-1 in that order; recursive doubling and
// Rabenseifner: the lower (virtual) rank's values are the left operand on both partners). Each
// final value is thus computed by the same expression tree wherever it is computed, independent
// of arrival order; a value computed on one rank and copied (all-gather, the non-power-of-two
// fold) is copied bit for bit. IEEE addition is commutative, but not for every NaN payload, and
// max(+0, -0) depends on the order, hence the explicit order rather than relying on a + b == b + a.
#include "dist/allreduce.h"

#include <algorithm>
#include <climits>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "src/error.h"

namespace bstack::dist {
namespace {

// One round of a plan: at most one send and one receive (possibly to and from the same peer).
struct Round {
  int send_to = -1;  // -1: no send
  size_t send_off = 0, send_len = 0;
  int recv_from = -1;  // -1: no receive
  size_t recv_off = 0, recv_len = 0;
  bool reduce = false;     // receive into scratch and combine into data[recv range]
  bool recv_left = false;  // the received values are the left operand of the combine
  int tag = 0;
  size_t avg_off = 0, avg_len = 0;  // after the round: Avg divides this range by N
};

// Element offset of block b when n elements are split into `parts` blocks whose sizes differ by
// at most one (the first n % parts blocks one larger).
size_t block_start(size_t n, size_t parts, size_t b) {
  return b * (n / parts) + std::min(b, n % parts);
}

int ceil_log2(int n) {
  int k = 0;
  while ((1 << k) < n) ++k;
  return k;
}

// Ring (Patarasuk & Yuan 2009), N ranks, n elements in N chunks. Reduce-scatter step s
// (0 .. N-2): send chunk (r - s) mod N to r + 1, receive chunk (r - s - 1) mod N from r - 1 and
// add the own values after it. After N-1 steps rank r holds chunk (r + 1) mod N complete. All-
// gather step s: send chunk (r + 1 - s) mod N, receive chunk (r - s) mod N in place.
std::vector<Round> plan_ring(int N, int r, size_t n, int tag, bool avg) {
  const auto chunk = [&](int c) {
    const size_t cc = static_cast<size_t>(((c % N) + N) % N);
    const size_t b = block_start(n, N, cc);
    return std::pair<size_t, size_t>(b, block_start(n, N, cc + 1) - b);
  };
  const int next = (r + 1) % N, prev = (r + N - 1) % N;
  std::vector<Round> plan;
  for (int s = 0; s < N - 1; ++s) {
    Round x;
    x.send_to = next;
    std::tie(x.send_off, x.send_len) = chunk(r - s);
    x.recv_from = prev;
    std::tie(x.recv_off, x.recv_len) = chunk(r - s - 1);
    x.reduce = true;
    x.recv_left = true;  // ranks c .. r-1 of chunk c arrive; this rank's values come after them
    x.tag = tag;
    plan.push_back(x);
  }
  if (avg) std::tie(plan.back().avg_off, plan.back().avg_len) = chunk(r + 1);
  for (int s = 0; s < N - 1; ++s) {
    Round x;
    x.send_to = next;
    std::tie(x.send_off, x.send_len) = chunk(r + 1 - s);
    x.recv_from = prev;
    std::tie(x.recv_off, x.recv_len) = chunk(r - s);
    x.tag = tag + 1;
    plan.push_back(x);
  }
  return plan;
}

// The non-power-of-two fold of Thakur, Rabenseifner & Gropp 2005 (MPICH): p = 2^floor(log2 N),
// rem = N - p. Of the first 2*rem ranks, each odd one sends its vector to the even one below and
// sits out; the even one reduces (own values left) and takes part as virtual rank r/2. Ranks
// >= 2*rem are virtual rank r - rem. At the end the even ranks send the result to their odd one.
struct Fold {
  int p = 1, rem = 0;
  int vrank = -1;  // -1: this rank sits out

  int real(int v) const { return v < rem ? 2 * v : v + rem; }
};

Fold make_fold(int N, int r) {
  Fold f;
  while (2 * f.p <= N) f.p *= 2;
  f.rem = N - f.p;
  if (r < 2 * f.rem)
    f.vrank = r % 2 == 0 ? r / 2 : -1;
  else
    f.vrank = r - f.rem;
  return f;
}

// Wraps the core rounds of a power-of-two algorithm in the fold: the odd rank's send-in and
// receive-back, the even rank's receive-in and send-back. Tags: tag (in), tag + 2k + 1 (back).
std::vector<Round> folded(const Fold& f, int r, size_t n, int tag, int k,
                          std::vector<Round> core) {
  const int out_tag = tag + 2 * k + 1;
  std::vector<Round> plan;
  if (r < 2 * f.rem && r % 2 == 1) {
    Round in;
    in.send_to = r - 1;
    in.send_len = n;
    in.tag = tag;
    Round back;
    back.recv_from = r - 1;
    back.recv_len = n;
    back.tag = out_tag;
    return {in, back};
  }
  if (r < 2 * f.rem) {
    Round in;
    in.recv_from = r + 1;
    in.recv_len = n;
    in.reduce = true;
    in.recv_left = false;  // the even (lower) rank's values first
    in.tag = tag;
    plan.push_back(in);
  }
  plan.insert(plan.end(), core.begin(), core.end());
  if (r < 2 * f.rem) {
    Round back;
    back.send_to = r + 1;
    back.send_len = n;
    back.tag = out_tag;
    plan.push_back(back);
  }
  return plan;
}

// Recursive doubling (Thakur et al. 2005, sec. 4.5): round j exchanges the whole vector with
// virtual rank v ^ 2^j and combines, lower virtual rank's values first.
std::vector<Round> plan_recursive_doubling(int N, int r, size_t n, int tag, bool avg) {
  const Fold f = make_fold(N, r);
  const int k = ceil_log2(f.p);
  std::vector<Round> core;
  if (f.vrank >= 0) {
    const int v = f.vrank;
    for (int j = 0; j < k; ++j) {
      const int pv = v ^ (1 << j);
      Round x;
      x.send_to = x.recv_from = f.real(pv);
      x.send_len = x.recv_len = n;
      x.reduce = true;
      x.recv_left = pv < v;
      x.tag = tag + 1 + j;
      core.push_back(x);
    }
    // p == 1 happens only for N == 1, which never plans.
    if (avg) core.back().avg_len = n;
  }
  return folded(f, r, n, tag, k, std::move(core));
}

// Rabenseifner (Thakur et al. 2005, sec. 4.5): reduce-scatter by recursive halving over p
// blocks (distance p/2 first: keep the half of the current block range on this rank's side of
// bit j, send the other half to the partner across it, combine what comes back), after which
// virtual rank v holds block v complete; then all-gather by recursive doubling (distance 1
// first, each round doubling the range held).
std::vector<Round> plan_rabenseifner(int N, int r, size_t n, int tag, bool avg) {
  const Fold f = make_fold(N, r);
  const int k = ceil_log2(f.p);
  const size_t p = static_cast<size_t>(f.p);
  const auto at = [&](size_t b) { return block_start(n, p, b); };
  std::vector<Round> core;
  if (f.vrank >= 0) {
    const size_t v = static_cast<size_t>(f.vrank);
    size_t lo = 0, hi = p;  // blocks this rank is reducing
    int t = tag + 1;
    for (size_t mask = p / 2; mask >= 1; mask /= 2, ++t) {
      const size_t pv = v ^ mask;
      const size_t mid = lo + mask;
      const bool lower = (v & mask) == 0;
      const size_t keep_lo = lower ? lo : mid, keep_hi = lower ? mid : hi;
      const size_t give_lo = lower ? mid : lo, give_hi = lower ? hi : mid;
      Round x;
      x.send_to = x.recv_from = f.real(static_cast<int>(pv));
      x.send_off = at(give_lo);
      x.send_len = at(give_hi) - at(give_lo);
      x.recv_off = at(keep_lo);
      x.recv_len = at(keep_hi) - at(keep_lo);
      x.reduce = true;
      x.recv_left = pv < v;
      x.tag = t;
      core.push_back(x);
      lo = keep_lo;
      hi = keep_hi;
    }
    if (avg) {
      core.back().avg_off = at(lo);
      core.back().avg_len = at(hi) - at(lo);
    }
    for (size_t mask = 1; mask < p; mask *= 2, ++t) {
      const size_t pv = v ^ mask;
      const bool lower = (v & mask) == 0;
      const size_t got_lo = lower ? hi : lo - mask, got_hi = lower ? hi + mask : lo;
      Round x;
      x.send_to = x.recv_from = f.real(static_cast<int>(pv));
      x.send_off = at(lo);
      x.send_len = at(hi) - at(lo);
      x.recv_off = at(got_lo);
      x.recv_len = at(got_hi) - at(got_lo);
      x.tag = t;
      core.push_back(x);
      lo = std::min(lo, got_lo);
      hi = std::max(hi, got_hi);
    }
  }
  return folded(f, r, n, tag, k, std::move(core));
}

// out = left op right, elementwise. Max/Min keep the left operand on ties (and on NaN), so the
// operand order fixes the result bit for bit.
template <class T>
void combine(T* acc, const T* in, size_t len, ReduceOp op, bool in_left) {
  switch (op) {
    case ReduceOp::Sum:
    case ReduceOp::Avg:
      if (in_left)
        for (size_t i = 0; i < len; ++i) acc[i] = in[i] + acc[i];
      else
        for (size_t i = 0; i < len; ++i) acc[i] = acc[i] + in[i];
      return;
    case ReduceOp::Max:
      if (in_left)
        for (size_t i = 0; i < len; ++i) acc[i] = acc[i] > in[i] ? acc[i] : in[i];
      else
        for (size_t i = 0; i < len; ++i) acc[i] = in[i] > acc[i] ? in[i] : acc[i];
      return;
    case ReduceOp::Min:
      if (in_left)
        for (size_t i = 0; i < len; ++i) acc[i] = acc[i] < in[i] ? acc[i] : in[i];
      else
        for (size_t i = 0; i < len; ++i) acc[i] = in[i] < acc[i] ? in[i] : acc[i];
      return;
  }
}

// Posts `bytes` as messages of at most INT_MAX bytes (isend/irecv's limit); the receiver posts
// the same split, and MPI keeps messages of one (peer, tag) in order. Nothing for 0 bytes: both
// sides of a round know its length, so they skip it alike.
void post_send(Communicator& comm, const void* p, size_t bytes, int peer, int tag,
               std::vector<Request>& out) {
  const char* c = static_cast<const char*>(p);
  for (size_t left = bytes; left > 0;) {
    const size_t k = std::min<size_t>(left, INT_MAX);
    out.push_back(comm.isend(c, k, peer, tag));
    c += k;
    left -= k;
  }
}

void post_recv(Communicator& comm, void* p, size_t bytes, int peer, int tag,
               std::vector<Request>& out) {
  char* c = static_cast<char*>(p);
  for (size_t left = bytes; left > 0;) {
    const size_t k = std::min<size_t>(left, INT_MAX);
    out.push_back(comm.irecv(c, k, peer, tag));
    c += k;
    left -= k;
  }
}

// Runs a plan: round i's messages are posted when round i-1 has completed and been combined.
template <class T>
class ScheduleWork final : public Work {
 public:
  ScheduleWork(Communicator& comm, T* data, ReduceOp op, std::vector<Round> plan)
      : comm_(comm), data_(data), op_(op), plan_(std::move(plan)) {
    size_t scratch = 0;
    for (const Round& x : plan_)
      if (x.reduce) scratch = std::max(scratch, x.recv_len);
    scratch_.resize(scratch);
    if (!plan_.empty()) post(plan_[0]);
  }

  ~ScheduleWork() override {
    if (pos_ >= plan_.size()) return;
    try {
      wait();
    } catch (...) {
      // dist/work.h: destroying unfinished work swallows errors (wait() reports them).
    }
  }

  bool test() override {
    while (pos_ < plan_.size()) {
      bool all = true;
      for (Request& q : pending_) all = q.test() && all;  // test every one: each call progresses
      if (!all) return false;
      pending_.clear();
      finish(plan_[pos_]);
      if (++pos_ < plan_.size()) post(plan_[pos_]);
    }
    return true;
  }

 private:
  void post(const Round& x) {
    if (x.recv_from >= 0)
      post_recv(comm_, x.reduce ? scratch_.data() : data_ + x.recv_off, x.recv_len * sizeof(T),
                x.recv_from, x.tag, pending_);
    if (x.send_to >= 0)
      post_send(comm_, data_ + x.send_off, x.send_len * sizeof(T), x.send_to, x.tag, pending_);
  }

  void finish(const Round& x) {
    if (x.reduce) combine(data_ + x.recv_off, scratch_.data(), x.recv_len, op_, x.recv_left);
    const T size = static_cast<T>(comm_.size());
    T* a = data_ + x.avg_off;
    for (size_t i = 0; i < x.avg_len; ++i) a[i] = a[i] / size;
  }

  Communicator& comm_;
  T* data_;
  ReduceOp op_;
  std::vector<Round> plan_;
  std::vector<T> scratch_;
  std::vector<Request> pending_;
  size_t pos_ = 0;  // the round in flight
};

template <class T>
WorkPtr start(Communicator& comm, T* data, size_t n, ReduceOp op, Algorithm alg, int tag) {
  BSTACK_CHECK(data != nullptr || n == 0, "start_allreduce({}): data is null for n = {}",
               algorithm_name(alg), n);
  if (alg == Algorithm::Mpi) return comm.iallreduce(data, n, op);
  const int N = comm.size();
  const int span = allreduce_tag_span(alg, N);
  BSTACK_CHECK(tag >= 0 && tag <= comm.max_tag() - (span - 1),
               "start_allreduce({}): tag {} out of range: it uses tags {} .. {} of 0 .. {} "
               "(MPI_TAG_UB)",
               algorithm_name(alg), tag, tag, static_cast<long long>(tag) + span - 1,
               comm.max_tag());
  if (N == 1 || n == 0) return std::make_unique<DoneWork>();  // every rank has the same n
  const int r = comm.rank();
  const bool avg = op == ReduceOp::Avg;
  std::vector<Round> plan;
  switch (alg) {
    case Algorithm::Ring: plan = plan_ring(N, r, n, tag, avg); break;
    case Algorithm::RecursiveDoubling: plan = plan_recursive_doubling(N, r, n, tag, avg); break;
    case Algorithm::Rabenseifner: plan = plan_rabenseifner(N, r, n, tag, avg); break;
    case Algorithm::Mpi: break;
  }
  return std::make_unique<ScheduleWork<T>>(comm, data, op, std::move(plan));
}

}  // namespace

Algorithm parse_algorithm(std::string_view name) {
  if (name == "mpi") return Algorithm::Mpi;
  if (name == "ring") return Algorithm::Ring;
  if (name == "rd" || name == "recursive-doubling") return Algorithm::RecursiveDoubling;
  if (name == "rabenseifner") return Algorithm::Rabenseifner;
  fail("all-reduce algorithm '{}': expected mpi, ring, rd (recursive-doubling) or rabenseifner",
       name);
}

// Ring: tag (reduce-scatter), tag + 1 (all-gather). Recursive doubling and Rabenseifner: tag
// (fold in), tag + 1 .. tag + 2k (rounds, k = floor(log2 N)), tag + 2k + 1 (fold out); counted
// here with ceil(log2 N), the bound allreduce.h promises (tag + 2*log2(N) + 2).
int allreduce_tag_span(Algorithm alg, int ranks) {
  switch (alg) {
    case Algorithm::Mpi: return 0;
    case Algorithm::Ring: return 2;
    case Algorithm::RecursiveDoubling:
    case Algorithm::Rabenseifner: return 2 * ceil_log2(ranks) + 3;
  }
  return 0;
}

const char* algorithm_name(Algorithm a) {
  switch (a) {
    case Algorithm::Mpi: return "mpi";
    case Algorithm::Ring: return "ring";
    case Algorithm::RecursiveDoubling: return "rd";
    case Algorithm::Rabenseifner: return "rabenseifner";
  }
  return "?";
}

WorkPtr start_allreduce(Communicator& comm, float* data, size_t n, ReduceOp op, Algorithm alg,
                        int tag) {
  return start(comm, data, n, op, alg, tag);
}

WorkPtr start_allreduce(Communicator& comm, double* data, size_t n, ReduceOp op, Algorithm alg,
                        int tag) {
  return start(comm, data, n, op, alg, tag);
}

void allreduce(Communicator& comm, float* data, size_t n, ReduceOp op, Algorithm alg) {
  start_allreduce(comm, data, n, op, alg)->wait();
}

void allreduce(Communicator& comm, double* data, size_t n, ReduceOp op, Algorithm alg) {
  start_allreduce(comm, data, n, op, alg)->wait();
}

}  // namespace bstack::dist
