#!/usr/bin/env bash
# plot.sh RUN_DIR - draw a sweep's PNG plots from RUN_DIR/results.csv (and
# the probe's roofs from RUN_DIR/meta.csv: sgemm, triad and gather) with gnuplot.
#
# awk (scripts/plot/*.awk) picks the conditions every plot fixes (the most
# common d_model and threads, the most common scale of the slots that vary
# scale, the token count nearest 64) and writes one small data file per
# series; the gnuplot scripts (scripts/plot/*.gp, pngcairo) only draw. Each
# PNG is written under a temporary name, checked whole (it ends with the
# IEND chunk), synced and renamed, so a failed plot never replaces a good one
# and the script exits 1 naming it; gnuplot's warnings (empty ranges of one-point data)
# are shown only when a plot fails. `make plot` (RUN=DIR) redraws a run.
set -euo pipefail

dir=${1:?usage: scripts/plot.sh RUN_DIR}
csv=$dir/results.csv
meta=$dir/meta.csv
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/plot
US=$'\037'

command -v gnuplot >/dev/null || {
    echo "plot.sh: gnuplot not found (scripts/deps.sh installs gnuplot-nox)" >&2
    exit 1
}
[[ -r $csv ]] || { echo "plot.sh: no $csv" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if ! awk -F, -f "$here/conds.awk" "$csv" >"$tmp/conds"; then
    echo "plot.sh: $csv has no ok rows; nothing to plot" >&2
    exit 1
fi
D=$(awk '$1 == "D" { print $2 }' "$tmp/conds")
TH=$(awk '$1 == "THREADS" { print $2 }' "$tmp/conds")
CACHE=$(awk '$1 == "CACHE" { print $2 }' "$tmp/conds")
SCALE=$(awk '$1 == "SCALE" { print $2 }' "$tmp/conds")
TFIX=$(awk '$1 == "TFIX" { print $2 }' "$tmp/conds")
SCALES=$(awk '$1 == "SCALES" { $1 = ""; print }' "$tmp/conds")

meta_get() { # key -> value, or empty
    if [[ -r $meta ]]; then
        awk -F, -v k="$1" '$1 == k { print $2; exit }' "$meta"
    fi
}
PEAK=$(meta_get "probe_sgemm_gflops_t$TH")
BW=$(meta_get "probe_triad_gbps_t$TH")
GBW=$(meta_get "probe_gather_gbps_t$TH")
if ((TH == 1)); then base="$CACHE cache, 1 thread"; else base="$CACHE cache, $TH threads"; fi

sel() { # where cols -> rows
    awk -F, -v where="$1" -v cols="$2" -f "$here/select.awk" "$csv"
}
agg() { awk -v pick="${1:-min}" -f "$here/agg.awk" | sort -g; }
ok="status=ok${US}d_model=$D${US}threads=$TH${US}cache=$CACHE"

series_title() { # slot scale count: "moe (scale 8)"; "dense" for a slot measured at scale 1 only
    if (($3 > 1 || $2 != 1)); then echo "$1 (scale $2)"; else echo "$1"; fi
}

# ---- series data ----
n=0
titles=()
nsc=0
sc_titles=()
flat=""
ns=0
sp_titles=()
nr=0
rf_titles=()
ref=""
while read -r tag slot sc count; do
    [[ $tag == SERIES ]] || continue
    [[ $slot == dense ]] && ref=dense
    if [[ $sc != - ]]; then
        n=$((n + 1))
        titles+=("$(series_title "$slot" "$sc" "$count")")
        w="$ok${US}slot=$slot${US}scale=$sc"
        sel "$w" tokens,latency_us_median,latency_us_min,latency_us_p90 | agg >"$tmp/lat$n.dat"
        sel "$w" tokens,bytes | awk '$2 != "NA" { print $1, $2 / 1048576 }' | agg >"$tmp/bytes$n.dat"
        sel "$w" tokens,bandwidth_gbps | agg max >"$tmp/bw$n.dat"
    fi
    # latency vs scale: every slot at TFIX; single-scale slots as flat lines
    nsc=$((nsc + 1))
    sc_titles+=("$slot")
    w="$ok${US}slot=$slot${US}tokens=$TFIX"
    if [[ $count -gt 1 ]]; then
        flat+=0
        sel "$w" scale,latency_us_median,latency_us_min,latency_us_p90 | agg >"$tmp/scale$nsc.dat"
    else
        flat+=1
        y=$(sel "$w" scale,latency_us_median | agg | awk 'NR == 1 { print $2 }')
        : >"$tmp/scale$nsc.dat"
        if [[ -n $y ]]; then
            for s in $SCALES; do echo "$s $y $y $y"; done | sort -g >"$tmp/scale$nsc.dat"
        fi
    fi
    nr=$((nr + 1))
    rf_titles+=("$slot")
    sel "$ok${US}slot=$slot" intensity,gflops >"$tmp/roof$nr.dat"
done <"$tmp/conds"

sp_styles=""
if [[ -n $ref ]]; then
    k=0 # a series keeps its latency_vs_tokens colour here, though dense is left out
    while read -r tag slot sc count; do
        [[ $tag == SERIES && $sc != - ]] || continue
        k=$((k + 1))
        [[ $slot != "$ref" ]] || continue
        ns=$((ns + 1))
        sp_styles+="$k "
        sp_titles+=("$(series_title "$slot" "$sc" "$count")")
        awk -F, -v ref="$ref" -v slot="$slot" -v scale="$sc" -v d="$D" -v th="$TH" \
            -f "$here/speedup.awk" "$csv" "$csv" | agg >"$tmp/speed$ns.dat"
    done <"$tmp/conds"
fi

# paired speedups: every slot with rows measured in pairs (pair_with set), its
# pair_ratio and 95 % interval per token count; every pass is drawn (a ratio
# has no "faster pass" to pick). Drawn only when the run has pairs.
np=0
pp_titles=()
while read -r tag slot sc count; do
    [[ $tag == SERIES ]] || continue
    w="$ok${US}slot=$slot"
    [[ $sc == - ]] || w+="${US}scale=$sc"
    sel "$w" tokens,pair_ratio,pair_ratio_lo,pair_ratio_hi | awk '$2 != "NA"' | sort -g \
        >"$tmp/pair$((np + 1)).dat"
    [[ -s $tmp/pair$((np + 1)).dat ]] || continue
    np=$((np + 1))
    partner=$(sel "$w" pair_with | awk '$1 != "NA" { print; exit }')
    pp_titles+=("$(series_title "$slot" "$sc" "$count") over $partner")
done <"$tmp/conds"

# ---- drawing ----
# gnuplot exits 0 even when the disk filled under it (cairo's write errors
# are not reported), leaving a cut or empty PNG: a plot is renamed over the
# old one only when it ends with the PNG IEND chunk, i.e. was written whole.
png_whole() {
    local f=$1
    if [[ ! -s $f ]]; then
        echo "plot.sh: $f is empty (disk full?)" >&2
        return 1
    fi
    if [[ $(tail -c 12 "$f" | od -An -tx1 | tr -d ' \n') != 0000000049454e44ae426082 ]]; then
        echo "plot.sh: $f is not a whole PNG (disk full?)" >&2
        return 1
    fi
}
join_titles() { local IFS=$'\t'; echo "$*"; }
failed=0
draw() { # name script n titles [extra gnuplot assignments]
    local name=$1 gp=$2 count=$3 t=$4 extra=${5:-}
    local out="$dir/$name.png"
    if ((count == 0)); then
        echo "plot.sh: $name: nothing to draw (no ok rows for it), skipped" >&2
        return
    fi
    if gnuplot -e "here='$here'; tmp='$tmp'; out='$out.tmp'; n=$count; titles=\"$t\"; D='$D'; TH='$TH'; \
cache='$CACHE'; scale='$SCALE'; tfix='$TFIX'; base='$base'; $extra" "$here/$gp" 2>"$tmp/gnuplot.err" &&
        png_whole "$out.tmp" && sync "$out.tmp" && mv -f "$out.tmp" "$out"; then
        :
    else
        rm -f "$out.tmp"
        cat "$tmp/gnuplot.err" >&2
        echo "plot.sh: $name failed" >&2
        failed=1
    fi
}

draw latency_vs_tokens latency_vs_tokens.gp "$n" "$(join_titles "${titles[@]}")"
draw bytes_vs_tokens bytes_vs_tokens.gp "$n" "$(join_titles "${titles[@]}")"
draw latency_vs_scale latency_vs_scale.gp "$nsc" "$(join_titles "${sc_titles[@]}")" "flat='$flat'"
draw speedup_vs_dense speedup_vs_dense.gp "$ns" "$(join_titles "${sp_titles[@]+"${sp_titles[@]}"}")" \
    "ref='$ref'; styles='$sp_styles'"
draw bandwidth_vs_tokens bandwidth_vs_tokens.gp "$n" "$(join_titles "${titles[@]}")" \
    "bw='${BW:-}'; gbw='${GBW:-}'"
draw roofline roofline.gp "$nr" "$(join_titles "${rf_titles[@]}")" \
    "peak='${PEAK:-}'; bw='${BW:-}'; gbw='${GBW:-}'"

if ((np > 0)); then
    draw paired_speedup paired_speedup.gp "$np" "$(join_titles "${pp_titles[@]}")"
fi

((failed == 0)) || exit 1
echo "plots: $dir/*.png" >&2
