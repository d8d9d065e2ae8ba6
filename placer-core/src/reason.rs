//! [`Reason`]: why a region was changed or left alone, as data that renders
//! to the seed's sentences.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::network::platform::Unavailable;
use crate::policy::reason::AnyPolicyReason;
use crate::policy::PolicyReason;
use crate::{Region, Timestamp};

/// Why the engine proposed, carried out or skipped a move.
///
/// Reasons are data until someone reads them: [`Display`](fmt::Display)
/// gives the sentence a person sees in the report (the seed's wording where
/// the seed had one), and [`class`](Reason::class) a stable name for metrics.
///
/// The planner's own reasons (lists, cooldown, limits) are variants here; a
/// policy's reasons are its own type, wrapped in [`Reason::Policy`].
///
/// ```
/// use placer_core::policy::ThresholdReason;
/// use placer_core::Reason;
///
/// let reason = Reason::policy(ThresholdReason::WithinThresholds { current: 36.65, long: 39.29 });
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
    /// The backend could not deploy the region lately (no capacity, region
    /// rejected): it sits out, and its users are served from elsewhere,
    /// until the deploy is tried again at `until`.
    Unavailable {
        /// The first refusal in a row.
        since: Timestamp,
        /// When the deploy is tried again.
        until: Timestamp,
        /// The backend's words.
        reason: String,
        /// The nearest region deployed after the tick, which serves the
        /// region's users (none when nothing is deployed or the region is
        /// not in the catalog).
        served_from: Option<Region>,
    },
    /// The platform takes no new machine in the region now (an edge
    /// region, deprecated, or at capacity for the app's machine size; see
    /// [`PlatformRegions`](crate::network::platform::PlatformRegions)): it
    /// is not deployed, whatever the policy wished, and when it runs now it
    /// is kept while it runs (never removed for that alone).
    NotDeployable {
        /// The region.
        region: Region,
        /// Why it takes no new machine.
        why: Unavailable,
        /// True when it runs a machine now (kept while it runs).
        running: bool,
        /// Not running: the region deployed after the tick that serves the
        /// users entering there, with their round trip in ms (none when
        /// nothing is deployed).
        served_from: Option<(Region, f64)>,
        /// The nearest region that takes machines and may be deployed
        /// (allowed, not excluded, not backing off): where its users would
        /// be served best.
        home: Option<Region>,
    },
    /// The backend refused on purpose to remove the region (machines
    /// fly-placer did not create, the app's last machine): the removal is
    /// not asked for again before `until`.
    RemovalRefused {
        /// The first refusal in a row.
        since: Timestamp,
        /// When the removal is asked for again.
        until: Timestamp,
        /// The backend's words.
        reason: String,
    },
    /// A deploy of the region is in doubt (its answer was lost): the region
    /// counts as deployed, and is not removed, until the listing shows it
    /// or `until` (see [`PendingDeploy`](crate::state::PendingDeploy)).
    DeployPending {
        /// When the deploy in doubt was attempted.
        since: Timestamp,
        /// When its grace period ends.
        until: Timestamp,
    },
    /// A policy's own reason (see [`PolicyReason`]).
    Policy(PolicyExplanation),
    /// An explanation given by a policy in its own words, or a sentence
    /// read back from a report.
    Explained(String),
}

/// A policy's own reason inside a [`Reason`]; see [`Reason::policy`].
#[derive(Clone)]
pub struct PolicyExplanation(Arc<dyn AnyPolicyReason>);

impl fmt::Debug for PolicyExplanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for PolicyExplanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

impl PartialEq for PolicyExplanation {
    fn eq(&self, other: &Self) -> bool {
        self.0.same_as(&*other.0)
    }
}

impl Reason {
    /// Wraps a policy's own reason.
    pub fn policy(reason: impl PolicyReason) -> Self {
        Reason::Policy(PolicyExplanation(Arc::new(reason)))
    }

    /// The policy's own reason, when this is one of type `T`.
    pub fn policy_reason<T: PolicyReason>(&self) -> Option<&T> {
        match self {
            Reason::Policy(PolicyExplanation(reason)) => reason.as_any().downcast_ref(),
            _ => None,
        }
    }

    /// A stable, lowercase name of the kind of reason, for metrics labels.
    pub fn class(&self) -> &'static str {
        match self {
            Reason::NoData => "no_data",
            Reason::Excluded => "excluded",
            Reason::NotAllowed => "not_allowed",
            Reason::AlwaysRunning => "always_running",
            Reason::AlwaysRunningMissing => "always_running_missing",
            Reason::NoUsableMetrics => "no_usable_metrics",
            Reason::Cooldown { .. } => "cooldown",
            Reason::LastRegion => "last_region",
            Reason::MinRegions { .. } => "min_regions",
            Reason::ActionLimit { .. } => "action_limit",
            Reason::Unavailable { .. } => "unavailable",
            Reason::RemovalRefused { .. } => "removal_refused",
            Reason::DeployPending { .. } => "deploy_pending",
            Reason::NotDeployable { .. } => "not_deployable",
            Reason::Policy(PolicyExplanation(reason)) => reason.class(),
            Reason::Explained(_) => "policy",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::NoData => f.write_str("No traffic data yet"),
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
            Reason::Unavailable {
                since,
                until,
                reason,
                served_from,
            } => {
                write!(f, "Region unavailable since {since} ({reason})")?;
                if let Some(from) = served_from {
                    write!(f, "; its users are served from {from}")?;
                }
                write!(f, "; deploy tried again after {until}")
            }
            Reason::NotDeployable {
                region,
                why,
                running,
                served_from,
                home,
            } => {
                write!(f, "{region} is {why}: ")?;
                if *running {
                    f.write_str("kept while it runs")?;
                    if let Some(home) = home.filter(|home| home != region) {
                        write!(f, "; its users would be served best from {home}")?;
                    }
                    return Ok(());
                }
                match served_from {
                    Some((server, ms)) => write!(
                        f,
                        "users entering at {region} are served from {server} ({ms:.0} ms)"
                    )?,
                    None => write!(f, "no region serves the users entering at {region}")?,
                }
                match home {
                    Some(home) if served_from.is_none_or(|(server, _)| server != *home) => {
                        write!(f, "; they would be served best from {home}")
                    }
                    _ => Ok(()),
                }
            }
            Reason::RemovalRefused {
                since,
                until,
                reason,
            } => write!(
                f,
                "Removal refused since {since} ({reason}); asked again after {until}"
            ),
            Reason::DeployPending { since, until } => write!(
                f,
                "Deploy in doubt since {since} (its answer was lost): counted as deployed until \
                 the listing shows it, or until {until}"
            ),
            Reason::Policy(reason) => reason.fmt(f),
            Reason::Explained(text) => f.write_str(text),
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
