#!/usr/bin/env bash
# test-slurm.sh - `make test-slurm`: sweep --shard, sweep.sbatch and merge
# against a real Slurm, not a mock. Installs Debian's Slurm and munge when
# missing, starts a one-node cluster on localhost from nothing (munged,
# slurmctld, slurmd on free ports, everything under one temporary
# directory), runs bench/sweeps/tiny.sweep as a 4-task array through `make
# sweep-slurm`, checks that the merged rows' identity columns are those of
# the same sweep run unsharded, and tears down: only the processes it
# started (and the job steps they started, found by this run's SLURM_CONF
# in their environment), then the directory. Works as root without
# systemd; the install needs root (else it prints the apt-get line).
# Facts behind each step: issue 16 (a feasibility run on Debian 12,
# Slurm 22.05.8, munge 0.5.15).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
t_start=$(date +%s.%N)
say() { echo "test-slurm: $*" >&2; }
die() { say "FAIL: $*"; exit 1; }

# ---- packages ----
pkgs=(slurmctld slurmd slurm-client munge)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
    if ((EUID != 0)); then
        die "missing ${missing[*]}; run: sudo apt-get install --no-install-recommends ${missing[*]}"
    fi
    # policy-rc.d (exit 101) keeps the packages from starting system
    # services at install: without it munge's postinst starts a munged
    # nobody stops. An existing one (containers ship it) is left as it is.
    made_policy=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        made_policy=1
    fi
    say "installing ${missing[*]}"
    apt=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}")
    rc=0
    flock /tmp/apt.lock "${apt[@]}" >/dev/null ||
        { flock /tmp/apt.lock apt-get update -q >/dev/null && flock /tmp/apt.lock "${apt[@]}" >/dev/null; } ||
        rc=$?
    ((made_policy)) && rm -f /usr/sbin/policy-rc.d
    ((rc == 0)) || die "apt-get install ${missing[*]} failed"
fi

# ---- the cluster, from nothing ----
T=$(mktemp -d /tmp/sb-slurm.XXXXXX)
chmod 755 "$T" # munged refuses a socket directory others cannot enter
pids=()
teardown() {
    local rc=$? p
    set +e
    # slurmd, slurmctld, then munged (the reverse of the start order)
    for ((k = ${#pids[@]} - 1; k >= 0; k--)); do
        p=${pids[k]}
        kill -TERM "$p" 2>/dev/null || true
        for _ in $(seq 50); do alive "$p" || break; sleep 0.1; done
        alive "$p" && kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null || true
    done
    # Job steps are slurmd's children, not ours: find them by this run's
    # SLURM_CONF in their environment.
    for e in /proc/[0-9]*/environ; do
        p=${e#/proc/}
        p=${p%/environ}
        [[ $p != "$$" ]] && { tr '\0' '\n' <"$e"; } 2>/dev/null | grep -qx "SLURM_CONF=$T/slurm.conf" &&
            kill -KILL "$p" 2>/dev/null
    done
    rm -rf "$T"
    exit "$rc"
}
trap teardown EXIT
# kill -0 succeeds on a zombie: look at the state too.
alive() { [[ -r /proc/$1/stat ]] && [[ $(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) != Z ]]; }

free_port() { # a TCP port nothing listens on, from a range away from Slurm's 6817-6819
    local p
    for _ in $(seq 100); do
        p=$((20000 + RANDOM % 20000))
        [[ -z $(ss -Htln "sport = :$p" 2>/dev/null) ]] && { echo "$p"; return; }
    done
    die "no free port"
}

mkdir -p "$T/munge" "$T/state" "$T/spool" "$T/log"
chmod 755 "$T/munge"
mungekey --create --keyfile="$T/munge/munge.key" >/dev/null 2>&1 ||
    dd if=/dev/urandom of="$T/munge/munge.key" bs=1024 count=1 status=none
chmod 600 "$T/munge/munge.key"
sock=$T/munge/munge.socket
munged -F --force --key-file="$T/munge/munge.key" --socket="$sock" \
    --pid-file="$T/munge/munged.pid" --seed-file="$T/munge/munge.seed" \
    --log-file="$T/log/munged.log" 2>>"$T/log/munged.log" &
pids+=($!)
for _ in $(seq 100); do
    munge -n -S "$sock" 2>/dev/null | unmunge -S "$sock" >/dev/null 2>&1 && break
    sleep 0.1
done
munge -n -S "$sock" | unmunge -S "$sock" >/dev/null || die "munged did not start ($(tail -3 "$T/log/munged.log"))"

node=$(hostname -s)
cpus=$(nproc)
mem=$(awk '/MemAvailable/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)
cat >"$T/slurm.conf" <<CONF
ClusterName=sbtest
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket=$sock
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/log/slurmctld.log
SlurmdLogFile=$T/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
SchedulerParameters=batch_sched_delay=0
ReturnToService=2
MpiDefault=none
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF
: >"$T/plugstack.conf"
export SLURM_CONF=$T/slurm.conf
slurmctld -D >>"$T/log/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -N "$node" >>"$T/log/slurmd.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
    [[ $(sinfo -h -N -o %t 2>/dev/null) == idle ]] && break
    sleep 0.2
done
[[ $(sinfo -h -N -o %t 2>/dev/null) == idle ]] ||
    die "the node is not idle: $(sinfo -N 2>&1 | tail -1); $(tail -3 "$T/log/slurmctld.log" 2>/dev/null)"
say "cluster up: $node, $cpus CPUs, ports $(grep -E 'Port=' "$T/slurm.conf" | tr '\n' ' ')"

# ---- the sweep: unsharded, and 4 shards through make sweep-slurm ----
sweep=bench/sweeps/tiny.sweep
flags="--no-probe"
build/sparsebench sweep "$sweep" --out "$T/unsharded" --no-plot $flags >/dev/null 2>"$T/log/unsharded.log" ||
    die "the unsharded sweep failed: $(tail -3 "$T/log/unsharded.log")"
make --no-print-directory sweep-slurm SWEEP="$sweep" SHARDS=4 SLURM_RUN="$T/merged" \
    SWEEP_FLAGS="$flags" >"$T/log/make.log" 2>&1 || die "make sweep-slurm failed: $(tail -5 "$T/log/make.log")"

# ---- the check: the same points, each once, on this host ----
ident() { # the identity columns of a results.csv, one sorted line per row
    awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
        { print $c["slot"], $c["d_model"], $c["scale"], $c["batch"], $c["seq_len"], $c["threads"],
                $c["seed"], $c["cache"], $c["repeat"], $c["pair_with"] }' "$1" | sort
}
ident "$T/unsharded/results.csv" >"$T/a"
ident "$T/merged/results.csv" >"$T/b"
[[ -s $T/a ]] || die "the unsharded run has no rows"
diff "$T/a" "$T/b" >&2 || die "merged identity columns differ from the unsharded run's"
shards=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "shard") c = i; next } { print $c }' \
    "$T/merged/results.csv" | sort -u | tr '\n' ' ')
[[ $shards == "1/4 2/4 3/4 4/4 " ]] || die "shard column: '$shards', expected 1/4 2/4 3/4 4/4"
ls "$T/merged"/*.png >/dev/null 2>&1 || die "the merge drew no plots"
n=$(wc -l <"$T/a")
t=$(awk -v a="$t_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
say "ok: $n points in 4 shards on a real Slurm, merged = unsharded; ${t} s"
