//! The latency policy's reasons.

use std::fmt;

use crate::forecast::Forecast;
use crate::policy::PolicyReason;
use crate::Region;

/// Why the latency policy wished what it did.
///
/// ```
/// use placer_core::policy::LatencyReason;
/// use placer_core::Reason;
///
/// let reason = Reason::policy(LatencyReason::Keep { share_pct: 62.5 });
/// assert_eq!(reason.class(), "latency_keep");
/// assert_eq!(reason.to_string(), "Serves 62.5 % of requests");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum LatencyReason {
    /// Deploying the region saves `saves_ms` of round trip
    /// For `share_pct` % of requests, entering at `serves`.
    Deploy {
        /// Mean round trip saved per request it will serve, in ms.
        saves_ms: f64,
        /// Percentage of all requests it will serve.
        share_pct: f64,
        /// The busiest edge regions it will serve (at most four).
        serves: Vec<Region>,
    },
    /// The region's users are `rtt_ms` from `users_go_to`
    /// (`None`: it serves no requests).
    Remove {
        /// Where most of its users will be served.
        users_go_to: Option<Region>,
        /// Their mean round trip there, in ms.
        rtt_ms: f64,
    },
    /// The deployed region stays; it serves `share_pct` %.
    Keep {
        /// Percentage of all requests it serves.
        share_pct: f64,
    },
    /// The undeployed region's users are served from
    /// `server` (`None`: no traffic enters there).
    ServedFrom {
        /// The region serving them.
        server: Option<Region>,
        /// Their round trip, in ms.
        rtt_ms: f64,
    },
    /// A better set exists but must stay better for
    /// `needed` ticks; it has for `ticks`.
    Pending {
        /// How much better, in percent of the objective.
        gain_pct: f64,
        /// Consecutive ticks it has been better.
        ticks: u32,
        /// `latency.persist_ticks`.
        needed: u32,
    },
    /// A better set gains less than the margin but at least
    /// `patient_margin`; it is adopted once it has stayed better for
    /// `needed_secs` (`latency.stabilization_window`).
    Patient {
        /// How much better, in percent of the objective.
        gain_pct: f64,
        /// Whole seconds it has stayed better without a break.
        held_secs: u64,
        /// Whole seconds it must stay better.
        needed_secs: u64,
    },
    /// A better set exists but gains less than the margin.
    BelowMargin {
        /// How much better, in percent of the objective.
        gain_pct: f64,
        /// `latency.improvement_margin`, in percent.
        margin_pct: f64,
    },
    /// The region was deployed or removed recently; it stays
    /// As it is until `latency.stabilization_window` has passed.
    Stabilizing {
        /// Whole seconds until the region may change again.
        remaining_secs: u64,
    },
    /// No traffic at all, nothing to place machines by.
    NoTraffic,
    /// The better placement needs this undeployed region,
    /// And the machine budget pays for its `regions` regions only `in_secs`
    /// From now; until then the policy only makes changes towards it.
    BudgetWait {
        /// Regions the budget will pay for until the end of its period.
        regions: usize,
        /// Whole seconds until it does.
        in_secs: u64,
    },
    /// The machine budget left in this period pays for only
    /// `regions` regions until the period ends.
    OverBudget {
        /// Regions the budget pays for.
        regions: usize,
    },
    /// The region is to be removed, but it still serves users that
    /// `successor`, deployed and still starting (`machine_startup`), will
    /// serve: it stays until that machine is up, `remaining_secs` from now.
    AwaitingStartup {
        /// The starting region that takes over its users.
        successor: Region,
        /// Whole seconds until the successor has started.
        remaining_secs: u64,
    },
    /// Deployed ahead of the traffic the forecast expects, so that the
    /// machine is serving when it comes.
    Ahead {
        /// The busiest traffic expected over the lead time.
        forecast: Forecast,
    },
    /// Kept although its traffic is falling: the forecast expects it back
    /// sooner than a removed region could return.
    ExpectedAgain {
        /// The busiest traffic expected before then.
        forecast: Forecast,
    },
}

impl PolicyReason for LatencyReason {
    fn class(&self) -> &'static str {
        match self {
            LatencyReason::Deploy { .. } => "latency_deploy",
            LatencyReason::Remove { .. } => "latency_remove",
            LatencyReason::Keep { .. } => "latency_keep",
            LatencyReason::ServedFrom { .. } => "latency_served_from",
            LatencyReason::Pending { .. } => "latency_pending",
            LatencyReason::Patient { .. } => "latency_patient",
            LatencyReason::BelowMargin { .. } => "latency_below_margin",
            LatencyReason::Stabilizing { .. } => "latency_stabilizing",
            LatencyReason::NoTraffic => "latency_no_traffic",
            LatencyReason::BudgetWait { .. } => "latency_budget_wait",
            LatencyReason::OverBudget { .. } => "latency_over_budget",
            LatencyReason::AwaitingStartup { .. } => "latency_awaiting_startup",
            LatencyReason::Ahead { .. } => "latency_ahead",
            LatencyReason::ExpectedAgain { .. } => "latency_expected_again",
        }
    }
}

impl fmt::Display for LatencyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LatencyReason::Deploy {
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
            LatencyReason::Remove {
                users_go_to: Some(region),
                rtt_ms,
            } => write!(f, "Its users are {rtt_ms:.0} ms from {region}"),
            LatencyReason::Remove {
                users_go_to: None, ..
            } => f.write_str("Serves no requests"),
            LatencyReason::Keep { share_pct } => {
                write!(f, "Serves {share_pct:.1} % of requests")
            }
            LatencyReason::ServedFrom {
                server: Some(server),
                rtt_ms,
            } => write!(f, "Its users are served from {server} ({rtt_ms:.0} ms)"),
            LatencyReason::ServedFrom { server: None, .. } => {
                f.write_str("No traffic enters here")
            }
            LatencyReason::Pending {
                gain_pct,
                ticks,
                needed,
            } => write!(
                f,
                "A better placement would cut latency cost by {gain_pct:.1} %; waiting for it to persist ({ticks} of {needed} ticks)"
            ),
            LatencyReason::Patient {
                gain_pct,
                held_secs,
                needed_secs,
            } => write!(
                f,
                "A better placement would cut latency cost by {gain_pct:.1} %, under the margin; adopting it once it has lasted {needed_secs} seconds ({held_secs} so far)"
            ),
            LatencyReason::BelowMargin {
                gain_pct,
                margin_pct,
            } => write!(
                f,
                "A better placement would cut latency cost by only {gain_pct:.1} % (improvement_margin: {margin_pct:.1} %)"
            ),
            LatencyReason::Stabilizing { remaining_secs } => write!(
                f,
                "Moved recently; left as it is for the stabilization window ({remaining_secs} seconds remaining)"
            ),
            LatencyReason::NoTraffic => f.write_str("No traffic to place machines by"),
            LatencyReason::BudgetWait { regions, in_secs } => write!(
                f,
                "Wanted, but the machine budget pays for {} only in {in_secs} seconds",
                Regions(*regions)
            ),
            LatencyReason::OverBudget { regions } => write!(
                f,
                "The machine budget left in this period pays for only {} until it ends",
                Regions(*regions)
            ),
            LatencyReason::AwaitingStartup {
                successor,
                remaining_secs,
            } => write!(
                f,
                "To be removed once {successor}, which takes over its users, has started ({remaining_secs} seconds remaining)"
            ),
            LatencyReason::Ahead { forecast } => {
                write!(f, "Deployed ahead of its traffic: {forecast}")
            }
            LatencyReason::ExpectedAgain { forecast } => {
                write!(f, "Kept for the traffic to come: {forecast}")
            }
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
