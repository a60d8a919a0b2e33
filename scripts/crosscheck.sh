#!/usr/bin/env bash
# crosscheck.sh - the bytes cross-check table of a run counted under callgrind
# (bench/sweeps/crosscheck.sweep): per row, the layer's own parameter bytes
# (dense_bytes + sparse_bytes) against callgrind's dram_bytes_est (64 x
# simulated last-level misses and write-backs), their ratio, and whether they
# agree within 15 %. Columns are found by name in the header.
#   scripts/crosscheck.sh [RUN_DIR]      (default reports/latest)
# Exit 0 when every counted row agrees, 1 otherwise, 2 when there is nothing
# to check.
set -euo pipefail
dir=${1:-reports/latest}
csv="$dir/results.csv"
[[ -r "$csv" ]] || { echo "crosscheck: no $csv" >&2; exit 2; }
awk -F, '
NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i
          split("slot impl d_model scale tokens status params_total bytes dram_bytes_est ll_misses counter_source", need, " ")
          for (k in need) if (!(need[k] in c)) { print "crosscheck: no column " need[k] > "/dev/stderr"; exit 2 }
          print "| slot | point | params MB | dense+sparse bytes | dram_bytes_est | ratio | within 15% |"
          print "| --- | --- | ---: | ---: | ---: | ---: | --- |"
          next }
$c["counter_source"] != "callgrind" || $c["status"] != "ok" {
          printf "| %s | D=%s scale=%s T=%s | | | not counted (%s, %s) | | |\n", $c["slot"], $c["d_model"], $c["scale"], $c["tokens"], $c["status"], $c["counter_source"]
          skipped++; next }
{ b = $c["bytes"]; d = $c["dram_bytes_est"]; r = b > 0 ? d / b : 0
  ok = r >= 0.85 && r <= 1.15
  printf "| %s | D=%s scale=%s T=%s | %.1f | %d | %d | %.3f | %s |\n", $c["slot"], $c["d_model"], $c["scale"], $c["tokens"], 4 * $c["params_total"] / 1e6, b, d, r, ok ? "yes" : "NO"
  n++; bad += !ok }
END { if (NR <= 1 || n == 0) { print "crosscheck: no counted rows in '"$csv"'" > "/dev/stderr"; exit 2 }
      printf "\n%d counted, %d outside 15 %%, %d not counted\n", n, bad, skipped
      exit bad ? 1 : 0 }
' "$csv"
