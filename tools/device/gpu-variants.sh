#!/usr/bin/env bash
# Kernel variants (tools/device/variant.sh) beside the bundle on the GPU machine, after gpu-all.sh in
# the same call: each variant's cuda_tests and gpt module replace the bundle's in a copy of it, then
# the kernel and model tests of what a variant may change, the kernel and step timings, and the GPT-2
# benchmark through the product path. Compare with the bundle's own figures from the same call.
#
#   gpu-variants.sh BUNDLE_DIR OUT_DIR SECONDS_LEFT VARIANT_DIR...
# SECONDS_LEFT is how long this may take in all; the variants share it evenly.
# Each variant's log is OUT_DIR/<variant>.log; a summary is printed.
set -uo pipefail
bundle=$(cd "${1:?usage: gpu-variants.sh BUNDLE_DIR OUT_DIR SECONDS_LEFT VARIANT_DIR...}" && pwd)
out=${2:?usage}
seconds_left=${3:?usage}
shift 3
mkdir -p "$out"
remaining=$#
for variant in "$@"; do
  name=$(basename "$variant")
  share=$(((seconds_left - SECONDS) / remaining))
  remaining=$((remaining - 1))
  [ "$share" -ge 20 ] || { echo "== $name: skipped, ${share}s left"; continue; }
  copy=/tmp/variant-$name
  rm -rf "$copy"
  cp -a "$bundle" "$copy"
  rm -f "$copy/bin/engine_gpu_tests"  # the product path is the benchmark's here
  cp "$variant/cuda_tests" "$copy/bin/"
  cp "$variant/libtandem-model-gpt.so" "$copy/lib/tandem/modules/"
  log=$out/$name.log
  cat "$variant/commit.txt" >"$log" 2>/dev/null
  start=$SECONDS
  timeout $((share * 2 / 3)) "$copy/run-gpu-tests.sh" --gtest_also_run_disabled_tests \
    --gtest_filter='CudaLayerNorm*:CudaClassifier*:CudaMatmul*:CudaAttention*:CudaGpt*:CudaTiming*' >>"$log" 2>&1
  echo "tests: exit status $?" >>"$log"
  timeout $((share - (SECONDS - start) > 5 ? share - (SECONDS - start) : 5)) \
    "$copy/tools/bench_train_gpu" --workload gpt2 >>"$log" 2>&1
  echo "== $name: $(head -1 "$log")"
  grep -E '^\[  (PASSED|FAILED) |^\[  FAILED  \]|^\[ timing|tok_s|^tests:' "$log"
done
