#!/usr/bin/env bash
# Month-long run: scenarios/bench/month.toml (3 regions, 30 Machines, 500 requests/s on
# average) for 10 and for 30 simulated days: wall time and peak memory (GNU time), to show the
# memory does not grow with the simulated span. Usage: benches/month.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
for days in 10 30; do
  out=$(mktemp -d)
  /usr/bin/time -f "%e %M" -o "$out/time" ./target/release/flysim run scenarios/bench/month.toml \
    --set "duration=${days}d" --out "$out/run" --no-charts --quiet
  read -r wall rss_kb < "$out/time"
  requests=$(python3 -c "import json; print(json.load(open('$out/run/summary.json'))['requests']['offered'])")
  awk -v d="$days" -v w="$wall" -v r="$rss_kb" -v n="$requests" \
    'BEGIN { printf "%2d days: %d requests in %.1f s (%.2f M requests/s), peak memory %.1f MB\n", d, n, w, n / w / 1e6, r / 1024 }'
  rm -rf "$out"
done
