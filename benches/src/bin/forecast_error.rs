//! Compares forecasting methods on the generated scenarios: the error of
//! each method's forecast for the traffic `lead` minutes ahead, measured
//! after a warm-up, as the weighted absolute percentage error (the sum of
//! absolute misses over the sum of traffic, every region and tick).
//!
//! Methods: `seasonal` (the engine's built-in forecaster), `holt-winters`
//! (level × hour-of-day index × day-of-week index, each smoothed every
//! tick, the two-season multiplicative form), `last-week` (the same minute
//! a week earlier) and `persistence` (the latest observation: what a
//! reactive policy plans with).
//!
//! Usage: `cargo run -p placer-benches --bin forecast_error -- DAYS WARM_UP_DAYS LEAD_MINUTES SEED`
//! (defaults 21, 7, 4, 42).

use std::collections::BTreeMap;
use std::time::Duration;

use placer_core::forecast::{Forecaster, SeasonalForecaster};
use placer_core::Region;
use placer_lab::scenario::{self, Scenario};

/// The two-season multiplicative Holt-Winters form on hourly and daily
/// indices, per region.
#[derive(Clone)]
struct HoltWinters {
    level: f64,
    hour: [f64; 24],
    weekday: [f64; 7],
    seen: bool,
}

const ALPHA: f64 = 0.02;
const GAMMA: f64 = 0.05;
const DELTA: f64 = 0.01;
const FLOOR: f64 = 0.5;

impl HoltWinters {
    fn new() -> Self {
        HoltWinters {
            level: 0.0,
            hour: [1.0; 24],
            weekday: [1.0; 7],
            seen: false,
        }
    }

    fn indices(secs: i64) -> (usize, usize) {
        let hour = (secs.rem_euclid(86_400) / 3600) as usize;
        let weekday = (secs.div_euclid(86_400) + 3).rem_euclid(7) as usize;
        (hour, weekday)
    }

    fn forecast(&self, secs: i64) -> f64 {
        let (h, d) = Self::indices(secs);
        self.level * self.hour[h] * self.weekday[d]
    }

    fn learn(&mut self, secs: i64, y: f64) {
        let (h, d) = Self::indices(secs);
        let y = y + FLOOR;
        if !self.seen {
            self.level = y;
            self.seen = true;
            return;
        }
        let level = ALPHA * y / (self.hour[h] * self.weekday[d]) + (1.0 - ALPHA) * self.level;
        self.hour[h] = GAMMA * y / (level * self.weekday[d]) + (1.0 - GAMMA) * self.hour[h];
        self.weekday[d] = DELTA * y / (level * self.hour[h]) + (1.0 - DELTA) * self.weekday[d];
        self.level = level;
    }
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|arg| arg.parse().expect("numbers"))
        .collect();
    let days = args.first().copied().unwrap_or(21);
    let warm_up_days = args.get(1).copied().unwrap_or(7);
    let lead = args.get(2).copied().unwrap_or(4) as usize;
    let seed = args.get(3).copied().unwrap_or(42);
    println!("| scenario | seasonal | holt-winters | last-week | persistence |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for scenario in Scenario::ALL {
        let trace = scenario::generate(
            scenario,
            Duration::from_secs(days * 24 * 3600),
            seed,
            scenario::DEFAULT_STEP,
        )
        .expect("a trace");
        let ticks = trace.ticks();
        let regions: Vec<Region> = {
            let mut all: Vec<Region> = ticks
                .iter()
                .flat_map(|t| t.iter().map(|(r, _)| *r))
                .collect();
            all.sort();
            all.dedup();
            all
        };
        let week = 7 * 24 * 60;
        let warm_up = (warm_up_days * 24 * 60) as usize;
        let mut seasonal = SeasonalForecaster::new(Duration::from_secs(3600));
        let mut holt: BTreeMap<Region, HoltWinters> =
            regions.iter().map(|r| (*r, HoltWinters::new())).collect();
        let mut misses = [0.0f64; 4];
        let mut total = 0.0;
        for (index, snapshot) in ticks.iter().enumerate() {
            seasonal.learn(snapshot);
            let secs = snapshot.at().unix_seconds();
            for region in &regions {
                holt.get_mut(region)
                    .unwrap()
                    .learn(secs, snapshot.requests(region));
            }
            let target = index + lead;
            if index < warm_up || target >= ticks.len() {
                continue;
            }
            let future = &ticks[target];
            for region in &regions {
                let actual = future.requests(region);
                let at = future.at();
                let guesses = [
                    seasonal
                        .peak(region, at, at)
                        .map_or(snapshot.requests(region), |f| f.expected),
                    (holt[region].forecast(at.unix_seconds()) - FLOOR).max(0.0),
                    if target >= week {
                        ticks[target - week].requests(region)
                    } else {
                        snapshot.requests(region)
                    },
                    snapshot.requests(region),
                ];
                for (miss, guess) in misses.iter_mut().zip(guesses) {
                    *miss += (actual - guess).abs();
                }
                total += actual;
            }
        }
        let wape = |miss: f64| 100.0 * miss / total.max(f64::MIN_POSITIVE);
        println!(
            "| {scenario} | {:.1} % | {:.1} % | {:.1} % | {:.1} % |",
            wape(misses[0]),
            wape(misses[1]),
            wape(misses[2]),
            wape(misses[3])
        );
    }
}
