#!/usr/bin/env bash
# CPU training throughput, tandem beside PyTorch in one command: the tiny example's model (4 layers,
# width 128, byte vocabulary, 128-token rows, batch 16, AdamW, clipping) on the same thread count.
#
#   tools/bench/train_cpu.sh [BUILD_DIR] [THREADS] [PYTHON]
# PYTHON defaults to /opt/torch/.venv/bin/python (PyTorch 2.11 on the GPU machine), else
# /usr/bin/python3 (Debian's python3-torch: about 20x slower, a sanity check only).
set -euo pipefail
build=${1:-build}
threads=${2:-2}
python=${3:-}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
peer=${PEER:-$root/../shared/peers/torch_cpu_distill.py}
if [ -z "$python" ]; then
  if [ -x /opt/torch/.venv/bin/python ]; then python=/opt/torch/.venv/bin/python; else python=/usr/bin/python3; fi
fi

ours=$("$build/bin/bench_train_cpu" --threads "$threads" --ranks 1 --micro-batch 16 --steps "${STEPS:-30}")
echo "tandem : $ours"
# The peer trains its teacher (the same 4x128 model, batch 16 x 128) for STEPS steps; the student phases
# are cut to one step. Its text is the KJV (or any text file; throughput does not depend on it).
corpus=${CORPUS:-$root/runs/data/kjv.txt}
[ -f "$corpus" ] || corpus=$(ls "$root"/runs/*/kjv.txt 2>/dev/null | head -1)
theirs=$(THREADS=$threads "$python" "$peer" "$corpus" "${STEPS:-30}" 1 2>/dev/null)
peer_tok=$(echo "$theirs" | "$python" -c 'import json,sys; print(json.load(sys.stdin)["teacher_4x128"]["tok_s"])')
ours_tok=$(echo "$ours" | sed -E 's/.*"tokens_per_s": ([0-9.]+).*/\1/')
echo "pytorch: $peer_tok tokens/s ($("$python" -c 'import torch; print("torch", torch.__version__)'))"
awk -v a="$ours_tok" -v b="$peer_tok" -v t="$threads" 'BEGIN { printf "ratio  : tandem / pytorch = %.2f at %d threads\n", a / b, t }'
