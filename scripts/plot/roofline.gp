# roofline.gp - achieved GFLOP/s vs arithmetic intensity, with the probe's roofs
# (ERT convention: log-log, "FLOPs / Byte" vs "GFLOP/s"): the compute roof
# (sgemm), and two memory roofs, STREAM triad for streamed parameters and
# gather (random-row reads) for the small sparse units of memory layers.
load here."/common.gp"
has_roof = peak ne "" && bw ne ""
has_gather = has_roof && gbw ne ""
set title sprintf("Roofline: every ok point at D = %s (all scales and token counts), %s\n%s", D, base, \
    !has_roof ? "roofs: not probed" : \
    has_gather ? sprintf("roofs: min(%s GFLOP/s sgemm, x * %s GB/s triad) solid; min(sgemm, x * %s GB/s gather) dashed; measured by this run's probe", peak, bw, gbw) : \
    sprintf("roof = min(%s GFLOP/s sgemm, x * %s GB/s triad), measured by this run's probe (no gather roof in meta.csv)", peak, bw))
set xlabel "arithmetic intensity (flops per parameter byte read), log10"
set ylabel "achieved GFLOP/s, log10"
set logscale x 10
set logscale y 10
set format x "%g"
set format y "%g"
roof(x) = (x * real(bw) < real(peak)) ? x * real(bw) : real(peak)
groof(x) = (x * real(gbw) < real(peak)) ? x * real(gbw) : real(peak)
if (has_gather) {
    set samples 400
    plot for [i=1:n] sprintf("%s/roof%d.dat", tmp, i) using 1:2 with points ls ls_of(i) title title_of(i), \
         roof(x) with lines lc rgb "#333333" lw 2 dt 1 title "roof: triad", \
         groof(x) with lines lc rgb "#333333" lw 2 dt 2 title "roof: gather"
} else {
    if (has_roof) {
        set samples 400
        plot for [i=1:n] sprintf("%s/roof%d.dat", tmp, i) using 1:2 with points ls ls_of(i) title title_of(i), \
             roof(x) with lines lc rgb "#333333" lw 2 dt 1 title "roof"
    } else {
        plot for [i=1:n] sprintf("%s/roof%d.dat", tmp, i) using 1:2 with points ls ls_of(i) title title_of(i)
    }
}
