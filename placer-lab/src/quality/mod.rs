//! The placement-quality report: how well a policy's deployed regions served
//! a trace's traffic, beside reference policies on the same trace.
//!
//! # Definitions
//!
//! Tick `i`'s requests were served by [`Timeline::serving`]`(i)`, the set in
//! force during the interval that ends at tick `i` (the initial set for tick
//! 0, the set after tick `i − 1`'s actions otherwise). `n` is the number of
//! ticks and `Δ` the trace's tick interval. Each request entering at edge
//! region `r` is served by the deployed region with the lowest round-trip
//! time from `r` under the [`LatencyModel`]; its RTT is that round-trip
//! time, or [`UNSERVED_RTT_MS`](placer_core::network::UNSERVED_RTT_MS) (500 ms) when nothing is deployed.
//!
//! - **regions**: mean size of the serving set over the `n` ticks.
//! - **mean RTT**: traffic-weighted mean RTT over every request of every
//!   tick, `Σ requests × RTT / Σ requests`; absent when the trace has no
//!   requests.
//! - **p95 RTT**: the smallest RTT `x` such that at least 95 % of all
//!   requests had an RTT ≤ `x`. Note it can be *below* the mean when under
//!   5 % of requests are served very badly.
//! - **machine-hours**: one machine per serving region per tick,
//!   `Σ_i |serving(i)| × Δ`, in hours.
//! - **actions**: deploys plus removals the policy took (for reference rows,
//!   one per region added or removed, the move from the initial set
//!   included).
//! - **flaps**: walking the serving sets in order, a region removed at most
//!   [`QualityOptions::flap_window`] (30 min) after it was added counts one
//!   flap, and a region re-added at most that long after it was removed
//!   counts one more. Regions of the initial set have no "added" time.
//! - **shifts / served / reaction**: a *sustained shift* is a run of at
//!   least [`QualityOptions::shift_sustain_ticks`] (5) consecutive ticks in
//!   which one edge region's requests are ≥ [`QualityOptions::shift_level`]
//!   (50), whose first tick is not already *served nearby* (its RTT ≤
//!   [`QualityOptions::served_within_ms`], 30 ms). Runs starting at tick 0
//!   count. The shift is *served* when some tick of the run is served nearby;
//!   its *reaction* is the number of ticks from the run's first tick to that
//!   tick. The report gives the number of shifts, how many were served, and
//!   the mean and maximum reaction of those served.
//!
//! # Reference rows
//!
//! - **static**: the initial set kept for the whole trace.
//! - **seed**: the seed's rule as shipped ([`crate::seed_rule`]), from the
//!   same initial set.
//! - **best-static-K**: one set of `K` regions, chosen in hindsight by
//!   k-median on the whole trace's total traffic per region, in force from
//!   the first tick — what a one-off best-regions pick gives.
//! - **oracle-K**: at every tick, the k-median set of `K` regions for that
//!   tick's own traffic (kept from the previous tick when it is at least as
//!   good), i.e. per-tick hindsight.
//! - **oracle-equal-mh**: the oracle at equal machine-hours. In hindsight,
//!   each tick gets its own serving set `S_i`, under the policy's start-up
//!   rules: tick 0 is served by the initial set, and a region added at tick
//!   `i` is paid for from tick `i − N` (`N` the start-up ticks; tick 1 at the
//!   earliest) while it starts. The sets minimise
//!   `Σ_i cost_i(S_i) + λ · (paid region-ticks)`, with the price `λ` of a
//!   region-tick bisected so that the machine-hours equal the evaluated
//!   policy's (the two schedules either side blended when no price meets
//!   them exactly). The minimum is searched by a dynamic programme over the
//!   ticks that carries the 16 best partial schedules; a tick may keep a set
//!   they hold or move to a k-median set of its own traffic, or of the whole
//!   trace's, next to the size that minimises `cost_i(k) + λ · k`. Without
//!   start-up a move costs nothing and each tick takes its own k-median set
//!   of the size chosen jointly by `λ`. A tick considers up to twice the most
//!   regions the policy ever ran, plus two. This is the limit for a policy
//!   that varies its region count and lives with start-up:
//!   [`QualityReport::ratio_to_oracle`] is the policy's mean RTT over this
//!   row's.
//!
//! # Start-up delay
//!
//! With [`QualityOptions::startup_ticks`] `N > 0`, a region the policy (or
//! the seed rule) deploys at tick `t` serves requests only from `t + N`: it
//! is paid for (machine-hours, regions) from `t`, but the RTT of tick `t + i`
//! for `i ≤ N` is computed without it. best-static-K and oracle-K start at
//! once. oracle-equal-mh lives under the same rules as the policy: it
//! begins from the initial set, and a region it adds is paid for from its
//! deploy (tick 1 at the earliest) and serves `N` ticks later; in hindsight
//! it deploys exactly that early.
//!
//! `K` is the evaluated policy's mean region count, at least 1. When it is
//! not a whole number, say 3.7, both rows blend their figures for 3 and 4
//! regions, weighted 0.3 : 0.7, so the reference runs as many machine-hours
//! as the policy; counts are rounded and the blended p95 is approximate.
//! Candidates for both k-median rows are the regions the platform takes
//! machines in ([`crate::regions::deployable`]); an edge region's users are
//! served from the nearest of them, never by a machine at the edge, and a
//! region without coordinates is [ignored](QualityReport::ignored_regions).
//! Neither row honours a policy's region limits.
//!
//! # Capacity
//!
//! With a limit on what one machine serves, the report gets a second part
//! ([`capacity`]): running machines instead of regions, requests spilled to
//! farther regions or overloaded, and the autoscaler and oracle-counts
//! reference rows.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use serde::Serialize;

use placer_core::network::LatencyModel;

use crate::{SeedRuleParams, Timeline, Trace};

pub mod capacity;
mod metrics;
mod references;
mod series;
mod table;
#[cfg(test)]
mod tests;

pub use capacity::{Capacity, CapacityReport, CapacityRow, MachineTimeline};
use metrics::Schedule;
pub use series::{series, TickSeries};

/// The knobs of the report's definitions.
#[derive(Debug, Clone, PartialEq)]
pub struct QualityOptions {
    /// How soon after a change its reversal counts as a flap (30 min).
    pub flap_window: Duration,
    /// Requests per tick that make a region's demand count for a shift (50).
    pub shift_level: f64,
    /// Consecutive ticks at or above the level that make a shift sustained
    /// (5).
    pub shift_sustain_ticks: usize,
    /// Round-trip time within which a region counts as served nearby (30 ms).
    pub served_within_ms: f64,
    /// Parameters of the seed rule for the **seed** row.
    pub seed: SeedRuleParams,
    /// Ticks a newly deployed region needs before it serves: a region
    /// deployed at tick `t` serves from `t + startup_ticks` (0: at once, the
    /// interval right after the tick). Its machine-hours count from `t`.
    /// Applies to the evaluated policy, the seed row and oracle-equal-mh
    /// (which deploys that early, knowing the future); best-static-K and
    /// oracle-K start at once.
    pub startup_ticks: usize,
    /// Whether the report computes the oracle-equal-mh row (true). It
    /// solves a k-median per tick for several region counts: a caller that
    /// needs only the other rows, many times over, may leave it out.
    pub oracle_equal_machine_hours: bool,
}

impl Default for QualityOptions {
    fn default() -> Self {
        QualityOptions {
            flap_window: Duration::from_secs(30 * 60),
            shift_level: 50.0,
            shift_sustain_ticks: 5,
            served_within_ms: 30.0,
            seed: SeedRuleParams::default(),
            startup_ticks: 0,
            oracle_equal_machine_hours: true,
        }
    }
}

/// One policy's figures (definitions in the [module docs](self)).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QualityRow {
    /// The policy: the evaluated one's name, or `static`, `seed`,
    /// `best-static-K`, `oracle-K`.
    pub policy: String,
    /// Mean number of deployed regions.
    pub mean_regions: f64,
    /// Traffic-weighted mean RTT in milliseconds; `None` without traffic.
    pub mean_rtt_ms: Option<f64>,
    /// Traffic-weighted 95th-percentile RTT in milliseconds; `None` without
    /// traffic.
    pub p95_rtt_ms: Option<f64>,
    /// Machine-hours, one machine per deployed region.
    pub machine_hours: f64,
    /// Deploys plus removals.
    pub actions: usize,
    /// Changes reversed within the flap window.
    pub flaps: usize,
    /// Sustained shifts that started where no region served nearby.
    pub shifts: usize,
    /// Shifts served nearby before their run ended.
    pub shifts_served: usize,
    /// Mean ticks from a served shift's start until it was served nearby.
    pub mean_reaction_ticks: Option<f64>,
    /// Most ticks any served shift waited.
    pub max_reaction_ticks: Option<usize>,
}

/// The evaluated policy's row followed by the reference rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QualityReport {
    /// Ticks in the trace.
    pub ticks: usize,
    /// The trace's tick interval in seconds.
    pub tick_seconds: f64,
    /// `K` of the k-median reference rows: the evaluated policy's mean
    /// number of regions (at least 1). When it is not whole, those rows
    /// blend the solutions for the whole numbers on either side of it.
    pub k: f64,
    /// The definitions' settings the figures were computed with.
    pub settings: ReportSettings,
    /// The evaluated policy first, then static, seed, best-static-K,
    /// oracle-K and oracle-equal-mh.
    pub rows: Vec<QualityRow>,
    /// The evaluated policy's mean RTT divided by the oracle's at equal
    /// machine-hours (the last row); `None` without traffic, when the
    /// oracle's is 0 or when the row was left out
    /// ([`QualityOptions::oracle_equal_machine_hours`]).
    pub ratio_to_oracle: Option<f64>,
    /// Regions of the trace without coordinates (see
    /// [`Trace::unknown_regions`]): their traffic is left out of every row,
    /// as the engine ignores it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ignored_regions: Vec<placer_core::Region>,
    /// How far the policy's forecasts were off over the scored ticks, when
    /// it forecast (set by whoever has the replay: see
    /// [`backtest::forecast_error`](crate::backtest::forecast_error)).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forecast_error: Option<ForecastError>,
    /// The policy's region price in force at the end of the replay, and
    /// why (set by whoever has the replay, from its
    /// [`summary`](crate::backtest::Replay::summary)).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<placer_core::policy::PriceInForce>,
    /// Machine counts and what a limited number of requests per machine
    /// made of them (set by whoever knows the capacity: see
    /// [`capacity::report`]); `None` without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity: Option<CapacityReport>,
}

/// The forecasts' error over a report's ticks.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ForecastError {
    /// The absolute errors of the forecasts of each tick's traffic, summed
    /// over ticks and regions, as a share of the requests observed (0.2 =
    /// 20 %).
    pub share_of_requests: f64,
    /// Ticks that were forecast (the others came before the forecaster had
    /// enough history).
    pub ticks_forecast: usize,
}

/// The settings of a report's definitions, kept with the figures so a
/// reader knows what "flap" and "shift" meant for them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportSettings {
    /// [`QualityOptions::flap_window`] in seconds.
    pub flap_window_seconds: f64,
    /// [`QualityOptions::shift_level`].
    pub shift_level: f64,
    /// [`QualityOptions::shift_sustain_ticks`].
    pub shift_sustain_ticks: usize,
    /// [`QualityOptions::served_within_ms`].
    pub served_within_ms: f64,
    /// [`QualityOptions::startup_ticks`].
    pub startup_ticks: usize,
}

impl From<&QualityOptions> for ReportSettings {
    fn from(options: &QualityOptions) -> Self {
        ReportSettings {
            flap_window_seconds: options.flap_window.as_secs_f64(),
            shift_level: options.shift_level,
            shift_sustain_ticks: options.shift_sustain_ticks,
            served_within_ms: options.served_within_ms,
            startup_ticks: options.startup_ticks,
        }
    }
}

/// Why a report could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QualityError {
    /// The timeline and the trace disagree on the number of ticks.
    #[error("the timeline has {timeline} ticks but the trace has {trace}")]
    LengthMismatch {
        /// Ticks in the trace.
        trace: usize,
        /// Ticks in the timeline.
        timeline: usize,
    },
}

/// The figures of one policy, named `policy`, whose decisions over `trace`
/// are `timeline`.
///
/// # Errors
/// [`QualityError::LengthMismatch`] unless the timeline has one entry per
/// tick of the trace.
pub fn evaluate(
    trace: &Trace,
    policy: &str,
    timeline: &Timeline,
    model: &LatencyModel,
    options: &QualityOptions,
) -> Result<QualityRow, QualityError> {
    if timeline.len() != trace.len() {
        return Err(QualityError::LengthMismatch {
            trace: trace.len(),
            timeline: timeline.len(),
        });
    }
    let trace = &trace.known_only();
    Ok(Schedule::from_timeline(timeline, options.startup_ticks)
        .evaluate(policy, trace, model, options))
}

/// The full report: the policy's row, then static, seed, best-static-K and
/// oracle-K on the same trace and initial set.
///
/// # Errors
/// As [`evaluate`].
pub fn report(
    trace: &Trace,
    policy: &str,
    timeline: &Timeline,
    model: &LatencyModel,
    options: &QualityOptions,
) -> Result<QualityReport, QualityError> {
    let policy_row = evaluate(trace, policy, timeline, model, options)?;
    let ignored_regions = trace.unknown_regions();
    let trace = &trace.known_only();
    let k = policy_row.mean_regions.max(1.0);
    let initial = timeline.initial();
    let mut rows = vec![policy_row];
    rows.extend(references::fixed_rows(trace, initial, model, options));
    let below = k.floor() as usize;
    let lower = references::k_rows(trace, initial, below, model, options);
    let fraction = k - below as f64;
    if fraction > 1e-9 {
        let upper = references::k_rows(trace, initial, below + 1, model, options);
        rows.extend(lower.iter().zip(&upper).map(|(a, b)| blend(a, b, fraction)));
    } else {
        rows.extend(lower);
    }
    let mut ratio_to_oracle = None;
    if options.oracle_equal_machine_hours {
        let (region_ticks, max_k) = equal_machine_hours_budget(&rows[0], trace, timeline);
        let oracle = references::oracle_equal_machine_hours(
            trace,
            initial,
            region_ticks,
            max_k,
            model,
            options,
        );
        ratio_to_oracle = match (rows[0].mean_rtt_ms, oracle.mean_rtt_ms) {
            (Some(policy), Some(oracle)) if oracle > 0.0 => Some(policy / oracle),
            _ => None,
        };
        rows.push(oracle);
    }
    Ok(QualityReport {
        ticks: trace.len(),
        tick_seconds: trace.tick_interval().as_secs_f64(),
        k,
        settings: options.into(),
        rows,
        ratio_to_oracle,
        ignored_regions,
        forecast_error: None,
        price: None,
        capacity: None,
    })
}

/// The oracle at equal machine-hours considers, per tick, up to this many
/// times the most regions the policy ever ran (plus two).
const ORACLE_MAX_K_FACTOR: usize = 2;

/// What oracle-equal-mh may spend, from the policy's row: its region-ticks,
/// and the most regions a tick may run.
fn equal_machine_hours_budget(
    policy_row: &QualityRow,
    trace: &Trace,
    timeline: &Timeline,
) -> (f64, usize) {
    let largest = timeline
        .after_ticks()
        .iter()
        .chain([timeline.initial()])
        .map(BTreeSet::len)
        .max()
        .unwrap_or(1);
    (
        policy_row.mean_regions * trace.len() as f64,
        ORACLE_MAX_K_FACTOR * largest + 2,
    )
}

/// `a` and `b` weighted `1 − fraction : fraction`: a reference that runs
/// `K = k + fraction` regions on average, for a policy whose mean region
/// count is not a whole number. Counts are rounded; the p95 is blended too
/// (an approximation, not the p95 of a real schedule).
fn blend(a: &QualityRow, b: &QualityRow, fraction: f64) -> QualityRow {
    let mix = |x: f64, y: f64| x + fraction * (y - x);
    let mix_count = |x: usize, y: usize| mix(x as f64, y as f64).round() as usize;
    let mix_option = |x: Option<f64>, y: Option<f64>| match (x, y) {
        (Some(x), Some(y)) => Some(mix(x, y)),
        (x, y) => x.or(y),
    };
    QualityRow {
        policy: a.policy.clone(),
        mean_regions: mix(a.mean_regions, b.mean_regions),
        mean_rtt_ms: mix_option(a.mean_rtt_ms, b.mean_rtt_ms),
        p95_rtt_ms: mix_option(a.p95_rtt_ms, b.p95_rtt_ms),
        machine_hours: mix(a.machine_hours, b.machine_hours),
        actions: mix_count(a.actions, b.actions),
        flaps: mix_count(a.flaps, b.flaps),
        shifts: mix_count(a.shifts, b.shifts),
        shifts_served: mix_count(a.shifts_served, b.shifts_served),
        mean_reaction_ticks: mix_option(a.mean_reaction_ticks, b.mean_reaction_ticks),
        max_reaction_ticks: match (a.max_reaction_ticks, b.max_reaction_ticks) {
            (Some(x), Some(y)) => Some(x.max(y)),
            (x, y) => x.or(y),
        },
    }
}

impl QualityReport {
    /// The report as a plain-text table for people, with a short legend.
    pub fn render_table(&self) -> String {
        table::render(self)
    }
}

impl fmt::Display for QualityReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render_table())
    }
}
