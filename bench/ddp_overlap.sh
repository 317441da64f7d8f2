#!/usr/bin/env bash
# Data-parallel training: how much of the gradient all-reduce backward hides, and what a second
# rank buys (scaling efficiency np = 1 -> np = P).
#
# Method: for each model, three configurations run back to back, R rounds (alternating, so drift
# on a shared machine hits each alike), best (lowest ms/step) of the rounds kept:
#   one       bstack train, 1 process, T threads, global batch B
#   local     bstack train, 1 process, T threads, batch B / P: one rank's compute, no communication
#   overlap   mpirun -np P, T threads per rank, global batch B, buckets of K KiB started during backward
#   after     the same with --no-overlap: every bucket's all-reduce after backward (all exposed)
# Figures (rank 0's, from `bstack train --json`):
#   exposed     ms per step waited for communication after backward
#   hidden      1 - exposed(overlap) / exposed(after): the share of the all-reduce wait backward hid
#   hidden_step 1 - (T(overlap) - T(local)) / (T(after) - T(local)), T = ms/step: the same share from
#               step times alone (the PyTorch DDP paper's comparison); noisy when communication is
#               cheap next to compute, as on one machine's shared memory
#   scaling     samples/s(overlap) / (P * samples/s(one)): 1.0 is perfect; weak scaling per rank
#               is not what this measures (the global batch is fixed, each rank gets B / P)
# Usage: bench/ddp_overlap.sh [path/to/bstack] [rounds]
#   env: MODELS ("cnn gpt-tiny"), NP (2), THREADS (1), BUCKET_KB (cnn 16, gpt-tiny 64), MPIRUN (the
#   launcher command, default "mpirun -np $NP --bind-to none"; e.g. "scripts/netns-cluster run --np 2 --"
#   to run across the shaped namespaces)
set -euo pipefail
BSTACK=${1:-build/bstack}
ROUNDS=${2:-3}
MODELS=${MODELS:-cnn gpt-tiny}
NP=${NP:-2}
THREADS=${THREADS:-1}
MPIRUN=${MPIRUN:-mpirun -np $NP --bind-to none}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
command -v python3 >/dev/null || { echo "needs python3 to read the JSON" >&2; exit 1; }

settings() {  # model [divisor] -> epochs, batch (global batch / divisor) and steps
  local div=${2:-1}
  case $1 in
    gpt-tiny) echo "--epochs 1 --batch $((32 / div)) --max-steps 30" ;;
    *) echo "--epochs 4 --batch $((128 / div)) --max-steps 9" ;;
  esac
}
bucket() {  # model -> bucket KiB: a few buckets per model, so there is something to overlap
  case $1 in
    cnn) echo "${BUCKET_KB:-16}" ;;
    *) echo "${BUCKET_KB:-64}" ;;
  esac
}
field() { python3 -c "import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])['$1'])"; }

echo "method: $ROUNDS rounds of {1 process, 1 process at batch / $NP, mpirun -np $NP overlapped, mpirun -np $NP"
echo "        --no-overlap}, alternating;"
echo "        best ms/step of the rounds; $THREADS thread(s) per rank; one epoch capped at a number of steps"
echo "        (the first step of each run included); launcher: $MPIRUN"
for model in $MODELS; do echo "        $model: $(settings "$model"), buckets of $(bucket "$model") KiB"; done
printf "%-9s %-22s %9s %9s %12s %12s %8s %8s\n" model config ms/step samples/s backward_ms exposed_ms hidden scaling
for model in $MODELS; do
  read -r -a s <<<"$(settings "$model")"
  best_one=1e9 best_on=1e9 best_off=1e9 best_local=1e9
  read -r -a sl <<<"$(settings "$model" "$NP")"
  for _ in $(seq "$ROUNDS"); do
    j=$("$BSTACK" --json --threads "$THREADS" train --model "$model" "${s[@]}" 2>/dev/null)
    ms=$(field ms_per_step <<<"$j"); if python3 -c "import sys; sys.exit(not $ms < $best_one)"; then best_one=$ms; one=$j; fi
    j=$("$BSTACK" --json --threads "$THREADS" train --model "$model" "${sl[@]}" 2>/dev/null)
    ms=$(field ms_per_step <<<"$j"); if python3 -c "import sys; sys.exit(not $ms < $best_local)"; then best_local=$ms; local=$j; fi
    # shellcheck disable=SC2086
    j=$($MPIRUN "$BSTACK" --json --threads "$THREADS" train --model "$model" \
        "${s[@]}" --bucket-kb "$(bucket "$model")" 2>/dev/null)
    ms=$(field ms_per_step <<<"$j"); if python3 -c "import sys; sys.exit(not $ms < $best_on)"; then best_on=$ms; on=$j; fi
    # shellcheck disable=SC2086
    j=$($MPIRUN "$BSTACK" --json --threads "$THREADS" train --model "$model" \
        "${s[@]}" --bucket-kb "$(bucket "$model")" --no-overlap 2>/dev/null)
    ms=$(field ms_per_step <<<"$j"); if python3 -c "import sys; sys.exit(not $ms < $best_off)"; then best_off=$ms; off=$j; fi
  done
  python3 - "$model" "$NP" "$one" "$on" "$off" "$local" <<'EOF'
import json, sys
model, P = sys.argv[1], int(sys.argv[2])
one, on, off, local = (json.loads(a.strip().splitlines()[-1]) for a in sys.argv[3:7])
t_local, t_on, t_off = local["ms_per_step"], on["ms_per_step"], off["ms_per_step"]
hidden_step = 1 - (t_on - t_local) / (t_off - t_local) if t_off > t_local else float("nan")
hidden = 1 - on["exposed_comm_ms_per_step"] / off["exposed_comm_ms_per_step"] if off["exposed_comm_ms_per_step"] > 0 else float("nan")
scaling = on["samples_per_s"] / (P * one["samples_per_s"])
print(f"{model:<9} {'1 process':<22} {one['ms_per_step']:9.2f} {one['samples_per_s']:9.0f} {'':>12} {'':>12}")
print(f"{'':<9} {f'np {P}, overlapped':<22} {on['ms_per_step']:9.2f} {on['samples_per_s']:9.0f} "
      f"{on['backward_ms_per_step']:12.3f} {on['exposed_comm_ms_per_step']:12.3f} {hidden:8.1%} {scaling:8.2f}")
print(f"{'':<9} {f'np {P}, after backward':<22} {off['ms_per_step']:9.2f} {off['samples_per_s']:9.0f} "
      f"{off['backward_ms_per_step']:12.3f} {off['exposed_comm_ms_per_step']:12.3f}")
print(f"{'':<9} {f'1 process, batch / {P}':<22} {t_local:9.2f} {local['samples_per_s']:9.0f}")
print(f"{'':<9} hidden from step times: {hidden_step:.1%}; parameters {one['parameters']}, "
      f"gradient bytes {4 * one['parameters']}")
EOF
done
