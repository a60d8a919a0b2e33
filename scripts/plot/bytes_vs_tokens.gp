# bytes_vs_tokens.gp - parameter bytes one forward reads vs tokens.
load here."/common.gp"
set title sprintf("Parameter bytes one forward reads vs tokens (D = %s, sparse layers at scale %s)\ndense_bytes (read by every forward) + unique sparse_bytes this batch touched, from the layers' exact stats", D, scale)
set xlabel "tokens per forward (batch x seq_len), log2"
set ylabel "parameter bytes read per forward (MiB), log2"
set logscale x 2
set logscale y 2
set format y "%g"
plot for [i=1:n] sprintf("%s/bytes%d.dat", tmp, i) using 1:2 with linespoints ls ls_of(i) title title_of(i)
