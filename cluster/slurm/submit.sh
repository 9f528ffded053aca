#!/usr/bin/env bash
# Submits a sweep as a Slurm array of N shards and a merge that runs once all succeeded.
#
#   cluster/slurm/submit.sh SWEEP.toml N OUT
#
# OUT must be on a shared file system. The merged results land in OUT/all, byte-identical to
# one `flysim sweep` of the whole grid.
set -euo pipefail
if [ $# -ne 3 ]; then
  echo "usage: $0 SWEEP.toml N OUT" >&2
  exit 2
fi
sweep=$1 n=$2 out=$3
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
array=$(sbatch --parsable --array="1-$n" --export="ALL,SWEEP=$sweep,OUT=$out" "$here/sweep.sbatch")
shards=$(for k in $(seq 1 "$n"); do printf '%s ' "$out/shard-$k"; done)
sbatch --parsable --dependency="afterok:${array%%;*}" --job-name=flysim-merge \
  --output="flysim-merge-%j.log" \
  --wrap="${FLYSIM:-flysim} merge $shards -o $out/all"
echo "submitted shards ${array%%;*} (1-$n) and their merge; results in $out/all"
