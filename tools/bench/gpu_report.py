#!/usr/bin/env python3
"""Ratios of tandem's GPU workloads to PyTorch's, from the JSON files tools/bench/gpu.sh writes into one
directory (tandem_*.json from bench_train_gpu, torch_anchor.json from ../shared/peers/torch_anchor.py),
as a Markdown table; and the goals of the GPU issue, met or not."""
import json
import pathlib
import sys

out = pathlib.Path(sys.argv[1])
torch = json.loads((out / "torch_anchor.json").read_text())
ours = {p.stem[len("tandem_"):]: json.loads(p.read_text()) for p in sorted(out.glob("tandem_*.json"))}

peers = {"gpt2": ("gpt2_124M_eager_B16", "gpt2_124M_compiled_B16"),
         "distill": ("distill_124M_from_350M_eager_B16", "distill_124M_from_350M_compiled_B16")}
# The file stem is the workload (gpt2, distill) and its variants (_offload, _no_overlap).
def peer_of(name):
    return peers[name.split("_")[0]]

print(f"GPU: {next(iter(ours.values()))['device']}; bf16 matmul ceiling measured by the peer: "
      f"{torch['gpu_bf16_matmul_8192']['TFLOPs']:.0f} TFLOP/s\n")
print("| workload | tandem tok/s | eager tok/s | compiled tok/s | vs eager | vs compiled | tandem GB | eager GB | "
      "compiled GB | MFU |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
goals = []
for name, r in ours.items():
    eager, compiled = (torch[k] for k in peer_of(name))
    print(f"| {name} | {r['tok_s']:,.0f} | {eager['tok_s']:,.0f} | {compiled['tok_s']:,.0f} | "
          f"{r['tok_s'] / eager['tok_s']:.2f} | {r['tok_s'] / compiled['tok_s']:.2f} | {r['mem_gb']:.1f} | "
          f"{eager['mem_gb']:.1f} | {compiled['mem_gb']:.1f} | {100 * r['mfu']:.1f}% |")
    if name.startswith("distill_offload"):
        goals.append((f"{name}: peak memory <= half of PyTorch eager's", r["mem_gb"] <= 0.5 * eager["mem_gb"]))
        if "distill" in ours:
            kept = r["tok_s"] / ours["distill"]["tok_s"]
            goals.append((f"{name}: >= 85% of tandem's own no-offload tokens/s ({100 * kept:.0f}%)", kept >= 0.85))
    elif not name.endswith("_no_overlap"):
        goals.append((f"{name}: >= 1.3x torch.compile's tokens/s", r["tok_s"] >= 1.3 * compiled["tok_s"]))

print("\nPer step (ms, device time between events):\n")
for name, r in ours.items():
    phases = ", ".join(f"{k} {v:.2f}" for k, v in r["phases_ms"].items())
    print(f"- {name}: {r['step_ms']:.2f} ms = {phases}")
print("\nGoals:\n")
for text, met in goals:
    print(f"- {'met' if met else 'NOT met'}: {text}")
