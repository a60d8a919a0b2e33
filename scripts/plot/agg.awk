# agg.awk - one line per x from "x y [lo hi]" lines (one per repeat of the
# sweep, or several batch x seq_len splits of one token count): y is the
# best of them, pick=min (latencies, the default) or pick=max (bandwidths),
# with the smallest lo and the largest hi. A shared machine only ever makes a
# pass slower, so the fastest pass is the one least disturbed (repeats run
# as separate passes over the whole sweep, minutes apart). NA values are
# skipped. Output is unsorted (pipe to sort -g).
$2 != "NA" {
    if (!($1 in y) || (pick == "max" ? $2 > y[$1] : $2 < y[$1]))
        y[$1] = $2
    if (NF >= 4) {
        if (!($1 in lo) || $3 < lo[$1])
            lo[$1] = $3
        if (!($1 in hi) || $4 > hi[$1])
            hi[$1] = $4
    }
}
END {
    for (x in y)
        if (x in lo)
            print x, y[x], lo[x], hi[x]
        else
            print x, y[x]
}
