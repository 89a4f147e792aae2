#!/usr/bin/env bash
# Builds a kernel variant for an A/B comparison on the GPU machine: the CUDA kernel tests and the
# gpt module of COMMIT, for sm_90a, in OUT_DIR (cuda_tests, libtandem-model-gpt.so). gpu-variants.sh
# runs each variant beside the bundle (built from the checkout by gpu-test.sh) in the same device
# call, so that the timings come from one card.
#
#   tools/device/variant.sh COMMIT OUT_DIR          (a worktree under /tmp, build kept there)
set -euo pipefail
commit=${1:?usage: variant.sh COMMIT OUT_DIR}
out=${2:?usage: variant.sh COMMIT OUT_DIR}
root=$(cd "$(dirname "$0")/../.." && pwd)
sha=$(git -C "$root" rev-parse --short "$commit")
tree=/tmp/tandem-variant-$sha
[ -d "$tree" ] || git -C "$root" worktree add --detach -q "$tree" "$sha"
export PATH=$PATH:/usr/local/cuda/bin
cmake -S "$tree" -B "$tree/build-gpu" -DCMAKE_BUILD_TYPE=Release -DTANDEM_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a >/dev/null
nice -n 10 cmake --build "$tree/build-gpu" -j"${JOBS:-2}" --target cuda_tests tandem-model-gpt >/dev/null
rm -rf "$out"
mkdir -p "$out"
cp "$tree/build-gpu/bin/cuda_tests" "$tree/build-gpu/lib/tandem/modules/libtandem-model-gpt.so" "$out/"
echo "$sha $(git -C "$root" log -1 --format=%s "$sha" | cut -c1-100)" >"$out/commit.txt"
du -sh "$out"
