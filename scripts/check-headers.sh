#!/usr/bin/env bash
# check-headers.sh - fail when a header under DIR is over MAX lines: a header
# per seam, small enough to read at once (research/style.md). A header that
# grows past it holds more than one seam; split it, do not raise MAX.
#
# usage: scripts/check-headers.sh [DIR [MAX]]   (default bench 150)
set -euo pipefail
dir=${1:-bench}
max=${2:-150}
mapfile -t headers < <(find "$dir" -name '*.h' | sort)
((${#headers[@]} > 0)) || { echo "check-headers: no headers under $dir" >&2; exit 2; }
over=0
for h in "${headers[@]}"; do
    n=$(wc -l <"$h")
    if ((n > max)); then
        echo "  $h: $n lines"
        over=$((over + 1))
    fi
done
if ((over)); then
    echo "check-headers: $over header(s) under $dir/ over $max lines; split them by seam"
    exit 1
fi
echo "check-headers: all ${#headers[@]} headers under $dir/ have at most $max lines"
