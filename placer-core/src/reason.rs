//! [`Reason`]: why a region was changed or left alone, as data that renders
//! to the seed's sentences.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Region;

/// Why the engine proposed, carried out or skipped a move.
///
/// Reasons are data until someone reads them: [`Display`](fmt::Display)
/// gives the sentence a person sees in the report (the seed's wording where
/// the seed had one), and [`class`](Reason::class) a stable name for metrics.
///
/// ```
/// use placer_core::Reason;
///
/// let reason = Reason::WithinThresholds { current: 36.65, long: 39.29 };
/// assert_eq!(
///     reason.to_string(),
///     "Traffic does not meet adaptive thresholds. Current avg: 36.65, Long-term avg: 39.29"
/// );
/// assert_eq!(reason.class(), "within_thresholds");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Reason {
    /// The region has no traffic history yet.
    NoData,
    /// Current traffic lies between the remove and deploy thresholds.
    WithinThresholds {
        /// Current average.
        current: f64,
        /// Long-term average.
        long: f64,
    },
    /// Current traffic reached the adaptive deploy threshold.
    AboveDeployThreshold {
        /// Current average.
        current: f64,
        /// The deploy threshold.
        threshold: f64,
    },
    /// Traffic stayed at or above `traffic_threshold` for `ticks` ticks.
    SustainedHigh {
        /// `traffic_threshold`.
        threshold: f64,
        /// Consecutive ticks.
        ticks: u32,
        /// Current average.
        current: f64,
    },
    /// Current traffic fell to the adaptive remove threshold.
    BelowRemoveThreshold {
        /// Current average.
        current: f64,
        /// The remove threshold.
        threshold: f64,
    },
    /// Traffic stayed at or below `deployment_threshold` for `ticks` ticks.
    SustainedLow {
        /// `deployment_threshold`.
        threshold: f64,
        /// Consecutive ticks.
        ticks: u32,
        /// Current average.
        current: f64,
    },
    /// The region is in `excluded_regions`.
    Excluded,
    /// `allowed_regions` is set and lacks the region.
    NotAllowed,
    /// The region is in `always_running_regions` (never removed).
    AlwaysRunning,
    /// The region is in `always_running_regions` and is not deployed.
    AlwaysRunningMissing,
    /// The latest observation had no traffic at all, so nothing is removed.
    NoUsableMetrics,
    /// The region changed too recently.
    Cooldown {
        /// Whole seconds until it may change again.
        remaining_secs: u64,
    },
    /// Removing it would leave no region.
    LastRegion,
    /// Removing it would leave fewer than `min_regions`.
    MinRegions {
        /// `min_regions`.
        min: usize,
    },
    /// The tick already carried out `max_actions_per_tick` moves.
    ActionLimit {
        /// `max_actions_per_tick`.
        max: usize,
    },
    /// Latency policy: deploying the region saves `saves_ms` of round trip
    /// for `share_pct` % of requests, entering at `serves`.
    LatencyDeploy {
        /// Mean round trip saved per request it will serve, in ms.
        saves_ms: f64,
        /// Percentage of all requests it will serve.
        share_pct: f64,
        /// The busiest edge regions it will serve (at most four).
        serves: Vec<Region>,
    },
    /// Latency policy: the region's users are `rtt_ms` from `users_go_to`
    /// (`None`: it serves no requests).
    LatencyRemove {
        /// Where most of its users will be served.
        users_go_to: Option<Region>,
        /// Their mean round trip there, in ms.
        rtt_ms: f64,
    },
    /// Latency policy: the deployed region stays; it serves `share_pct` %.
    LatencyKeep {
        /// Percentage of all requests it serves.
        share_pct: f64,
    },
    /// Latency policy: the undeployed region's users are served from
    /// `server` (`None`: no traffic enters there).
    LatencyServedFrom {
        /// The region serving them.
        server: Option<Region>,
        /// Their round trip, in ms.
        rtt_ms: f64,
    },
    /// Latency policy: a better set exists but must stay better for
    /// `needed` ticks; it has for `ticks`.
    LatencyPending {
        /// How much better, in percent of the objective.
        gain_pct: f64,
        /// Consecutive ticks it has been better.
        ticks: u32,
        /// `latency.persist_ticks`.
        needed: u32,
    },
    /// Latency policy: a better set gains less than the margin but at least
    /// `patient_margin`; it is adopted once it has stayed better for
    /// `needed_secs` (`latency.stabilization_window`).
    LatencyPatient {
        /// How much better, in percent of the objective.
        gain_pct: f64,
        /// Whole seconds it has stayed better without a break.
        held_secs: u64,
        /// Whole seconds it must stay better.
        needed_secs: u64,
    },
    /// Latency policy: a better set exists but gains less than the margin.
    LatencyBelowMargin {
        /// How much better, in percent of the objective.
        gain_pct: f64,
        /// `latency.improvement_margin`, in percent.
        margin_pct: f64,
    },
    /// Latency policy: the region was deployed or removed recently; it stays
    /// as it is until `latency.stabilization_window` has passed.
    LatencyStabilizing {
        /// Whole seconds until the region may change again.
        remaining_secs: u64,
    },
    /// Latency policy: no traffic at all, nothing to place machines by.
    LatencyNoTraffic,
    /// Latency policy: the better placement needs this undeployed region,
    /// and the machine budget pays for its `regions` regions only `in_secs`
    /// from now; until then the policy only makes changes towards it.
    LatencyBudgetWait {
        /// Regions the budget will pay for until the end of its period.
        regions: usize,
        /// Whole seconds until it does.
        in_secs: u64,
    },
    /// Latency policy: the machine budget left in this period pays for only
    /// `regions` regions until the period ends.
    LatencyOverBudget {
        /// Regions the budget pays for.
        regions: usize,
    },
    /// An explanation given by a policy in its own words.
    Explained(String),
}

impl Reason {
    /// A stable, lowercase name of the kind of reason, for metrics labels.
    pub fn class(&self) -> &'static str {
        match self {
            Reason::NoData => "no_data",
            Reason::WithinThresholds { .. } => "within_thresholds",
            Reason::AboveDeployThreshold { .. } => "above_deploy_threshold",
            Reason::SustainedHigh { .. } => "sustained_high",
            Reason::BelowRemoveThreshold { .. } => "below_remove_threshold",
            Reason::SustainedLow { .. } => "sustained_low",
            Reason::Excluded => "excluded",
            Reason::NotAllowed => "not_allowed",
            Reason::AlwaysRunning => "always_running",
            Reason::AlwaysRunningMissing => "always_running_missing",
            Reason::NoUsableMetrics => "no_usable_metrics",
            Reason::Cooldown { .. } => "cooldown",
            Reason::LastRegion => "last_region",
            Reason::MinRegions { .. } => "min_regions",
            Reason::ActionLimit { .. } => "action_limit",
            Reason::LatencyDeploy { .. } => "latency_deploy",
            Reason::LatencyRemove { .. } => "latency_remove",
            Reason::LatencyKeep { .. } => "latency_keep",
            Reason::LatencyServedFrom { .. } => "latency_served_from",
            Reason::LatencyPending { .. } => "latency_pending",
            Reason::LatencyPatient { .. } => "latency_patient",
            Reason::LatencyBelowMargin { .. } => "latency_below_margin",
            Reason::LatencyStabilizing { .. } => "latency_stabilizing",
            Reason::LatencyNoTraffic => "latency_no_traffic",
            Reason::LatencyBudgetWait { .. } => "latency_budget_wait",
            Reason::LatencyOverBudget { .. } => "latency_over_budget",
            Reason::Explained(_) => "policy",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::NoData => f.write_str("No traffic data yet"),
            Reason::WithinThresholds { current, long } => write!(
                f,
                "Traffic does not meet adaptive thresholds. Current avg: {current:.2}, Long-term avg: {long:.2}"
            ),
            Reason::AboveDeployThreshold { current, threshold } => write!(
                f,
                "Traffic meets adaptive deploy threshold. Current avg: {current:.2} >= {threshold:.2}"
            ),
            Reason::SustainedHigh { threshold, ticks, current } => write!(
                f,
                "Traffic at or above traffic_threshold ({threshold}) for {ticks} consecutive ticks. Current avg: {current:.2}"
            ),
            Reason::BelowRemoveThreshold { current, threshold } => write!(
                f,
                "Traffic meets adaptive remove threshold. Current avg: {current:.2} <= {threshold:.2}"
            ),
            Reason::SustainedLow { threshold, ticks, current } => write!(
                f,
                "Traffic at or below deployment_threshold ({threshold}) for {ticks} consecutive ticks. Current avg: {current:.2}"
            ),
            Reason::Excluded => f.write_str("Region is in excluded_regions list"),
            Reason::NotAllowed => f.write_str("Region is not in allowed_regions list"),
            Reason::AlwaysRunning => f.write_str("Region is in always_running_regions list"),
            Reason::AlwaysRunningMissing => {
                f.write_str("Region is in always_running_regions list and is not deployed")
            }
            Reason::NoUsableMetrics => {
                f.write_str("No usable traffic metrics: removals are suspended")
            }
            Reason::Cooldown { remaining_secs } => {
                write!(f, "Cooldown period ({remaining_secs} seconds remaining)")
            }
            Reason::LastRegion => f.write_str("Region is the last deployed region"),
            Reason::MinRegions { min } => {
                write!(f, "Keeping at least min_regions ({min}) regions deployed")
            }
            Reason::ActionLimit { max } => {
                write!(f, "Action limit reached (max_actions_per_tick: {max})")
            }
            Reason::LatencyDeploy {
                saves_ms,
                share_pct,
                serves,
            } => {
                write!(f, "Saves {saves_ms:.0} ms for {share_pct:.1} % of requests (")?;
                for (index, region) in serves.iter().enumerate() {
                    if index > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{region}")?;
                }
                f.write_str(")")
            }
            Reason::LatencyRemove {
                users_go_to: Some(region),
                rtt_ms,
            } => write!(f, "Its users are {rtt_ms:.0} ms from {region}"),
            Reason::LatencyRemove {
                users_go_to: None, ..
            } => f.write_str("Serves no requests"),
            Reason::LatencyKeep { share_pct } => {
                write!(f, "Serves {share_pct:.1} % of requests")
            }
            Reason::LatencyServedFrom {
                server: Some(server),
                rtt_ms,
            } => write!(f, "Its users are served from {server} ({rtt_ms:.0} ms)"),
            Reason::LatencyServedFrom { server: None, .. } => {
                f.write_str("No traffic enters here")
            }
            Reason::LatencyPending {
                gain_pct,
                ticks,
                needed,
            } => write!(
                f,
                "A better placement would cut latency cost by {gain_pct:.1} %; waiting for it to persist ({ticks} of {needed} ticks)"
            ),
            Reason::LatencyPatient {
                gain_pct,
                held_secs,
                needed_secs,
            } => write!(
                f,
                "A better placement would cut latency cost by {gain_pct:.1} %, under the margin; adopting it once it has lasted {needed_secs} seconds ({held_secs} so far)"
            ),
            Reason::LatencyBelowMargin {
                gain_pct,
                margin_pct,
            } => write!(
                f,
                "A better placement would cut latency cost by only {gain_pct:.1} % (improvement_margin: {margin_pct:.1} %)"
            ),
            Reason::LatencyStabilizing { remaining_secs } => write!(
                f,
                "Moved recently; left as it is for the stabilization window ({remaining_secs} seconds remaining)"
            ),
            Reason::LatencyNoTraffic => f.write_str("No traffic to place machines by"),
            Reason::LatencyBudgetWait { regions, in_secs } => write!(
                f,
                "Wanted, but the machine budget pays for {} only in {in_secs} seconds",
                Regions(*regions)
            ),
            Reason::LatencyOverBudget { regions } => write!(
                f,
                "The machine budget left in this period pays for only {} until it ends",
                Regions(*regions)
            ),
            Reason::Explained(text) => f.write_str(text),
        }
    }
}

/// A count of regions in words: "1 region", "3 regions".
struct Regions(usize);

impl fmt::Display for Regions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            1 => f.write_str("1 region"),
            n => write!(f, "{n} regions"),
        }
    }
}

/// Serialized as its sentence, as the seed's report had it.
impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A sentence read back from a report becomes [`Reason::Explained`].
impl<'de> Deserialize<'de> for Reason {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Reason::Explained)
    }
}
