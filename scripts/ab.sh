#!/usr/bin/env bash
# ab.sh - the wall-clock A/B for machines whose clock can be trusted
# (make ab BASE=REV; README "Performance gate"): BASE built in a temporary
# git worktree, then on every point of a sweep file (default the gate's) this
# tree's program (A) and BASE's (B) run alternately, A B, B A, A B, ...
# (ABBA: drift and going first cancel), one `sparsebench run` each, and
# `sparsebench ab-ratio` gives each point's median ratio time(B) / time(A)
# (> 1: this tree is faster) with its 95 % interval, the statistics of
# `sparsebench compare` (bench/stats.h).
#   scripts/ab.sh BASE [--sweep FILE] [--pairs N] [--out DIR]
# A sweep's slots must be layer names (a slot with knobs is run without
# them: the dry run names slots by label). Exit: 0 done, 1 a run failed,
# 2 bad input or BASE cannot be found or built. Run it under the machine's
# CPU lock if it has one; it is as good as the machine is quiet.
set -euo pipefail
cd "$(dirname "$0")/.."
usage() {
    echo "usage: scripts/ab.sh BASE [--sweep FILE] [--pairs N] [--out DIR]" >&2
    exit 2
}
(($# >= 1)) || usage
base=$1
shift
sweep=bench/sweeps/gate.sweep pairs=11 out=reports/ab/$(date -u +%Y%m%d-%H%M%S)
while (($#)); do
    case $1 in
    --sweep) sweep=${2:?}; shift 2 ;;
    --pairs) pairs=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    *) echo "ab.sh: unknown option '$1'" >&2; usage ;;
    esac
done
[[ $pairs =~ ^[0-9]+$ ]] && ((pairs >= 6)) || {
    echo "ab.sh: --pairs $pairs: allowed an integer >= 6 (a 95 % interval needs 6)" >&2
    exit 2
}
bin=build/sparsebench
[[ -x $bin ]] || { echo "ab.sh: $bin is not built (make ab builds it)" >&2; exit 2; }
rev=$(git rev-parse --verify -q "$base^{commit}") || {
    echo "ab.sh: BASE $base is not a revision of this clone" >&2
    exit 2
}
mkdir -p "$out"
wt=$(mktemp -d /tmp/sparsebench-ab.XXXXXX)
trap 'git worktree remove --force "$wt" >/dev/null 2>&1 || rm -rf "$wt"; git worktree prune' EXIT
git worktree add --detach "$wt" "$rev" >"$out/worktree.log" 2>&1 || {
    echo "ab.sh: git worktree add $rev failed: $(tail -n 3 "$out/worktree.log")" >&2
    exit 2
}
echo "ab: building ${rev:0:12} (B) in $wt"
make -C "$wt" -j2 WERROR= build/sparsebench >"$out/build.log" 2>&1 || {
    echo "ab.sh: BASE ${rev:0:12} does not build: $(tail -n 5 "$out/build.log")" >&2
    exit 2
}

# The points: slot, d_model, scale, tokens, threads from the dry run's table.
"$bin" sweep "$sweep" --dry-run 2>&1 | awk '$1 ~ /^[0-9]+$/ && NF >= 9 { print $2, $3, $4, $7, $8 }' \
    >"$out/points.txt"
[[ -s $out/points.txt ]] || { echo "ab.sh: $sweep has no points" >&2; exit 2; }

# One timed run: the median latency in microseconds from run's CSV row.
one() {
    local prog=$1 impl=$2 d=$3 s=$4 t=$5 th=$6
    "$prog" run --impl "$impl" --d "$d" --scale "$s" --tokens "$t" --threads "$th" --seed 1 \
        2>/dev/null | awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "latency_us_median") c = i; next }
                                 NR == 2 && c { print $c }'
}

echo "point,time_a,time_b" >"$out/times.csv"
n=$(wc -l <"$out/points.txt")
k=0
while read -r impl d s t th; do
    k=$((k + 1))
    name="$impl d=$d scale=$s T=$t"
    [[ $th == 1 ]] || name="$name threads=$th"
    printf 'ab: [%d/%d] %s\n' "$k" "$n" "$name"
    for ((p = 0; p < pairs; p++)); do
        if ((p % 2 == 0)); then
            a=$(one "$bin" "$impl" "$d" "$s" "$t" "$th")
            b=$(one "$wt/build/sparsebench" "$impl" "$d" "$s" "$t" "$th")
        else
            b=$(one "$wt/build/sparsebench" "$impl" "$d" "$s" "$t" "$th")
            a=$(one "$bin" "$impl" "$d" "$s" "$t" "$th")
        fi
        [[ -n $a && -n $b && $a != NA && $b != NA ]] || {
            echo "ab.sh: $name: a run gave no time (A '$a', B '$b')" >&2
            exit 1
        }
        echo "$name,$a,$b" >>"$out/times.csv"
    done
done <"$out/points.txt"

echo "ab: A = this tree ($(git rev-parse --short HEAD)$(git diff --quiet HEAD -- impls bench || echo ', modified')), B = ${rev:0:12}; $pairs pairs per point; time(B) / time(A), > 1: A is faster"
"$bin" ab-ratio "$out/times.csv" | tee "$out/ab.txt"
echo "ab: $out (times.csv, ab.txt)"
