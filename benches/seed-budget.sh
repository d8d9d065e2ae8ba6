#!/usr/bin/env bash
# Compares the latency policy with the seed rule at the seed's machine-hours
# on every generated scenario, and prints the Markdown table kept in
# BENCHMARKS.md.
#
# For each scenario a bisection over latency.region_cost_ms (log scale,
# 0.1 to 1000 ms, 10 steps, like placer-lab/tests/latency_targets.rs)
# finds the cheapest setting whose machine-hours do not exceed the seed's.
# The "frontier" column interpolates between that run and the last one over
# the seed's figure: the mean RTT of alternating the two settings so that
# the machine-hours match the seed's exactly. The "budget" column is one
# run with the seed's machine-hours as latency.budget (one period over the
# whole trace, from one tick before its first) and region_cost_ms 1.
#
# Usage: benches/seed-budget.sh [hours] [seed]
set -euo pipefail
cd "$(dirname "$0")/.."
hours=${1:-24}
seed=${2:-42}
cargo build --release -q -p placer-cli
bin=$PWD/target/release/fly-placer
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for scenario in follow-the-sun flash-crowd noisy-steady region-shift steady-high-undeployed long-tail; do
  "$bin" gen-trace --scenario "$scenario" --hours "$hours" --seed "$seed" --out "$work/$scenario.csv" >/dev/null 2>&1
done
python3 - "$work" "$bin" <<'PY'
import json, math, subprocess, sys
from datetime import datetime
work, binary = sys.argv[1], sys.argv[2]
scenarios = ["follow-the-sun", "flash-crowd", "noisy-steady", "region-shift",
             "steady-high-undeployed", "long-tail"]

def run(scenario, cost, budget=None):
    config = f"{work}/cost.yml"
    with open(config, "w") as f:
        f.write(f"dry_run: true\npolicy: latency\nlatency:\n  region_cost_ms: {cost!r}\n")
        if budget is not None:
            hours, period, starts = budget
            f.write(f"  budget:\n    machine_hours: {hours!r}\n    period: {period}\n"
                    f"    starts: {starts}\n")
    out = subprocess.run([binary, "backtest", "--trace", f"{work}/{scenario}.csv",
                          "--config", config, "--data-dir", f"{work}/data", "--json"],
                         check=True, capture_output=True, text=True).stdout
    rows = {row["policy"]: row for row in json.loads(out)["rows"]}
    return json.loads(out)["rows"][0], rows["seed"]

def budget_for(scenario, hours):
    # One period over the whole trace, starting one tick before its first:
    # the intervals the report counts.
    with open(f"{work}/{scenario}.csv") as f:
        stamps = sorted({line.split(",")[0] for line in f.readlines()[1:]})
    first, second = (datetime.fromisoformat(s.replace("Z", "+00:00")) for s in stamps[:2])
    tick = second - first
    starts = (first - tick).strftime("%Y-%m-%dT%H:%M:%SZ")
    return hours, f"{int(tick.total_seconds()) * len(stamps)}s", starts

def verdict(rtt, seed_rtt):
    gap = rtt - seed_rtt
    return "tie" if abs(gap) < 0.005 else ("better" if gap < 0 else "**worse**")

print("| scenario | seed: mean RTT / machine-h | priced: mean RTT / machine-h (region_cost_ms) | frontier | | budget = seed's: mean RTT / machine-h | |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for scenario in scenarios:
    _, seed_row = run(scenario, 5.0)
    budget, seed_rtt = seed_row["machine_hours"], seed_row["mean_rtt_ms"]
    low, high = 0.1, 1000.0
    under = over = None
    for _ in range(10):
        cost = math.sqrt(low * high)
        ours, _ = run(scenario, cost)
        if ours["machine_hours"] <= budget:
            under, high = (cost, ours), cost
        else:
            over, low = (cost, ours), cost
    cost, ours = under
    frontier = ours["mean_rtt_ms"]
    if over is not None:
        h1, r1 = ours["machine_hours"], ours["mean_rtt_ms"]
        h2, r2 = over[1]["machine_hours"], over[1]["mean_rtt_ms"]
        frontier = r1 + (budget - h1) / (h2 - h1) * (r2 - r1)
    spent, _ = run(scenario, 1.0, budget_for(scenario, budget))
    print(f"| {scenario} | {seed_rtt:.2f} ms / {budget:.2f} | {ours['mean_rtt_ms']:.2f} ms / "
          f"{ours['machine_hours']:.2f} ({cost:.1f}) | {frontier:.2f} ms | "
          f"{verdict(ours['mean_rtt_ms'], seed_rtt)} | {spent['mean_rtt_ms']:.2f} ms / "
          f"{spent['machine_hours']:.2f} | {verdict(spent['mean_rtt_ms'], seed_rtt)} |")
PY
