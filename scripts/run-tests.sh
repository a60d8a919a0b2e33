#!/usr/bin/env bash
# run-tests.sh - run every Check suite, show its output, and end with one line
# "tests: N passed, N failed" for the whole set. Exit 1 if anything failed or
# a suite died without its summary.
set -uo pipefail
passed=0 failed=0 bad=0
for bin in "$@"; do
    out=$(CK_VERBOSITY=${CK_VERBOSITY:-normal} "$bin" 2>&1)
    rc=$?
    printf '%s\n' "$out"
    summary=$(grep -E '^[0-9]+%: Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' <<<"$out" | tail -n 1)
    if [[ -z "$summary" ]]; then
        echo "run-tests: $bin printed no Check summary (exit $rc)" >&2
        bad=1
        failed=$((failed + 1))
        continue
    fi
    read -r checks fails errs < <(sed -E 's/.*Checks: ([0-9]+), Failures: ([0-9]+), Errors: ([0-9]+).*/\1 \2 \3/' <<<"$summary")
    passed=$((passed + checks - fails - errs))
    failed=$((failed + fails + errs))
    ((rc == 0)) || bad=1
done
echo "tests: $passed passed, $failed failed"
((failed == 0 && bad == 0))
