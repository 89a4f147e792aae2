#!/usr/bin/env bash
# usage: install_out_of_tree_test.sh CMAKE BUILD_DIR EXAMPLE_SOURCE_DIR COMPUTE_CONSUMER_DIR WORK_DIR
# Checks, against an installed and then moved tree:
#   1. `tandem modules` finds the shipped modules relative to its own location (nothing from the
#      build tree, no TANDEM_MODULE_PATH);
#   2. an out-of-tree project configures with find_package(tandem) and builds its module with
#      tandem_add_module, and the module exports only tandem_module_entry;
#   3. the installed `tandem` loads that module through --module-path and, once the project is
#      installed into the same prefix, without it; `tandem schedule` prints the module's schedule,
#      compared here with the formula computed independently by awk;
#   4. a program linking the installed tandem::compute builds and runs (oneTBB, OpenBLAS at run time).
# Writes only under WORK_DIR (in the build tree), which it empties first.
set -euo pipefail
cmake=$1 build=$2 example=$3 consumer=$4 work=$5/install_test
unset TANDEM_MODULE_PATH

fail() { echo "FAIL: $*" >&2; exit 1; }

rm -rf "$work"
mkdir -p "$work"
"$cmake" --install "$build" --prefix "$work/first" > "$work/install.log"

# A relocatable install: every path is relative, so the moved tree works as the first did.
mv "$work/first" "$work/prefix"
prefix=$work/prefix
tandem=$prefix/bin/tandem
[ -x "$tandem" ] || fail "no executable at $tandem"
for f in include/tandem/scheduler.hpp include/tandem/abi.h lib/cmake/tandem/tandemConfig.cmake \
         lib/cmake/tandem/TandemModule.cmake lib/cmake/tandem/tandem_module.map lib/libtandem_compute.a; do
  [ -e "$prefix/$f" ] || fail "not installed: $f"
done

"$tandem" modules > "$work/modules.txt" 2>&1 || { cat "$work/modules.txt"; fail "tandem modules failed"; }
grep -q "warmup_lr" "$work/modules.txt" || { cat "$work/modules.txt"; fail "the shipped warmup_lr module is not listed"; }
grep -qF "$prefix/lib/tandem/modules/libtandem-scheduler-warmup_lr.so" "$work/modules.txt" ||
  { cat "$work/modules.txt"; fail "warmup_lr was not loaded from the moved prefix"; }
if grep -qF "$build/lib/" "$work/modules.txt"; then cat "$work/modules.txt"; fail "a module was loaded from the build tree"; fi

# The out-of-tree project, against the moved prefix only.
"$cmake" -S "$example" -B "$work/example" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release \
  > "$work/example-configure.log" 2>&1 || { cat "$work/example-configure.log"; fail "configure with find_package(tandem)"; }
"$cmake" --build "$work/example" > "$work/example-build.log" 2>&1 ||
  { cat "$work/example-build.log"; fail "build of the out-of-tree module"; }
if grep -q "warning:" "$work/example-build.log"; then cat "$work/example-build.log"; fail "warnings"; fi
module=$work/example/modules/libtandem-scheduler-step_decay_lr.so
[ -f "$module" ] || fail "tandem_add_module did not write $module"
exported=$(nm -D --defined-only "$module" | awk '{print $NF}' | sort | tr '\n' ' ')
[ "$exported" = "tandem_module_entry " ] || fail "the module exports '$exported', not only tandem_module_entry"

"$tandem" modules --module-path "$work/example/modules" > "$work/modules-ext.txt" 2>&1 ||
  { cat "$work/modules-ext.txt"; fail "tandem modules --module-path"; }
grep -q "step_decay_lr" "$work/modules-ext.txt" || { cat "$work/modules-ext.txt"; fail "step_decay_lr not listed"; }
grep -q "warmup_lr" "$work/modules-ext.txt" || { cat "$work/modules-ext.txt"; fail "shipped modules lost"; }

# The schedule: lr 0.1, gamma 0.5 every 3 steps.
cat > "$work/config.json" <<'JSON'
{
  "train_micro_batch_size_per_gpu": 1,
  "optimizer": {"type": "AdamW", "params": {"lr": 0.1}},
  "scheduler": {"type": "StepDecayLR", "params": {"gamma": 0.5, "step_size": 3}}
}
JSON
"$tandem" schedule "$work/config.json" --steps 10 --module-path "$work/example/modules" > "$work/schedule.csv" \
  2> "$work/schedule.err" || { cat "$work/schedule.err"; fail "tandem schedule"; }
# The CSV's step s is the optimizer step that runs after s - 1 scheduler steps, i.e. at the
# scheduler's iteration s - 2 (DeepSpeed's last_batch_iteration, -1 before any step).
awk -F, 'NR == 1 { if ($1 != "step" || $2 != "lr") { print "header: " $0; bad = 1 }; next }
         { rows++; it = $1 - 2; if (it < 0) it = 0; want = 0.1 * 0.5 ^ int(it / 3)
           if ($1 != rows || ($2 - want) ^ 2 > (1e-12 * want) ^ 2) { print "row " rows ": " $0 ", want " want; bad = 1 } }
         END { if (rows != 10) { print rows " rows, want 10"; bad = 1 }; exit bad }' "$work/schedule.csv" ||
  { cat "$work/schedule.csv"; fail "the schedule differs from base_lr * gamma^floor(step/step_size)"; }

# Installed into the tandem prefix, the module is found with no --module-path.
"$cmake" --install "$work/example" --prefix "$prefix" > "$work/example-install.log"
[ -f "$prefix/lib/tandem/modules/libtandem-scheduler-step_decay_lr.so" ] || fail "module not installed"
"$tandem" modules > "$work/modules-installed.txt" 2>&1 || { cat "$work/modules-installed.txt"; fail "tandem modules"; }
grep -q "step_decay_lr" "$work/modules-installed.txt" || { cat "$work/modules-installed.txt"; fail "installed module not found"; }

# The compute core as a package: a static library with its dependencies carried by the export.
"$cmake" -S "$consumer" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release \
  > "$work/consumer-configure.log" 2>&1 || { cat "$work/consumer-configure.log"; fail "configure of the tandem::compute consumer"; }
"$cmake" --build "$work/consumer" > "$work/consumer-build.log" 2>&1 ||
  { cat "$work/consumer-build.log"; fail "build of the tandem::compute consumer"; }
"$work/consumer/compute_consumer" || fail "the tandem::compute consumer"

rm -rf "$work"
echo "PASS"
