#!/usr/bin/env bash
# Backtests the shipped latency config with a machines: section on every
# built-in scenario and prints the capacity rows as the Markdown table kept
# in BENCHMARKS.md: the policy's machines against the autoscaler and
# oracle-counts rows.
# Usage: benches/capacity-table.sh [requests-per-machine] [seed] [startup-ticks] [max-actions-per-tick]
# max_actions_per_tick counts machines with a machines: section; its
# default of 3 would take several ticks to start the machines the
# autoscaler row starts in one, so the table uses 20.
# The daily scenarios run 48 hours, the weekly ones 336. Placement figures
# do not depend on the build profile, so the dev build is used.
set -euo pipefail
cd "$(dirname "$0")/.."
per_machine=${1:-100}
seed=${2:-7}
startup=${3:-3}
max_actions=${4:-20}
cargo build -q -p placer-cli
bin=target/debug/fly-placer
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp config/latency.yml "$work/capacity.yml"
printf '\nmax_actions_per_tick: %s\nmachines:\n  requests_per_machine: %s\n' "$max_actions" "$per_machine" >> "$work/capacity.yml"
scenarios="follow-the-sun flash-crowd noisy-steady region-shift steady-high-undeployed long-tail edge-only business-hours weekly-growth pattern-stops"
for scenario in $scenarios; do
  hours=48
  case $scenario in business-hours|weekly-growth|pattern-stops) hours=336;; esac
  "$bin" gen-trace --scenario "$scenario" --hours "$hours" --seed "$seed" --out "$work/$scenario.csv" >/dev/null
  "$bin" backtest --trace "$work/$scenario.csv" --config "$work/capacity.yml" --startup-ticks "$startup" --json \
    > "$work/$scenario.json" 2>/dev/null
done
python3 - "$work" $scenarios <<'PY'
import json, sys
work, scenarios = sys.argv[1], sys.argv[2:]
def ms(x):
    return "-" if x is None else f"{x:.1f}"
print("| scenario | row | machines | machine-h | mean RTT ms | p95 ms | spilled | overloaded | overloaded % |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for s in scenarios:
    r = json.load(open(f"{work}/{s}.json"))
    for row in r["capacity"]["rows"]:
        name = f"**{row['policy']}**" if row is r["capacity"]["rows"][0] else row["policy"]
        print(f"| {s} | {name} | {row['mean_machines']:.2f} | {row['machine_hours']:.1f} | "
              f"{ms(row['mean_rtt_ms'])} | {ms(row['p95_rtt_ms'])} | {row['spilled_requests']:.0f} | "
              f"{row['overloaded_requests']:.0f} | {100 * row['overloaded_share']:.2f} |")
PY
