#!/usr/bin/env bash
# Backtests both policies on every generated scenario with the fly-placer
# binary and prints the Markdown table kept in BENCHMARKS.md.
# Usage: benches/scenario-table.sh [hours] [seed] [startup-ticks]
# Placement figures do not depend on the build profile (placer-core and
# placer-lab are optimised in dev builds too), so the dev build is used.
set -euo pipefail
cd "$(dirname "$0")/.."
hours=${1:-24}
seed=${2:-42}
startup=${3:-0}
cargo build -q -p placer-cli
bin=target/debug/fly-placer
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf 'dry_run: true\n' > "$work/threshold.yml"
printf 'dry_run: true\npolicy: latency\n' > "$work/latency.yml"
for scenario in follow-the-sun flash-crowd noisy-steady region-shift steady-high-undeployed long-tail; do
  "$bin" gen-trace --scenario "$scenario" --hours "$hours" --seed "$seed" --out "$work/$scenario.csv" >/dev/null
  for policy in threshold latency; do
    "$bin" backtest --trace "$work/$scenario.csv" --config "$work/$policy.yml" --startup-ticks "$startup" --json \
      > "$work/$scenario-$policy.json" 2>/dev/null
  done
done
python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
scenarios = ["follow-the-sun", "flash-crowd", "noisy-steady", "region-shift",
             "steady-high-undeployed", "long-tail"]
def ms(x):
    return "-" if x is None else f"{x:.1f}"
print("| scenario | policy | K | mean RTT ms | p95 ms | machine-h | actions | flaps | best-static-K ms | oracle-K ms | ratio to better | oracle-equal-mh ms | ratio to it | seed RTT ms | seed machine-h |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for s in scenarios:
    for policy in ["threshold", "latency"]:
        r = json.load(open(f"{work}/{s}-{policy}.json"))
        rows = {row["policy"]: row for row in r["rows"]}
        me = r["rows"][0]
        best = min(rows["best-static-K"]["mean_rtt_ms"], rows["oracle-K"]["mean_rtt_ms"])
        print(f"| {s} | {policy} | {r['k']:.2f} | {ms(me['mean_rtt_ms'])} | {ms(me['p95_rtt_ms'])} | "
              f"{me['machine_hours']:.1f} | {me['actions']} | {me['flaps']} | "
              f"{ms(rows['best-static-K']['mean_rtt_ms'])} | {ms(rows['oracle-K']['mean_rtt_ms'])} | "
              f"{me['mean_rtt_ms'] / best:.3f} | {ms(rows['oracle-equal-mh']['mean_rtt_ms'])} | {r['ratio_to_oracle']:.3f} | {ms(rows['seed']['mean_rtt_ms'])} | {rows['seed']['machine_hours']:.1f} |")
PY
