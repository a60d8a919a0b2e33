# conds.awk - choose the conditions the plots fix, from the ok rows of a
# results.csv, and print them as "KEY value" lines for plot.sh:
#   D, THREADS, CACHE   the most common d_model, threads and cache
#   SCALE               the most common scale among the slots that vary
#                       scale (sparse layers); slots with one scale (dense)
#                       are drawn at that scale
#   TFIX                the token count nearest 64 (for latency vs scale)
#   SERIES slot scale   every slot that has rows at D and THREADS, in order
#   SCALES s1 s2 ...    the scales present at D and THREADS
function mode(a,    k, best, bk) {
    best = -1
    for (k in a)
        if (a[k] > best || (a[k] == best && k + 0 < bk + 0)) {
            best = a[k]
            bk = k
        }
    return bk
}
function lg2(x) { return log(x) / log(2) }
NR == 1 {
    for (i = 1; i <= NF; i++)
        col[$i] = i
    next
}
$(col["status"]) == "ok" {
    n++
    rs[n] = $(col["slot"]); rd[n] = $(col["d_model"]); rt[n] = $(col["threads"])
    rsc[n] = $(col["scale"]); rT[n] = $(col["tokens"])
    nd[rd[n]]++; nth[rt[n]]++; nca[$(col["cache"])]++
    if (!(rs[n] in ord)) {
        ord[rs[n]] = ++nslots
        slot[nslots] = rs[n]
    }
}
END {
    if (n == 0)
        exit 1
    D = mode(nd); TH = mode(nth); CA = mode(nca)
    for (i = 1; i <= n; i++) {
        if (rd[i] != D || rt[i] != TH)
            continue
        if (!((rs[i], rsc[i]) in seen)) {
            seen[rs[i], rsc[i]] = 1
            nsc[rs[i]]++
            only[rs[i]] = rsc[i]
        }
        allsc[rsc[i]] = 1
    }
    for (i = 1; i <= n; i++)
        if (rd[i] == D && rt[i] == TH && nsc[rs[i]] > 1) {
            cnt[rsc[i]]++
            tok[rT[i]] = 1
        }
    S = mode(cnt)
    if (S == "") {
        for (i = 1; i <= n; i++)
            if (rd[i] == D && rt[i] == TH) {
                cnt[rsc[i]]++
                tok[rT[i]] = 1
            }
        S = mode(cnt)
    }
    best = 1e9
    for (t in tok) {
        dist = lg2(t / 64); if (dist < 0) dist = -dist
        if (dist < best || (dist == best && t + 0 < T + 0)) { best = dist; T = t }
    }
    print "D", D; print "THREADS", TH; print "CACHE", CA; print "SCALE", S; print "TFIX", T
    line = "SCALES"
    for (s in allsc)
        line = line " " s
    print line
    for (k = 1; k <= nslots; k++) {
        s = slot[k]
        if (!(s in nsc))
            continue
        print "SERIES", s, ((s, S) in seen) ? S : (nsc[s] == 1 ? only[s] : "-"), nsc[s]
    }
}
