# speedup.awk - "tokens speedup" for one slot: the reference slot's median
# latency divided by this slot's, at the same d_model, batch, seq_len,
# threads and cache; with several repeats, the fastest pass of each side
# (see agg.awk). Reads results.csv twice:
#   awk -F, -v ref=dense -v slot=moe -v scale=8 -v d=768 -v th=2 -f speedup.awk f f
FNR == 1 {
    for (i = 1; i <= NF; i++)
        col[$i] = i
    next
}
$(col["status"]) != "ok" || $(col["d_model"]) != d || $(col["threads"]) != th { next }
{
    key = $(col["batch"]) SUBSEP $(col["seq_len"]) SUBSEP $(col["cache"])
    lat = $(col["latency_us_median"]) + 0
}
NR == FNR {
    if ($(col["slot"]) == ref && (!(key in base) || lat < base[key]))
        base[key] = lat
    next
}
$(col["slot"]) == slot && $(col["scale"]) == scale && (key in base) {
    if (!(key in best) || lat < best[key])
        best[key] = lat
    tok[key] = $(col["tokens"])
}
END {
    for (k in best)
        print tok[k], base[k] / best[k]
}
