#!/usr/bin/env bash
# The command-line contract: --help, --version, exit codes (0 ok, 1 runtime, 2 usage) and
# `demo --json` printing exactly one JSON object on stdout.
# Usage: test_cli.sh path/to/bstack
set -u
BSTACK=${1:?usage: test_cli.sh path/to/bstack}
pass=0 fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check() {  # check NAME CONDITION-COMMAND...
  local name=$1; shift
  if "$@"; then pass=$((pass + 1)); echo "ok   $name"; else fail=$((fail + 1)); echo "FAIL $name"; fi
}
run() {  # run ARGS...: sets rc, out, err
  "$BSTACK" "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?
  out=$(cat "$tmp/out"); err=$(cat "$tmp/err")
}

run --help
check "--help exits 0" test "$rc" -eq 0
check "--help lists demo" grep -q "demo" "$tmp/out"

run --version
check "--version exits 0" test "$rc" -eq 0
check "--version prints the version" grep -Eq "^bstack [0-9]+\.[0-9]+\.[0-9]+" "$tmp/out"

run --no-such-flag
check "unknown flag exits 2" test "$rc" -eq 2
check "unknown flag is named" grep -q -- "--no-such-flag" "$tmp/err"

run --threads 0 demo
check "--threads 0 exits 2" test "$rc" -eq 2
check "--threads 0 names the option" grep -q -- "--threads" "$tmp/err"

run --threads abc demo
check "--threads abc exits 2" test "$rc" -eq 2

run --json --threads 0 demo
check "usage error under --json exits 2" test "$rc" -eq 2
check "usage error under --json prints a JSON error" python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert "--threads" in j["error"] and j["usage"] is True, j
' "$tmp/out"

run
check "no command exits 2" test "$rc" -eq 2

run no-such-command
check "unknown command exits 2" test "$rc" -eq 2

run --json --threads 1 demo --dir "$tmp/demo"
check "demo --json exits 0" test "$rc" -eq 0
check "demo --json prints one JSON object" python3 -c '
import json, sys
text = open(sys.argv[1]).read()
obj = json.loads(text)
assert isinstance(obj, dict), "not an object"
assert text.strip().count("\n") == 0, "more than one line"
assert obj["threads"] == 1, obj["threads"]
assert obj["logistic_regression"]["train_accuracy"] > 0.85, obj["logistic_regression"]
assert obj["gradcheck_max_rel_err"] < 1e-6, obj["gradcheck_max_rel_err"]
assert obj["checkpoint_roundtrip_identical"] is True
c = obj["compare"]
assert c["predicted_step_s"] > 0 and c["measured_step_s"] > 0 and c["binding_wall"] in (1, 2, 3), c
assert abs(c["step_error"] - (c["predicted_step_s"] - c["measured_step_s"]) / c["measured_step_s"]) < 1e-9
assert obj["train"]["test_accuracy"] > 0.5 and obj["train"]["steps"] > 0, obj["train"]
' "$tmp/out"
check "demo writes its profile and trace" test -s "$tmp/demo/profile.h5" -a -s "$tmp/demo/cnn-trace.h5"
check "demo --json draws no progress bar" test -z "$(tr -cd '\r' <"$tmp/err")"

run demo --json --dir "$tmp/demo"
check "demo --json (flag after the command) exits 0" test "$rc" -eq 0
check "demo --json (flag after the command) prints JSON" python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$tmp/out"

run demo --dir "$tmp/demo"
check "demo exits 0" test "$rc" -eq 0
check "demo prints its steps" grep -q "gradient check" "$tmp/out"

run --json train --model mlp --epochs 2 --save "$tmp/ckpt.h5"
check "train --json exits 0" test "$rc" -eq 0
check "train --json reports the contract fields" python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
for k in ("test_accuracy", "test_loss", "final_train_loss", "epochs", "ms_per_step", "samples_per_s"):
    assert k in j, k
assert 0 <= j["test_accuracy"] <= 1 and j["epochs"] == 2 and j["ms_per_step"] > 0
assert len(j["history"]) == 2
' "$tmp/out"
check "train --save writes the checkpoint" test -s "$tmp/ckpt.h5"
check "train --json: predicted peak memory within 10% of the allocator's measured peak" python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
p, m = j["predicted_peak_memory_bytes"], j["peak_memory_bytes"]
assert m > 0 and j["data_memory_bytes"] > 0 and abs(p - m) / m < 0.10, (p, m)
' "$tmp/out"
check "train prints the memory prediction before training" grep -q "memory: predicted peak .* RAM" "$tmp/err"

run train --model mlp --epochs 3 --resume "$tmp/ckpt.h5"
check "train --resume exits 0" test "$rc" -eq 0
check "train --resume runs only the remaining epoch" test "$(grep -Ec '^ +[0-9]+ +[0-9.]+ ' "$tmp/out")" -eq 1

run train --model resnet
check "train --model resnet exits 2" test "$rc" -eq 2
check "train --model resnet names the option" grep -q -- "--model" "$tmp/err"

run train --resume "$tmp/missing.h5"
check "train --resume missing file exits 2" test "$rc" -eq 2

printf 'not hdf5' > "$tmp/bad.h5"
run train --resume "$tmp/bad.h5"
check "train --resume corrupt file exits 1" test "$rc" -eq 1
check "train --resume corrupt file is named" grep -q "bad.h5: truncated or not an HDF5 file" "$tmp/err"

run train --data "$tmp/none.csv"
check "train --data missing file exits 1 naming it" sh -c "[ $rc -eq 1 ] && grep -q 'none.csv: no such file' '$tmp/err'"

# bstack tune: a tiny search writes a cache that --show reads back; a corrupt or foreign cache is
# ignored with a warning by every command, never trusted.
export BSTACK_TUNE_CACHE="$tmp/tune.h5"
run tune --budget-s 1 --shapes 24x40x16 --op sgemm --json
check "tune exits 0" test "$rc" -eq 0
check "tune writes the cache" test -s "$tmp/tune.h5"
check "tune --json names the entry" sh -c "printf '%s' '$out' | grep -q '\"shape_class\":\"mt_ns_kt\"'"
run tune --show --json
check "tune --show reads it back" sh -c "[ $rc -eq 0 ] && printf '%s' '$out' | grep -q 'mt_ns_kt'"
run tune --shapes 12x0x5
check "tune --shapes bad exits 2" test "$rc" -eq 2
check "tune --shapes bad names the shape" grep -q "12x0x5" "$tmp/err"
printf 'garbage' > "$tmp/tune.h5"
run demo --json --dir "$tmp/demo"
check "corrupt tuning cache: demo still runs" test "$rc" -eq 0
check "corrupt tuning cache: warned" grep -q "ignoring the tuning cache" "$tmp/err"
unset BSTACK_TUNE_CACHE

# bstack calibrate: a quick run of the node sections writes a profile whose --json carries the
# required keys; --show reads it back and plots it; a foreign, corrupt or missing profile is
# rejected naming the file; under mpirun the interconnect is fitted (alpha, beta).
run calibrate --quick --sections memory,compute,gemm,dispatch -o "$tmp/p.h5" --json
check "calibrate --quick exits 0" test "$rc" -eq 0
check "calibrate --json has the required keys with plausible values" python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
for k in ["dram_triad_bytes_per_s", "dram_triad_bytes_per_s_1t", "peak_flops_fp32", "gemm_flops_fp32"]:
    assert k in j and j[k] > 0, k
assert 1e8 < j["dram_triad_bytes_per_s_1t"] < 1e12, j["dram_triad_bytes_per_s_1t"]
assert j["gemm_flops_fp32"] <= 1.05 * j["peak_flops_fp32"], (j["gemm_flops_fp32"], j["peak_flops_fp32"])
assert j["params"]["dram_triad_bytes_per_s"]["method"], "method missing"
assert j["meta"]["mode"] == "quick"
' "$tmp/out"
check "calibrate prints the table" grep -q "dram_triad_bytes_per_s" "$tmp/err"
check "calibrate writes the profile" test -s "$tmp/p.h5"
run calibrate --show "$tmp/p.h5" --plot "$tmp/plots" --json
check "calibrate --show exits 0" test "$rc" -eq 0
check "calibrate --show reads the profile back" grep -q '"dram_triad_bytes_per_s"' "$tmp/out"
if command -v gnuplot >/dev/null; then
  check "calibrate --plot writes SVG plots" sh -c "grep -q '<svg' '$tmp/plots/bandwidth.svg' && grep -q '<svg' '$tmp/plots/roofline.svg'"
fi
printf 'garbage, not a profile' > "$tmp/bad_profile.h5"
run calibrate --show "$tmp/bad_profile.h5"
check "corrupt profile exits 1 naming the file" sh -c "[ $rc -eq 1 ] && grep -q 'bad_profile.h5' '$tmp/err'"
BSTACK_TUNE_CACHE="$tmp/t2.h5" "$BSTACK" tune --budget-s 1 --shapes 24x40x16 --op sgemm 2>/dev/null
run calibrate --show "$tmp/t2.h5"
check "a tuning cache is not a profile" sh -c "[ $rc -eq 1 ] && grep -q 'bstack-tune-cache' '$tmp/err'"
run calibrate --sections memroy
check "calibrate --sections unknown exits 2" sh -c "[ $rc -eq 2 ] && grep -q 'memroy' '$tmp/err'"
if command -v mpirun >/dev/null; then
  # Onto a copy of the node profile: the sections under mpirun update it and keep the rest.
  cp "$tmp/p.h5" "$tmp/net.h5"
  mpirun --allow-run-as-root --oversubscribe -np 2 "$BSTACK" calibrate --quick --sections interconnect,corun \
    -o "$tmp/net.h5" --json >"$tmp/out" 2>"$tmp/err"; rc=$?
  check "mpirun -np 2 calibrate exits 0" test "$rc" -eq 0
  check "mpirun calibrate fits alpha and beta" python3 -c '
import json, sys
lines = [l for l in open(sys.argv[1]).read().splitlines() if l.strip()]
assert len(lines) == 1, "one JSON object from rank 0 only, got %d lines" % len(lines)
j = json.loads(lines[0])
assert 0 < j["alpha_s"] < 1e-3 and j["beta_bytes_per_s"] > 1e6, (j["alpha_s"], j["beta_bytes_per_s"])
assert j["meta"]["ranks"] == "2"
assert 0.5 < j["corun_factor"] < 20, j["corun_factor"]
assert j["dram_triad_bytes_per_s"] > 0, "the node sections of the copy are kept"
' "$tmp/out"
  # Data-parallel training: one JSON object (rank 0's), a trace per rank with its communication.
  mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2 "$BSTACK" --json --threads 1 train --model mlp \
    --epochs 1 --max-steps 5 --batch 32 --bucket-kb 64 --trace "$tmp/run.h5" >"$tmp/out" 2>"$tmp/err"; rc=$?
  check "mpirun -np 2 train exits 0" test "$rc" -eq 0
  check "mpirun -np 2 train prints one JSON object from rank 0" python3 -c '
import json, sys
lines = [l for l in open(sys.argv[1]).read().splitlines() if l.strip()]
assert len(lines) == 1, "got %d lines" % len(lines)
j = json.loads(lines[0])
assert j["ranks"] == 2 and j["steps"] == 5 and "ring" in j["backend"], j
assert j["backward_ms_per_step"] > 0 and j["exposed_comm_ms_per_step"] >= 0
' "$tmp/out"
  check "every rank writes its trace" test -f "$tmp/run.h5" -a -f "$tmp/run.rank1.h5"
  run --threads 1 --json walls compare --profile "$tmp/net.h5" --trace "$tmp/run.h5"
  check "walls compare of a 2-rank trace: wall 14 and the ranks' co-run factor" python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
f, node = j["corun_factor"], j["compute_s"] + j["memory_s"] + j["dispatch_s"]
assert j["ranks"] == 2 and 0.5 < f < 20, j
assert abs(j["corun_s"] - (f - 1) / f * node) < 1e-9 * node, (j["corun_s"], f, node)
assert abs(node + j["comm_s"] - j["predicted_step_s"]) < 1e-9 * j["predicted_step_s"], j
assert 0 <= j["comm_s"] <= j["comm_total_s"], j
' "$tmp/out"
  run --threads 1 --json walls predict --profile "$tmp/net.h5" --workload mlp --batch 32 --ranks 2 --bucket-kb 64
  check "walls predict --ranks 2 on a 2-rank profile: the measured DDP all-reduce per 64 KiB bucket, corun applied" python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
g = j["workload"]["gradient_bytes"]
assert j["allreduce_messages"] == -(-g // 65536) > 1 and j["allreduce_model"] == "measured", j
assert j["corun_factor"] != 1 and j["comm_total_s"] > 0, j
' "$tmp/out"
  run --threads 1 --json walls predict --profile "$tmp/net.h5" --workload mlp --batch 32 --ranks 4
  check "walls predict --ranks 4 on a 2-rank profile: the alpha-beta ring, no 2-rank corun factor" python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert j["allreduce_model"] == "ring" and j["allreduce_messages"] == 1 and j["corun_factor"] == 1, j
assert j["corun_s"] == 0, j
' "$tmp/out"
  run train --model mlp --epochs 1 --bucket-kb -3
  check "train --bucket-kb negative exits 2" sh -c "[ $rc -eq 2 ] && grep -q 'bucket-kb' '$tmp/err'"
  run train --model mlp --epochs 1 --allreduce tree
  check "train --allreduce unknown exits 2" sh -c "[ $rc -eq 2 ] && grep -q 'tree' '$tmp/err'"
fi

# bstack walls: the table of the 22 walls and one wall explained, with a profile's values.
run walls list
check "walls list exits 0" test "$rc" -eq 0
check "walls list prints 22 rows" test "$(grep -Ec '^ ?[0-9]+  ' "$tmp/out")" -eq 22
run walls list --json
check "walls list --json gives the 22 walls numbered 1..22" python3 -c '
import json, sys
text = open(sys.argv[1]).read()
assert text.strip().count("\n") == 0, "more than one line"
w = json.loads(text)["walls"]
assert [x["number"] for x in w] == list(range(1, 23)), [x["number"] for x in w]
for x in w:
    for k in ("name", "domain", "equation", "limit", "source", "header"):
        assert x[k], (x["number"], k)
    assert isinstance(x["profile_fields"], list)
assert w[13]["name"] == "Communication" and "alpha_s" in w[13]["profile_fields"], w[13]
' "$tmp/out"
run walls show 14
check "walls show 14 exits 0" test "$rc" -eq 0
check "walls show 14 explains the ring all-reduce and its fields" sh -c \
  "grep -q 'all-reduce' '$tmp/out' && grep -q 'alpha_s' '$tmp/out' && grep -q 'walls/communication.h' '$tmp/out'"
run walls show 23
check "walls show 23 exits 2" sh -c "[ $rc -eq 2 ] && grep -q '23' '$tmp/err'"
run walls show abc --json
check "walls show abc --json exits 2 with a JSON error" sh -c "[ $rc -eq 2 ] && printf '%s' '$out' | grep -q '\"usage\":true'"
run walls
check "walls without list/show exits 2" test "$rc" -eq 2
run walls show 14 --profile "$tmp/bad_profile.h5"
check "walls show --profile corrupt exits 1 naming the file" sh -c "[ $rc -eq 1 ] && grep -q 'bad_profile.h5' '$tmp/err'"
run walls show 2 --profile "$tmp/p.h5" --json
check "walls show 2 --profile prints the profile's values in GB/s" sh -c \
  "[ $rc -eq 0 ] && grep -Eq 'dram_triad_bytes_per_s +[0-9.]+ GB/s' '$tmp/err' && grep -q 'gpu_memory_bytes .*not in this profile' '$tmp/err'"
check "walls show 2 --profile --json carries the values and the missing fields" python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert j["number"] == 2 and j["profile"].endswith("p.h5")
v = j["values"]["dram_triad_bytes_per_s"]
assert v["unit"] == "B/s" and v["value"] > 1e8, v
assert "gpu_memory_bytes" in j["missing"] and "dram_triad_bytes_per_s" not in j["missing"]
' "$tmp/out"

# bstack walls compare: a trace beside its prediction from the profile (step error as defined).
run --threads 1 train --model mlp --epochs 1 --max-steps 6 --batch 32 --trace "$tmp/cmp.h5"
run --json walls compare --profile "$tmp/p.h5" --trace "$tmp/cmp.h5"
check "walls compare exits 0" test "$rc" -eq 0
check "walls compare --json: step error, binding wall and classes" python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
p, m = j["predicted_step_s"], j["measured_step_s"]
assert p > 0 and m > 0 and abs(j["step_error"] - (p - m) / m) < 1e-9, j
assert j["binding_wall"] in (1, 2, 3) and j["steps_used"] == 5 and j["ranks"] == 1
names = {(c["name"], c["backward"]) for c in j["classes"]}
assert ("linear", False) in names and ("linear", True) in names, names
' "$tmp/out"
run walls compare --profile "$tmp/p.h5" --trace "$tmp/p.h5"
check "walls compare: a profile given as the trace is named" sh -c "[ $rc -ne 0 ] && grep -q 'p.h5' '$tmp/err'"

# bstack walls predict / sensitivity / synthesis: analytic and zoo workloads priced on a registry
# device (its datasheet + walls/hardware/machine.h's assumptions) or on this machine's profile.
run walls predict --workload gpt2-124m --hardware h100 --precision bf16 --batch 8 --json
check "walls predict gpt2-124m on h100 exits 0" test "$rc" -eq 0
check "walls predict gpt2-124m on h100: shares sum to the step, above both whole-step roofs, fits" python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
w, t = j["workload"], j["predicted_step_s"]
assert abs(j["compute_s"] + j["memory_s"] + j["dispatch_s"] + j["comm_s"] - t) < 1e-9 * t, j
# sum over ops of max(compute, memory) >= the whole step at peak (eta <= 1) and at the HBM bandwidth
assert t >= w["flops"] / 989.5e12 and t >= w["bytes"] / 3.35e12, (t, w)
assert w["parameters"] == 124439808 and w["tokens_per_sample"] == 1024, w
assert abs(j["tokens_per_s"] - 1024 * j["samples_per_s"]) < 1e-6 * j["tokens_per_s"]
assert j["binding_wall"] in (1, 2) and j["explanation"], j["binding_wall"]
m = j["memory"]
parts = ("parameters_bytes", "gradients_bytes", "optimizer_bytes", "activations_bytes", "workspace_bytes")
assert abs(sum(m[k] for k in parts) - m["total_bytes"]) < 1, m
assert m["parameters_bytes"] + m["gradients_bytes"] + m["optimizer_bytes"] == 16 * 124439808, m
assert j["fits"] is True and m["capacity_bytes"] == 80e9, m
assert len(j["classes"]) > 5 and j["machine"]["peak_flops_per_s"] == 989.5e12
' "$tmp/out"
run walls predict --workload gpt2-124m --hardware h100 --precision bf16 --batch 8 --ranks 8 --json
check "walls predict --ranks 8: wall 14 = ring all-reduce of the bf16 gradients over NVLink" python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
g = 2 * 124439808   # bf16 gradients, in 1 MiB buckets (the default --bucket-kb): 238 messages
n = -(-g // 2**20)
want = n * 2 * 7 * 500e-9 + 2 * 7 / 8 * g / 450e9   # alpha 500 ns each, beta 900/2 GB/s
assert j["allreduce_messages"] == n == 238 and j["allreduce_model"] == "ring", j
assert abs(j["comm_total_s"] - want) < 1e-12, (j["comm_total_s"], want)
assert 0 <= j["comm_s"] <= j["comm_total_s"] and j["ranks"] == 8
' "$tmp/out"
run walls predict --workload gpt2-124m --hardware h100 --ranks 8 --bucket-kb 0.00001
check "walls predict --bucket-kb too small for the gradients exits 1 naming the flag" sh -c \
  "[ $rc -eq 1 ] && grep -q 'bucket-kb 1e-05: .* more than 2^22 buckets' '$tmp/err'"
run walls predict --workload gpt-tiny --hardware h100
check "walls predict gpt-tiny on h100: the dispatch binds (wall 3) and it fits" sh -c \
  "[ $rc -eq 0 ] && grep -q '^binding wall    3 Software' '$tmp/out' && grep -q '^will it fit     yes' '$tmp/out'"
run walls predict --workload llama3-8b --hardware h100 --precision bf16 --batch 4 --seq 4096 --json
check "walls predict llama3-8b training on one h100 does not fit (16 B per parameter alone is 128 GB)" python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert j["fits"] is False and j["memory"]["total_bytes"] > 16 * 8030261248, j["memory"]
assert j["predicted_step_s"] > 0
' "$tmp/out"
check "walls predict says NO on the human side" grep -q "will it fit     NO" "$tmp/err"
run --threads 1 walls predict --workload mlp --profile "$tmp/p.h5" --batch 16 --json
check "walls predict mlp on this machine's profile" python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert j["machine"]["source"] == "profile" and j["machine"]["threads"] == 1, j["machine"]
assert j["predicted_step_s"] > 0 and j["fits"] is True and j["memory"]["capacity_bytes"] > 1e8
' "$tmp/out"
run walls predict --workload gpt3 --hardware h100
check "walls predict unknown workload exits 1 listing the valid ones" sh -c \
  "[ $rc -eq 1 ] && grep -q \"'gpt3'\" '$tmp/err' && grep -q 'gpt2-124m, llama3-8b, resnet50' '$tmp/err' && grep -q 'gpt-tiny' '$tmp/err'"
run walls predict --workload gpt2-124m --hardware tpu9
check "walls predict unknown hardware exits 1 listing the registry" sh -c \
  "[ $rc -eq 1 ] && grep -q \"'tpu9'\" '$tmp/err' && grep -q 'h100' '$tmp/err'"
run walls predict --workload gpt2-124m
check "walls predict without --profile or --hardware exits 1" sh -c "[ $rc -eq 1 ] && grep -q -- '--hardware' '$tmp/err'"
run walls predict --workload gpt2-124m --hardware rpi4 --precision bf16
check "walls predict a precision the device lacks exits 1 naming it" sh -c "[ $rc -eq 1 ] && grep -q 'bf16' '$tmp/err'"
run walls predict --workload gpt2-124m --hardware h100 --precision fp8
check "walls predict --precision fp8 is a usage error" test "$rc" -eq 2
run walls sensitivity --workload gpt-tiny --hardware h100 --json
check "walls sensitivity: ranked, dispatch binds gpt-tiny on h100 with elasticity = its share" python3 -c '
import json, subprocess, sys
j = json.load(open(sys.argv[1]))
e = [abs(p["elasticity"]) for p in j["parameters"]]
assert e == sorted(e, reverse=True), e
assert j["binding_parameter"] == j["parameters"][0]["name"] == "dispatch_s", j["parameters"][0]
p = json.loads(subprocess.run([sys.argv[2], "walls", "predict", "--workload", "gpt-tiny", "--hardware",
                "h100", "--json"], capture_output=True, text=True).stdout)
# T is linear in the dispatch: its elasticity is the dispatch share of the step
assert abs(j["parameters"][0]["elasticity"] - p["dispatch_s"] / p["predicted_step_s"]) < 1e-6
' "$tmp/out" "$BSTACK"
run walls synthesis --workload gpt2-124m --precision bf16 --batch 8 --target-ms 100 --json
check "walls synthesis: wall 22 need = |W|/T and OPs/(T eta); h100 and a100 meet 100 ms" python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
w = j["workload"]
assert abs(j["bandwidth_bytes_per_s"] - w["bytes"] / 0.1) < 1e-6 * j["bandwidth_bytes_per_s"]
assert abs(j["peak_flops_per_s"] - w["flops"] / (0.1 * 0.5)) < 1e-6 * j["peak_flops_per_s"]
d = {x["name"]: x for x in j["devices"]}
for n in ("NVIDIA H100 SXM5 80GB", "NVIDIA A100 SXM4 80GB"):
    assert d[n]["meets_roofs"] and d[n]["meets_target"] and d[n]["fits"], d[n]
assert "skipped" in d["Raspberry Pi 4 Model B (8GB)"]
' "$tmp/out"
run walls synthesis --workload gpt2-124m --precision bf16 --batch 8 --target-ms 1
check "walls synthesis: nothing meets 1 ms" sh -c "[ $rc -eq 0 ] && ! grep -q ' met ' '$tmp/out'"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
