#!/usr/bin/env bash
# Packs a build for the GPU machine, which has none of Debian's packages: the binaries, libtandem
# and the modules in the build's own layout (bin/, lib/, lib/tandem/modules/), plus the shared
# libraries they need from this machine (oneTBB, OpenBLAS and its Fortran runtime) beside libtandem.
# Everything finds its neighbours through RUNPATH $ORIGIN; run with LD_LIBRARY_PATH=<bundle>/lib so
# that OpenBLAS, which tandem opens itself, is found there too.
#
#   tools/device/bundle.sh BUILD_DIR OUT_DIR [EXTRA_FILE...]     (extra files land in OUT_DIR/data)
#
# The CPU benchmark there, PyTorch 2.11 beside tandem at the same thread count:
#   tools/device/bundle.sh build bundle runs/data/kjv.txt ../shared/peers/torch_cpu_distill.py
#   (device run, carry ["bundle"]):  cd bundle && export LD_LIBRARY_PATH=$PWD/lib &&
#     THREADS=2 /opt/torch/.venv/bin/python data/torch_cpu_distill.py data/kjv.txt 30 1 &&
#     ./bin/bench_train_cpu --threads 2 --ranks 1 --micro-batch 16 --steps 30
set -euo pipefail
build=${1:?usage: bundle.sh BUILD_DIR OUT_DIR [EXTRA_FILE...]}
out=${2:?usage: bundle.sh BUILD_DIR OUT_DIR [EXTRA_FILE...]}
shift 2
rm -rf "$out"
mkdir -p "$out/bin" "$out/lib/tandem/modules" "$out/data"
cp -a "$build"/bin/tandem "$build"/bin/bench_* "$out/bin/"
[ -x "$build"/bin/tandem-gpt2-logits ] && cp -a "$build"/bin/tandem-gpt2-logits "$out/bin/"
[ -x "$build"/bin/tandem-model-logits ] && cp -a "$build"/bin/tandem-model-logits "$out/bin/"
cp -a "$build"/lib/libtandem.so* "$out/lib/"
cp -a "$build"/lib/tandem/modules/*.so "$out/lib/tandem/modules/"
"$(dirname "$0")/carry-libs.sh" "$out/lib"
for f in "$@"; do cp -L "$f" "$out/data/"; done
du -sh "$out"
