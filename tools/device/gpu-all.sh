#!/usr/bin/env bash
# Everything the GPU issue asks to see on the GPU machine, in one device call (put in the bundle by
# tools/device/gpu-test.sh), most important first: the GPU tests, the model check against Hugging
# Face transformers on the GPU in fp32 and bf16, the benchmarks beside PyTorch (tools/bench/gpu.sh),
# the kernels' timings, then where one GPT-2 training step through the product path spends
# its device time, kernel by kernel (kernel-profile.sh under ncu; skipped when less than a minute is
# left).
#
#   there (device run tool, carry ["bundle"]):  bundle/bench/gpu-all.sh bundle "$OUT"
#
# The device tool returns at most 8 files, and nothing at all from a machine that is lost mid-call,
# so the logs and JSON (about a dozen files) are written to a work folder and packed into
# OUT_DIR/logs.tgz after every phase: a call stopped at its limit still returns what had finished.
# Each phase gets a time limit and the whole stays within DEADLINE seconds (default 570, under the
# tool's 600), so a hang in one phase cannot take the others' results with it.
# Exit status: the tests'.
set -uo pipefail
bundle=$(cd "${1:?usage: gpu-all.sh BUNDLE_DIR OUT_DIR}" && pwd)
out=${2:?usage: gpu-all.sh BUNDLE_DIR OUT_DIR}
deadline=${DEADLINE:-570}
mkdir -p "$out"
work=$(mktemp -d /tmp/tandem-gpu.XXXXXX)
source "$bundle/env.sh"
python=${PYTHON:-python3}
pack() { tar czf "$out/logs.tgz" -C "$work" . ; }
# Seconds a phase may take: at most $1, and never past the deadline.
budget() { local left=$((deadline - SECONDS)); echo $((left < $1 ? (left > 1 ? left : 1) : $1)); }

timeout "$(budget 300)" "$bundle/run-gpu-tests.sh" >"$work/tests.log" 2>&1
tests=$?
echo "tests: $(grep -c '^\[       OK \]' "$work/tests.log") passed, $(grep -c '^\[  FAILED  \] .*(exit [0-9]*)$' "$work/tests.log") failed"
grep -E '^\[  FAILED  \]|^watchdog' "$work/tests.log" | head -20
echo "tests: exit status $tests"
pack
for precision in fp32 bf16; do
  PYTHONUNBUFFERED=1 timeout "$(budget 60)" "$python" "$bundle/bench/hf_gpt2_check.py" \
    "$bundle/tools/tandem-gpt2-logits" --tokens 128 --device cuda --precision "$precision" 2>&1 | tail -6 |
    tee -a "$work/hf_check.log"
  pack
done
timeout "$(budget 600)" "$bundle/bench/gpu.sh" "$bundle" "$work/bench" 2>&1 | tail -30
pack
# The kernels' and the model step's own timings (DISABLED_ in ctest: a record, not a benchmark).
timeout "$(budget 60)" "$bundle/run-gpu-tests.sh" --gtest_also_run_disabled_tests \
  --gtest_filter='CudaTiming.*:*StepPhases*' >"$work/timing.log" 2>&1
grep -E '^\[ timing' "$work/timing.log"
pack
if [ $((deadline - SECONDS)) -ge 60 ]; then
  timeout "$(budget 120)" "$bundle/bench/kernel-profile.sh" "$work/step_kernels.csv" -- \
    "$bundle/tools/bench_train_gpu" --workload gpt2 --warmup 3 --steps 1 --profile-step 2 2>&1 |
    tee "$work/step_kernels.txt" | head -45
  pack
fi
exit $tests
