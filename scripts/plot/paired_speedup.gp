# paired_speedup.gp - every slot measured in pairs (`pair = LABEL` in a sweep: ABBA
# rounds in one process) against its partner: pair_ratio with its 95 % interval vs tokens.
# The precision sweep's bf16 / f16 slots against their family's f32 slot land here.
load here."/common.gp"
set title sprintf("Paired speedup over the partner (pair = LABEL) at the same tokens, D = %s (%s)\npartner round time / this slot's: median over ABBA pairs, bars its 95 percent interval; above 1 = faster", D, base)
set xlabel "tokens per forward (batch x seq_len), log2"
set ylabel "speedup over the partner (x), log2"
set logscale x 2
set logscale y 2
set format y "%g"
plot for [i=1:n] sprintf("%s/pair%d.dat", tmp, i) using 1:2:3:4 with yerrorlines ls ls_of(i) title title_of(i), \
     1 with lines lc rgb "#555555" dt 2 lw 1.5 title "as fast as the partner"
