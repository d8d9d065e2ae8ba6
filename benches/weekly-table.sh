#!/usr/bin/env bash
# Backtests the latency policy on the weekly scenarios (business-hours,
# weekly-growth, pattern-stops) with machine start-up modelled, and prints
# the Markdown tables kept in BENCHMARKS.md: quality against the oracle at
# equal machine-hours, then the mean machine count per hour of the week on
# business-hours.
# Usage: benches/weekly-table.sh [hours] [seed] [startup-ticks]
set -euo pipefail
cd "$(dirname "$0")/.."
hours=${1:-336}
seed=${2:-42}
startup=${3:-3}
cargo build -q -p placer-cli
bin=target/debug/fly-placer
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf 'dry_run: true\npolicy: latency\nlatency:\n  min_region_saving: 0\n' > "$work/relative.yml"
printf 'dry_run: true\npolicy: latency\n' > "$work/latency.yml"
printf 'dry_run: true\n' > "$work/threshold.yml"
scenarios="business-hours weekly-growth pattern-stops"
for scenario in $scenarios; do
  "$bin" gen-trace --scenario "$scenario" --hours "$hours" --seed "$seed" --out "$work/$scenario.csv" >/dev/null
  for config in threshold relative latency; do
    "$bin" backtest --trace "$work/$scenario.csv" --config "$work/$config.yml" --startup-ticks "$startup" \
      --decisions "$work/$scenario-$config.jsonl" --json > "$work/$scenario-$config.json" 2>/dev/null
  done
done
python3 - "$work" $scenarios <<'PY'
import json, sys
from collections import defaultdict
from datetime import datetime
work, scenarios = sys.argv[1], sys.argv[2:]
names = {"threshold": "threshold", "relative": "latency, min_region_saving 0", "latency": "latency (default)"}
print("| scenario | policy | mean regions | mean RTT ms | machine-h | flaps | oracle-equal-mh ms | ratio to it | seed RTT ms | seed machine-h |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for s in scenarios:
    for config in ["threshold", "relative", "latency"]:
        r = json.load(open(f"{work}/{s}-{config}.json"))
        rows = {row["policy"]: row for row in r["rows"]}
        me = r["rows"][0]
        print(f"| {s} | {names[config]} | {me['mean_regions']:.2f} | {me['mean_rtt_ms']:.2f} | {me['machine_hours']:.1f} | "
              f"{me['flaps']} | {rows['oracle-equal-mh']['mean_rtt_ms']:.2f} | {r['ratio_to_oracle']:.3f} | "
              f"{rows['seed']['mean_rtt_ms']:.2f} | {rows['seed']['machine_hours']:.1f} |")
days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
for config in ["relative", "latency"]:
    counts = defaultdict(list)
    for line in open(f"{work}/business-hours-{config}.jsonl"):
        d = json.loads(line)
        t = datetime.strptime(d["t"], "%Y-%m-%dT%H:%M:%SZ")
        counts[(t.weekday(), t.hour)].append(len(d["deployed"]))
    print()
    print(f"Machines deployed on business-hours, {names[config]}: mean per hour of the week (UTC)")
    print()
    print("| day | " + " | ".join(f"{h:02d}" for h in range(24)) + " |")
    print("| --- |" + " ---: |" * 24)
    for day in range(7):
        cells = [counts.get((day, h)) for h in range(24)]
        print(f"| {days[day]} | " + " | ".join("-" if not c else f"{sum(c)/len(c):.1f}" for c in cells) + " |")
PY
