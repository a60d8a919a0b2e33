# latency_vs_tokens.gp - median latency per forward vs tokens, one line per slot.
load here."/common.gp"
set title sprintf("Latency per forward vs tokens per forward (D = %s, sparse layers at scale %s, %s)\nmedian of the timed rounds; bars: fastest round to 90th percentile", D, scale, base)
set xlabel "tokens per forward (batch x seq_len), log2"
set ylabel "latency per forward (us), log10"
set logscale x 2
set logscale y 10
set format y "%g"
plot for [i=1:n] sprintf("%s/lat%d.dat", tmp, i) using 1:2:3:4 with yerrorlines ls ls_of(i) title title_of(i)
