# common.gp - what every sparsebench plot shares. The caller (plot.sh) sets:
#   here tmp out n titles D TH cache scale tfix base
# titles holds n series names separated by tabs (slot labels have no tabs).
set terminal pngcairo size 1100,650 noenhanced font "sans,10"
set output out
set datafile missing "NA"
set grid xtics ytics mxtics mytics lc rgb "#dddddd"
set key outside right top box opaque
set border lw 1
set offsets graph 0.03, graph 0.03, 0, 0
field(s, i) = i <= 1 ? (strstrt(s, "\t") ? s[1:strstrt(s, "\t") - 1] : s) \
                     : field(s[strstrt(s, "\t") + 1:], i - 1)
title_of(i) = field(titles, i)
# 12 distinguishable styles; 101..112 are the same, dashed
colors = "#1f77b4 #d62728 #2ca02c #9467bd #ff7f0e #8c564b #e377c2 #7f7f7f #bcbd22 #17becf #000000 #aec7e8"
points = "7 5 9 11 13 4 6 8 10 12 1 2"
do for [k=1:12] {
    set style line k lc rgb word(colors, k) pt int(word(points, k)) ps 0.8 lw 2
    set style line 100 + k lc rgb word(colors, k) pt int(word(points, k)) ps 0.8 lw 2 dt 2
}
# series 13..24 reuse the colours dashed, then it wraps
ls_of(i) = ((i - 1) % 24 < 12 ? 0 : 100) + (i - 1) % 12 + 1
