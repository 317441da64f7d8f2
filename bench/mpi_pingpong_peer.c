/* mpi_pingpong_peer: the plain MPI ping-pong that `bstack calibrate`'s interconnect latency is
 * checked against. Nothing but MPI_Send/MPI_Recv between ranks 0 and 1 in a loop, timed with
 * MPI_Wtime, reported as half the round trip (the OSU osu_latency method: OSU Micro-Benchmarks,
 * mpi/pt2pt/osu_latency.c; warm-up iterations are run and not timed).
 *
 *   mpirun -np 2 mpi_pingpong_peer [max_bytes (default 4194304)] [single|funneled]
 *
 * The thread level: "single" (default) starts MPI with MPI_Init; "funneled" with
 * MPI_Init_thread(MPI_THREAD_FUNNELED), as bstack's Communicator does (its process runs OpenMP
 * threads, so FUNNELED is the level the standard asks for). Open MPI 4.1's shared-memory path is
 * ~50 ns slower per message at FUNNELED than at SINGLE (measured: 0.25 vs 0.31 us half round
 * trip), so compare like with like; bench/calibrate_peers_mpi.sh prints both.
 *
 * Prints on rank 0 one line per size, powers of two from 1 B: "<bytes> <half round trip in s>".
 * Iterations: OSU's defaults, 10000 timed + 100 warm-up up to 8 KiB, 1000 + 10 above, capped at
 * 256 MiB moved per size. bstack's section (calibrate/interconnect.cpp) starts from the same
 * defaults and cuts them to a time budget, which leaves small messages (the 1 B latency compared
 * here) at the full 10000. Other ranks than 0 and 1 only wait. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check(int rc, const char* what) {
  if (rc != MPI_SUCCESS) {
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    fprintf(stderr, "mpi_pingpong_peer: %s: %s\n", what, msg);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
}

int main(int argc, char** argv) {
  const int funneled = argc > 2 && strcmp(argv[2], "funneled") == 0;
  if (argc > 2 && !funneled && strcmp(argv[2], "single") != 0) {
    fprintf(stderr, "mpi_pingpong_peer: thread level '%s': expected single or funneled\n", argv[2]);
    return 2;
  }
  if (funneled) {
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  } else {
    MPI_Init(&argc, &argv);
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  int rank = 0, size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size < 2) {
    if (rank == 0) fprintf(stderr, "mpi_pingpong_peer: needs 2 ranks (mpirun -np 2)\n");
    MPI_Finalize();
    return 1;
  }
  const long max_bytes = argc > 1 ? atol(argv[1]) : 4L << 20;
  char* buf = NULL;
  if (posix_memalign((void**)&buf, 4096, (size_t)(max_bytes > 0 ? max_bytes : 1)) != 0) {
    fprintf(stderr, "mpi_pingpong_peer: out of memory for %ld bytes\n", max_bytes);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  memset(buf, 1, (size_t)(max_bytes > 0 ? max_bytes : 1));
  if (rank == 0)
    printf("# bytes half_round_trip_s (plain MPI_Send/MPI_Recv, OSU method, thread level %s)\n",
           funneled ? "FUNNELED" : "SINGLE");

  for (long bytes = 1; bytes <= max_bytes; bytes *= 2) {
    /* OSU defaults (osu_util.h: LAT_LOOP_SMALL 10000, LAT_SKIP_SMALL 100, LARGE 1000/10 above
     * 8 KiB), capped at about 256 MiB moved per size, at least 20 timed iterations. */
    const int small = bytes <= 8192;
    int iters = small ? 10000 : 1000;
    const int skip = small ? 100 : 10;
    const long cap = (256L << 20) / bytes;
    if (iters > cap) iters = cap < 20 ? 20 : (int)cap;
    const int count = (int)bytes;
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = 0;
    if (rank == 0) {
      for (int i = 0; i < skip + iters; ++i) {
        if (i == skip) t0 = MPI_Wtime();
        check(MPI_Send(buf, count, MPI_CHAR, 1, 1, MPI_COMM_WORLD), "MPI_Send");
        check(MPI_Recv(buf, count, MPI_CHAR, 1, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "MPI_Recv");
      }
      const double half = (MPI_Wtime() - t0) / (2.0 * iters);
      printf("%ld %.6e\n", bytes, half);
      fflush(stdout);
    } else if (rank == 1) {
      for (int i = 0; i < skip + iters; ++i) {
        check(MPI_Recv(buf, count, MPI_CHAR, 0, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "MPI_Recv");
        check(MPI_Send(buf, count, MPI_CHAR, 0, 1, MPI_COMM_WORLD), "MPI_Send");
      }
    }
  }
  free(buf);
  MPI_Finalize();
  return 0;
}
