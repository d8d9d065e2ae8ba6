//! The price of a region: what one more deployed region must save, in
//! request-milliseconds per observation, to be worth its machine.
//!
//! In hindsight, the cheapest way to spend a fixed number of machine-hours
//! prices a machine-tick the same all period: busy hours then buy regions
//! and quiet ones do not. So, set in one of three ways, the price stays put
//! over a period:
//!
//! - `latency.price_ms`: milliseconds of mean round trip one more machine
//!   must save, times the app's long-run traffic ([`LongRunTraffic`]), so
//!   the same figure suits a small app and a large one. Set again at each
//!   UTC midnight (every tick while less than a day has been seen).
//! - `latency.target_machines`: the price that spends that many machines
//!   over each week's machine-hours, from the forecast of the rest of the
//!   period's traffic (or, without forecasts, from the traffic of now), set
//!   again every hour from what is left to spend, so a forecast that was
//!   off is corrected as the period goes on.
//! - neither (the legacy keys): `max(region_cost_ms × U, min_region_saving)`
//!   with `U` the usual traffic of the last hours, set every tick.
//!
//! `latency.budget` sets no price: it is a ceiling on whichever is in force.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{weight, LatencyMemory, LatencySettings, MachineBudget, MachineTime};
use crate::network::solver::{count, FacilityProblem};
use crate::network::{LatencyModel, RttTable};
use crate::policy::PlanningView;
use crate::{Region, Timestamp};

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);
const WEEK: Duration = Duration::from_secs(7 * 24 * 3600);

/// Half-life of the long-run traffic `latency.price_ms` is translated with.
pub const LONG_RUN_HALF_LIFE: Duration = WEEK;

/// How often a price that spends machine-hours is chosen again.
const REPRICE_EVERY: Duration = HOUR;

/// Most moments of the rest of a period a spending price is tried on.
const SAMPLES: usize = 48;

/// Halvings of the price interval when looking for a spending price.
const BISECTIONS: usize = 16;

/// How far above what is left a spending price may plan to spend: whole
/// regions rarely spend a budget exactly, the budget's ceiling keeps the
/// spending within it (`latency.budget`), and the next hour's price
/// corrects for the rest.
const OVERSPEND: f64 = 0.01;

/// Where periods of `latency.target_machines` start: a Monday, 00:00 UTC
/// (1970-01-05).
const FIRST_MONDAY: Timestamp = Timestamp::from_unix_seconds(4 * 24 * 3600);

/// The price of a region in force, and why.
///
/// ```
/// use placer_core::policy::{PriceBasis, PriceInForce};
/// use placer_core::Timestamp;
///
/// let price = PriceInForce {
///     region_price: 1500.0,
///     since: Timestamp::from_unix_seconds(0),
///     basis: PriceBasis::PerMachine {
///         price_ms: 5.0,
///         long_run_requests: 300.0,
///     },
/// };
/// assert!(price.describe().contains("5 ms of mean RTT"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriceInForce {
    /// What one more region must save, in request-milliseconds per
    /// observation (requests as the metrics source counts them, times the
    /// milliseconds each is spared).
    pub region_price: f64,
    /// When it was set.
    pub since: Timestamp,
    /// How it was set.
    pub basis: PriceBasis,
}

/// How the price of a region was set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "set_by")]
#[non_exhaustive]
pub enum PriceBasis {
    /// `latency.price_ms` times the app's long-run traffic.
    PerMachine {
        /// Milliseconds of mean round trip one more machine must save.
        price_ms: f64,
        /// The app's long-run traffic, requests per observation.
        long_run_requests: f64,
    },
    /// The price that spends what is left of the period's machine-hours
    /// (`latency.budget`, or `latency.target_machines` over a week).
    Spending {
        /// Machine-hours per period.
        machine_hours: f64,
        /// The period's length in seconds.
        period_secs: u64,
        /// Machine-hours left in the period when the price was set.
        left_machine_hours: f64,
        /// Whether the rest of the period's traffic came from forecasts
        /// (otherwise the traffic of the moment stood in for it).
        forecast: bool,
    },
    /// `max(region_cost_ms × usual traffic, min_region_saving)`, set every
    /// tick (the legacy keys).
    Usual {
        /// `latency.region_cost_ms`.
        region_cost_ms: f64,
        /// The usual traffic, requests per observation.
        usual_requests: f64,
        /// `latency.min_region_saving`.
        min_region_saving: f64,
    },
}

impl PriceInForce {
    /// The price and its reason as a sentence.
    pub fn describe(&self) -> String {
        let price = format!(
            "{:.0} request-ms per tick for one more region",
            self.region_price
        );
        match &self.basis {
            PriceBasis::PerMachine {
                price_ms,
                long_run_requests,
            } => format!(
                "{price}: latency.price_ms, {price_ms} ms of mean RTT × {long_run_requests:.1} requests of long-run traffic (set {})",
                self.since
            ),
            PriceBasis::Spending {
                machine_hours,
                period_secs,
                left_machine_hours,
                forecast,
            } => format!(
                "{price}: spends the {left_machine_hours:.1} machine-hours left of {machine_hours:.1} per {} over the rest of the period, judged on {} (set {})",
                humantime::format_duration(Duration::from_secs(*period_secs)),
                if *forecast { "the forecast" } else { "the traffic of the moment (no forecast yet)" },
                self.since
            ),
            PriceBasis::Usual {
                region_cost_ms,
                usual_requests,
                min_region_saving,
            } => format!(
                "{price}: max(latency.region_cost_ms {region_cost_ms} × {usual_requests:.1} usual requests, latency.min_region_saving {min_region_saving}), follows the traffic every tick (legacy keys)",
            ),
        }
    }
}

/// The app's traffic over the long run: a time-weighted exponential mean
/// of its total requests per observation (half-life
/// [`LONG_RUN_HALF_LIFE`]) that starts from nothing, so its first hours
/// count for what they cover and no more.
///
/// ```
/// use std::time::Duration;
/// use placer_core::policy::LongRunTraffic;
/// use placer_core::Timestamp;
///
/// let start = Timestamp::from_unix_seconds(0);
/// let hour = Duration::from_secs(3600);
/// let traffic = LongRunTraffic::start(start)
///     .update(100.0, start + hour)
///     .update(300.0, start + 2 * hour);
/// assert!((traffic.mean() - 200.0).abs() < 1.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LongRunTraffic {
    /// Decayed sum of requests × seconds.
    pub request_seconds: f64,
    /// Decayed seconds observed.
    pub seconds: f64,
    /// The last update.
    pub at: Timestamp,
}

impl LongRunTraffic {
    /// Nothing seen yet, from `at`.
    pub fn start(at: Timestamp) -> Self {
        LongRunTraffic {
            request_seconds: 0.0,
            seconds: 0.0,
            at,
        }
    }

    /// After `total` requests per observation from the last update until
    /// `now`. A clock that went back changes nothing; a gap longer than a
    /// day counts as a day.
    pub fn update(self, total: f64, now: Timestamp) -> Self {
        if now <= self.at {
            return self;
        }
        let elapsed = now.duration_since(self.at).min(DAY).as_secs_f64();
        let kept = 0.5f64.powf(elapsed / LONG_RUN_HALF_LIFE.as_secs_f64());
        LongRunTraffic {
            request_seconds: kept * self.request_seconds + total * elapsed,
            seconds: kept * self.seconds + elapsed,
            at: now,
        }
    }

    /// The mean requests per observation (0 before any time is covered).
    pub fn mean(&self) -> f64 {
        if self.seconds > 0.0 {
            self.request_seconds / self.seconds
        } else {
            0.0
        }
    }
}

/// How the settings set the price.
enum Pricing {
    PerMachine(f64),
    Spending(MachineBudget),
    Usual,
}

impl Pricing {
    /// `latency.budget` does not set the price: it stays a ceiling on
    /// whichever price is in force (measured: a price chosen to spend a
    /// budget placed far worse on weekly traffic than a fixed one).
    fn of(settings: &LatencySettings) -> Self {
        if let Some(machines) = settings.target_machines {
            Pricing::Spending(target_budget(machines))
        } else if let Some(price_ms) = settings.price_ms {
            Pricing::PerMachine(price_ms)
        } else {
            Pricing::Usual
        }
    }
}

/// The weekly budget `latency.target_machines` stands for: that many
/// machines on average over each week from Monday 00:00 UTC.
pub(super) fn target_budget(machines: f64) -> MachineBudget {
    MachineBudget::new(machines * WEEK.as_secs_f64() / 3600.0)
        .with_period(WEEK)
        .with_starts(FIRST_MONDAY)
}

/// The machine budget the settings spend to: `latency.budget`, or the one
/// `latency.target_machines` stands for.
pub(super) fn spending_budget(settings: &LatencySettings) -> Option<MachineBudget> {
    settings
        .budget
        .clone()
        .or_else(|| settings.target_machines.map(target_budget))
}

/// What the price is chosen from, besides the view.
pub(super) struct PriceInputs<'a> {
    pub model: &'a LatencyModel,
    pub settings: &'a LatencySettings,
    /// The usual traffic of the last hours (legacy price).
    pub usual_total: f64,
}

/// The price of a region this tick, brought up to date in `memory`.
pub(super) fn region_price(
    view: &PlanningView<'_>,
    inputs: &PriceInputs<'_>,
    memory: &mut LatencyMemory,
) -> f64 {
    let settings = inputs.settings;
    let price = match Pricing::of(settings) {
        Pricing::Usual => {
            memory.price = None;
            return (settings.region_cost_ms * inputs.usual_total).max(settings.min_region_saving);
        }
        Pricing::PerMachine(price_ms) => per_machine(view, price_ms, memory),
        Pricing::Spending(budget) => spending(view, inputs, &budget, memory),
    };
    let region_price = price.region_price;
    memory.price = Some(price);
    region_price
}

/// The price of a region under the legacy keys, for a report: `None`
/// under the other ways of setting it, whose price is kept in memory.
pub(super) fn usual_price(
    settings: &LatencySettings,
    memory: &LatencyMemory,
) -> Option<PriceInForce> {
    if !matches!(Pricing::of(settings), Pricing::Usual) {
        return None;
    }
    let baseline = memory.traffic_baseline?;
    Some(PriceInForce {
        region_price: (settings.region_cost_ms * baseline.requests).max(settings.min_region_saving),
        since: baseline.at,
        basis: PriceBasis::Usual {
            region_cost_ms: settings.region_cost_ms,
            usual_requests: baseline.requests,
            min_region_saving: settings.min_region_saving,
        },
    })
}

/// Brings the long-run traffic in `memory` up to date, under
/// `latency.price_ms`; every tick, quiet ones too.
pub(super) fn observe(
    view: &PlanningView<'_>,
    settings: &LatencySettings,
    memory: &mut LatencyMemory,
) {
    if !matches!(Pricing::of(settings), Pricing::PerMachine(_)) {
        memory.long_run = None;
        return;
    }
    let long_run = memory
        .long_run
        .unwrap_or_else(|| LongRunTraffic::start(view.now))
        .update(observed(view), view.now);
    memory.long_run = Some(long_run);
}

/// The app's total traffic of the moment, requests per observation.
fn observed(view: &PlanningView<'_>) -> f64 {
    view.regions.values().map(|d| d.current.max(0.0)).sum()
}

fn per_machine(view: &PlanningView<'_>, price_ms: f64, memory: &mut LatencyMemory) -> PriceInForce {
    let observed = observed(view);
    let long_run = memory
        .long_run
        .unwrap_or_else(|| LongRunTraffic::start(view.now));
    let day = MachineBudget::default().period_start(view.now);
    let learning = long_run.seconds < DAY.as_secs_f64();
    let stale = match &memory.price {
        Some(PriceInForce {
            since,
            basis: PriceBasis::PerMachine { price_ms: was, .. },
            ..
        }) => *since < day || *was != price_ms || long_run.mean() <= 0.0,
        _ => true,
    };
    if let (false, false, Some(price)) = (learning, stale, &memory.price) {
        return price.clone();
    }
    // Before any time is covered, the traffic of the moment stands in.
    let long_run_requests = if long_run.mean() > 0.0 {
        long_run.mean()
    } else {
        observed
    };
    PriceInForce {
        region_price: price_ms * long_run_requests,
        since: view.now,
        basis: PriceBasis::PerMachine {
            price_ms,
            long_run_requests,
        },
    }
}

fn spending(
    view: &PlanningView<'_>,
    inputs: &PriceInputs<'_>,
    budget: &MachineBudget,
    memory: &mut LatencyMemory,
) -> PriceInForce {
    let running = view.deployed.len();
    // Charging twice at the same moment adds nothing: the budget's own
    // limits may have charged this tick already.
    let spent = match memory.machine_time {
        Some(spent) => spent.charge(budget, running, view.now),
        None => MachineTime::first(budget, running, view.now),
    };
    memory.machine_time = Some(spent);
    let fresh = match &memory.price {
        Some(PriceInForce {
            since,
            basis:
                PriceBasis::Spending {
                    machine_hours,
                    period_secs,
                    ..
                },
            ..
        }) => {
            *since >= spent.period_start
                && view.now.duration_since(*since) < REPRICE_EVERY
                && *machine_hours == budget.machine_hours
                && *period_secs == budget.period.as_secs()
        }
        _ => false,
    };
    if let (true, Some(price)) = (fresh, &memory.price) {
        return price.clone();
    }
    let end = spent.period_start + budget.period;
    let left = (budget.machine_hours * 3600.0 - spent.machine_seconds).max(0.0);
    let (region_price, forecast) = spending_price(view, inputs, end, left);
    PriceInForce {
        region_price,
        since: view.now,
        basis: PriceBasis::Spending {
            machine_hours: budget.machine_hours,
            period_secs: budget.period.as_secs(),
            left_machine_hours: left / 3600.0,
            forecast,
        },
    }
}

/// The price at which the regions the policy would choose from `now` to
/// `end`, for the traffic expected then, spend `left` machine-seconds: the
/// lowest one found that does not spend more (by [`OVERSPEND`] at most).
/// Also whether forecasts told the traffic.
fn spending_price(
    view: &PlanningView<'_>,
    inputs: &PriceInputs<'_>,
    end: Timestamp,
    left: f64,
) -> (f64, bool) {
    let config = view.config;
    let edges: Vec<Region> = view.regions.keys().copied().collect();
    let table = RttTable::over_platform(
        edges.iter().copied(),
        super::placeable(view),
        inputs.model,
        view.platform,
    );
    let rest = end.duration_since(view.now);
    let forecast = view.state.forecast();
    let forecasting = forecast.status().is_forecasting();
    let samples = if forecasting {
        let tick = forecast.tick().max(Duration::from_secs(60));
        let steps = (rest.as_secs_f64() / tick.as_secs_f64()).ceil() as usize;
        steps.clamp(1, SAMPLES)
    } else {
        1
    };
    let step = rest.as_secs_f64() / samples as f64;
    let moments: Vec<Vec<f64>> = (0..samples)
        .map(|i| {
            let at = view.now + Duration::from_secs_f64(step * (i as f64 + 0.5));
            table
                .edges()
                .iter()
                .map(|region| {
                    let detail = &view.regions[region];
                    let now = weight(detail, view.deployed.contains(region));
                    if !forecasting {
                        return now;
                    }
                    forecast
                        .peak(region, at, at)
                        .map_or(now, |f| f.expected.max(0.0))
                })
                .collect()
        })
        .collect();
    let columns = table.servers();
    let start: Vec<bool> = columns.iter().map(|r| view.deployed.contains(r)).collect();
    let mut problem = FacilityProblem {
        table: &table,
        weights: Vec::new(),
        region_cost: vec![0.0; columns.len()],
        min_size: config.min_regions,
        max_size: config.max_regions.unwrap_or(usize::MAX),
        fixed: columns
            .iter()
            .map(|r| config.always_running_regions.contains(r))
            .collect(),
        allowed: columns
            .iter()
            .map(|r| view.deployed.contains(r) || config.may_deploy(r))
            .collect(),
    };
    let mut spend = |price: f64| -> f64 {
        problem.region_cost.iter_mut().for_each(|c| *c = price);
        moments
            .iter()
            .map(|weights| {
                problem.weights.clone_from(weights);
                count(&problem.solve(&start)) as f64 * step
            })
            .sum()
    };
    // Above the whole traffic times the longest round trip one region is
    // all any moment buys; the cheapest price asked is a millionth of it.
    let busiest = moments
        .iter()
        .map(|w| w.iter().sum::<f64>())
        .fold(0.0, f64::max);
    let dear = busiest * crate::network::UNSERVED_RTT_MS;
    if dear <= 0.0 {
        return (0.0, forecasting);
    }
    let left = left * (1.0 + OVERSPEND);
    let (mut low, mut high) = (dear * 1e-6, dear);
    if spend(low) <= left {
        return (low, forecasting);
    }
    for _ in 0..BISECTIONS {
        let middle = (low * high).sqrt();
        if spend(middle) <= left {
            high = middle;
        } else {
            low = middle;
        }
    }
    (high, forecasting)
}

#[cfg(test)]
#[path = "price_tests.rs"]
mod tests;
