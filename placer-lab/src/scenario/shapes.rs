//! The demand shape of each scenario: which regions, how much traffic each
//! expects at each moment, and how noisy it is.

use std::f64::consts::TAU;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::{Clock, Demand, Moment, Scenario};
use placer_core::{network::geo, Region};

pub(super) fn demand(scenario: Scenario, clock: &Clock, rng: &mut ChaCha8Rng) -> Demand {
    match scenario {
        Scenario::FollowTheSun => follow_the_sun(rng),
        Scenario::FlashCrowd => flash_crowd(clock, rng),
        Scenario::NoisySteady => noisy_steady(rng),
        Scenario::RegionShift => region_shift(rng),
        Scenario::SteadyHighUndeployed => steady_high_undeployed(rng),
        Scenario::LongTail => long_tail(rng),
        Scenario::BusinessHours => business_hours(rng),
        Scenario::WeeklyGrowth => weekly_growth(rng),
        Scenario::PatternStops => pattern_stops(clock, rng),
        Scenario::EdgeOnly => edge_only(rng),
    }
}

/// Where a typical app starts out, and the region the "undeployed"
/// scenarios keep their demand away from.
const HOME: &str = "iad";

fn home() -> Region {
    Region::new(HOME).expect("valid region code")
}

fn all_regions() -> Vec<Region> {
    geo::catalog().iter().map(|info| info.code).collect()
}

fn longitude(region: &Region) -> f64 {
    geo::region_info(region).map_or(0.0, |info| info.longitude)
}

/// Fisher–Yates, written out so the order depends only on the generator.
fn shuffle<T>(items: &mut [T], rng: &mut ChaCha8Rng) {
    for i in (1..items.len()).rev() {
        let j = rng.random_range(0..=i);
        items.swap(i, j);
    }
}

/// Share of a region's peak at `local_hour`: 1 at 15:00, 5 % at 03:00, with
/// a narrow daytime bump.
fn daily_curve(local_hour: f64) -> f64 {
    let bump = (1.0 + (TAU * (local_hour - 15.0) / 24.0).cos()) / 2.0;
    0.05 + 0.95 * bump.powi(3)
}

fn follow_the_sun(rng: &mut ChaCha8Rng) -> Demand {
    let regions = all_regions();
    // Squaring skews sizes: a few big regions, many modest ones.
    let peaks: Vec<f64> = regions
        .iter()
        .map(|_| 30.0 + 220.0 * rng.random::<f64>().powi(2))
        .collect();
    let offsets: Vec<f64> = regions.iter().map(|r| longitude(r) / 15.0).collect();
    Demand {
        regions,
        noise: 0.1,
        mean: Box::new(move |region, moment: &Moment| {
            let local_hour = (moment.utc_hour + offsets[region]).rem_euclid(24.0);
            peaks[region] * daily_curve(local_hour)
        }),
    }
}

/// One sudden crowd: a linear rise, a plateau, then exponential decay.
struct Crowd {
    region: usize,
    start_minute: f64,
    hold_minutes: f64,
    peak: f64,
}

const CROWD_RISE_MINUTES: f64 = 3.0;
const CROWD_HALF_LIFE_MINUTES: f64 = 10.0;

impl Crowd {
    fn requests(&self, minute: f64) -> f64 {
        let since = minute - self.start_minute;
        if since < 0.0 {
            0.0
        } else if since < CROWD_RISE_MINUTES {
            self.peak * since / CROWD_RISE_MINUTES
        } else if since < CROWD_RISE_MINUTES + self.hold_minutes {
            self.peak
        } else {
            let fading = since - CROWD_RISE_MINUTES - self.hold_minutes;
            self.peak * 0.5f64.powf(fading / CROWD_HALF_LIFE_MINUTES)
        }
    }
}

fn flash_crowd(clock: &Clock, rng: &mut ChaCha8Rng) -> Demand {
    let regions = all_regions();
    let base: Vec<f64> = regions
        .iter()
        .map(|region| match region.as_str() {
            "iad" => 80.0,
            "fra" => 30.0,
            _ => 1.0 + 3.0 * rng.random::<f64>(),
        })
        .collect();
    let crowd_regions: Vec<usize> = (0..regions.len())
        .filter(|&i| !matches!(regions[i].as_str(), "iad" | "fra"))
        .collect();
    let total = clock.total_minutes();
    let count = ((total / (8.0 * 60.0)).round() as usize).max(1);
    let crowds: Vec<Crowd> = (0..count)
        .map(|_| Crowd {
            region: crowd_regions[rng.random_range(0..crowd_regions.len())],
            start_minute: total * rng.random_range(0.1..0.8),
            hold_minutes: rng.random_range(15.0..45.0),
            peak: rng.random_range(300.0..800.0),
        })
        .collect();
    Demand {
        regions,
        noise: 0.1,
        mean: Box::new(move |region, moment: &Moment| {
            let crowd: f64 = crowds
                .iter()
                .filter(|crowd| crowd.region == region)
                .map(|crowd| crowd.requests(moment.minutes))
                .sum();
            base[region] + crowd
        }),
    }
}

fn noisy_steady(rng: &mut ChaCha8Rng) -> Demand {
    let mut others: Vec<Region> = all_regions()
        .into_iter()
        .filter(|r| r.as_str() != HOME)
        .collect();
    shuffle(&mut others, rng);
    let mut regions = vec![home()];
    regions.extend(others.into_iter().take(7));
    let means: Vec<f64> = (0..regions.len())
        .map(|i| {
            if i < 4 {
                rng.random_range(42.0..58.0)
            } else {
                rng.random_range(7.0..13.0)
            }
        })
        .collect();
    Demand {
        regions,
        noise: 0.4,
        mean: Box::new(move |region, _: &Moment| means[region]),
    }
}

/// The three continent-sized bands demand moves between, by longitude.
fn band(region: &Region) -> usize {
    match longitude(region) {
        lon if lon < -30.0 => 0, // the Americas
        lon if lon < 60.0 => 1,  // Europe and Africa
        _ => 2,                  // Asia and Oceania
    }
}

/// Total requests per tick in the region-shift scenario.
const SHIFTING_TOTAL: f64 = 400.0;

fn region_shift(rng: &mut ChaCha8Rng) -> Demand {
    let regions = all_regions();
    let mut order = [0usize, 1, 2];
    shuffle(&mut order, rng);
    // Position of each band in the migration: 0 first, 2 last.
    let mut stage = [0usize; 3];
    for (position, &band) in order.iter().enumerate() {
        stage[band] = position;
    }
    let raw: Vec<f64> = regions.iter().map(|_| 0.2 + rng.random::<f64>()).collect();
    let mut band_sums = [0.0; 3];
    for (region, weight) in regions.iter().zip(&raw) {
        band_sums[band(region)] += weight;
    }
    let shares: Vec<(usize, f64)> = regions
        .iter()
        .zip(&raw)
        .map(|(region, weight)| (stage[band(region)], weight / band_sums[band(region)]))
        .collect();
    Demand {
        regions,
        noise: 0.1,
        mean: Box::new(move |region, moment: &Moment| {
            let (stage, share) = shares[region];
            // Each stage peaks at progress 0, 0.5 and 1 and hands over to the
            // next linearly.
            let centre = stage as f64 / 2.0;
            let weight = (1.0 - 2.0 * (moment.progress - centre).abs()).max(0.0);
            SHIFTING_TOTAL * weight * share
        }),
    }
}

/// How far from `iad` the steady-high-undeployed demand is, at least.
pub(super) const UNDEPLOYED_MIN_KM: f64 = 3_000.0;

fn steady_high_undeployed(rng: &mut ChaCha8Rng) -> Demand {
    let home = home();
    let mut far: Vec<Region> = all_regions()
        .into_iter()
        .filter(|r| geo::distance_km(&home, r).is_some_and(|km| km >= UNDEPLOYED_MIN_KM))
        .collect();
    shuffle(&mut far, rng);
    let mut regions = vec![home];
    regions.extend(far.into_iter().take(4));
    let levels: Vec<f64> = (0..regions.len())
        .map(|i| {
            if i == 0 {
                20.0
            } else {
                rng.random_range(120.0..250.0)
            }
        })
        .collect();
    Demand {
        regions,
        noise: 0.03,
        mean: Box::new(move |region, _: &Moment| levels[region]),
    }
}

/// The edge regions the edge-only demand enters at.
pub(super) const EDGE_ONLY: [&str; 5] = ["gig", "hkg", "mad", "sea", "waw"];

fn edge_only(rng: &mut ChaCha8Rng) -> Demand {
    let regions: Vec<Region> = EDGE_ONLY
        .iter()
        .map(|code| Region::new(code).expect("valid region code"))
        .collect();
    let levels: Vec<f64> = regions
        .iter()
        .map(|_| rng.random_range(60.0..200.0))
        .collect();
    Demand {
        regions,
        noise: 0.05,
        mean: Box::new(move |region, _: &Moment| levels[region]),
    }
}

fn long_tail(rng: &mut ChaCha8Rng) -> Demand {
    let regions = all_regions();
    let mut ranks: Vec<usize> = (0..regions.len()).collect();
    shuffle(&mut ranks, rng);
    let means: Vec<f64> = ranks
        .iter()
        .map(|&rank| 120.0 / ((rank + 1) as f64).powf(1.1))
        .collect();
    Demand {
        regions,
        noise: 0.3,
        mean: Box::new(move |region, _: &Moment| means[region]),
    }
}

/// The metros of the business-hours scenarios: region, UTC offset of its
/// office hours in hours (no daylight saving), and weekday peak in
/// requests per tick.
const OFFICES: [(&str, f64, f64); 8] = [
    ("sjc", -8.0, 160.0),
    ("iad", -5.0, 240.0),
    ("gru", -3.0, 70.0),
    ("lhr", 0.0, 200.0),
    ("fra", 1.0, 150.0),
    ("bom", 5.5, 90.0),
    ("sin", 8.0, 110.0),
    ("nrt", 9.0, 140.0),
];

/// A weekday's share of the peak at `local_hour`: 3 % at night, a steep
/// ramp from 07:45 to 09:00, a plateau, and a drop from 17:00 to 18:30.
fn office_curve(local_hour: f64) -> f64 {
    let rise = smoothstep((local_hour - 7.75) / 1.25);
    let fall = 1.0 - smoothstep((local_hour - 17.0) / 1.5);
    0.03 + 0.97 * rise.min(fall)
}

/// 0 below 0, 1 above 1, a smooth S between.
fn smoothstep(x: f64) -> f64 {
    let x = x.clamp(0.0, 1.0);
    x * x * (3.0 - 2.0 * x)
}

/// A weekend tick's share of the peak: 4 % of a weekday's mean, spread
/// evenly over the day.
const WEEKEND_SHARE: f64 = 0.04 * OFFICE_DAY_MEAN;

/// Share of `peak` in an office `offset` hours from UTC at `moment`: the
/// office curve on its local weekdays, a flat trickle on its weekends.
fn office_hours(moment: &Moment, offset: f64) -> f64 {
    let local_minutes = moment.minutes + offset * 60.0;
    let day = (local_minutes / MINUTES_PER_DAY).floor() as i64;
    // Traces start on a Monday at 00:00 UTC: day 0 is a Monday, day -1
    // the Sunday before.
    let weekday = day.rem_euclid(7);
    if weekday >= 5 {
        WEEKEND_SHARE
    } else {
        let local_hour = (local_minutes - day as f64 * MINUTES_PER_DAY) / 60.0;
        office_curve(local_hour)
    }
}

const MINUTES_PER_DAY: f64 = 24.0 * 60.0;

/// The offices of a business-hours trace: regions, peaks (each within
/// 20 % of its nominal peak, by seed) and UTC offsets.
fn offices(rng: &mut ChaCha8Rng) -> (Vec<Region>, Vec<f64>, Vec<f64>) {
    let regions = OFFICES
        .iter()
        .map(|(code, _, _)| code.parse().expect("valid region code"))
        .collect();
    let peaks = OFFICES
        .iter()
        .map(|(_, _, peak)| peak * rng.random_range(0.8..1.2))
        .collect();
    let offsets = OFFICES.iter().map(|(_, offset, _)| *offset).collect();
    (regions, peaks, offsets)
}

fn business_hours(rng: &mut ChaCha8Rng) -> Demand {
    let (regions, peaks, offsets) = offices(rng);
    Demand {
        regions,
        noise: 0.1,
        mean: Box::new(move |region, moment: &Moment| {
            peaks[region] * office_hours(moment, offsets[region])
        }),
    }
}

/// Growth of the weekly-growth scenario per week (0.1 = 10 %).
const WEEKLY_GROWTH: f64 = 0.1;

fn weekly_growth(rng: &mut ChaCha8Rng) -> Demand {
    let (regions, peaks, offsets) = offices(rng);
    Demand {
        regions,
        noise: 0.1,
        mean: Box::new(move |region, moment: &Moment| {
            let weeks = moment.minutes / (7.0 * MINUTES_PER_DAY);
            let growth = (1.0 + WEEKLY_GROWTH).powf(weeks);
            peaks[region] * office_hours(moment, offsets[region]) * growth
        }),
    }
}

/// A weekday's mean share of the peak under [`office_curve`].
const OFFICE_DAY_MEAN: f64 = 0.41;

fn pattern_stops(clock: &Clock, rng: &mut ChaCha8Rng) -> Demand {
    let (regions, peaks, offsets) = offices(rng);
    let stop = clock.total_minutes() / 2.0;
    Demand {
        regions,
        noise: 0.1,
        mean: Box::new(move |region, moment: &Moment| {
            let share = if moment.minutes < stop {
                office_hours(moment, offsets[region])
            } else {
                OFFICE_DAY_MEAN
            };
            peaks[region] * share
        }),
    }
}
