#!/usr/bin/env bash
# deps.sh - install the Debian packages sparsebench needs, only when one is missing.
#
# A no-op (well under a second) when everything is present: it asks dpkg, not apt.
# Run as root it installs with apt-get; otherwise it prints the exact command to run.
set -euo pipefail

# libjansson-dev: the safetensors header (bench/weights.c); python3-numpy: the
# independent weights round trip in tests/check_weights.c (skipped without it).
pkgs=(gcc make pkg-config libopenblas-dev libpapi-dev papi-tools libpfm4-dev libcsv-dev check
      gnuplot-nox valgrind clang-format clang libclang-rt-dev libjansson-dev python3-numpy)
# clang and libclang-rt-dev (libFuzzer, ASan) are for `make fuzz` only; python3-numpy
# for the independent weights round trip (tests/check_weights.c).

missing=()
for p in "${pkgs[@]}"; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ "$st" == "install ok installed" ]] || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0

echo "deps.sh: missing system packages: ${missing[*]}" >&2
if [[ $(id -u) -ne 0 ]]; then
    echo "deps.sh: not root; install them with:" >&2
    echo "    sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "deps.sh: apt-get not found; install the equivalents of: ${missing[*]}" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
echo "deps.sh: installed ${missing[*]}" >&2
