#!/usr/bin/env bash
# Copies the shared libraries from Debian's packages that tandem's binaries need and the GPU machine
# lacks (oneTBB, OpenBLAS and its Fortran runtime) into DIR, as this machine resolves them. Used by
# bundle.sh and gpu-test.sh; the binaries find them through RUNPATH or LD_LIBRARY_PATH=DIR.
#
#   tools/device/carry-libs.sh DIR
set -euo pipefail
dir=${1:?usage: carry-libs.sh DIR}
mkdir -p "$dir"
# The listing is read once: awk leaving a pipe early would kill ldconfig with SIGPIPE under pipefail.
libraries=$(ldconfig -p)
for lib in libtbb.so.12 libopenblas.so.0 libgfortran.so.5 libquadmath.so.0; do
  path=$(awk -v l="$lib" '$1 == l && /x86-64/ { print $NF; exit }' <<<"$libraries")
  [ -n "$path" ] || { echo "carry-libs.sh: $lib not found (apt-get install libtbb12 libopenblas0)" >&2; exit 1; }
  cp -L "$path" "$dir/$lib"
done
