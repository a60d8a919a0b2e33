# bandwidth_vs_tokens.gp - parameter bytes per second vs tokens, with the two
# memory roofs: STREAM triad and gather (random-row reads).
load here."/common.gp"
set title sprintf("Parameter bandwidth achieved vs tokens (D = %s, sparse layers at scale %s, %s)\nbytes read per forward / median latency; dashed: this machine's STREAM triad%s%s", D, scale, base, bw eq "" ? " (not probed)" : sprintf(" (%s GB/s)", bw), gbw eq "" ? "" : sprintf(", dotted: gather (%s GB/s)", gbw))
set xlabel "tokens per forward (batch x seq_len), log2"
set ylabel "parameter bandwidth (GB/s), log2"
set logscale x 2
set logscale y 2
set format y "%g"
if (bw ne "" && gbw ne "") {
    plot for [i=1:n] sprintf("%s/bw%d.dat", tmp, i) using 1:2 with linespoints ls ls_of(i) title title_of(i), \
         real(bw) with lines lc rgb "#555555" dt 2 lw 1.5 title "STREAM triad", \
         real(gbw) with lines lc rgb "#555555" dt 3 lw 1.5 title "gather"
} else {
  if (bw ne "") {
    plot for [i=1:n] sprintf("%s/bw%d.dat", tmp, i) using 1:2 with linespoints ls ls_of(i) title title_of(i), \
         real(bw) with lines lc rgb "#555555" dt 2 lw 1.5 title "STREAM triad"
  } else {
    plot for [i=1:n] sprintf("%s/bw%d.dat", tmp, i) using 1:2 with linespoints ls ls_of(i) title title_of(i)
  }
}
