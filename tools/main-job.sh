#!/usr/bin/env bash
# The main job, run by `tools/bootstrap.sh main` after the build: lists the modules, then explains
# the seed's two DeepSpeed configs (student under ZeRO-2, teacher under ZeRO-3) as they would be
# resolved for a small distillation run on 2 thread-ranks.
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tandem="$build/bin/tandem"

echo "== tandem modules"
"$tandem" modules
echo
echo "== the student: configs/zero2_config.json (ZeRO-2, AdamW offloaded to the CPU, WarmupLR)"
"$tandem" config explain "$root/configs/zero2_config.json" \
  --hidden-size 128 --world-size 2 --micro-batch 8 --lr 3e-4 --weight-decay 0.1 --warmup-steps 20 --total-steps 200
echo
echo "== the teacher: configs/zero3_config.json (ZeRO-3, inference only)"
"$tandem" config explain "$root/configs/zero3_config.json" --hidden-size 256 --world-size 2 --micro-batch 8
echo
echo "== the student's learning rate over its first 25 optimizer steps"
"$tandem" schedule "$root/configs/zero2_config.json" --steps 25 \
  --hidden-size 128 --world-size 2 --micro-batch 8 --lr 3e-4 --weight-decay 0.1 --warmup-steps 20 --total-steps 200
