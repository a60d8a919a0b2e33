#!/usr/bin/env bash
# test-gate.sh - the performance gate end to end (make gate-test), on a tiny
# point set (tests/data/gate-tiny.sweep: dense and fff at D = 64, 1 and 8
# tokens, seconds under callgrind) and a baseline in a temporary directory:
#   1. gate-update writes a baseline and its fingerprint;
#   2. the gate passes on it, with every count identical (two consecutive
#      counts agree exactly);
#   3. a copy with one point's instructions lowered by 5 % exits 1 naming
#      that point and metric;
#   4. a copy with one point's flops changed exits 1 (CHANGED);
#   5. a faked fingerprint takes the rebuild path (HEAD built in a worktree,
#      counted, compared fresh with fresh) and passes;
#   6. the same with a revision this clone lacks exits 2 and says so.
# The verdict logic itself is tests/check_gate.c. Exit 0 when all hold.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d /tmp/sparsebench-test-gate.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export GATE_SWEEP=tests/data/gate-tiny.sweep GATE_SHARDS=1
failed=0

# expect NAME WANT_RC BASELINE REGEX: run the gate against BASELINE, check the
# exit status and that a line of its output matches REGEX.
expect() {
    local name=$1 want=$2 base=$3 regex=$4 rc=0
    GATE_BASELINE=$base GATE_OUT=$tmp/out-$name scripts/gate.sh check >"$tmp/$name.log" 2>&1 || rc=$?
    if [[ $rc != "$want" ]] || ! grep -Eq "$regex" "$tmp/$name.log"; then
        echo "test-gate: FAIL $name: exit $rc (want $want), output matching /$regex/:" >&2
        sed 's/^/  | /' "$tmp/$name.log" >&2
        failed=1
        return 0
    fi
    echo "test-gate: ok   $name (exit $rc; $(grep -Em1 "$regex" "$tmp/$name.log" | sed 's/  */ /g'))"
}

# copy_with NAME COLUMN ROW AWK-EXPR: a copy of the baseline whose COLUMN on
# data row ROW becomes AWK-EXPR of its value v (fields before the quoted
# knobs and note columns, so a plain comma split is exact).
copy_with() {
    local name=$1 col=$2 row=$3 expr=$4
    mkdir -p "$tmp/$name"
    awk -F, -v OFS=, -v col="$col" -v row="$row" "
        NR == 1 { for (i = 1; i <= NF; i++) if (\$i == col) c = i; print; next }
        NR == row + 1 { v = \$c; \$c = $expr } { print }" "$tmp/b/gate.csv" >"$tmp/$name/gate.csv"
    cp "$tmp/b/gate.fingerprint" "$tmp/$name/gate.fingerprint"
}

rc=0
GATE_BASELINE=$tmp/b/gate.csv GATE_OUT=$tmp/out-update scripts/gate.sh update >"$tmp/update.log" 2>&1 || rc=$?
if ((rc != 0)); then
    echo "test-gate: FAIL update: exit $rc" >&2
    cat "$tmp/update.log" >&2
    exit 1
fi
point=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
    NR == 2 { print $c["slot"] " d=" $c["d_model"] " scale=" $c["scale"] " T=" $c["tokens"] }' "$tmp/b/gate.csv")

expect same 0 "$tmp/b/gate.csv" '^gate: PASS'
if awk -F, 'NR > 1 && ($2 == "instructions" || $2 == "ll_misses" || $2 == "l1_misses") && $5 != "0.0000" { bad = 1 }
    END { exit bad }' "$tmp/out-same/gate.csv"; then
    echo "test-gate: ok   repeat (two consecutive counts: every instruction and miss count identical)"
else
    echo "test-gate: FAIL repeat: two consecutive counts differ:" >&2
    grep -v ',0.0000,' "$tmp/out-same/gate.csv" >&2 || true
    failed=1
fi

copy_with lowered instructions 1 'int(v * 0.95)'
expect lowered 1 "$tmp/lowered/gate.csv" "^$point +instructions .*SLOWER"

copy_with flops flops 2 'v + 1'
expect flops 1 "$tmp/flops/gate.csv" ' flops .*CHANGED'

mkdir -p "$tmp/fp"
cp "$tmp/b/gate.csv" "$tmp/fp/"
sed 's/^valgrind_cpu_model=.*/valgrind_cpu_model=a CPU somewhere else/' "$tmp/b/gate.fingerprint" >"$tmp/fp/gate.fingerprint"
expect fingerprint 0 "$tmp/fp/gate.csv" 'counting its revision'
grep -q '^gate: PASS' "$tmp/fingerprint.log" || {
    echo "test-gate: FAIL fingerprint: the rebuilt revision's count did not pass" >&2
    failed=1
}

mkdir -p "$tmp/norev"
cp "$tmp/b/gate.csv" "$tmp/norev/"
sed -e 's/^revision=.*/revision=0123456789abcdef0123456789abcdef01234567/' \
    "$tmp/fp/gate.fingerprint" >"$tmp/norev/gate.fingerprint"
expect norev 2 "$tmp/norev/gate.csv" 'is not in this clone'

exit "$failed"
