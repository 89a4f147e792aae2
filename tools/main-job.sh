#!/usr/bin/env bash
# The main job, run by `tools/bootstrap.sh main` after the build: knowledge distillation on the CPU,
# end to end, on the example run files (configs/examples/distill_*.json; byte-level King James Bible):
#   1. the teacher (4 layers x 128) is trained with `tandem train` unless runs/distill/teacher
#      already holds a checkpoint (with its manifest);
#   2. the student (2 layers x 64) is distilled from it with `tandem distill`: the student under the
#      seed's configs/zero2_config.json (ZeRO-2, AdamW offloaded to the host, WarmupLR), the teacher
#      forward-only under configs/zero3_config.json (ZeRO-3), 2 thread-ranks;
#   3. the same student is trained the same steps without the teacher (--baseline);
# and the last line compares the two students' validation losses, with the teacher's;
#   4. `tandem plot` draws both students' train and validation losses into runs/distill/student/loss.png.
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tandem="$build/bin/tandem"
start=$SECONDS

echo "== tandem modules"
"$tandem" modules
echo

teacher_dir="$root/runs/distill/teacher"
# A checkpoint written before checkpoints had manifests cannot be told from a damaged one: retrain.
if [ -f "$teacher_dir/latest" ] && [ -f "$teacher_dir/$(head -n1 "$teacher_dir/latest")/manifest.json" ]; then
  echo "== the teacher: reusing the checkpoint in $teacher_dir (delete it to train it again)"
else
  echo "== the teacher: tandem train configs/examples/distill_teacher.json"
  "$tandem" train "$root/configs/examples/distill_teacher.json" --overwrite  # over a stale run, if one is there
fi
echo

echo "== the student: tandem distill configs/examples/distill_tiny.json --baseline"
# A fresh student each time: its checkpoints are outputs, never resumed from here.
rm -rf "$root/runs/distill/student" "$root/runs/distill/student-baseline"
"$tandem" distill "$root/configs/examples/distill_tiny.json" --baseline
echo
echo "== the students' losses: tandem plot"
# Beside the metrics it draws; written again each time (the students above are too).
"$tandem" plot "$root/runs/distill/student/metrics.jsonl" "$root/runs/distill/student/metrics-baseline.jsonl" \
  --label "student (distilled)" --label "student (baseline)" -o "$root/runs/distill/student/loss.png" --force
echo
echo "main job done in $((SECONDS - start)) s"
