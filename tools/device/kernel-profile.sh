#!/usr/bin/env bash
# Where a GPU program's device time goes, kernel by kernel: runs COMMAND under Nsight Compute
# (ncu, on the GPU machine's image) collecting only each kernel's duration, then prints the kernels
# grouped by name and grid, largest total first, with their share of the profiled time.
# ncu serialises the kernels (no overlap) and leaves the clocks alone (--clock-control none), so the
# sum is the step's device time without launch gaps: what the kernels themselves cost.
#
# Only the kernels between the program's cudaProfilerStart and cudaProfilerStop are profiled: one
# step after the warm-up (bench_train_gpu --profile-step N; tests/cuda
# CudaGpt.DISABLED_Gpt2SmallStepPhases brackets its sixth, the model alone).
#
#   tools/device/kernel-profile.sh OUT_CSV -- COMMAND...
# e.g. in the bundle: bench/kernel-profile.sh $OUT/step.csv -- tools/bench_train_gpu --workload gpt2 \
#        --warmup 3 --steps 1 --profile-step 2
set -euo pipefail
csv=${1:?usage: kernel-profile.sh OUT_CSV -- COMMAND...}
shift
[ "${1:-}" = "--" ] && shift
ncu=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu /usr/local/cuda/bin/ncu 2>/dev/null | head -1 || true)
[ -n "$ncu" ] || { echo "kernel-profile.sh: no ncu here" >&2; exit 1; }
"$ncu" --clock-control none --metrics gpu__time_duration.sum --profile-from-start off \
  --print-kernel-base function --csv "$@" >"$csv" 2>"$csv.log" || { tail -5 "$csv.log" >&2; exit 1; }
python3 - "$csv" <<'PY'
import csv, sys, collections
scale = {"nsecond": 1e-6, "ns": 1e-6, "usecond": 1e-3, "us": 1e-3, "msecond": 1.0, "ms": 1.0, "second": 1e3}
rows = [r for r in csv.reader(l for l in open(sys.argv[1]) if l.startswith('"'))]
head, rows = rows[0], rows[1:]
col = {n: i for i, n in enumerate(head)}
total = collections.defaultdict(float)
calls = collections.Counter()
for r in rows:
    if r[col["Metric Name"]] != "gpu__time_duration.sum":
        continue
    key = (r[col["Kernel Name"]][:60], r[col["Grid Size"]], r[col["Block Size"]])
    total[key] += float(r[col["Metric Value"]].replace(",", "")) * scale.get(r[col["Metric Unit"]], 1.0)
    calls[key] += 1
whole = sum(total.values())
print("kernel-profile: %d launches, %.3f ms of kernels" % (sum(calls.values()), whole))
print("%9s %6s %5s  %-60s %s" % ("ms", "share", "calls", "kernel", "grid / block"))
for key, ms in sorted(total.items(), key=lambda kv: -kv[1])[:40]:
    print("%9.3f %5.1f%% %5d  %-60s %s / %s" % (ms, 100 * ms / whole, calls[key], key[0], key[1], key[2]))
PY
