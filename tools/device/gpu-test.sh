#!/usr/bin/env bash
# Builds the GPU tests here (nvcc 13.0, for the H100/H200's sm_90a) and packs them for the GPU
# machine, which has CUDA 13's driver and PyTorch's wheels but none of Debian's packages:
#   OUT_DIR/bin/   every test binary that ctest labels `gpu`
#   OUT_DIR/lib/   libtandem.so, libtbb.so.12 and OpenBLAS (RUNPATH $ORIGIN/../lib and LD_LIBRARY_PATH find them)
#   OUT_DIR/run-gpu-tests.sh   runs them all there, cuBLASLt and NCCL taken from PyTorch's wheels
#   OUT_DIR/tools/, bench/     the tandem CLI, bench_train_gpu, cudnn_sdpa_probe, tools/bench/gpu.sh and the PyTorch peer
#   OUT_DIR/env.sh             the environment every command there starts from
#
#   tools/device/gpu-test.sh [BUILD_DIR [OUT_DIR]]       (defaults: build-gpu, bundle)
#
# then, on the GPU machine (the device `run` tool, carry ["bundle"]):
#   bundle/run-gpu-tests.sh
# Here (no GPU) the same binaries skip every test: `ctest --test-dir BUILD_DIR -L gpu`.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build-gpu}
out=${2:-bundle}
command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ] || { echo "gpu-test.sh: no nvcc here" >&2; exit 1; }
export PATH=$PATH:/usr/local/cuda/bin

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DTANDEM_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a >/dev/null
nice -n 10 cmake --build "$build" -j"${JOBS:-2}" --target tandem_gpu_tests  # every binary labelled gpu
# gtest_discover_tests lists a binary's tests only once it is built.
mapfile -t binaries < <(ctest --test-dir "$build" -L gpu --show-only=json-v1 |
  python3 -c 'import json,sys; print("\n".join(sorted({t["command"][0] for t in json.load(sys.stdin)["tests"]})))')
[ -n "${binaries[0]:-}" ] || { echo "gpu-test.sh: ctest lists no test labelled gpu in $build" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out/bin" "$out/lib"
cp -a "${binaries[@]}" "$out/bin/"
cp -a "$build"/lib/libtandem.so* "$out/lib/"
mkdir -p "$out/lib/tandem/modules"
cp -a "$build"/lib/tandem/modules/*.so "$out/lib/tandem/modules/"  # the engine tests load them
"$root/tools/device/carry-libs.sh" "$out/lib"
# The GPU benchmarks ride along (tools/bench/gpu.sh: tandem's workloads and the PyTorch peer).
# cudnn_sdpa_probe: the cuDNN attention path step by step (tests/cuda/cudnn_sdpa_probe.cpp).
cmake --build "$build" -j"${JOBS:-2}" --target bench_train_gpu tandem_cli tandem-gpt2-logits cudnn_sdpa_probe >/dev/null
mkdir -p "$out/tools"  # not bin/: run-gpu-tests.sh runs everything there
cp -a "$build"/bin/bench_train_gpu "$build"/bin/tandem "$build"/bin/tandem-gpt2-logits "$out/tools/"
cp -a "$build"/bin/cudnn_sdpa_probe "$out/tools/"
mkdir -p "$out/bench"
cp "$root"/tools/bench/gpu.sh "$root"/tools/bench/gpu_report.py "$root"/tools/check/hf_gpt2_check.py \
  "$root"/tools/device/gpu-all.sh "$root"/tools/device/kernel-profile.sh \
  "$root"/tools/device/gpu-variants.sh "$root"/tools/device/watchdog.sh "$out/bench/"
# The peer lives beside the checkout (../shared/peers); PEER overrides where.
peer=${PEER:-$root/../shared/peers/torch_anchor.py}
if [ -f "$peer" ]; then cp "$peer" "$out/bench/"; else echo "gpu-test.sh: no $peer: the benchmarks will have no peer" >&2; fi

# What every command there sources first: the bundle's libraries, then cuBLASLt, the CUDA runtime,
# NCCL and cuDNN (opened with dlopen by the attention's cuDNN path: nvidia-cudnn-cu13's lib/) from
# PyTorch's wheels (the binaries' RUNPATH names the usual place; this finds others), and NVLink
# multicast off (KINDS.md).
cat >"$out/env.sh" <<'ENV'
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
extra=$(find /opt /usr \( -name libcublasLt.so.13 -o -name libcudart.so.13 -o -name libnccl.so.2 -o -name libcudnn.so.9 \) \
  -path '*site-packages/nvidia/*' 2>/dev/null |
  xargs -r -n1 dirname | sort -u | paste -sd: -)
export LD_LIBRARY_PATH=$here/lib${extra:+:$extra}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export NCCL_NVLS_ENABLE=0
ENV

cat >"$out/run-gpu-tests.sh" <<'RUN'
#!/usr/bin/env bash
# Runs every GPU test of this bundle; exit status non-zero if any fails or hangs. Without arguments
# each test runs in a process of its own under a watchdog (TEST_SECONDS, default 90), so that one
# that hangs is reported with its stacks and the others still run; with arguments (GTEST_FILTER,
# --gtest_also_run_disabled_tests, ...) each binary runs once with them, under the same watchdog.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/env.sh"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || true
limit=${TEST_SECONDS:-90}
status=0
for t in "$here"/bin/*; do
  echo "=== $(basename "$t")"
  if [ $# -gt 0 ]; then
    "$here/bench/watchdog.sh" "$limit" -- "$t" --gtest_color=no "$@" || status=1
    continue
  fi
  # gtest's list: "Suite." lines, then "  Test" lines (a parameter comment after '#').
  for test in $("$t" --gtest_list_tests | awk '/^[^ ]/ {suite=$1} /^  / && $1 !~ /^DISABLED_/ {print suite $1}'); do
    "$here/bench/watchdog.sh" "$limit" -- "$t" --gtest_color=no --gtest_filter="$test" >"/tmp/gpu-test.$$.log" 2>&1
    rc=$?
    grep -E '^\[ (measure|timing)|^\[  (FAILED  |SKIPPED )\] [^ ]+ \(|^watchdog|^(Thread|#)|Failure$|rror' \
      "/tmp/gpu-test.$$.log"
    [ $rc -eq 0 ] && echo "[       OK ] $test" || { echo "[  FAILED  ] $test (exit $rc)"; status=1; }
  done
done
exit $status
RUN
chmod +x "$out/run-gpu-tests.sh"
du -sh "$out"
# The same packed (about 8 MB instead of 50), for calls that carry variants too (the device tool
# carries 64 MiB at most): there, `tar xJf $out-xz/bundle.tar.xz -C /tmp` first.
rm -rf "$out-xz"
mkdir -p "$out-xz"
tar -C "$(dirname "$out")" -cJf "$out-xz/bundle.tar.xz" "$(basename "$out")"
echo "On the GPU machine (device run tool, carry [\"$out\"]):  $out/run-gpu-tests.sh"
