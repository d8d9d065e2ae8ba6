#!/usr/bin/env bash
# Backtests the latency policy under each way of setting the region price on
# every built-in scenario (48 hours, the weekly ones 336 hours) and on a
# three-week business-hours trace scored on its last week (--warm-up 14d),
# and prints the Markdown table kept in BENCHMARKS.md: mean RTT against the
# oracle at equal machine-hours, flaps, and spend against a weekly budget.
# Usage: benches/price-table.sh [seed] [startup-ticks] [price_ms values...]
# BIN=path/to/fly-placer uses that binary (a release build is much faster
# on the weekly traces); by default the dev build.
set -euo pipefail
cd "$(dirname "$0")/.."
seed=${1:-7}
startup=${2:-3}
shift 2 || true
prices=${*:-"2 5 10 20"}
if [ -z "${BIN:-}" ]; then
  cargo build -q -p placer-cli
  BIN=target/debug/fly-placer
fi
work=${WORK:-$(mktemp -d)}
mkdir -p "$work"
printf 'dry_run: true\npolicy: latency\n' > "$work/legacy.yml"
configs="legacy"
for p in $prices; do
  printf 'dry_run: true\npolicy: latency\nlatency:\n  price_ms: %s\n' "$p" > "$work/price-$p.yml"
  configs="$configs price-$p"
done
scenarios="follow-the-sun flash-crowd noisy-steady region-shift steady-high-undeployed long-tail edge-only business-hours weekly-growth pattern-stops three-weeks"
run() { # scenario config extra...
  local s=$1 c=$2; shift 2
  [ -s "$work/$s-$c.json" ] || "$BIN" backtest --trace "$work/$s.csv" --config "$work/$c.yml" \
    --startup-ticks "$startup" --json "$@" > "$work/$s-$c.json" 2>/dev/null
}
for s in $scenarios; do
  case $s in
    business-hours|weekly-growth|pattern-stops) args=(--scenario "$s" --hours 336) ;;
    three-weeks) args=(--scenario business-hours --hours 504 --step 5m) ;;
    *) args=(--scenario "$s" --hours 48) ;;
  esac
  warm=(); [ "$s" = three-weeks ] && warm=(--warm-up 14d)
  [ -s "$work/$s.csv" ] || "$BIN" gen-trace "${args[@]}" --seed "$seed" --out "$work/$s.csv" >/dev/null
  for c in $configs; do run "$s" "$c" "${warm[@]}"; done
  # A budget of the legacy run's machine-hours per period (the trace's two
  # days, or a week), spent by the price that spends it.
  period=604800; case $s in business-hours|weekly-growth|pattern-stops|three-weeks) ;; *) period=172800;; esac
  hours=$(python3 -c "import json; r=json.load(open('$work/$s-legacy.json')); print(r['rows'][0]['machine_hours']*$period/(r['ticks']*r['tick_seconds']))")
  printf 'dry_run: true\npolicy: latency\nlatency:\n  budget:\n    machine_hours: %s\n    period: %ss\n    starts: 2026-01-05T00:00:00Z\n' "$hours" "$period" > "$work/budget-$s.yml"
  run "$s" "budget-$s" "${warm[@]}"
done
python3 - "$work" "$configs" $scenarios <<'PY'
import json, sys
work, configs, scenarios = sys.argv[1], sys.argv[2].split(), sys.argv[3:]
print("| scenario | " + " | ".join(c.replace("price-", "price_ms ") for c in configs) + " | budget of the legacy machine-hours: ratio, spend / budget |")
print("| --- |" + " ---: |" * (len(configs) + 1))
for s in scenarios:
    cells = []
    for c in configs:
        r = json.load(open(f"{work}/{s}-{c}.json"))
        me = r["rows"][0]
        cells.append(f"{r['ratio_to_oracle']:.3f} ({me['machine_hours']:.0f} mh, {me['flaps']} fl)")
    r = json.load(open(f"{work}/{s}-budget-{s}.json"))
    me = r["rows"][0]
    legacy = json.load(open(f"{work}/{s}-legacy.json"))["rows"][0]
    cells.append(f"{r['ratio_to_oracle']:.3f}, {me['machine_hours'] / legacy['machine_hours']:.3f} ({me['flaps']} fl)")
    print(f"| {s} | " + " | ".join(cells) + " |")
PY
