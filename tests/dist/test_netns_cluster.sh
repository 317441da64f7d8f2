#!/usr/bin/env bash
# test_netns_cluster.sh: bstack's interconnect calibration over a real, shaped TCP network on one
# machine (scripts/netns-cluster: network namespaces on a bridge, tc tbf on every link), checked
# against the rate the links were shaped to.
#
#   tests/dist/test_netns_cluster.sh [path/to/bstack]     (default: build/bstack)
#
# Steps, each under its own `timeout`, timed and printed:
#   1. up: 2 hosts, every link shaped to the first rate (tbf, both directions).
#   2. per rate (BSTACK_NETNS_RATES, default "1gbit 100mbit"; the rates after the first are set
#      with `netns-cluster shape`, i.e. tc qdisc change on the live links):
#      `bstack calibrate --quick --sections interconnect --max-message M --json` under mpirun
#      across the two namespaces (M = BSTACK_NETNS_MAX_MESSAGE, default 1MiB; empty: calibrate's
#      own 64 MiB), then the profile's fits printed: p2p_alpha_s / p2p_beta_bytes_per_s (Hockney,
#      over the ping-pong) and alpha_s / beta_bytes_per_s (ring, over the all-reduce).
#   3. later steps (marked below): bench_allreduce and data-parallel `bstack train` across the
#      cluster.
#
# What is checked, per rate R (bit/s), against the TCP goodput the link can carry,
#   G = R/8 x 1448/1514   (the payload of a full frame: MTU 1500 - 20 IP - 32 TCP with
#                          timestamps = 1448 B, in the 1514 B frame tbf counts):
#   - the ping-pong bandwidth (bytes / half round trip) of calibrate's own samples of 1 MiB and
#     more, the best of them, within +-20% of G. Only the large sizes: tbf limits the average rate
#     but adds no serialization delay (a packet leaves at once while its bucket, 64 KiB, holds
#     tokens), so a small message costs the stack's latency (~10 us) at any rate, and the
#     whole-range fit calibrate records in p2p_beta_bytes_per_s comes out ~2x G (printed only).
#     The best size, not a fit: other load on the machine only ever slows a size down.
#     When it fails while other processes took more than BSTACK_NETNS_BUSY_PCT (default 10)
#     percent of the machine's CPU time in a quiet second before or after the calibrate step
#     (from /proc/stat), the result is inconclusive: the test exits 77 (skip)
#     saying so, or fails with BSTACK_NETNS_STRICT=1. At 1gbit a 2-core machine needs both cores
#     for the two ranks and the kernel's packet processing (measured with a compiler running:
#     best ping-pong 81 MB/s = 0.68 G, and a 3.6 ms 1 B latency, one 250 Hz scheduler tick).
#   - no bandwidth calibrate measured at 1 MiB or more (ping-pong, OSU bandwidth, all-reduce
#     algbw) exceeds 1.2 G: more would mean the traffic did not cross the shaped links
#     (e.g. a shared-memory transport between the namespaces).
#   - beta of the Hockney model fitted (least squares) to those ping-pong samples >= 1 MiB, the
#     profile's beta_bytes_per_s (ring fit over the all-reduce, what wall 14 uses) and
#     p2p_bandwidth_bytes_per_s (OSU bandwidth at the largest size), each within +-20% of G: a warning, or
#     a failure with BSTACK_NETNS_STRICT=1. Both "hosts" share this machine's cores with the
#     kernel's packet processing, so other load on it pulls these down (1gbit, 2-core machine,
#     quiet: 1.03 G, 0.98 G, 0.99 G; with a compiler running: 0.72 G, 0.64 G, 0.83 G).
#
# Time (2-core machine, --quick) of the calibrate step at 100mbit: 152 s with --max-message 4MiB,
# 50 s with 1MiB, 410 s up to 64 MiB (the bandwidth sweep sends 128 MiB per window at every size
# from 2 MiB up, at least 4 windows each: ~45 s per size); at 1gbit 42-55 s up to 64 MiB.
# bench_allreduce ~40 s at 100mbit. BSTACK_NETNS_RATES=1gbit gives the short run. Per-step
# limit: BSTACK_NETNS_STEP_TIMEOUT seconds (default 1200).
#
# Needs root (network namespaces, tc) and Open MPI; exits 77 (skip) where the cluster cannot be
# made. The cluster is taken down on every exit (trap), a killed step included.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BSTACK=$(realpath -s -m "${1:-$ROOT/build/bstack}")
CLUSTER=$ROOT/scripts/netns-cluster
RATES=${BSTACK_NETNS_RATES:-1gbit 100mbit}
STEP_TIMEOUT=${BSTACK_NETNS_STEP_TIMEOUT:-1200}
BUSY_PCT=${BSTACK_NETNS_BUSY_PCT:-10}
MAX_MESSAGE=${BSTACK_NETNS_MAX_MESSAGE-1MiB}
# Open MPI's TCP transport sends messages above its eager limit (64 KiB) by rendezvous, which on
# these links took ~1.7x the ring model at 1 MiB (100 Mbit/s); eager up to 4 MiB, every message of
# the sweeps here goes as one stream, the case the alpha-beta model describes. Set for every step.
# tbf's queue as the longest wait in it: 500 ms holds a 2 MiB ring chunk at 100 Mbit/s (at the
# default 50 ms, 625 KB, TCP overflowed it and lost packets: the 4 MiB all-reduce ran 17% slow).
TBF_LATENCY=${BSTACK_NETNS_TBF_LATENCY:-500ms}
export OMPI_MCA_btl_tcp_eager_limit=${OMPI_MCA_btl_tcp_eager_limit:-4194304}
PREFIX="bsnt${$}x"  # unique per run: parallel runs get separate clusters
readonly SKIP=77

exec 3>&2  # the test's own messages, whatever a step's stderr is redirected to
say() { printf '[netns-cluster test] %s\n' "$*" >&3; }
[[ -x $BSTACK ]] || { say "FAIL: no bstack executable at $BSTACK"; exit 1; }
command -v jq >/dev/null 2>&1 || { say "skipped: needs jq"; exit $SKIP; }
command -v python3 >/dev/null 2>&1 || { say "skipped: needs python3"; exit $SKIP; }
command -v mpirun >/dev/null 2>&1 || { say "skipped: needs mpirun (Open MPI)"; exit $SKIP; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/netns-cluster-test.XXXXXX")
cleanup() {
  local rc=$?
  "$CLUSTER" down --prefix "$PREFIX" >/dev/null 2>&1 || true
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$(now)"; }

# Run a step under `timeout`; on a timeout or failure, fail the test naming the step (and show
# the end of STEP_LOG, when set, where the step's stderr went).
STEP_LOG=""
step() {
  local name=$1 rc=0 t0
  shift
  t0=$(now)
  timeout --kill-after=15 "$STEP_TIMEOUT" "$@" || rc=$?
  if ((rc != 0)) && [[ -n $STEP_LOG && -s $STEP_LOG ]]; then tail -30 "$STEP_LOG" >&3; fi
  if ((rc == 124 || rc == 137)); then
    say "FAIL: step '$name' ran past ${STEP_TIMEOUT} s"
    exit 1
  fi
  if ((rc == SKIP)); then
    say "skipped: step '$name' says this machine cannot host the cluster"
    exit $SKIP
  fi
  if ((rc != 0)); then
    say "FAIL: step '$name' exited $rc"
    exit 1
  fi
  say "step '$name' took $(since "$t0") s"
}


# Percent of the machine's CPU time (all cores) used over one second while none of the test's own
# processes run: user + nice + system from /proc/stat. Taken before and after a step: a busy
# machine (a compiler, another test) makes a missed rate inconclusive rather than a failure.
# (Measuring during the step does not work: without IRQ time accounting the kernel threads that
# process the packets, ksoftirqd, count as system time of "other processes", ~50% at 100 Mbit/s.)
quiet_busy_pct() {
  python3 - <<'EOF'
import os, time
def sample():
    with open("/proc/stat") as f:
        return sum(map(int, f.readline().split()[1:4]))
a, t0 = sample(), time.monotonic()
time.sleep(1.0)
b, t1 = sample(), time.monotonic()
print(f"{100 * (b - a) / os.sysconf('SC_CLK_TCK') / ((t1 - t0) * os.cpu_count()):.1f}")
EOF
}

# ---- 1. the cluster ---------------------------------------------------------------------------
read -r -a RATE_LIST <<<"$RATES"
((${#RATE_LIST[@]} >= 1)) || { say "FAIL: BSTACK_NETNS_RATES is empty"; exit 1; }
step "up" "$CLUSTER" up --hosts 2 --rate "${RATE_LIST[0]}" --latency "$TBF_LATENCY" --prefix "$PREFIX"

# The checks on one calibrate profile (JSON of `calibrate --show --json`): prints the fits; exits
# 1 when a check fails, 3 when only the rate check failed and the machine was busy (inconclusive).
check_profile() {  # $1 = profile JSON, $2 = rate in bit/s, $3 = rate as given, $4 = busy (0|1)
  python3 - "$1" "$2" "$3" "$4" <<'EOF'
import json, os, sys

j = json.load(open(sys.argv[1]))
rate_bits, rate_name, busy = float(sys.argv[2]), sys.argv[3], sys.argv[4] == "1"
goodput = rate_bits / 8 * 1448 / 1514
big = 1 << 20  # 16x the tbf bucket: these sizes cross the shaped link at its rate

def rows(name):
    s = j["series"][name]
    return [dict(zip(s["columns"], r)) for r in s["rows"]]

def line_fit(x, y):  # least squares y = a + b x
    n = len(x)
    mx, my = sum(x) / n, sum(y) / n
    sxx = sum((u - mx) ** 2 for u in x)
    b = sum((u - mx) * (v - my) for u, v in zip(x, y)) / sxx
    return my - b * mx, b

pp = [r for r in rows("interconnect/pingpong") if r["bytes"] >= big]
if not pp:
    print(f"  FAIL: no ping-pong sample of 1 MiB or more (is --max-message below 1 MiB?)")
    sys.exit(1)
a_pp, beta_pp = float("nan"), float("nan")
if len(pp) >= 2:
    a_pp, slope = line_fit([r["bytes"] for r in pp], [r["half_round_trip_s"] for r in pp])
    beta_pp = 1 / slope if slope > 0 else float("inf")
ar = [r for r in rows("interconnect/allreduce") if r["bytes"] >= big]
bw = [r for r in rows("interconnect/bandwidth") if r["bytes"] >= big]

MB = 1e6
print(f"rate {rate_name}: tbf {rate_bits / 8 / MB:.1f} MB/s, TCP goodput G = {goodput / MB:.1f} MB/s")
print(f"  profile  p2p_latency_s        = {j['p2p_latency_s'] * 1e6:8.2f} us   (1 B half round trip)")
print(f"  profile  p2p_alpha_s          = {j['p2p_alpha_s'] * 1e6:8.2f} us   "
      f"p2p_beta_bytes_per_s = {j['p2p_beta_bytes_per_s'] / MB:8.1f} MB/s  "
      f"(Hockney, whole range, R^2 {j['params']['p2p_beta_bytes_per_s'].get('r2', float('nan')):.3f})")
print(f"  profile  alpha_s              = {j['alpha_s'] * 1e6:8.2f} us   "
      f"beta_bytes_per_s     = {j['beta_bytes_per_s'] / MB:8.1f} MB/s  "
      f"(ring all-reduce, whole range, R^2 {j['params']['beta_bytes_per_s'].get('r2', float('nan')):.3f})")
print(f"  profile  p2p_bandwidth        = {j['p2p_bandwidth_bytes_per_s'] / MB:8.1f} MB/s "
      f"(OSU bw, largest size)")
print(f"  large    Hockney >= 1 MiB     : alpha {a_pp * 1e6:8.1f} us, beta {beta_pp / MB:8.1f} MB/s "
      f"= {beta_pp / goodput:.3f} G{'' if len(pp) >= 2 else ' (one size: no fit)'}")
for r in ar:
    print(f"  all-reduce {r['bytes'] / big:6.0f} MiB: max {r['max_s'] * 1e3:9.2f} ms, "
          f"algbw {r['algbw_bytes_per_s'] / MB:7.1f} MB/s = {r['algbw_bytes_per_s'] / goodput:.3f} G")
for n in j.get("notes", []):
    print(f"  note: {n}")

failed, rate_failed, soft = [], [], []
best_size, best = max(((r["bytes"], r["bytes"] / r["half_round_trip_s"]) for r in pp),
                      key=lambda x: x[1])
print(f"  large    best ping-pong       : {best / MB:8.1f} MB/s = {best / goodput:.3f} G "
      f"(at {best_size / big:.0f} MiB)")
if not 0.8 * goodput <= best <= 1.2 * goodput:
    rate_failed.append(f"the best ping-pong bandwidth over >= 1 MiB is {best / MB:.1f} MB/s, outside "
                  f"+-20% of the goodput {goodput / MB:.1f} MB/s of a {rate_name} link")
if len(pp) >= 2 and not 0.8 * goodput <= beta_pp <= 1.2 * goodput:
    soft.append(f"Hockney beta over the ping-pong >= 1 MiB = {beta_pp / MB:.1f} MB/s = "
                f"{beta_pp / goodput:.2f} G, outside +-20% of G")
for what, series in (("ping-pong", [(r["bytes"], r["bytes"] / r["half_round_trip_s"]) for r in pp]),
                     ("OSU bandwidth", [(r["bytes"], r["bytes_per_s"]) for r in bw]),
                     ("all-reduce algbw", [(r["bytes"], r["algbw_bytes_per_s"]) for r in ar])):
    size, v = max(series, key=lambda x: x[1])
    if v > 1.2 * goodput:
        failed.append(f"{what} at {size / big:.0f} MiB ran at {v / MB:.1f} MB/s, faster than the "
                      f"{rate_name} link can carry: the traffic did not cross the shaped link")
for key, what in (("beta_bytes_per_s", "ring all-reduce beta (whole range)"),
                  ("p2p_bandwidth_bytes_per_s", "OSU bandwidth at the largest size")):
    v = j[key]
    if not 0.8 * goodput <= v <= 1.2 * goodput:
        soft.append(f"{what} {key} = {v / MB:.1f} MB/s = {v / goodput:.2f} G, outside +-20% of G")
strict = os.environ.get("BSTACK_NETNS_STRICT") == "1"
for f in soft:
    print(f"  {'FAIL' if strict else 'WARNING (other load on this machine?)'}: {f}")
inconclusive = busy and not strict and not failed and bool(rate_failed)
for f in rate_failed:
    print(f"  {'INCONCLUSIVE (the machine was busy)' if inconclusive else 'FAIL'}: {f}")
for f in failed:
    print(f"  FAIL: {f}")
if inconclusive:
    sys.exit(3)
sys.exit(1 if failed or rate_failed or (strict and soft) else 0)
EOF
}

rate_bits() {  # tc rate units: bit, kbit, mbit, gbit (decimal)
  python3 - "$1" <<'EOF'
import re, sys
m = re.fullmatch(r"([0-9.]+)(bit|kbit|mbit|gbit)", sys.argv[1].lower())
if not m:
    sys.exit(f"rate '{sys.argv[1]}': give it as N[k|m|g]bit")
print(float(m[1]) * {"bit": 1, "kbit": 1e3, "mbit": 1e6, "gbit": 1e9}[m[2]])
EOF
}

# ---- 3. the communication wall against bstack's ring all-reduce and a data-parallel step -------
# Done inside the rate loop below (function), so each rate is checked under its own profile.
# The ring model (wall 14, T = 2(N-1) a + 2(N-1)/N M/b) takes a = p2p_latency_s (the 1 B
# half round trip) and b = p2p_bandwidth_bytes_per_s (OSU windowed bandwidth at the largest
# size) from the profile calibrate just wrote: a run before, not the run compared. Not the
# whole-range fits: tbf passes a burst of up to its bucket (64 KiB) at once, so mid sizes run
# faster than the rate and pull a fitted beta up (~2x for Hockney); and the MPI all-reduce the
# ring fit is made over is recursive doubling at N = 2 (one a per call, the ring has two).
# Checked: bstack's ring within +-15% of the model at every size up to 1 MiB from a per-rate size
# on where the bandwidth term is >= 90% of the model (sizes below are latency-bound, where this
# machine's TCP stack, not the shaped link, sets the time and the 1 B ping-pong is only a rough a
# that moves with the machine's load; they are printed, not checked), and a
# data-parallel mlp step (no buckets, all-reduce after backward) within +-15% of
# T(one rank's compute, measured alone at batch B/2) + ring(4 x parameters bytes) at 100 Mbit/s
# and below (printed at faster rates, where compute and skew between the ranks weigh as much).
check_wall14() {  # $1 = rate, $2 = profile JSON, $3 = smallest size checked (bytes), $4 = rate in bit/s
  # Two attempts (the measurement is best-of-2): one run disturbed by the machine's other work
  # does not decide the check.
  wall14_once "$@" || { say "wall 14 at $1: outside +-15% once; measuring again"; wall14_once "$@"; }
}
wall14_once() {
  local rate=$1 prof=$2 from=$3 bits=$4 a b
  a=$(jq -r .p2p_latency_s "$prof")
  b=$(jq -r .p2p_bandwidth_bytes_per_s "$prof")
  [[ -n $BENCH ]] || { say "FAIL: no bench_allreduce beside $BSTACK (configure with -DBSTACK_BENCH=ON)"; return 1; }
  step "bench_allreduce small at $rate" "$CLUSTER" run --prefix "$PREFIX" --np 2 -- \
    "$BENCH" --max-bytes 16KiB --factor 4 --iters 200 --warmup 20 --rounds 3 --alpha "$a" --beta "$b" --json \
    >"$TMP/ar_small_$rate.json" 2>/dev/null
  step "bench_allreduce large at $rate" "$CLUSTER" run --prefix "$PREFIX" --np 2 -- \
    "$BENCH" --min-bytes 64KiB --max-bytes 1MiB --factor 4 --iters 3 --warmup 1 --rounds 1 --alpha "$a" \
    --beta "$b" --json >"$TMP/ar_large_$rate.json" 2>/dev/null
  # Data-parallel step: one rank's compute alone (batch 32 of the global 64), then 2 ranks.
  local train=(--threads 1 train --model mlp --epochs 1 --max-steps 40 --bucket-kb 0 --json)
  "$BSTACK" "${train[@]}" --batch 32 >"$TMP/local_$rate.json" 2>/dev/null
  step "data-parallel train at $rate" "$CLUSTER" run --prefix "$PREFIX" --np 2 -- \
    "$BSTACK" "${train[@]}" --batch 64 >"$TMP/ddp_$rate.json" 2>/dev/null
  python3 - "$rate" "$a" "$b" "$from" "$TMP/ar_small_$rate.json" "$TMP/ar_large_$rate.json" \
    "$TMP/local_$rate.json" "$TMP/ddp_$rate.json" "$bits" <<'PY'
import json, sys
rate, a, b, start = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
rate_bits = float(sys.argv[9])
def last_json(path):
    return json.loads(open(path).read().strip().splitlines()[-1])
sizes = last_json(sys.argv[5])["sizes"] + last_json(sys.argv[6])["sizes"]
ring = lambda m, n=2: 2 * (n - 1) * a + 2 * (n - 1) / n * m / b
print(f"wall 14 at {rate}: a = {a * 1e6:.2f} us (p2p_latency_s), b = {b / 1e6:.2f} MB/s (p2p_bandwidth_bytes_per_s)")
print(f"  {'size':>9} {'ring measured':>14} {'predicted':>11} {'error':>8} {'MPI_Allreduce':>14}")
bad = []
for s in sizes:
    m, t = s["bytes"], s["sides"]["ring"]["time_s"]
    p = ring(m)
    err = (p - t) / t
    # Checked where the bandwidth term is >= 90% of the model: below, the alpha term (the 1 B
    # ping-pong, which moves with the machine's load: 8-15 us seen) decides the error.
    bw_share = (m / b) / p if p > 0 else 0
    checked = m >= start and bw_share >= 0.9
    mark = ("ok" if abs(err) <= 0.15 else "FAIL") if checked else "(not checked: latency-bound or within tbf's burst)"
    print(f"  {m:9d} {t * 1e6:12.1f} us {p * 1e6:9.1f} us {err:+8.1%} {s['sides']['MPI_Allreduce']['time_s'] * 1e6:11.1f} us  {mark}")
    if checked and abs(err) > 0.15:
        bad.append(m)
local, ddp = last_json(sys.argv[7]), last_json(sys.argv[8])
grad_bytes = 4 * ddp["parameters"]
pred = local["ms_per_step"] / 1e3 + ring(grad_bytes)
meas = ddp["ms_per_step"] / 1e3
err = (pred - meas) / meas
print(f"  data-parallel mlp step (2 ranks, global batch 64, one all-reduce of {grad_bytes} B after backward):")
print(f"    compute alone (1 rank, batch 32) {local['ms_per_step']:.2f} ms + ring {ring(grad_bytes) * 1e3:.2f} ms = "
      f"predicted {pred * 1e3:.2f} ms; measured {meas * 1e3:.2f} ms (exposed communication "
      f"{ddp['exposed_comm_ms_per_step']:.2f} ms): error {err:+.1%}")
if rate_bits <= 1e8 and abs(err) > 0.15:  # checked where communication dominates the step
    bad.append("step")
if bad:
    print(f"  FAIL at {rate}: outside +-15% at {bad}")
    sys.exit(1)
PY
}
BENCH=""
for b in "$(dirname "$BSTACK")/bench/bench_allreduce" "$(dirname "$BSTACK")/bench/allreduce"; do
  [[ -x $b ]] && { BENCH=$b; break; }
done
# <<< LATER STEPS

# ---- 2. calibrate's interconnect section at each rate ----------------------------------------
declare -A ALPHA BETA
failures=0
inconclusive=0
first=1
for rate in "${RATE_LIST[@]}"; do
  bits=$(rate_bits "$rate")
  if ((first == 0)); then
    step "shape $rate" "$CLUSTER" shape --rate "$rate" --latency "$TBF_LATENCY" --prefix "$PREFIX"
  fi
  first=0
  profile=$TMP/p_$rate.h5
  STEP_LOG=$TMP/run_$rate.err
  before=$(quiet_busy_pct)
  step "calibrate interconnect at $rate" "$CLUSTER" run --prefix "$PREFIX" --np 2 -- \
    "$BSTACK" calibrate --quick --sections interconnect ${MAX_MESSAGE:+--max-message "$MAX_MESSAGE"} \
    -o "$profile" --json \
    >"$TMP/run_$rate.json" 2>"$STEP_LOG"
  STEP_LOG=""
  after=$(quiet_busy_pct)
  busy=$(python3 -c "import sys; print(int(max(float(sys.argv[1]), float(sys.argv[2])) > float(sys.argv[3])))" \
    "$before" "$after" "$BUSY_PCT")
  say "other processes used ${before}% / ${after}% of this machine's CPU in a quiet second before / after" \
    "the step$( ((busy)) && echo " (busy: more than ${BUSY_PCT}%)")"
  jq -e '.beta_bytes_per_s and .p2p_beta_bytes_per_s' "$TMP/run_$rate.json" >/dev/null ||
    { say "FAIL: calibrate's JSON at $rate has no interconnect fits"; cat "$TMP/run_$rate.json" >&2; exit 1; }
  "$BSTACK" calibrate --show "$profile" --json >"$TMP/show_$rate.json" 2>/dev/null
  rc=0
  check_profile "$TMP/show_$rate.json" "$bits" "$rate" "$busy" || rc=$?
  if ((rc == 3)); then
    inconclusive=$((inconclusive + 1))
  elif ((rc != 0)); then
    failures=$((failures + 1))
  fi
  ALPHA[$rate]=$(jq -r .alpha_s "$TMP/show_$rate.json")
  BETA[$rate]=$(jq -r .beta_bytes_per_s "$TMP/show_$rate.json")
  # Bandwidth-bound from where a message outlasts the stack's latency: 1 KiB at <= 100 Mbit/s;
  # faster, from 256 KiB, where a ring chunk (M/2) is twice tbf's 64 KiB bucket: smaller chunks
  # pass at once on the tokens the bucket regains in the gaps between messages, so 64 KiB at
  # 1 Gbit/s ran +4% quiet and +17% with other load (faster than the rate), not a link property.
  from=$(python3 -c "import sys; print(1024 if float(sys.argv[1]) <= 1e8 else 262144)" "$bits")
  if ! check_wall14 "$rate" "$TMP/show_$rate.json" "$from" "$bits"; then
    if ((busy)); then inconclusive=$((inconclusive + 1)); else failures=$((failures + 1)); fi
  fi
done



if ((failures > 0)); then
  say "FAIL: $failures rate(s) failed their checks (see above)"
  exit 1
fi
if ((inconclusive > 0)); then
  say "skipped: $inconclusive rate(s) inconclusive: the link rate was not reached while other" \
    "processes were busy on this machine (rerun on a quiet one; BSTACK_NETNS_STRICT=1 fails instead)"
  exit $SKIP
fi
say "PASS"
