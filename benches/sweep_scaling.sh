#!/usr/bin/env bash
# Times a 16-run sweep with 1 and 2 worker threads (median of 3 each) and checks that both
# give identical result files. Usage: benches/sweep_scaling.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=target/release/flysim
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
median() { sort -n | sed -n 2p; }
for jobs in 1 2; do
  for i in 1 2 3; do
    rm -rf "$tmp/j$jobs"
    start=$(date +%s.%N)
    "$bin" sweep benches/sweeps/scaling.toml --jobs "$jobs" --quiet --out "$tmp/j$jobs"
    end=$(date +%s.%N)
    awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f\n", b - a }' 
  done | median > "$tmp/t$jobs"
  echo "jobs=$jobs: $(cat "$tmp/t$jobs") s (median of 3)"
done
for f in runs.csv points.csv sweep.json; do
  cmp -s "$tmp/j1/$f" "$tmp/j2/$f" || { echo "$f differs between 1 and 2 jobs"; exit 1; }
done
awk -v a="$(cat "$tmp/t1")" -v b="$(cat "$tmp/t2")" 'BEGIN { printf "speed-up: %.2fx, identical results\n", a / b }' 
