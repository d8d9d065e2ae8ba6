//! The latency policy's settings: the `latency:` section of the config.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::duration;
use crate::policy::SettingsSection;
use crate::Timestamp;

/// Settings of the latency-aware policy (`policy: latency`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct LatencySettings {
    /// The smallest traffic-weighted saving, in milliseconds of round trip per
    /// request across all of the app's usual requests, that justifies running
    /// one more region. Larger values mean fewer regions. A legacy key, with
    /// `min_region_saving` and `baseline_half_life`: it sets the price only
    /// when neither `price_ms` nor `target_machines` is set.
    pub region_cost_ms: f64,
    /// An absolute floor under the price of a region, whatever the app's
    /// traffic: one more region must save at least this many
    /// request-milliseconds per observation (requests as the metrics source
    /// counts them, like `traffic_threshold`, times the milliseconds of round
    /// trip each is spared). 2000 is 20 requests brought 100 ms closer. With
    /// it, machine count follows volume: quiet hours and weekends run fewer
    /// machines than peaks, where `region_cost_ms` alone, relative to the
    /// app's own traffic, buys as many for a quiet spell spread evenly as for
    /// a peak. 0 turns it off.
    pub min_region_saving: f64,
    /// How the app's usual traffic is measured: the lower of the current
    /// total and its exponential average with this half-life. A crowd in one
    /// region then does not make the regions serving everyone else look too
    /// dear to keep; a quiet night still needs fewer regions. Zero counts
    /// the current total alone. Seconds or a duration such as `"6h"`.
    #[serde(with = "duration")]
    pub baseline_half_life: Duration,
    /// A change of the deployed set must improve the objective by at least
    /// this fraction (0.05 = 5 %) before it is considered.
    pub improvement_margin: f64,
    /// A change must stay worth making for this many consecutive ticks before
    /// it is carried out.
    pub persist_ticks: u32,
    /// A change that improves the objective by less than
    /// `improvement_margin` but by at least this fraction is carried out
    /// once it has stayed that much better, without a break, for
    /// `stabilization_window`: a small lasting gain is not noise either. Set
    /// it to `improvement_margin` to turn this off.
    pub patient_margin: f64,
    /// A change that improves the objective by at least this fraction (0.3 =
    /// cuts it by 30 %) is carried out at once: a shift that large is not
    /// noise.
    pub urgent_improvement: f64,
    /// The latency policy undoes a move on a region only once more than this
    /// has passed: a region it deployed stays, and one it removed stays away.
    /// It reacts fast, sometimes on little data; this puts a floor under how
    /// soon such a decision is undone (like a stabilization window of a
    /// Kubernetes autoscaler). Seconds or a duration such as `"30m"`.
    #[serde(with = "duration")]
    pub stabilization_window: Duration,
    /// A ceiling on machine time: at most this many machine-hours in each
    /// period. It sets no price: the one in force
    /// ([`PriceInForce`](super::PriceInForce)) comes from `price_ms` or the
    /// legacy keys. Default: none.
    pub budget: Option<MachineBudget>,
    /// The price of one more machine in milliseconds of mean round trip:
    /// a region is worth running when it cuts the mean RTT of the app's
    /// long-run traffic by at least this much. The price in
    /// request-milliseconds stays put for a day (set at UTC midnight from
    /// the long-run traffic), so busy hours buy regions and quiet ones do
    /// not. Replaces `region_cost_ms` and `min_region_saving` when set.
    /// Default: none.
    pub price_ms: Option<f64>,
    /// About how many machines to run on average: the region price is the
    /// one that spends this many machines over each week (from Monday
    /// 00:00 UTC), chosen from the forecast and corrected every hour; a
    /// target, not a ceiling. Replaces `region_cost_ms` and
    /// `min_region_saving` when set. Default: none.
    pub target_machines: Option<f64>,
}

/// A ceiling on the machine time the latency policy spends in each period.
///
/// Periods follow each other from `starts` (by default the Unix epoch, so a
/// one-day period starts at midnight UTC). The policy never plans more
/// regions than what is left of the period's budget pays for until the
/// period ends. A budget below what the traffic calls for therefore runs
/// fewer regions first and more once it can pay for them to the end of the
/// period, and what it runs is never cut short by what it spent earlier.
///
/// ```
/// # #[cfg(feature = "yaml")]
/// # fn main() {
/// let config = placer_core::config::from_yaml(
///     "policy: latency\nlatency:\n  budget:\n    machine_hours: 48\n    period: 24h\n",
///     "config.yml",
/// )
/// .unwrap();
/// let latency: placer_core::policy::LatencySettings = config.policy_settings.get();
/// let budget = latency.budget.unwrap();
/// assert_eq!(budget.machine_hours, 48.0);
/// assert_eq!(budget.period.as_secs(), 24 * 3600);
/// # }
/// # #[cfg(not(feature = "yaml"))]
/// # fn main() {}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct MachineBudget {
    /// Machine-hours per period: one machine in one region for an hour is
    /// one machine-hour.
    pub machine_hours: f64,
    /// The length of a period. Seconds or a duration such as `"30d"`.
    /// Default one day.
    #[serde(with = "duration")]
    pub period: Duration,
    /// When a period starts; the ones before and after it follow on from
    /// it. RFC 3339 UTC, such as `"2026-01-01T00:00:00Z"`. Default the Unix
    /// epoch.
    pub starts: Timestamp,
}

crate::setters::with_setters!(LatencySettings {
    with_region_cost_ms => region_cost_ms: f64,
    with_min_region_saving => min_region_saving: f64,
    with_baseline_half_life => baseline_half_life: Duration,
    with_improvement_margin => improvement_margin: f64,
    with_persist_ticks => persist_ticks: u32,
    with_patient_margin => patient_margin: f64,
    with_urgent_improvement => urgent_improvement: f64,
    with_stabilization_window => stabilization_window: Duration,
    with_budget => budget: Option<MachineBudget>,
    with_price_ms => price_ms: Option<f64>,
    with_target_machines => target_machines: Option<f64>,
});

crate::setters::with_setters!(MachineBudget {
    with_machine_hours => machine_hours: f64,
    with_period => period: Duration,
    with_starts => starts: Timestamp,
});

impl MachineBudget {
    /// A budget of `machine_hours` per day, periods starting at the Unix
    /// epoch (set the rest with [`with_period`](Self::with_period) and
    /// [`with_starts`](Self::with_starts)).
    pub fn new(machine_hours: f64) -> Self {
        MachineBudget::default().with_machine_hours(machine_hours)
    }
}

impl Default for MachineBudget {
    fn default() -> Self {
        MachineBudget {
            machine_hours: 0.0,
            period: Duration::from_secs(24 * 3600),
            starts: Timestamp::EPOCH,
        }
    }
}

impl MachineBudget {
    /// The start of the period `now` falls in.
    pub fn period_start(&self, now: Timestamp) -> Timestamp {
        let length = (self.period.as_millis() as i64).max(1);
        let offset = now.unix_millis() - self.starts.unix_millis();
        Timestamp::from_unix_millis(now.unix_millis() - offset.rem_euclid(length))
    }
}

/// The default [`LatencySettings::min_region_saving`], chosen on the
/// generated scenarios (BENCHMARKS.md).
pub const DEFAULT_MIN_REGION_SAVING: f64 = 1000.0;

impl Default for LatencySettings {
    fn default() -> Self {
        LatencySettings {
            region_cost_ms: 5.0,
            min_region_saving: DEFAULT_MIN_REGION_SAVING,
            baseline_half_life: Duration::from_secs(6 * 3600),
            improvement_margin: 0.05,
            persist_ticks: 3,
            patient_margin: 0.01,
            urgent_improvement: 0.3,
            stabilization_window: Duration::from_secs(30 * 60),
            budget: None,
            price_ms: None,
            target_machines: None,
        }
    }
}

impl SettingsSection for LatencySettings {
    const KEY: &'static str = "latency";

    fn validate(&self) -> Result<(), String> {
        if !self.region_cost_ms.is_finite() || self.region_cost_ms < 0.0 {
            return Err("region_cost_ms must be a finite number >= 0".into());
        }
        if !self.min_region_saving.is_finite() || self.min_region_saving < 0.0 {
            return Err("min_region_saving must be a finite number >= 0".into());
        }
        if !(self.improvement_margin.is_finite() && (0.0..1.0).contains(&self.improvement_margin)) {
            return Err("improvement_margin must be in [0, 1)".into());
        }
        if !(self.patient_margin.is_finite() && (0.0..1.0).contains(&self.patient_margin)) {
            return Err("patient_margin must be in [0, 1)".into());
        }
        if !(self.urgent_improvement > 0.0 && self.urgent_improvement <= 1.0) {
            return Err("urgent_improvement must be in (0, 1]".into());
        }
        if let Some(price) = self.price_ms {
            if !(price.is_finite() && price > 0.0) {
                return Err(format!("price_ms must be a finite number > 0, got {price}"));
            }
        }
        if let Some(machines) = self.target_machines {
            if !(machines.is_finite() && machines > 0.0) {
                return Err(format!(
                    "target_machines must be a finite number > 0, got {machines}"
                ));
            }
        }
        // The message starts with a field's name, so the error points at
        // that field's line.
        let others = |field: &str| {
            format!(
                "{field} cannot be set together with {}: keep one",
                [
                    ("budget", self.budget.is_some()),
                    ("price_ms", self.price_ms.is_some()),
                    ("target_machines", self.target_machines.is_some()),
                ]
                .iter()
                .filter(|(name, set)| *set && *name != field)
                .map(|(name, _)| *name)
                .collect::<Vec<_>>()
                .join(" and ")
            )
        };
        if self.target_machines.is_some() && (self.budget.is_some() || self.price_ms.is_some()) {
            return Err(others("target_machines"));
        }
        if let Some(budget) = &self.budget {
            if !(budget.machine_hours.is_finite() && budget.machine_hours > 0.0) {
                return Err(format!(
                    "budget.machine_hours must be a finite number > 0, got {}",
                    budget.machine_hours
                ));
            }
            if budget.period < std::time::Duration::from_secs(1) {
                return Err("budget.period must be at least 1 second".into());
            }
        }
        Ok(())
    }
}
