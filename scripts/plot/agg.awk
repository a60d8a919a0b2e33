# agg.awk - one line per x from "x y [lo hi]" lines (repeats, or several
# batch x seq_len splits of one token count): the mean of y, the smallest lo
# and the largest hi. NA values are skipped. Output is unsorted (pipe to sort -g).
$2 != "NA" {
    n[$1]++
    sum[$1] += $2
    if (NF >= 4) {
        if (!($1 in lo) || $3 < lo[$1])
            lo[$1] = $3
        if (!($1 in hi) || $4 > hi[$1])
            hi[$1] = $4
    }
}
END {
    for (x in n)
        if (x in lo)
            print x, sum[x] / n[x], lo[x], hi[x]
        else
            print x, sum[x] / n[x]
}
