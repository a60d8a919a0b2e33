#!/usr/bin/env bash
# fuzz.sh BUILD_DIR SECONDS TARGET... - run each libFuzzer target
# BUILD_DIR/fuzz_TARGET for SECONDS seconds on a working copy of its seed
# corpus fuzz/corpus/TARGET (so the committed seeds stay as they are), one
# job on one core, and print "fuzz: TARGET: N executions in S s, clean" per
# target. A crash, leak or timeout stops that target; its input is kept in
# BUILD_DIR/crashes/TARGET/ and the script exits 1 after the rest ran.
# Make one a regression test by adding it to fuzz/corpus/TARGET and the
# suite that mirrors the code (tests/check_sweep.c, check_common.c, check_csv.c).
set -uo pipefail
build=${1:?usage: scripts/fuzz.sh BUILD_DIR SECONDS TARGET...}
secs=${2:?usage: scripts/fuzz.sh BUILD_DIR SECONDS TARGET...}
shift 2
failed=0
for t in "$@"; do
    work=$build/corpus/$t
    crashes=$build/crashes/$t
    mkdir -p "$work" "$crashes"
    cp -n fuzz/corpus/"$t"/* "$work"/ 2>/dev/null || true
    log=$build/$t.log
    # -rss_limit_mb: a layer_check or a parse that tried to hold gigabytes
    # is a bug here, not a reason to swap; -timeout: no input may hang.
    "$build/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$crashes/" -print_final_stats=1 "$work" >"$log" 2>&1
    rc=$?
    runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -n 1)
    if ((rc == 0)); then
        echo "fuzz: $t: ${runs:-?} executions in $secs s, clean"
    else
        failed=1
        echo "fuzz: $t: FAILED after ${runs:-?} executions (exit $rc); input in $crashes/, log $log" >&2
        grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" | head -n 5 >&2
    fi
done
exit $failed
