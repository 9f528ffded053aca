#!/usr/bin/env bash
# A sweep in N shards with GNU parallel, on this machine or across hosts, then merged.
#
#   cluster/parallel/sweep.sh SWEEP.toml N OUT [SSHLOGINS]
#
# Runs `flysim sweep SWEEP.toml --shard K/N -o OUT/shard-K` for K = 1..N and then
# `flysim merge OUT/shard-* -o OUT/all`. With SSHLOGINS (GNU parallel's -S syntax, e.g.
# "4/alice@node1,4/alice@node2"), shards run on those hosts: each needs flysim on its PATH
# (or FLYSIM set to its path there) and the sweep's files at the same path as here (a checkout
# on a shared or copied folder); each shard's folder is returned here (--return) and removed
# there (--cleanup). Each shard uses one thread per job slot; set JOBS to change it.
# The merged results are byte-identical to one `flysim sweep` of the whole grid.
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: $0 SWEEP.toml N OUT [SSHLOGINS]" >&2
  exit 2
fi
sweep=$1 n=$2 out=$3 hosts=${4:-}
flysim=${FLYSIM:-flysim}
jobs=${JOBS:-1}
mkdir -p "$out"
remote=()
if [ -n "$hosts" ]; then
  remote=(-S "$hosts" --workdir "$PWD" --return "$out/shard-{}" --cleanup)
fi
seq 1 "$n" | parallel --will-cite --halt now,fail=1 "${remote[@]}" \
  "$flysim" sweep "$sweep" --shard "{}/$n" -j "$jobs" -q -o "$out/shard-{}"
shards=()
for k in $(seq 1 "$n"); do shards+=("$out/shard-$k"); done
"$flysim" merge "${shards[@]}" -o "$out/all"
