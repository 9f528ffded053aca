#!/bin/sh
# flysim plan on the example plans against the exhaustive evaluation at 20 replications per
# candidate: the answers, runs, simulated requests and wall times (2 threads), as a Markdown
# table. Usage: benches/plan.sh [BIN]  (default: target/release/flysim)
set -eu
bin=${1:-target/release/flysim}
out=$(mktemp -d)
echo "| plan | candidates | search's answer | exhaustive's answer | runs (search / exhaustive) | simulated requests (search / exhaustive) | fewer requests | wall time (search / exhaustive) |"
echo "|---|---|---|---|---|---|---|---|"
for p in shop jobs autostop failover; do
  t0=$(date +%s.%N)
  "$bin" plan "plans/$p.toml" -q --jobs 2 --no-charts --out "$out/$p"
  t1=$(date +%s.%N)
  "$bin" plan "plans/$p.toml" -q --jobs 2 --no-charts --exhaustive 20 --out "$out/$p-x"
  t2=$(date +%s.%N)
  python3 - "$out" "$p" "$t0" "$t1" "$t2" <<'PY'
import json, sys
out, p, t0, t1, t2 = sys.argv[1], sys.argv[2], *map(float, sys.argv[3:6])
a = json.load(open(f"{out}/{p}/plan.json"))
b = json.load(open(f"{out}/{p}-x/plan.json"))
def answer(d):
    c = next(c for c in d["candidates"] if c["candidate"] == d["recommended"])
    return ", ".join(f"{k} = {v}" for k, v in c["params"].items()) + f" (${c['cost']['mean']:.2f})"
ea, eb = a["effort"], b["effort"]
ratio = f"{eb['requests'] / ea['requests']:.1f}×" if ea["requests"] else "(no requests)"
print(f"| {p} | {ea['candidates']} | {answer(a)} | {answer(b)} | {ea['runs']:,} / {eb['runs']:,} | "
      f"{ea['requests']:,} / {eb['requests']:,} | {ratio} | {t1 - t0:.2f} s / {t2 - t1:.2f} s |")
PY
done
rm -rf "$out"
