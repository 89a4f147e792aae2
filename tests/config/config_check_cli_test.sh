#!/usr/bin/env bash
# usage: config_check_cli_test.sh TANDEM WORK_DIR
# `tandem config check` checks the params of the modules a config selects (optimizer, scheduler and
# tandem.stage_module) against those modules' schemas, as a run would, with the JSON path and
# line:column; "auto" values are left to resolution. Writes only under WORK_DIR.
set -euo pipefail
tandem=$1 work=$2/config_check_cli
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }

# refused NAME FRAGMENT: `tandem config check NAME.json` exits 2 and says FRAGMENT on stderr, and
# so does `tandem config explain NAME.json` (it must not explain a config that check refuses).
refused() {
  local command
  for command in check explain; do
    set +e; "$tandem" config $command "$work/$1.json" > "$work/$1.out" 2> "$work/$1.err"; local rc=$?; set -e
    [ $rc -eq 2 ] || { cat "$work/$1.out" "$work/$1.err"; fail "$1: config $command: exit $rc, want 2"; }
    grep -qF -- "$2" "$work/$1.err" || { cat "$work/$1.err"; fail "$1: config $command: no '$2'"; }
  done
}

cat > "$work/good.json" <<'JSON'
{
  "train_micro_batch_size_per_gpu": "auto",
  "optimizer": {"type": "AdamW", "params": {"lr": "auto", "weight_decay": 0.1}},
  "scheduler": {"type": "WarmupLR", "params": {"warmup_num_steps": "auto"}},
  "zero_optimization": {"stage": 2},
  "tandem": {"stage_module": {"type": "zero2", "params": {"reduction": "all_reduce"}}}
}
JSON
"$tandem" config check "$work/good.json" > "$work/good.out" 2>&1 || { cat "$work/good.out"; fail "a good config was refused"; }
grep -qF "good.json: ok" "$work/good.out" || { cat "$work/good.out"; fail "no ok line"; }

# "auto" is present: a required parameter given as "auto" (WarmupDecayLR's total_num_steps, as in
# Accelerate's templates) passes, and check lists what a run resolves. DeepSpeed's "Adam" is adamw.
cat > "$work/auto.json" <<'JSON'
{"train_micro_batch_size_per_gpu": "auto",
 "optimizer": {"type": "Adam", "params": {"lr": "auto", "adam_w_mode": false}},
 "scheduler": {"type": "WarmupDecayLR", "params": {"warmup_num_steps": "auto", "total_num_steps": "auto"}}}
JSON
"$tandem" config check "$work/auto.json" > "$work/auto.out" 2>&1 || { cat "$work/auto.out"; fail "\"auto\" values were refused"; }
grep -qF 'auto.json: ok; 4 "auto" values resolved when a run prepares' "$work/auto.out" || { cat "$work/auto.out"; fail "no list of autos"; }
grep -qx '  scheduler.params.total_num_steps' "$work/auto.out" || { cat "$work/auto.out"; fail "total_num_steps not listed"; }

cat > "$work/decay.json" <<'JSON'
{
  "optimizer": {"type": "AdamW",
                "params": {"lr": 0.01, "weight_decay": -1}}
}
JSON
refused decay "decay.json:3:40: optimizer.params.weight_decay"
grep -qF "adamw" "$work/decay.err" || { cat "$work/decay.err"; fail "the module is not named"; }

cat > "$work/unknown_param.json" <<'JSON'
{"scheduler": {"type": "WarmupLR", "params": {"warmup_num_stepz": 10}}}
JSON
refused unknown_param "scheduler.params.warmup_num_stepz"

cat > "$work/stage_params.json" <<'JSON'
{"zero_optimization": {"stage": 2},
 "tandem": {"stage_module": {"type": "zero2", "params": {"reduction": "broadcast"}}}}
JSON
refused stage_params "stage_params.json:2:58: tandem.stage_module.params.reduction"

cat > "$work/stage_name.json" <<'JSON'
{"zero_optimization": {"stage": 2},
 "tandem": {"stage_module": "zero9"}}
JSON
refused stage_name "stage_name.json:2:13: tandem.stage_module: no stage module named 'zero9'"
grep -qF "zero0, zero1, zero2, zero3" "$work/stage_name.err" || { cat "$work/stage_name.err"; fail "the stage modules are not listed"; }

cat > "$work/bad_type.json" <<'JSON'
{"optimizer": {"type": "AdamWW", "params": {"lr": 0.001}}}
JSON
refused bad_type "bad_type.json:1:16: optimizer.type: no optimizer module named 'AdamWW'"

# Every DeepSpeed optimizer name: the unimplemented ones refused by name at the type, with what exists.
cat > "$work/onebit.json" <<'JSON'
{"optimizer": {"type": "OneBitAdam", "params": {"lr": 0.001}}}
JSON
refused onebit "onebit.json:1:16: optimizer.type: optimizer.type \"OneBitAdam\" is a DeepSpeed optimizer tandem does not implement (1-bit Adam"
grep -qF "available: adam, adamw, lamb, lion" "$work/onebit.err" || { cat "$work/onebit.err"; fail "OneBitAdam: what exists is not listed"; }
for t in ZeroOneAdam OneBitLamb MuAdam MuAdamW MuSGD Adagrad Muon; do
  printf '{"optimizer": {"type": "%s"}}\n' "$t" > "$work/ds_$t.json"
  refused "ds_$t" "optimizer.type \"$t\" is a DeepSpeed optimizer tandem does not implement"
done

# Under ZeRO, DeepSpeed refuses an optimizer outside its tested list (Lamb: FusedLamb) unless
# zero_allow_untested_optimizer is true; Lion (FusedLion) and Adam are tested.
cat > "$work/lamb_zero.json" <<'JSON'
{"optimizer": {"type": "Lamb", "params": {"lr": 0.001}}, "zero_optimization": {"stage": 1}}
JSON
refused lamb_zero "lamb_zero.json:1:16: optimizer.type: optimizer.type \"Lamb\" under ZeRO stage 1 is an optimizer DeepSpeed has not tested with ZeRO"
cat > "$work/lamb_allowed.json" <<'JSON'
{"optimizer": {"type": "Lamb", "params": {"lr": 0.001, "max_coeff": 5.0}}, "zero_optimization": {"stage": 2},
 "zero_allow_untested_optimizer": true}
JSON
"$tandem" config check "$work/lamb_allowed.json" > "$work/lamb_allowed.out" 2> "$work/lamb_allowed.err" ||
  { cat "$work/lamb_allowed.out" "$work/lamb_allowed.err"; fail "Lamb with zero_allow_untested_optimizer is refused"; }
grep -qF "untested optimizer" "$work/lamb_allowed.err" || { cat "$work/lamb_allowed.err"; fail "Lamb under ZeRO: no warning"; }
for f in '{"optimizer": {"type": "Lamb"}}' '{"optimizer": {"type": "Lion", "params": {"betas": [0.9, 0.99]}}, "zero_optimization": {"stage": 3}}'; do
  printf '%s\n' "$f" > "$work/ok_opt.json"
  "$tandem" config check "$work/ok_opt.json" > "$work/ok_opt.out" 2>&1 || { cat "$work/ok_opt.out"; fail "refused: $f"; }
done

cat > "$work/betas.json" <<'JSON'
{"optimizer": {"type": "AdamW", "params": {"lr": 0.001, "betas": [0.9, 1.5]}}}
JSON
refused betas "optimizer.params.betas[1]: out of range: 1.5 is above the maximum 1"

cat > "$work/path_type.json" <<'JSON'
{"optimizer": {"type": "../elsewhere/libtandem-optimizer-adamw.so", "params": {"lr": 0.001}}}
JSON
refused path_type "optimizer.type: '../elsewhere/libtandem-optimizer-adamw.so' is a path: the type is a module's name"

# A NaN learning rate cannot be written in JSON; given as a run's fact it is refused as well.
set +e; "$tandem" config explain "$work/good.json" --lr nan > "$work/nan.out" 2> "$work/nan.err"; rc=$?; set -e
[ $rc -eq 2 ] || { cat "$work/nan.out" "$work/nan.err"; fail "--lr nan: exit $rc, want 2"; }
grep -qF "lr must be a finite number" "$work/nan.err" || { cat "$work/nan.err"; fail "--lr nan: no reason"; }

rm -rf "$work"
echo PASS
