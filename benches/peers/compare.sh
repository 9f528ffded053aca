#!/usr/bin/env bash
# M/M/4 at load 0.8: flysim (through the model users run) against SimPy, in one run.
# Installs SimPy with pip if it is missing. Prints both rates and the ratio.
# Usage: benches/peers/compare.sh [simpy customers, default 1000000]
set -euo pipefail
cd "$(dirname "$0")/../.."
python3 -c "import simpy" 2>/dev/null || python3 -m pip install --quiet simpy
cargo build --release --quiet
n=${1:-1000000}
start=$(date +%s.%N)
./target/release/flysim run benches/peers/mm4.toml --no-output --quiet
end=$(date +%s.%N)
json=$(./target/release/flysim run benches/peers/mm4.toml --out "$(mktemp -d)/mm4" --no-charts --quiet && true)
customers=$(./target/release/flysim run benches/peers/mm4.toml --no-charts --quiet --out /tmp/flysim-mm4 && python3 -c "import json; print(json.load(open('/tmp/flysim-mm4/summary.json'))['requests']['offered'])")
flysim_rate=$(awk -v n="$customers" -v a="$start" -v b="$end" 'BEGIN { printf "%.0f", n / (b - a) }')
echo "flysim customers=$customers wall_s=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }') customers_per_s=$flysim_rate"
simpy_line=$(python3 benches/peers/mm4_simpy.py "$n")
echo "$simpy_line"
simpy_rate=$(echo "$simpy_line" | sed -E 's/.*customers_per_s=([0-9]+).*/\1/')
awk -v f="$flysim_rate" -v s="$simpy_rate" 'BEGIN { printf "ratio flysim/simpy = %.1f\n", f / s }'
