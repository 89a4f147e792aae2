#!/usr/bin/env bash
# The GPU benchmarks beside PyTorch, in one command on the GPU machine: tandem's workloads
# (bench_train_gpu: GPT-2 124M training; 124M distilled from 350M, with and without the optimizer
# offloaded), then the peer ../shared/peers/torch_anchor.py on the same GPU, then the ratios
# (gpu_report.py). Everything lands in OUT_DIR as JSON; the table is printed last.
#
#   here:  tools/device/gpu-test.sh build bundle      (packs this script, the peer and the binaries)
#   there: bundle/bench/gpu.sh bundle "$OUT"           (the device run tool, carry ["bundle"])
set -euo pipefail
bundle=$(cd "${1:?usage: gpu.sh BUNDLE_DIR OUT_DIR}" && pwd)
out=${2:?usage: gpu.sh BUNDLE_DIR OUT_DIR}
mkdir -p "$out"
source "$bundle/env.sh"
python=${PYTHON:-python3}
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader || true

for workload in "gpt2" "distill" "distill --offload" "distill --offload --no-overlap"; do
  name=$(echo "$workload" | sed -e 's/ --/_/g' -e 's/-/_/g')
  echo "== tandem $workload"
  "$bundle/tools/bench_train_gpu" --workload $workload | tee "$out/tandem_$name.json"
done

echo "== PyTorch (torch_anchor.py)"
(cd "$out" && OUT="$out" PYTHONUNBUFFERED=1 "$python" "$bundle/bench/torch_anchor.py" > "$out/torch_anchor.log" 2>&1) ||
  { tail -20 "$out/torch_anchor.log"; exit 1; }
"$python" "$bundle/bench/gpu_report.py" "$out" | tee "$out/report.md"
