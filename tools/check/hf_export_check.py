#!/usr/bin/env python3
"""`tandem checkpoint export` against Hugging Face transformers: GPT2LMHeadModel.from_pretrained(OUT)
must give the logits tandem gives.

    hf_export_check.py BIN [--dtype fp32|bf16] [--tokens 48] [--seed 0] [--tolerance T]
                       [--checkpoint DIR --model JSON]

BIN is the directory holding `tandem` and `tandem-gpt2-logits` (a build's or a bundle's bin/). Without
--checkpoint the script makes its own: it trains a small byte-level GPT (2 layers x 64, 4 heads) for 30
steps with `tandem train` under ZeRO-2 on 2 thread-ranks, so the export goes through the re-assembly of
rank shards. Then:
  1. `tandem checkpoint export CKPT OUT --dtype D`;
  2. transformers loads OUT with GPT2LMHeadModel.from_pretrained (no network) and computes the logits of
     random tokens in float64 (the reference) and in float32;
  3. tandem-gpt2-logits computes tandem's logits from OUT/model.safetensors (the file transformers read);
  4. the error is max |tandem - reference| / max |reference|; PASS at or below --tolerance (default 1e-5:
     fp32 arithmetic on a small model), FAIL above it, or if transformers warns of weights it did not find.
Also checked: config.json is what GPT2Config needs; with --dtype bf16, that the file's tensors are bf16.
Prints one line PASS or FAIL at the end; exit 0 on PASS.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from transformers import GPT2LMHeadModel
from transformers.utils import logging as hf_logging

TEXT = ("In the beginning God created the heaven and the earth. And the earth was without form, and void; "
        "and darkness was upon the face of the deep. The quick brown fox jumps over the lazy dog. ") * 60
SHAPE = {"n_layer": 2, "n_head": 4, "n_embd": 64, "vocab_size": 256, "block_size": 64}


def run(cmd):
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def train_checkpoint(binary_dir, work):
    with open(os.path.join(work, "text.txt"), "w") as f:
        f.write(TEXT)
    run_file = {
        "model": {"type": "gpt", "params": SHAPE},
        "data": {"path": "text.txt", "val_fraction": 0.1},
        "deepspeed": {"train_micro_batch_size_per_gpu": "auto", "gradient_accumulation_steps": 1,
                      "optimizer": {"type": "AdamW", "params": {"lr": "auto", "weight_decay": "auto"}},
                      "zero_optimization": {"stage": 2}},
        "ranks": 2, "steps": 30, "seq_len": 64, "micro_batch": 4, "lr": 3e-3, "weight_decay": 0.0,
        "seed": 7, "checkpoint_dir": "ckpt", "checkpoint_interval": 30,
    }
    with open(os.path.join(work, "run.json"), "w") as f:
        json.dump(run_file, f)
    run([os.path.join(binary_dir, "tandem"), "train", "--quiet", os.path.join(work, "run.json")])
    return os.path.join(work, "ckpt"), SHAPE


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary_dir")
    parser.add_argument("--dtype", default="fp32", choices=["fp32", "bf16"])
    parser.add_argument("--tokens", type=int, default=48)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tolerance", type=float, default=1e-5)
    parser.add_argument("--checkpoint", help="a tandem checkpoint to export instead of training one")
    parser.add_argument("--model", help="its gpt params as JSON (with --checkpoint, when its run file is gone)")
    args = parser.parse_args()

    problems = []
    with tempfile.TemporaryDirectory() as work:
        if args.checkpoint:
            ckpt, shape = args.checkpoint, json.loads(args.model) if args.model else None
        else:
            ckpt, shape = train_checkpoint(args.binary_dir, work)
        out = os.path.join(work, "hf")
        cmd = [os.path.join(args.binary_dir, "tandem"), "checkpoint", "export", ckpt, out, "--dtype", args.dtype]
        if shape is not None:
            cmd += ["--model", json.dumps(shape)]
        run(cmd)

        with open(os.path.join(out, "config.json")) as f:
            config = json.load(f)
        for key in ("n_embd", "n_layer", "n_head", "n_positions", "vocab_size", "layer_norm_epsilon",
                    "activation_function", "tie_word_embeddings", "architectures"):
            if key not in config:
                problems.append("config.json has no " + key)
        with open(os.path.join(out, "model.safetensors"), "rb") as f:
            header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
        dtypes = {v["dtype"] for k, v in header.items() if k != "__metadata__"}
        want = {"fp32": "F32", "bf16": "BF16"}[args.dtype]
        if dtypes != {want}:
            problems.append("model.safetensors holds %s, not only %s" % (sorted(dtypes), want))

        # transformers' loading report: every weight found (the tied lm_head and the attention mask
        # buffers of older versions aside).
        hf_logging.set_verbosity_error()
        model, info = GPT2LMHeadModel.from_pretrained(out, local_files_only=True, output_loading_info=True)
        missing = [k for k in info.get("missing_keys", []) if not k.endswith(".attn.bias") and k != "lm_head.weight"]
        unexpected = list(info.get("unexpected_keys", []))
        if missing or unexpected:
            problems.append("transformers: missing %s, unexpected %s" % (missing, unexpected))
        c = model.config
        generator = torch.Generator().manual_seed(args.seed)
        tokens = torch.randint(0, c.vocab_size, (1, min(args.tokens, c.n_positions)), generator=generator)
        with torch.no_grad():
            hf32 = model.float().eval()(tokens).logits[0].double().numpy()
            reference = model.double()(tokens).logits[0].numpy()

        logits_file = os.path.join(work, "tandem.f32")
        params = {"n_layer": c.n_layer, "n_head": c.n_head, "n_embd": c.n_embd, "vocab_size": c.vocab_size,
                  "block_size": c.n_positions}
        run([os.path.join(args.binary_dir, "tandem-gpt2-logits"), "--weights", os.path.join(out, "model.safetensors"),
             "--model", json.dumps(params), "--tokens", ",".join(str(int(t)) for t in tokens[0]),
             "--out", logits_file])
        ours = np.fromfile(logits_file, dtype=np.float32).reshape(tokens.shape[1], c.vocab_size).astype(np.float64)

    scale = np.abs(reference).max()
    err = np.abs(ours - reference).max() / scale
    err_hf32 = np.abs(hf32 - reference).max() / scale
    agree = (ours.argmax(axis=1) == reference.argmax(axis=1)).mean()
    print("export %s: %d tokens, torch %s; max |error| / max |logit| against transformers' float64 on the "
          "exported directory: tandem %.3g (transformers fp32 %.3g); argmax agreement %.4f"
          % (args.dtype, tokens.shape[1], torch.__version__, err, err_hf32, agree))
    if not np.isfinite(ours).all() or err > args.tolerance:
        problems.append("logits differ by %.3g > %g" % (err, args.tolerance))
    for p in problems:
        print("problem:", p)
    print("PASS" if not problems else "FAIL", "(tolerance %g)" % args.tolerance)
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
