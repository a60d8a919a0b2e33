# speedup_vs_dense.gp - the dense FFN's latency over each layer's, same tokens and D.
# styles: the style index of each series in latency_vs_tokens, so colours match across plots
load here."/common.gp"
set title sprintf("Speedup over the dense FFN ('%s') at the same tokens, D = %s and threads (sparse layers at scale %s, %s)\ndense median latency / layer median latency; above 1 = faster than dense", ref, D, scale, base)
set xlabel "tokens per forward (batch x seq_len), log2"
set ylabel "speedup over dense (x), log2"
set logscale x 2
set logscale y 2
set format y "%g"
plot for [i=1:n] sprintf("%s/speed%d.dat", tmp, i) using 1:2 with linespoints ls ls_of(int(word(styles, i))) title title_of(i), \
     1 with lines lc rgb "#555555" dt 2 lw 1.5 title "as fast as dense"
