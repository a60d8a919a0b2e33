set terminal pngcairo size 960,600 noenhanced
set grid
set logscale x 2
set output 'claims-speedup.png'
set title 'UltraMem and PKM over MoE, one token per sequence (paired ratio, 95 % interval); grey: the paper 2-6x'
set xlabel 'batch (tokens per forward)'; set ylabel 'time(MoE) / time(layer)'
set logscale y
set object 1 rect from graph 0, first 2 to graph 1, first 6 fc rgb '#dddddd' behind
plot 'claims-speedup.dat' index 0 u 1:2:3:4 w yerrorlines t 'ultramem D=768', \
     '' index 1 u 1:2:3:4 w yerrorlines t 'pkm D=768', \
     '' index 2 u 1:2:3:4 w yerrorlines t 'ultramem-227m vs moe-2in34 D=768', \
     '' index 3 u 1:2:3:4 w yerrorlines t 'ultramem vs moe 2in34 D=2048', 1 lc 0 t ''
unset object 1
set output 'claims-bytes.png'
set title 'MoE / UltraMem parameter bytes per forward (exact accounting); grey: the paper 13-18.8x'
set ylabel 'bytes(MoE) / bytes(UltraMem)'
set object 1 rect from graph 0, first 13 to graph 1, first 18.8 fc rgb '#dddddd' behind
plot 'claims-bytes.dat' index 0 u 1:2 w lp t 'D=768', '' index 1 u 1:2 w lp t 'D=2048'
unset object 1
set output 'claims-scale.png'
set title 'latency vs scale at 512 tokens'
set xlabel 'scale (sparse parameters / dense FFN)'; set ylabel 'us per forward'
plot 'claims-scale.dat' index 0 u 1:2 w lp t 'moe D=768', '' index 1 u 1:2 w lp t 'ultramem D=768', '' index 2 u 1:2 w lp t 'pkm D=768', '' index 3 u 1:2 w lp t 'moe D=2048', '' index 4 u 1:2 w lp t 'ultramem D=2048'
set output 'claims-fff.png'
set title 'FFF over the dense FFN as wide as the tree (paired ratio); lines: 78x published, 341x FLOP ratio'
set xlabel 'tokens per forward'; set ylabel 'time(dense) / time(fff)'
plot 'claims-fff.dat' index 0 u 1:2:3:4 w yerrorlines t 'fff 1x11 vs dense 4095, D=768', '' index 1 u 1:2:3:4 w yerrorlines t 'fff depth 15 vs dense 4D, D=12288', 78 lc 1 dt 2 t '78x', 341.25 lc 2 dt 2 t '341x'
unset logscale
set output 'claims-time.png'
set title 'where the time goes, D = 768: bytes / roof or FLOPs / peak (whichever bounds), and the rest'
set style data histograms; set style histogram rowstacked; set style fill solid 0.7
set boxwidth 0.8; set xtics rotate by -45; set ylabel 'us per forward'
plot 'claims-time.dat' u 2:xtic(1) t 'bytes / roof', '' u 3 t 'FLOPs / peak', '' u 4 t 'rest'
