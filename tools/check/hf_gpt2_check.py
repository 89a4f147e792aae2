#!/usr/bin/env python3
"""tandem's `gpt` module against Hugging Face transformers' GPT2LMHeadModel on the same weights.

    hf_gpt2_check.py BIN [--tokens 64] [--seed 0] [--tolerance 1e-4] [--random]

BIN is tandem-gpt2-logits (tools/check). The model is GPT-2 124M: the real "gpt2" weights when they are
in the local Hugging Face cache (no network is used), else a GPT-2 124M initialised at random (seeded).
transformers saves them as model.safetensors (its own names and Conv1D layout, the tied lm_head
omitted); tandem loads that file as it is. The reference is the same model run by transformers in
float64; transformers' own fp32 run is reported beside ours, so the figure has a scale. The error is
max |ours - reference| / max |reference| over every logit; the check fails above --tolerance.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from transformers import GPT2Config, GPT2LMHeadModel


def load_model(seed, random_weights):
    if not random_weights:
        try:
            return GPT2LMHeadModel.from_pretrained("gpt2", local_files_only=True), "gpt2 (Hugging Face weights)"
        except Exception:  # not in the cache: no network here
            pass
    torch.manual_seed(seed)
    config = GPT2Config(n_layer=12, n_head=12, n_embd=768, vocab_size=50257, n_positions=1024,
                        activation_function="gelu_new", resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    return GPT2LMHeadModel(config), "GPT-2 124M, random weights (seed %d)" % seed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tolerance", type=float, default=None,
                        help="max |error| / max |logit| allowed (default 1e-4 in fp32, 1e-2 in bf16)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    parser.add_argument("--random", action="store_true", help="random weights even if gpt2 is cached")
    args = parser.parse_args()
    if args.tolerance is None:
        args.tolerance = 1e-2 if args.precision == "bf16" else 1e-4

    model, what = load_model(args.seed, args.random)
    model = model.eval().float()
    c = model.config
    generator = torch.Generator().manual_seed(args.seed + 1)
    tokens = torch.randint(0, c.vocab_size, (1, args.tokens), generator=generator)
    with torch.no_grad():
        hf32 = model(tokens).logits[0].double().numpy()
        reference = model.double()(tokens).logits[0].numpy()
        model.float()
        # For the bf16 figure's scale: transformers itself in bf16, under autocast (fp32 weights, residual
        # and LayerNorm; bf16 products) and wholly in bf16 (weights and activations, as tandem's bf16).
        hf_bf16 = {}
        if args.precision == "bf16":
            device = args.device if torch.cuda.is_available() or args.device == "cpu" else "cpu"
            m = model.to(device)
            with torch.autocast(device_type=device, dtype=torch.bfloat16):
                hf_bf16["autocast"] = m(tokens.to(device)).logits[0].double().cpu().numpy()
            hf_bf16["all bf16"] = m.to(torch.bfloat16)(tokens.to(device)).logits[0].double().cpu().numpy()
            model = m.float().cpu()

    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        weights = os.path.join(tmp, "model.safetensors")
        out = os.path.join(tmp, "logits.f32")
        params = {"n_layer": c.n_layer, "n_head": c.n_head, "n_embd": c.n_embd, "vocab_size": c.vocab_size,
                  "block_size": c.n_positions}
        subprocess.run([args.binary, "--weights", weights, "--model", json.dumps(params), "--tokens",
                        ",".join(str(int(t)) for t in tokens[0]), "--out", out, "--device", args.device,
                        "--precision", args.precision], check=True)
        ours = np.fromfile(out, dtype=np.float32).reshape(args.tokens, c.vocab_size).astype(np.float64)

    scale = np.abs(reference).max()
    err_ours = np.abs(ours - reference).max() / scale
    err_hf32 = np.abs(hf32 - reference).max() / scale
    l2_ours = np.linalg.norm(ours - reference) / np.linalg.norm(reference)
    agree = (ours.argmax(axis=1) == reference.argmax(axis=1)).mean()
    print("model: %s; %d tokens; torch %s; tandem on %s in %s" % (what, args.tokens, torch.__version__,
                                                                 args.device, args.precision))
    print("max |error| / max |logit| against transformers in float64: tandem %s %.3g, transformers fp32 %.3g"
          % (args.precision, err_ours, err_hf32))
    for name, logits in hf_bf16.items():
        print("  transformers bf16 (%s): max |error| / max |logit| %.3g, relative L2 %.3g"
              % (name, np.abs(logits - reference).max() / scale,
                 np.linalg.norm(logits - reference) / np.linalg.norm(reference)))
    print("relative L2 error: tandem %.3g; argmax agreement %.4f" % (l2_ours, agree))
    ok = np.isfinite(ours).all() and err_ours <= args.tolerance
    print("PASS" if ok else "FAIL", "(tolerance %g)" % args.tolerance)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
