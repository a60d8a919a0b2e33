#!/usr/bin/env bash
# sweep-slurm.sh SWEEP SHARDS [RUN_DIR] - a sweep sharded over a Slurm
# cluster: submit scripts/slurm/sweep.sbatch as an array of SHARDS tasks,
# wait until the job has left the queue, then `sparsebench merge` the shards
# into RUN_DIR (default reports/<date>-<time>-<sweep>-slurm). `make
# sweep-slurm SWEEP=FILE SHARDS=N` runs this.
#
# Environment: SLURM_PARTITION, SLURM_CONSTRAINT (a node feature, to get
# identical nodes), SLURM_TIME (a task's time limit, sbatch --time syntax),
# SLURM_SBATCH_FLAGS (anything else for sbatch), SWEEP_FLAGS (more sweep
# flags for every shard), MERGE_FLAGS (e.g. --no-plot), SB_BIN (default
# build/sparsebench). The run directory must be on a file system every
# node sees. Exit: sparsebench merge's (0 merged, 1 points missing, 2
# refused), or 1 when sbatch fails.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
sweep=${1:?usage: sweep-slurm.sh SWEEP SHARDS [RUN_DIR]}
shards=${2:?usage: sweep-slurm.sh SWEEP SHARDS [RUN_DIR]}
[[ $shards =~ ^[1-9][0-9]*$ ]] || { echo "sweep-slurm: SHARDS='$shards': expected a positive integer" >&2; exit 2; }
[[ -r $sweep ]] || { echo "sweep-slurm: SWEEP='$sweep': no such file" >&2; exit 2; }
name=$(basename "$sweep" .sweep)
run=${3:-reports/$(date +%Y%m%d-%H%M%S)-$name-slurm}
bin=$(realpath "${SB_BIN:-build/sparsebench}")
mkdir -p "$run/slurm"
run=$(realpath "$run")

opts=(--parsable --array="1-$shards" --chdir="$PWD" --output="$run/slurm/%a.log"
      --export="ALL,SB_BIN=$bin,SB_SWEEP=$(realpath "$sweep"),SB_SHARDS=$shards,SB_RUN=$run,SB_FLAGS=${SWEEP_FLAGS:-}")
[[ -n ${SLURM_PARTITION:-} ]] && opts+=(--partition="$SLURM_PARTITION")
[[ -n ${SLURM_CONSTRAINT:-} ]] && opts+=(--constraint="$SLURM_CONSTRAINT")
[[ -n ${SLURM_TIME:-} ]] && opts+=(--time="$SLURM_TIME")
# shellcheck disable=SC2206 # a list of flags
[[ -n ${SLURM_SBATCH_FLAGS:-} ]] && opts+=($SLURM_SBATCH_FLAGS)
job=$(sbatch "${opts[@]}" "$here/sweep.sbatch")
job=${job%%;*}
echo "sweep-slurm: job $job, $shards shards of $sweep; logs in $run/slurm/" >&2
# Without accounting a finished job only leaves the queue, so wait for that
# (and the job's state is not kept to ask about afterwards: merge says
# which points are missing).
while [[ -n $(squeue -h -j "$job" -o %i 2>/dev/null) ]]; do
    sleep 1
done
dirs=()
for ((i = 1; i <= shards; i++)); do
    [[ -r $run/shards/$i/meta.csv ]] && dirs+=("$run/shards/$i") ||
        echo "sweep-slurm: shard $i/$shards wrote nothing (see $run/slurm/$i.log)" >&2
done
((${#dirs[@]})) || { echo "sweep-slurm: no shard ran" >&2; exit 1; }
# shellcheck disable=SC2086 # a list of flags
"$bin" merge "$run" "${dirs[@]}" ${MERGE_FLAGS:-}
