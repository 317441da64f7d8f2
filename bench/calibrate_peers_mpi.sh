#!/usr/bin/env bash
# Side by side: the 1-byte ping-pong latency `bstack calibrate` measures through its
# Communicator (p2p_latency_s, OSU osu_latency method) against a plain MPI_Send/MPI_Recv loop in
# C (bench/mpi_pingpong_peer.c, same method and iteration counts), each under
# `mpirun -np 2`, alternating ROUNDS times so drift on a shared machine hits both alike.
# The peer runs twice per round: at MPI_THREAD_FUNNELED, the level the Communicator asks for
# (like for like: the Communicator's own cost; issue 6 asks for bstack / peer <= 1.10), and with
# plain MPI_Init (SINGLE), which shows what the thread level itself costs in this MPI.
#
#   bench/calibrate_peers_mpi.sh [build-dir (default build)] [rounds (default 3)] [--quick]
set -euo pipefail

BUILD=${1:-build}
ROUNDS=${2:-3}
QUICK=${3:-}
BSTACK=${BSTACK:-$BUILD/bstack}
PEER=${PEER:-$BUILD/bench/mpi_pingpong_peer}
for f in "$BSTACK" "$PEER"; do
  if [[ ! -x $f ]]; then
    echo "calibrate_peers_mpi: $f not found (build with -DBSTACK_BENCH=ON, or set BSTACK/PEER)" >&2
    exit 1
  fi
done

MPIRUN=(mpirun -np 2)
# Open MPI refuses root without --allow-run-as-root and 2 ranks may exceed a small machine's slots.
if mpirun --version 2>/dev/null | grep -q "Open MPI"; then
  MPIRUN+=(--allow-run-as-root --oversubscribe)
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

printf '%-6s %18s %18s %16s %8s %8s\n' round "peer FUNNELED (us)" "peer SINGLE (us)" \
  "bstack (us)" ratio "ratio/S"
ratios=()
ratios_single=()
for ((r = 1; r <= ROUNDS; ++r)); do
  peer_s=$("${MPIRUN[@]}" "$PEER" 1 funneled | awk '$1 == 1 { print $2 }')
  single_s=$("${MPIRUN[@]}" "$PEER" 1 single | awk '$1 == 1 { print $2 }')
  # shellcheck disable=SC2086
  json=$("${MPIRUN[@]}" "$BSTACK" --json calibrate --sections interconnect $QUICK \
           -o "$TMP/profile.h5" 2>"$TMP/stderr.txt") || { cat "$TMP/stderr.txt" >&2; exit 1; }
  bstack_s=$(printf '%s' "$json" | grep -o '"p2p_latency_s":[^,}]*' | head -1 | cut -d: -f2)
  if [[ -z $peer_s || -z $single_s || -z $bstack_s ]]; then
    echo "calibrate_peers_mpi: could not read a latency (peer '$peer_s' / '$single_s'," \
         "bstack '$bstack_s')" >&2
    exit 1
  fi
  ratio=$(awk -v a="$bstack_s" -v b="$peer_s" 'BEGIN { printf "%.3f", a / b }')
  ratio_single=$(awk -v a="$bstack_s" -v b="$single_s" 'BEGIN { printf "%.3f", a / b }')
  ratios+=("$ratio")
  ratios_single+=("$ratio_single")
  awk -v r="$r" -v p="$peer_s" -v s="$single_s" -v b="$bstack_s" -v q="$ratio" \
    -v qs="$ratio_single" \
    'BEGIN { printf "%-6s %18.3f %18.3f %16.3f %8s %8s\n", r, p * 1e6, s * 1e6, b * 1e6, q, qs }'
done
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
echo "median ratio bstack / peer at FUNNELED: $(printf '%s\n' "${ratios[@]}" | median)" \
     "(issue 6: within 10%, i.e. <= 1.10)"
echo "median ratio bstack / peer with MPI_Init (SINGLE): $(printf '%s\n' "${ratios_single[@]}" | median)"
grep -E "interconnect|alpha|beta|latency|bandwidth|busbw" "$TMP/stderr.txt" | sed 's/^/last bstack run: /' || true
