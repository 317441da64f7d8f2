#!/usr/bin/env bash
# Faults in `mpirun -np 2 bstack train`:
#   1. rank 1 killed (SIGKILL) mid-training: every other rank exits within 30 s, the output names
#      the lost rank, and the checkpoint rank 0 wrote before the fault loads (a resumed run
#      completes from it);
#   2. rank 0, the checkpoint writer, killed: the same; its last checkpoint is whole (checkpoints
#      are written to a temporary name and renamed);
#   3. rank 1 stopped (SIGSTOP, a hang the launcher cannot see): rank 0 gives up after
#      --dist-timeout and the job ends, saying why;
#   4. ranks started with different models (MPMD launch): stopped at start-up, the differing field
#      named, exit 1, no training.
# Usage: test_faults.sh path/to/bstack
set -u
BSTACK=${1:?usage: test_faults.sh path/to/bstack}
command -v mpirun >/dev/null || { echo "SKIP: no mpirun"; exit 77; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
pass=0 fail=0
tmp=$(mktemp -d)
mpirun_pid=
cleanup() {
  [ -n "$mpirun_pid" ] && kill -9 "$mpirun_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

check() {  # check NAME CONDITION-COMMAND...
  local name=$1; shift
  if "$@"; then pass=$((pass + 1)); echo "ok   $name"; else fail=$((fail + 1)); echo "FAIL $name"; fi
}

# The PID of the bstack process that is rank $1 of the job whose checkpoint is $2.
rank_pid() {
  local want=$1 tag=$2 p
  for p in /proc/[0-9]*; do
    [ -r "$p/environ" ] || continue
    tr '\0' '\n' <"$p/cmdline" 2>/dev/null | grep -qx -- "$tag" || continue
    tr '\0' '\n' <"$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$want" || continue
    echo "${p#/proc/}"
    return 0
  done
  return 1
}

kill_rank() {  # kill_rank RANK NAME
  local victim=$1 name=$2 ckpt="$tmp/$2.h5" log="$tmp/$2.log"
  # Long enough that it is still training when killed: many epochs, a checkpoint after each.
  mpirun -np 2 --bind-to none "$BSTACK" --threads 1 train --model mlp --epochs 100000 --batch 32 --save "$ckpt" \
    >"$log" 2>&1 &
  mpirun_pid=$!
  local waited=0
  until [ -f "$ckpt" ] || [ $waited -ge 600 ]; do sleep 0.1; waited=$((waited + 1)); done
  check "$name: a checkpoint was written before the fault" test -f "$ckpt"
  sleep 0.3  # mid-epoch
  local pid
  pid=$(rank_pid "$victim" "$ckpt")
  check "$name: found rank $victim" test -n "$pid"
  [ -n "$pid" ] && kill -9 "$pid"
  local t0=$SECONDS rc
  # Wait at most 40 s for the job to end (the requirement is 30).
  for _ in $(seq 400); do kill -0 "$mpirun_pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$mpirun_pid" 2>/dev/null; then
    check "$name: the other rank exits after rank $victim is killed (still running after 40 s)" false
    kill -9 "$mpirun_pid"
  fi
  wait "$mpirun_pid"; rc=$?
  mpirun_pid=
  local took=$((SECONDS - t0))
  echo "     $name: job ended ${took} s after the kill, exit code $rc"
  check "$name: the job ends within 30 s" test "$took" -le 30
  check "$name: the job fails (exit code $rc)" test "$rc" -ne 0
  check "$name: the output names the lost rank" grep -Eq "rank $victim\b" "$log"
  grep -E "rank $victim\b" "$log" | head -2 | sed 's/^/     | /'
  # The checkpoint from before the fault is whole: a run resumes from it and finishes.
  local epoch
  # (--epochs 1 is refused with the number of epochs the checkpoint holds)
  epoch=$("$BSTACK" train --model mlp --resume "$ckpt" --epochs 1 2>&1 | grep -Eo 'already trained [0-9]+' | grep -Eo '[0-9]+$')
  "$BSTACK" --threads 1 train --model mlp --batch 32 --resume "$ckpt" --epochs $((${epoch:-1} + 1)) --max-steps 2 \
    >"$tmp/$name.resume.log" 2>&1
  check "$name: the checkpoint (next epoch ${epoch:-?}) resumes" test $? -eq 0
}

kill_rank 1 "rank1_killed"
kill_rank 0 "rank0_killed"

# A rank that hangs (SIGSTOP) instead of dying: the launcher sees nothing wrong, so the other
# rank's own watchdog (--dist-timeout) must end the job.
ckpt="$tmp/stopped.h5"
mpirun -np 2 --bind-to none "$BSTACK" --threads 1 train --model mlp --epochs 100000 --batch 32 --save "$ckpt" \
  --dist-timeout 5 >"$tmp/stopped.log" 2>&1 &
mpirun_pid=$!
for _ in $(seq 600); do [ -f "$ckpt" ] && break; sleep 0.1; done
pid=$(rank_pid 1 "$ckpt")
check "rank1_stopped: found rank 1" test -n "$pid"
[ -n "$pid" ] && kill -STOP "$pid"
t0=$SECONDS
for _ in $(seq 400); do kill -0 "$mpirun_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$mpirun_pid" 2>/dev/null && { kill -9 "$mpirun_pid"; [ -n "$pid" ] && kill -9 "$pid"; }
wait "$mpirun_pid"; rc=$?
mpirun_pid=
echo "     rank1_stopped: job ended $((SECONDS - t0)) s after rank 1 stopped, exit code $rc"
check "rank1_stopped: the job ends within 30 s" test $((SECONDS - t0)) -le 30
check "rank1_stopped: the job fails" test "$rc" -ne 0
check "rank1_stopped: rank 0 says why" grep -q "has not completed after 5 s" "$tmp/stopped.log"
grep -m1 "has not completed" "$tmp/stopped.log" | sed 's/^/     | /'

# MPMD: rank 0 trains the mlp, rank 1 the cnn.
t0=$SECONDS
mpirun --bind-to none -np 1 "$BSTACK" --threads 1 train --model mlp --epochs 1 : \
  -np 1 "$BSTACK" --threads 1 train --model cnn --epochs 1 >"$tmp/mismatch.log" 2>&1
rc=$?
check "mismatch: exits 1 (got $rc)" test "$rc" -eq 1
check "mismatch: names the model of both ranks" \
  bash -c "grep -q 'rank 0: model=mlp' '$tmp/mismatch.log' && grep -q 'rank 1: model=cnn' '$tmp/mismatch.log'"
check "mismatch: stops before training" bash -c "! grep -q 'epoch' '$tmp/mismatch.log'"
check "mismatch: within 30 s" test $((SECONDS - t0)) -le 30
grep -m1 "disagree" "$tmp/mismatch.log" | sed 's/^/     | /'

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
