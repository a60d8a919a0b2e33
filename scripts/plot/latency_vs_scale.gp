# latency_vs_scale.gp - latency vs sparse-parameter scale at one token count.
load here."/common.gp"
set title sprintf("Latency per forward vs sparse-parameter scale at %s tokens per forward (D = %s, %s)\nscale s: total parameters ~ s x the dense FFN; layers measured at one scale (dense) drawn flat, dashed", tfix, D, base)
set xlabel "sparse-parameter scale s (total params / dense FFN params), log2"
set ylabel "latency per forward (us), log10"
set logscale x 2
set logscale y 10
set format y "%g"
set offsets graph 0.05, graph 0.05, 0, 0
# flat holds one character per series: 1 = measured at one scale only (dense)
plot for [i=1:n] sprintf("%s/scale%d.dat", tmp, i) using 1:2:3:4 with yerrorlines \
     ls (flat[i:i] eq "1" ? 100 + ls_of(i) : ls_of(i)) \
     title (title_of(i).(flat[i:i] eq "1" ? " (one scale)" : ""))
