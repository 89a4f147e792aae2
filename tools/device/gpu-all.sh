#!/usr/bin/env bash
# Everything the GPU issue asks to see on the GPU machine, in one device call (put in the bundle by
# tools/device/gpu-test.sh): the GPU tests, the model check against Hugging Face transformers on the
# GPU in fp32 and bf16, the kernels' timings, then the benchmarks beside PyTorch (tools/bench/gpu.sh). Logs land in OUT_DIR;
# the last lines printed are the checks' verdicts and the benchmark table. Exit status: the tests'.
#
#   there (device run tool, carry ["bundle"]):
#     bundle/bench/gpu-all.sh bundle /tmp/r; s=$?; tar czf "$OUT/r.tgz" -C /tmp r; exit $s
# (the device tool returns at most 8 files; the logs and JSON are about a dozen, hence one archive).
set -uo pipefail
bundle=$(cd "${1:?usage: gpu-all.sh BUNDLE_DIR OUT_DIR}" && pwd)
out=${2:?usage: gpu-all.sh BUNDLE_DIR OUT_DIR}
mkdir -p "$out"
source "$bundle/env.sh"
python=${PYTHON:-python3}

"$bundle/run-gpu-tests.sh" >"$out/tests.log" 2>&1
tests=$?
grep -E '^\[  (PASSED|FAILED) |^\[  FAILED  \]' "$out/tests.log" | head -40
# The kernels' and the model step's own timings (DISABLED_ in ctest: a record, not a benchmark).
"$bundle/run-gpu-tests.sh" --gtest_also_run_disabled_tests --gtest_filter='CudaTiming.*:*StepPhases*' \
  >"$out/timing.log" 2>&1
grep -E '^\[ timing' "$out/timing.log"
for precision in fp32 bf16; do
  PYTHONUNBUFFERED=1 "$python" "$bundle/bench/hf_gpt2_check.py" "$bundle/tools/tandem-gpt2-logits" --tokens 128 \
    --device cuda --precision "$precision" 2>&1 | tail -4 | tee -a "$out/hf_check.log"
done
"$bundle/bench/gpu.sh" "$bundle" "$out" 2>&1 | tail -30
exit $tests
