#!/usr/bin/env bash
# usage: public_configs_test.sh TANDEM WORK_DIR
# `tandem config check` (and `config explain` with a run's facts) on configs published in
# Accelerate's, DeepSpeed's and DeepSpeedExamples' repositories, kept byte for byte under
# tests/config/public/ (README.md there says where each comes from). Issue 19: 11 of 28 such configs
# used to fail; each one DeepSpeed runs must pass here, each feature tandem ignores must be warned
# about by name, and each one tandem cannot run must be refused naming why. Writes only under WORK_DIR.
set -euo pipefail
tandem=$1 work=$2/public_configs
public=$(cd "$(dirname "${BASH_SOURCE[0]}")/public" && pwd)
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }

# The fixtures are test data as published: an edit (a formatter, a "fix" of a typo) would make the
# test pass on something nobody ships. Their hashes are in public/SHA256SUMS.
(cd "$public" && sha256sum --quiet -c SHA256SUMS) || fail "a fixture under $public differs from SHA256SUMS"

# check FILE: `tandem config check public/FILE`; sets rc, out (stdout) and err (stderr).
check() {
  out=$work/${1//\//_}.out err=$work/${1//\//_}.err
  set +e; "$tandem" config check "$public/$1" > "$out" 2> "$err"; rc=$?; set -e
}
# accepted FILE: check exits 0 with the "ok" line.
accepted() {
  check "$1"
  [ $rc -eq 0 ] || { cat "$out" "$err"; fail "$1: config check: exit $rc, want 0"; }
  grep -qF "$public/$1: ok" "$out" || { cat "$out" "$err"; fail "$1: no ok line"; }
}
# refused FILE FRAGMENT: check exits 2, says FRAGMENT on stderr and prints no "ok" line.
refused() {
  check "$1"
  [ $rc -eq 2 ] || { cat "$out" "$err"; fail "$1: config check: exit $rc, want 2"; }
  grep -qF -- "$2" "$err" || { cat "$err"; fail "$1: no '$2'"; }
  ! grep -qF ": ok" "$out" || { cat "$out"; fail "$1: refused, yet an ok line"; }
}
# says FILE FRAGMENT: the last check of FILE said FRAGMENT on stderr (a warning or an error).
says() { grep -qF -- "$2" "$err" || { cat "$err"; fail "$1: no '$2'"; }; }

ignored_block() { echo "$1: DeepSpeed acts on \"$1\", tandem does not: it is ignored"; }
no_zero_block="zero_optimization: a DeepSpeed plugin needs a zero_optimization block"
zero3_param_offload='zero_optimization.offload_param.device: "cpu": tandem does not offload ZeRO-3'"'"'s parameters'
cpu_offload_alias='zero_optimization.cpu_offload: "cpu_offload" is deprecated: use "offload_optimizer": {"device": "cpu"}'

# --- Accelerate: the five templates of examples/deepspeed_config_templates and the configs of
# tests/deepspeed. Every "auto" counts as present (WarmupDecayLR requires total_num_steps, which
# the templates give as "auto"), and check lists what a run resolves.
templates="zero_stage1_config zero_stage2_config zero_stage2_offload_config zero_stage3_config zero_stage3_offload_config"
for t in $templates; do
  accepted "accelerate/$t.json"
  case $t in *stage3_offload*) says "accelerate/$t.json" "$zero3_param_offload" ;; esac
  grep -qx '  scheduler.params.total_num_steps' "$out" || { cat "$out"; fail "$t: total_num_steps not listed as auto"; }
  grep -qx '  optimizer.params.lr' "$out" || { cat "$out"; fail "$t: lr not listed as auto"; }
done
for c in ds_config_zero2 ds_config_zero3 ds_config_zero2_model_only ds_config_zero3_model_only; do
  accepted "accelerate/$c.json"
  case $c in ds_config_zero3*) says "accelerate/$c.json" "$zero3_param_offload" ;; esac
done

# explain FILE FACTS...: `tandem config explain` exits 0 and the resolved config (the JSON object
# before the list of "auto" values) holds no "auto": every one resolved from the run's facts.
explained() {
  local f=$1 name=$work/explain_${1//\//_}; shift
  set +e; "$tandem" config explain "$public/$f" "$@" > "$name.out" 2> "$name.err"; local rc=$?; set -e
  [ $rc -eq 0 ] || { cat "$name.out" "$name.err"; fail "$f: config explain $*: exit $rc, want 0"; }
  sed -n '1,/^}$/p' "$name.out" > "$name.resolved"
  [ -s "$name.resolved" ] || { cat "$name.out"; fail "$f: explain printed no resolved config"; }
  ! grep -qF '"auto"' "$name.resolved" || { cat "$name.resolved"; fail "$f: an \"auto\" left unresolved"; }
  resolved=$name.resolved
}
facts=(--hidden-size 768 --micro-batch 4 --total-steps 100 --world-size 2)
for t in $templates; do
  explained "accelerate/$t.json" "${facts[@]}"
  # Accelerate's fills: reduce_bucket_size = h*h, train_batch_size = micro * accum * world.
  grep -qF '"reduce_bucket_size": 589824' "$resolved" || { cat "$resolved"; fail "$t: reduce_bucket_size is not 768*768"; }
  grep -qF '"total_num_steps": 100' "$resolved" || { cat "$resolved"; fail "$t: total_num_steps is not the run's 100"; }
  grep -qF '"train_batch_size": 8' "$resolved" || { cat "$resolved"; fail "$t: train_batch_size is not 4*1*2"; }
done
for c in ds_config_zero2 ds_config_zero3 ds_config_zero2_model_only; do
  explained "accelerate/$c.json" "${facts[@]}"
done
# ds_config_zero3_model_only fixes train_batch_size at 1: fine on one rank, and on two DeepSpeed's
# rule gives a micro batch of 1 // 2 = 0, which DeepSpeed asserts against; so does tandem.
explained accelerate/ds_config_zero3_model_only.json --hidden-size 768 --world-size 1
set +e; "$tandem" config explain "$public/accelerate/ds_config_zero3_model_only.json" "${facts[@]}" \
  > "$work/model_only_2.out" 2> "$work/model_only_2.err"; rc=$?; set -e
[ $rc -eq 2 ] || { cat "$work/model_only_2.out" "$work/model_only_2.err"; fail "zero3_model_only on 2 ranks: exit $rc, want 2"; }
grep -qF "train_batch_size must be at least world_size * gradient_accumulation_steps" "$work/model_only_2.err" ||
  { cat "$work/model_only_2.err"; fail "zero3_model_only on 2 ranks: no reason"; }

# --- DeepSpeedExamples.
# Lamb (FusedLamb) with no ZeRO: DeepSpeed runs it at stage 0, so ZeRO's untested-optimizer rule
# does not apply; sparse_attention is ignored by name. A run (and explain, which resolves as a run
# does) refuses a config without zero_optimization, as Accelerate's plugin does; check says so.
accepted deepspeedexamples/deepspeed_bsz64k_lamb_config_seq128.json
says deepspeedexamples/deepspeed_bsz64k_lamb_config_seq128.json "$(ignored_block sparse_attention)"
says deepspeedexamples/deepspeed_bsz64k_lamb_config_seq128.json "$no_zero_block"
says deepspeedexamples/deepspeed_bsz64k_lamb_config_seq128.json "DeepSpeed alone runs it at stage 0"
set +e; "$tandem" config explain "$public/deepspeedexamples/deepspeed_bsz64k_lamb_config_seq128.json" --world-size 2 \
  > "$work/lamb_explain.out" 2> "$work/lamb_explain.err"; rc=$?; set -e
[ $rc -eq 2 ] || { cat "$work/lamb_explain.out" "$work/lamb_explain.err"; fail "lamb explain: exit $rc, want 2"; }
grep -qF "$no_zero_block" "$work/lamb_explain.err" || { cat "$work/lamb_explain.err"; fail "lamb explain: no reason"; }

# OneBitAdam: a DeepSpeed optimizer tandem does not implement, refused at its type with what exists.
refused deepspeedexamples/deepspeed_bsz4k_onebit_config_seq128.json \
  'deepspeed_bsz4k_onebit_config_seq128.json:6:5: optimizer.type: optimizer.type "OneBitAdam" is a DeepSpeed optimizer tandem does not implement'
says deepspeedexamples/deepspeed_bsz4k_onebit_config_seq128.json "available: adam, adamw, lamb, lion"

# Megatron's ZeRO-2 with DeepSpeed's "Adam" (adam_w_mode defaults to true) and activation checkpointing.
accepted deepspeedexamples/ds_zero2_config.json
says deepspeedexamples/ds_zero2_config.json "$(ignored_block activation_checkpointing)"

# ZeRO-3 with the optimizer and the parameters offloaded to the CPU, and activation checkpointing.
accepted deepspeedexamples/alpaca-lora-zero3_ds_config.json
says deepspeedexamples/alpaca-lora-zero3_ds_config.json "$(ignored_block activation_checkpointing)"
says deepspeedexamples/alpaca-lora-zero3_ds_config.json "$zero3_param_offload"

# Random-LTD (data_efficiency) at ZeRO stage 0.
accepted deepspeedexamples/ds_config_gpt_medium_random_ltd.json
says deepspeedexamples/ds_config_gpt_medium_random_ltd.json "$(ignored_block data_efficiency)"

# The key is misspelt upstream ("persitence"). DeepSpeed's ZeRO config model forbids unknown keys
# (DeepSpeedConfigModel: extra = "forbid"), so today's DeepSpeed refuses this file as well.
refused deepspeedexamples/ds_zero_stage_3_config.json \
  'ds_zero_stage_3_config.json:10:5: zero_optimization.stage3_param_persitence_threshold: unknown key'
says deepspeedexamples/ds_zero_stage_3_config.json 'did you mean "stage3_param_persistence_threshold"?'

# cifar: ZeRO-2 with the deprecated cpu_offload (as ds_config_func_bs4_zero2_offload below). It also
# sets fp16_master_weights_and_grads, which DeepSpeed allows at stage 2 and tandem refuses (it keeps
# fp32 master weights under every stage): check refuses it as a run would, at the key.
refused deepspeedexamples/cifar_ds_config.json "fp16.fp16_master_weights_and_grads: not supported"

# --- DeepSpeed.
# No zero_optimization block at all (DeepSpeed: stage 0); "Adam" with betas and eps.
accepted deepspeed/pipeline_parallelism_ds_config.json
says deepspeed/pipeline_parallelism_ds_config.json "$no_zero_block"
# bf16 with fp16's loss-scaling keys, which DeepSpeed's bf16 block does not read.
accepted deepspeed/torch_compile_ds_config.json
for key in loss_scale loss_scale_window hysteresis min_loss_scale initial_scale_power; do
  says deepspeed/torch_compile_ds_config.json "bf16.$key: unknown key \"$key\" in \"bf16\": DeepSpeed ignores it"
done
# DeepSpeed's own Megatron test: ZeRO-2 offload spelt cpu_offload, no optimizer block (the client's).
accepted deepspeed/ds_config_func_bs4_zero2_offload.json
says deepspeed/ds_config_func_bs4_zero2_offload.json "$cpu_offload_alias"

rm -rf "$work"
echo PASS
