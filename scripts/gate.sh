#!/usr/bin/env bash
# gate.sh - the CI performance gate (issue 14; README "Performance gate").
# Counts the gate points (bench/sweeps/gate.sweep: one forward per point
# under callgrind's simulated machine, research/harness.md section 4) and
# compares them with the committed baseline through `sparsebench gate`
# (the verdicts and THE thresholds: bench/gate/gate.h).
#
#   scripts/gate.sh            compare (make gate): exit 0 pass, 1 regression,
#                              2 cannot compare (the reason is printed)
#   scripts/gate.sh update     rewrite the baseline from a fresh count (make gate-update)
#
# The counts depend on the toolchain, so the baseline carries a fingerprint
# of it (gate.fingerprint beside gate.csv). When this machine's differs, the
# baseline's numbers are not compared at all: its recorded revision is built
# in a temporary git worktree here and counted with the same points, and the
# two fresh counts are compared (as CodSpeed compares against the base
# branch's run). A revision that cannot be found or built exits 2.
#
# Environment: GATE_BASELINE (reports/baseline/gate.csv), GATE_SWEEP
# (bench/sweeps/gate.sweep), GATE_OUT (the run directory, default
# reports/gate/<date>-<time>), GATE_SHARDS (2: the count runs as two valgrind
# processes on complementary slot globs; 1: one process), GATE_JOBS (make -j
# of the rebuild, 2), BIN and CG_BIN (the programs, build/...).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
mode=${1:-check}
case $mode in check | update) ;; *)
    echo "gate.sh: unknown mode '$mode'; allowed: check, update" >&2
    exit 2
    ;;
esac
baseline=${GATE_BASELINE:-reports/baseline/gate.csv}
fpfile=${baseline%.csv}.fingerprint
sweep=$(realpath "${GATE_SWEEP:-bench/sweeps/gate.sweep}")
shards=${GATE_SHARDS:-2}
out=${GATE_OUT:-reports/gate/$(date -u +%Y%m%d-%H%M%S)}
bin=${BIN:-build/sparsebench}
cgbin=${CG_BIN:-build/callgrind/sparsebench}
mkdir -p "$out"
out=$(realpath "$out")
t0=$SECONDS

# Pinned for every count, so the counts do not depend on the host or the
# caller's shell: OpenBLAS's kernels under valgrind (its CPUID is a fixed
# AVX2 Intel, whatever the host: Haswell), kept by sparsebench
# (SPARSEBENCH_KEEP_CORETYPE, else a timing command drops it on AVX-512),
# one BLAS thread, the C locale and a fixed PATH (the callgrind child keeps
# PATH, and the environment's size moves the stack). The seed and the
# threads are the sweep file's.
gate_env=(env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="${HOME:-/tmp}" LC_ALL=C
    OPENBLAS_CORETYPE=Haswell OPENBLAS_NUM_THREADS=1 SPARSEBENCH_KEEP_CORETYPE=1)

die2() {
    echo "gate: cannot compare: $*" >&2
    exit 2
}

# What the counts depend on, one key=value a line; keys starting info_ are
# recorded, never compared. $1: the tree, built (its build/callgrind/flags.txt
# holds the callgrind build's compiler and flags; warning flags dropped, they
# change no code), $2: its callgrind program.
fingerprint() {
    local tree=$1 prog=$2 cc
    [[ -r $tree/build/callgrind/flags.txt ]] || die2 "no $tree/build/callgrind/flags.txt"
    cc=$(sed 's/ |.*//' "$tree/build/callgrind/flags.txt")
    echo "compiler=$($cc --version | head -1)"
    echo "flags_callgrind=$(sed -e 's/^[^|]*| //' -e 's/ -W[^ ]*//g' -e 's/  */ /g' "$tree/build/callgrind/flags.txt")"
    echo "openblas_version=$(pkg-config --modversion openblas 2>/dev/null || echo '?')"
    echo "openblas_coretype_pinned=Haswell"
    echo "valgrind=$(valgrind --version 2>/dev/null || echo none)"
    echo "libc=$(ldd --version 2>/dev/null | head -1)"
    # The CPU and OpenBLAS's kernels as the program sees them under valgrind.
    "${gate_env[@]}" valgrind -q --tool=none "$prog" _cpuid | sed 's/^/valgrind_/'
    echo "info_host_cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
}

# Count the gate points with programs $1 (sparsebench) and $2 (its callgrind
# copy) into directory $3/now.csv (shards run at once, then joined).
count() {
    local prog=$1 cgprog=$2 dir=$3 globs=('*') pids=() i rc=0
    ((shards == 2)) && globs=('[a-l]*' '[!a-l]*')
    mkdir -p "$dir"
    for i in "${!globs[@]}"; do
        "${gate_env[@]}" SPARSEBENCH_CALLGRIND_EXE="$(realpath "$cgprog")" "$prog" sweep "$sweep" \
            --counters callgrind --no-probe --no-plot --filter "${globs[$i]}" \
            --out "$dir/shard$i" >"$dir/shard$i.log" 2>&1 &
        pids+=($!)
    done
    for i in "${!pids[@]}"; do
        if ! wait "${pids[$i]}"; then
            echo "gate: the count in $dir/shard$i failed; its log:" >&2
            tail -n 20 "$dir/shard$i.log" >&2
            rc=1
        fi
    done
    ((rc == 0)) || return 1
    local header
    header=$(head -n 1 "$dir/shard0/results.csv")
    echo "$header" >"$dir/now.csv"
    for i in "${!globs[@]}"; do
        if [[ $(head -n 1 "$dir/shard$i/results.csv") != "$header" ]]; then
            echo "gate: the shards of $dir wrote different headers" >&2
            return 1
        fi
        tail -n +2 "$dir/shard$i/results.csv" >>"$dir/now.csv"
    done
}

[[ -x $bin && -x $cgbin ]] || die2 "$bin or $cgbin is not built (make gate builds them)"

if [[ $mode == update ]]; then
    count "$bin" "$cgbin" "$out" || exit 2
    mkdir -p "$(dirname "$baseline")"
    cp "$out/now.csv" "$baseline"
    {
        echo "revision=$(git rev-parse HEAD)"
        echo "dirty=$(git status --porcelain --untracked-files=no -- impls bench Makefile | grep -q . && echo 1 || echo 0)"
        fingerprint "$root" "$cgbin"
    } >"$fpfile"
    echo "gate-update: wrote $baseline and $fpfile ($(($(wc -l <"$baseline") - 1)) points, revision $(git rev-parse --short HEAD)) in $((SECONDS - t0)) s"
    if grep -q '^dirty=1' "$fpfile"; then
        echo "gate-update: warning: impls/, bench/ or the Makefile have uncommitted changes; the" \
            "recorded revision does not hold them (commit the code, then gate-update)" >&2
    fi
    exit 0
fi

[[ -r $baseline ]] || die2 "no baseline $baseline (make gate-update writes one)"
[[ -r $fpfile ]] || die2 "no fingerprint $fpfile beside the baseline (make gate-update writes both)"
rev=$(sed -n 's/^revision=//p' "$fpfile")
fingerprint "$root" "$cgbin" >"$out/fingerprint.now"
compared=$baseline
if ! diff <(grep -v -e '^revision=' -e '^dirty=' -e '^info_' "$fpfile") \
    <(grep -v '^info_' "$out/fingerprint.now") >"$out/fingerprint.diff"; then
    echo "gate: the baseline was counted on another toolchain (< baseline, > here):"
    grep '^[<>]' "$out/fingerprint.diff" | sed 's/^/  /'
    echo "gate: so its numbers are not compared; counting its revision ${rev:0:12} here instead"
    [[ -n $rev ]] || die2 "$fpfile records no revision"
    git cat-file -e "$rev^{commit}" 2>/dev/null ||
        die2 "the baseline's revision $rev is not in this clone (a shallow clone? git fetch --unshallow)"
    wt=$(mktemp -d /tmp/sparsebench-gate-base.XXXXXX)
    trap 'git worktree remove --force "$wt" >/dev/null 2>&1 || rm -rf "$wt"; git worktree prune' EXIT
    git worktree add --detach "$wt" "$rev" >"$out/base-worktree.log" 2>&1 ||
        die2 "git worktree add $rev failed: $(tail -n 3 "$out/base-worktree.log")"
    # This tree's count runs while the baseline revision builds.
    count "$bin" "$cgbin" "$out" >"$out/count.log" 2>&1 &
    now_pid=$!
    tb=$SECONDS
    if ! make -C "$wt" -j"${GATE_JOBS:-2}" WERROR= build/sparsebench build/callgrind/sparsebench \
        >"$out/base-build.log" 2>&1; then
        wait "$now_pid" || true
        die2 "the baseline's revision $rev does not build here: $(tail -n 5 "$out/base-build.log")"
    fi
    echo "gate: built ${rev:0:12} in $((SECONDS - tb)) s"
        count "$wt/build/sparsebench" "$wt/build/callgrind/sparsebench" "$out/base" ||
        die2 "counting the baseline's revision $rev failed (logs in $out/base)"
    wait "$now_pid" || { cat "$out/count.log" >&2; die2 "counting this tree failed"; }
    cp "$out/base/now.csv" "$out/base.csv"
    compared="$out/base.csv (revision ${rev:0:12}, counted here)"
    base_csv=$out/base.csv
else
    count "$bin" "$cgbin" "$out" || die2 "counting this tree failed (logs in $out)"
    base_csv=$baseline
fi

set +e
"$bin" gate "$base_csv" "$out/now.csv" --out "$out/gate.csv" | tee "$out/gate.txt"
rc=${PIPESTATUS[0]}
set -e
[[ -t 1 ]] && "$bin" gate "$base_csv" "$out/now.csv" --color never >"$out/gate.txt" 2>/dev/null
echo "gate: baseline $compared; this run $out (gate.csv, gate.txt); $((SECONDS - t0)) s"
exit "$rc"
