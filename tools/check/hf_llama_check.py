#!/usr/bin/env python3
"""tandem's `llama` module against Hugging Face transformers on random tiny Llama and Qwen2 models.

    hf_llama_check.py BIN [--tokens 24] [--seed 0] [--tolerance 1e-5]

BIN is tandem-model-logits (tools/check). For each family it builds a random tiny model with
transformers (LlamaForCausalLM with grouped-query attention and an untied head; LlamaForCausalLM with
attention_bias and a tied head; Qwen2ForCausalLM, whose q/k/v projections have biases), saves it with
save_pretrained (model.safetensors and config.json: Hugging Face's own names and [out, in] Linear
layout), hands tandem the config.json's values as the module's params and the safetensors file as it
is, and compares tandem's fp32 logits with transformers' fp32 logits on the same tokens. The error is
max |tandem - transformers| / max |transformers| over every logit; each family prints PASS or FAIL at
--tolerance, and transformers' float64 run is reported beside, so the figure has a scale.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

# config.json keys that the module takes, as they are (modules/model/llama/llama_module_params.hpp).
MODULE_KEYS = {"model_type", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
               "num_key_value_heads", "head_dim", "vocab_size", "max_position_embeddings", "rms_norm_eps",
               "rope_theta", "tie_word_embeddings", "attention_bias", "mlp_bias", "hidden_act",
               "initializer_range"}


def module_params(config_json):
    """The module's params from a saved config.json: its keys as they are; rope_scaling by its type."""
    params = {k: v for k, v in config_json.items() if k in MODULE_KEYS and v is not None}
    if params.get("model_type") == "qwen2":
        params.pop("attention_bias", None)  # not a Qwen2 setting (transformers may still write it)
        params.pop("mlp_bias", None)
    scaling = config_json.get("rope_scaling")
    if scaling:
        params["rope_scaling"] = scaling.get("rope_type", scaling.get("type", "default"))
    # Newer transformers keep rope_theta inside rope_parameters.
    rope = config_json.get("rope_parameters")
    if rope and "rope_theta" in rope:
        params["rope_theta"] = rope["rope_theta"]
        if rope.get("rope_type", "default") != "default":
            params["rope_scaling"] = rope["rope_type"]
    if params.get("head_dim") == params["hidden_size"] // params["num_attention_heads"]:
        params.pop("head_dim")
    return params


FAMILIES = [
    ("llama (GQA 4/2, untied)", LlamaConfig, LlamaForCausalLM,
     dict(num_key_value_heads=2, tie_word_embeddings=False, rope_theta=10000.0)),
    ("llama (attention_bias, tied)", LlamaConfig, LlamaForCausalLM,
     dict(num_key_value_heads=4, tie_word_embeddings=True, attention_bias=True, rope_theta=500000.0)),
    ("qwen2 (q/k/v biases, GQA 4/1)", Qwen2Config, Qwen2ForCausalLM,
     dict(num_key_value_heads=1, tie_word_embeddings=False, rope_theta=1000000.0)),
]


def check(binary, name, config_cls, model_cls, extra, args):
    torch.manual_seed(args.seed)
    config = config_cls(hidden_size=64, intermediate_size=160, num_hidden_layers=2, num_attention_heads=4,
                        vocab_size=300, max_position_embeddings=128, rms_norm_eps=1e-6,
                        initializer_range=0.2, attn_implementation="eager", **extra)
    model = model_cls(config).eval().float()
    # Biases and norm weights away from their 0 / 1 initialisation, so that a wrong one shows.
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if pname.endswith(".bias") or "norm" in pname:
                p.add_(0.1 * torch.randn_like(p))
    generator = torch.Generator().manual_seed(args.seed + 1)
    tokens = torch.randint(0, config.vocab_size, (1, args.tokens), generator=generator)
    with torch.no_grad():
        hf32 = model(tokens).logits[0].double().numpy()
        hf64 = model.double()(tokens).logits[0].numpy()
        model.float()
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        with open(os.path.join(tmp, "config.json")) as f:
            params = module_params(json.load(f))
        out = os.path.join(tmp, "logits.f32")
        subprocess.run([binary, "--type", "llama", "--weights", os.path.join(tmp, "model.safetensors"),
                        "--model", json.dumps(params), "--tokens", ",".join(str(int(t)) for t in tokens[0]),
                        "--out", out], check=True)
        ours = np.fromfile(out, dtype=np.float32).reshape(args.tokens, config.vocab_size).astype(np.float64)
    scale = np.abs(hf32).max()
    err = np.abs(ours - hf32).max() / scale
    err64 = np.abs(ours - hf64).max() / scale
    err_hf = np.abs(hf32 - hf64).max() / scale
    ok = bool(np.isfinite(ours).all() and err <= args.tolerance)
    print("%s %s: max |tandem - transformers fp32| / max |logit| %.3g (tolerance %g); against float64: "
          "tandem %.3g, transformers fp32 %.3g; params %s"
          % ("PASS" if ok else "FAIL", name, err, args.tolerance, err64, err_hf, json.dumps(params)))
    return ok


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--tokens", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tolerance", type=float, default=1e-5)
    args = parser.parse_args()
    import transformers
    print("transformers %s, torch %s" % (transformers.__version__, torch.__version__))
    results = [check(args.binary, name, c, m, extra, args) for name, c, m, extra in FAMILIES]
    print("PASS" if all(results) else "FAIL")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
