#!/usr/bin/env bash
# M/M/4 at load 0.8: flysim, through the same model users run (benches/peers/mm4.toml, about
# 10 million customers), against the same model written for SimPy (mm4_simpy.py), one after
# the other on this machine. Installs SimPy with pip if it is missing. Prints both rates and
# the ratio. Usage: benches/peers/compare.sh [SimPy customers, default 1000000]
set -euo pipefail
cd "$(dirname "$0")/../.."
python3 -c "import simpy" 2>/dev/null || python3 -m pip install --quiet simpy
cargo build --release --quiet
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
start=$(date +%s.%N)
./target/release/flysim run benches/peers/mm4.toml --out "$out/mm4" --no-charts --quiet
end=$(date +%s.%N)
read -r customers wait < <(python3 -c "import json; s = json.load(open('$out/mm4/summary.json')); print(s['requests']['offered'], s['queue_wait_ms']['mean'] * s['requests']['queued'] / s['requests']['offered'] / 1000)")
flysim_rate=$(awk -v n="$customers" -v a="$start" -v b="$end" 'BEGIN { printf "%.0f", n / (b - a) }')
echo "flysim customers=$customers wall_s=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }') customers_per_s=$flysim_rate mean_wait_s=$(printf '%.4f' "$wait")"
simpy_line=$(python3 benches/peers/mm4_simpy.py "${1:-1000000}")
echo "$simpy_line"
simpy_rate=$(echo "$simpy_line" | sed -E 's/.*customers_per_s=([0-9]+).*/\1/')
awk -v f="$flysim_rate" -v s="$simpy_rate" 'BEGIN { printf "ratio flysim/simpy = %.1f\n", f / s }'
