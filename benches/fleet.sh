#!/usr/bin/env bash
# Cost per request against fleet size: one region, N Machines on N/10 hosts, Poisson traffic
# at 10 requests/s per Machine (constant load per Machine), soft/hard 20/25, lognormal service,
# about 5.5 M requests per run; then setup alone for 20,000 Machines on 2,000 hosts.
#
#   benches/fleet.sh [path/to/flysim] [N ...]      (SETUP=0: skip the setup measurement)
# Prints one row per N: Machines, requests, seconds, requests/s, ns per request.
set -euo pipefail
bin=${1:-target/release/flysim}
shift || true
sizes=${*:-10 100 1000 5000 20000}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
scenario() { # N duration_s hosts
  cat > "$dir/fleet-$1.toml" <<TOML
name = "fleet-$1"
duration = "${2}s"
seed = 1
[[region]]
code = "ams"
hosts = $3
host = { cpus = 64, memory = "256gb" }
[[app]]
name = "web"
machines = [{ count = $1, regions = ["ams"] }]
request = { service_time = { dist = "lognormal", median = "40ms", p99 = "400ms" } }
[app.fly]
primary_region = "ams"
[app.fly.http_service]
auto_stop_machines = "off"
[app.fly.http_service.concurrency]
type = "requests"
soft_limit = 20
hard_limit = 25
[[app.traffic]]
from = "ams"
shape = "poisson"
rps = $((10 * $1))
TOML
}
printf '%8s %12s %9s %12s %10s\n' machines requests seconds "requests/s" "ns/request"
for n in $sizes; do
  hosts=$(( (n + 9) / 10 ))
  dur=$(( 550000 / n )); [ "$dur" -lt 1 ] && dur=1
  scenario "$n" "$dur" "$hosts"
  start=$(date +%s.%N)
  out=$("$bin" run "$dir/fleet-$n.toml" --no-output)
  end=$(date +%s.%N)
  req=$(echo "$out" | sed -n 's/.*offered \([0-9,]*\).*/\1/p' | tr -d ,)
  awk -v n="$n" -v r="$req" -v s="$start" -v e="$end" 'BEGIN { t = e - s; printf "%8d %12d %9.2f %12.0f %10.0f\n", n, r, t, r / t, t * 1e9 / r }'
done
# Setup: 20,000 Machines on 2,000 hosts, simulated for one millisecond (SETUP=0 skips it).
[ "${SETUP:-1}" = 0 ] && exit 0
scenario 20000 0.001 2000
start=$(date +%s.%N)
"$bin" run "$dir/fleet-20000.toml" --no-output -q
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" 'BEGIN { printf "setup, 20,000 Machines on 2,000 hosts: %.3f s (whole process)\n", e - s }'
