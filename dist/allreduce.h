// bstack's own all-reduce algorithms over point-to-point messages, so a lab can measure each
// against its cost model (walls/communication.h) and against the MPI library's own:
//
//   ring                reduce-scatter then all-gather around a ring, N-1 steps each, every rank
//                       sending M/N per step: T = 2(N-1)a + 2(N-1)/N * M/b (Patarasuk & Yuan
//                       2009, "Bandwidth optimal all-reduce algorithms for clusters of
//                       workstations"). Bandwidth-optimal; latency grows with N.
//   recursive doubling  log2(N) rounds, exchanging the whole vector with the partner rank^2^k:
//                       T = log2(N) (a + M/b) (Thakur, Rabenseifner & Gropp 2005, "Optimization
//                       of collective communication operations in MPICH", sec. 4.5).
//                       Latency-optimal; for small messages.
//   rabenseifner        reduce-scatter by recursive halving, then all-gather by recursive
//                       doubling: T = 2 log2(N) a + 2(N-1)/N * M/b (same paper, sec. 4.5).
//
// Rank counts that are not a power of two (recursive doubling, Rabenseifner): the first
// 2(N - 2^floor(log2 N)) ranks pair up, the odd one of each pair sends its vector to the even
// one and sits out, the 2^k remaining ranks run the algorithm, and the result goes back (the
// MPICH scheme of the same paper). The ring takes any N.
//
// Every algorithm is non-blocking: start_allreduce() posts the first round and returns Work whose
// test() advances one round at a time as messages arrive (dist/work.h). Reductions are computed
// in a fixed order (independent of arrival order), so every rank ends with bit-identical values.
#pragma once

#include "dist/comm.h"
#include "dist/work.h"

#include <string>
#include <string_view>

namespace bstack::dist {

enum class Algorithm { Mpi, Ring, RecursiveDoubling, Rabenseifner };

// "mpi" | "ring" | "rd" (or "recursive-doubling") | "rabenseifner"; throws bstack::Error
// listing the choices otherwise.
Algorithm parse_algorithm(std::string_view name);
const char* algorithm_name(Algorithm a);  // "mpi", "ring", "rd", "rabenseifner"

// In place over all ranks of `comm`; op is Sum or Avg (Max and Min too: they are elementwise).
// Algorithm::Mpi is the MPI library's MPI_Iallreduce. `tag` keeps concurrent all-reduces apart
// (bstack's algorithms use tags tag .. tag + 2*log2(N) + 2; give each one in flight its own
// base, e.g. 1000 * bucket index).
WorkPtr start_allreduce(Communicator& comm, float* data, size_t n, ReduceOp op, Algorithm alg, int tag = 0);
WorkPtr start_allreduce(Communicator& comm, double* data, size_t n, ReduceOp op, Algorithm alg, int tag = 0);

// How many consecutive tags, from `tag` on, one all-reduce of `alg` over `ranks` ranks uses
// (0 for Algorithm::Mpi, whose collective has its own context); for handing out tag bases.
int allreduce_tag_span(Algorithm alg, int ranks);

// start_allreduce(...)->wait().
void allreduce(Communicator& comm, float* data, size_t n, ReduceOp op, Algorithm alg);
void allreduce(Communicator& comm, double* data, size_t n, ReduceOp op, Algorithm alg);

}  // namespace bstack::dist
