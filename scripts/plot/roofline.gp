# roofline.gp - achieved GFLOP/s vs arithmetic intensity, with the probe's roofs
# (ERT convention: log-log, "FLOPs / Byte" vs "GFLOP/s").
load here."/common.gp"
has_roof = peak ne "" && bw ne ""
set title sprintf("Roofline: every ok point at D = %s (all scales and token counts), %s\nroof = min(sgemm peak, intensity x STREAM triad)%s", D, base, has_roof ? sprintf(" = min(%s GFLOP/s, x * %s GB/s), measured by this run's probe", peak, bw) : ": not probed")
set xlabel "arithmetic intensity (flops per parameter byte read), log10"
set ylabel "achieved GFLOP/s, log10"
set logscale x 10
set logscale y 10
set format x "%g"
set format y "%g"
roof(x) = (x * real(bw) < real(peak)) ? x * real(bw) : real(peak)
if (has_roof) {
    set samples 400
    plot for [i=1:n] sprintf("%s/roof%d.dat", tmp, i) using 1:2 with points ls ls_of(i) title title_of(i), \
         roof(x) with lines lc rgb "#333333" lw 2 dt 1 title "roof"
} else {
    plot for [i=1:n] sprintf("%s/roof%d.dat", tmp, i) using 1:2 with points ls ls_of(i) title title_of(i)
}
