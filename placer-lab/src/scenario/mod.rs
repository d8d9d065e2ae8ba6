//! Synthetic traffic traces for backtests: ten named scenarios, each
//! generated deterministically from a seed.
//!
//! Values are requests per tick as a metrics source would report them, in
//! the range where the default thresholds (deploy at 50, remove at 10) make
//! decisions interesting. Every region a scenario involves gets a row at
//! every tick, zeros included. Traces start at [`SCENARIO_START`], a Monday
//! at 00:00 UTC, so time of day is easy to read off the timestamps.
//!
//! The same scenario, length, seed and step always give the same trace, on
//! any machine: the generator is ChaCha8 seeded with the seed, and counts
//! are rounded to whole requests.
//!
//! ```
//! use std::time::Duration;
//! use placer_lab::scenario::{generate, Scenario, DEFAULT_STEP};
//!
//! let scenario: Scenario = "flash-crowd".parse().unwrap();
//! let day = Duration::from_secs(24 * 3600);
//! let trace = generate(scenario, day, 7, DEFAULT_STEP).unwrap();
//! assert_eq!(trace.len(), 1440);
//! assert_eq!(trace, generate(scenario, day, 7, DEFAULT_STEP).unwrap());
//! ```

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use placer_core::{Region, Timestamp, TrafficSnapshot};

use crate::Trace;

mod shapes;
#[cfg(test)]
mod tests;

/// Time between ticks unless the caller asks otherwise.
pub const DEFAULT_STEP: Duration = Duration::from_secs(60);

/// Most ticks one trace may have (a year of one-minute ticks fits).
pub const MAX_TICKS: usize = 1_000_000;

/// When every generated trace starts: Monday 2026-01-05 00:00:00 UTC.
pub const SCENARIO_START: Timestamp = Timestamp::from_unix_seconds(1_767_571_200);

/// A named traffic pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scenario {
    /// Every catalogued region, each with a daily curve that peaks in its
    /// mid-afternoon local solar time (from its longitude) and is nearly idle
    /// at night: demand follows the sun around the world.
    FollowTheSun,
    /// Steady traffic in `iad` and `fra`, plus sudden crowds (300–800
    /// requests per tick within minutes, lasting 15–45 minutes, then fading)
    /// in other regions, about one per 8 hours.
    FlashCrowd,
    /// Eight regions whose averages sit near the thresholds (four near 50,
    /// `iad` among them, four near 10) with heavy noise (40 % standard
    /// deviation): a policy that chases noise flaps here.
    NoisySteady,
    /// About 400 requests per tick that migrate from one continent to the
    /// next and then the last over the trace (Americas, Europe/Africa and
    /// Asia/Pacific, in a seeded order), spread unevenly over each
    /// continent's regions.
    RegionShift,
    /// Flat, high traffic (120–250 per tick, 3 % noise) in four regions at
    /// least 3,000 km from `iad`, and a little (20) in `iad`: with the usual
    /// initial set `iad`, the demand sits where nothing is deployed and never
    /// trends, so a trend-based rule never reacts.
    SteadyHighUndeployed,
    /// Every catalogued region with Zipf-like demand: about 120 in the
    /// busiest, most regions below 10, so each region alone is small while
    /// together they are large.
    LongTail,
    /// Weekday office hours in eight metros far apart (`sjc`, `iad`, `gru`,
    /// `lhr`, `fra`, `bom`, `sin`, `nrt`), each in its own time zone: 3 % of
    /// the peak at night, a steep ramp from 07:45 to 09:00 local time, a
    /// plateau and a drop from 17:00 to 18:30; weekends carry 4 % of a
    /// weekday's traffic, spread evenly. Traffic that repeats every week.
    BusinessHours,
    /// The business-hours week, growing by 10 % a week.
    WeeklyGrowth,
    /// The business-hours week for the first half of the trace; then every
    /// office's traffic stays flat at its weekday mean, day and night, every
    /// day: a weekly pattern that stops.
    PatternStops,
    /// Traffic that enters Fly only at edge regions, where the platform
    /// runs no machines (`mad`, `gig`, `waw`, `hkg` and `sea`: steady,
    /// 60–200 per tick with 5 % noise): every request must be served from
    /// another region, the nearest one that takes machines.
    EdgeOnly,
}

impl Scenario {
    /// Every scenario, in documentation order.
    pub const ALL: [Scenario; 10] = [
        Scenario::FollowTheSun,
        Scenario::FlashCrowd,
        Scenario::NoisySteady,
        Scenario::RegionShift,
        Scenario::SteadyHighUndeployed,
        Scenario::LongTail,
        Scenario::BusinessHours,
        Scenario::WeeklyGrowth,
        Scenario::PatternStops,
        Scenario::EdgeOnly,
    ];

    /// The six scenarios of one day's shapes (everything but the weekly
    /// ones), on which the policies' first targets were set.
    pub const DAILY: [Scenario; 6] = [
        Scenario::FollowTheSun,
        Scenario::FlashCrowd,
        Scenario::NoisySteady,
        Scenario::RegionShift,
        Scenario::SteadyHighUndeployed,
        Scenario::LongTail,
    ];

    /// The scenarios whose traffic repeats week by week (and their
    /// variations): business hours, with growth, and the pattern that stops.
    pub const WEEKLY: [Scenario; 3] = [
        Scenario::BusinessHours,
        Scenario::WeeklyGrowth,
        Scenario::PatternStops,
    ];

    /// The scenario's name, as accepted by [`FromStr`].
    pub const fn name(self) -> &'static str {
        match self {
            Scenario::FollowTheSun => "follow-the-sun",
            Scenario::FlashCrowd => "flash-crowd",
            Scenario::NoisySteady => "noisy-steady",
            Scenario::RegionShift => "region-shift",
            Scenario::SteadyHighUndeployed => "steady-high-undeployed",
            Scenario::LongTail => "long-tail",
            Scenario::BusinessHours => "business-hours",
            Scenario::WeeklyGrowth => "weekly-growth",
            Scenario::PatternStops => "pattern-stops",
            Scenario::EdgeOnly => "edge-only",
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A scenario name that is not one of [`Scenario::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scenario {name:?}; valid scenarios: {}", valid_names())]
pub struct UnknownScenario {
    /// The rejected name.
    pub name: String,
}

fn valid_names() -> String {
    Scenario::ALL.map(Scenario::name).join(", ")
}

impl FromStr for Scenario {
    type Err = UnknownScenario;
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Scenario::ALL
            .into_iter()
            .find(|scenario| scenario.name() == name.trim())
            .ok_or_else(|| UnknownScenario {
                name: name.to_owned(),
            })
    }
}

/// Why a trace could not be generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenerateError {
    /// The step between ticks is shorter than the timestamps' precision.
    #[error("the step between ticks must be at least 1 ms (timestamps have millisecond precision), not {step:?}")]
    StepTooShort {
        /// Requested step.
        step: Duration,
    },
    /// The requested length holds no tick.
    #[error("a trace of {length:?} is shorter than one step of {step:?}")]
    TooShort {
        /// Requested length.
        length: Duration,
        /// Requested step.
        step: Duration,
    },
    /// The requested length holds too many ticks.
    #[error("a trace of {length:?} in steps of {step:?} has more than {MAX_TICKS} ticks")]
    TooLong {
        /// Requested length.
        length: Duration,
        /// Requested step.
        step: Duration,
    },
}

/// Generates `length` of `scenario` traffic in ticks `step` apart (the
/// number of ticks is `length / step`, rounded down), from `seed`.
///
/// # Errors
/// [`GenerateError`] when `step` is under a millisecond, or `length` holds
/// no tick or more than [`MAX_TICKS`].
pub fn generate(
    scenario: Scenario,
    length: Duration,
    seed: u64,
    step: Duration,
) -> Result<Trace, GenerateError> {
    if step < Duration::from_millis(1) {
        return Err(GenerateError::StepTooShort { step });
    }
    let ticks = length.as_nanos() / step.as_nanos();
    if ticks == 0 {
        return Err(GenerateError::TooShort { length, step });
    }
    let ticks = usize::try_from(ticks)
        .ok()
        .filter(|&ticks| ticks <= MAX_TICKS)
        .ok_or(GenerateError::TooLong { length, step })?;

    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let clock = Clock { step, ticks };
    let demand = shapes::demand(scenario, &clock, &mut rng);
    let snapshots = (0..ticks)
        .map(|index| {
            let moment = clock.moment(index);
            let counts: Vec<(&Region, f64)> = demand
                .regions
                .iter()
                .enumerate()
                .map(|(region, code)| {
                    let mean = (demand.mean)(region, &moment);
                    (code, noisy_count(mean, demand.noise, &mut rng))
                })
                .collect();
            TrafficSnapshot::new(moment.at, counts)
                .expect("generated counts are finite and non-negative, regions unique")
        })
        .collect();
    Ok(Trace::new(snapshots)
        .expect("generated ticks are non-empty and increasing")
        .with_tick_interval(step)
        .expect("step is not zero"))
}

/// The ticks of a trace being generated.
struct Clock {
    step: Duration,
    ticks: usize,
}

/// One tick, seen from the shapes.
struct Moment {
    at: Timestamp,
    /// Minutes since the trace started.
    minutes: f64,
    /// Hours since 00:00 UTC of the tick's day, in `[0, 24)`.
    utc_hour: f64,
    /// How far through the trace, from 0 (first tick) to 1 (last).
    progress: f64,
}

impl Clock {
    fn moment(&self, index: usize) -> Moment {
        let elapsed = self
            .step
            .saturating_mul(u32::try_from(index).unwrap_or(u32::MAX));
        let at = SCENARIO_START + elapsed;
        let seconds_of_day = at.unix_millis().rem_euclid(86_400_000) as f64 / 1000.0;
        Moment {
            at,
            minutes: elapsed.as_secs_f64() / 60.0,
            utc_hour: seconds_of_day / 3600.0,
            progress: if self.ticks > 1 {
                index as f64 / (self.ticks - 1) as f64
            } else {
                0.0
            },
        }
    }

    fn total_minutes(&self) -> f64 {
        self.step.as_secs_f64() * self.ticks as f64 / 60.0
    }
}

/// Expected requests per tick for each region of a scenario, plus how noisy
/// the samples are.
struct Demand {
    regions: Vec<Region>,
    /// Standard deviation of the multiplicative noise (0.1 = 10 %).
    noise: f64,
    mean: MeanRequests,
}

/// Expected requests for region index `usize` at a moment.
type MeanRequests = Box<dyn Fn(usize, &Moment) -> f64>;

/// A whole, non-negative count around `mean` with relative Gaussian noise.
fn noisy_count(mean: f64, noise: f64, rng: &mut ChaCha8Rng) -> f64 {
    let sample = mean * (1.0 + noise * standard_normal(rng));
    sample.max(0.0).round()
}

/// A standard normal sample by the Box–Muller transform.
fn standard_normal(rng: &mut ChaCha8Rng) -> f64 {
    // 1 - u is in (0, 1], so the logarithm is finite.
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}
