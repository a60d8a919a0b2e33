# select.awk - print chosen columns of the results.csv rows that match.
#
#   awk -F, -v where="k=v<US>k=v" -v cols="a,b" -f select.awk results.csv
#
# Columns are found by their header name (readers ignore unknown columns).
# where holds conditions separated by the unit separator \037, because slot
# labels may contain ';' and '='. Rows are split on bare commas, which is
# right for every column before the free-text ones (knobs, note) that
# results.csv keeps last. Works with mawk.
NR == 1 {
    for (i = 1; i <= NF; i++)
        col[$i] = i
    nw = where == "" ? 0 : split(where, w, "\037")
    for (i = 1; i <= nw; i++) {
        eq = index(w[i], "=")
        k = substr(w[i], 1, eq - 1)
        if (!(k in col)) {
            print "select.awk: no column '" k "'" > "/dev/stderr"
            bad = 1
            exit 2
        }
        wk[i] = col[k]
        wv[i] = substr(w[i], eq + 1)
    }
    nc = split(cols, c, ",")
    for (i = 1; i <= nc; i++) {
        if (!(c[i] in col)) {
            print "select.awk: no column '" c[i] "'" > "/dev/stderr"
            bad = 1
            exit 2
        }
        ci[i] = col[c[i]]
    }
    next
}
{
    for (i = 1; i <= nw; i++)
        if ($(wk[i]) != wv[i])
            next
    line = $(ci[1])
    for (i = 2; i <= nc; i++)
        line = line " " $(ci[i])
    print line
}
