//! The threshold policy's reasons.

use std::fmt;

use crate::policy::PolicyReason;
use crate::Region;

/// Why the threshold policy wished what it did.
///
/// ```
/// use placer_core::policy::ThresholdReason;
/// use placer_core::Reason;
///
/// let reason = Reason::policy(ThresholdReason::SustainedHigh { threshold: 50.0, ticks: 3, current: 80.0 });
/// assert_eq!(reason.class(), "sustained_high");
/// assert_eq!(
///     reason.to_string(),
///     "Traffic at or above traffic_threshold (50) for 3 consecutive ticks. Current avg: 80.00"
/// );
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ThresholdReason {
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
    /// The region's traffic is counted with that of the undeployed
    /// regions whose users it serves best (their home): `reason` speaks of
    /// the sum.
    WithEdges {
        /// The regions whose users count towards this one.
        edges: Vec<Region>,
        /// Why the policy wished what it did, on the summed traffic.
        reason: Box<ThresholdReason>,
    },
    /// The platform takes no machine in the region: its users count
    /// towards `home` (none when no region can serve them).
    CountedAt {
        /// The region whose traffic includes them.
        home: Option<Region>,
    },
}

impl PolicyReason for ThresholdReason {
    fn class(&self) -> &'static str {
        match self {
            ThresholdReason::WithinThresholds { .. } => "within_thresholds",
            ThresholdReason::AboveDeployThreshold { .. } => "above_deploy_threshold",
            ThresholdReason::SustainedHigh { .. } => "sustained_high",
            ThresholdReason::BelowRemoveThreshold { .. } => "below_remove_threshold",
            ThresholdReason::SustainedLow { .. } => "sustained_low",
            ThresholdReason::WithEdges { reason, .. } => reason.class(),
            ThresholdReason::CountedAt { .. } => "counted_at_home",
        }
    }
}

impl fmt::Display for ThresholdReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ThresholdReason::WithinThresholds { current, long } => write!(
                f,
                "Traffic does not meet adaptive thresholds. Current avg: {current:.2}, Long-term avg: {long:.2}"
            ),
            ThresholdReason::AboveDeployThreshold { current, threshold } => write!(
                f,
                "Traffic meets adaptive deploy threshold. Current avg: {current:.2} >= {threshold:.2}"
            ),
            ThresholdReason::SustainedHigh { threshold, ticks, current } => write!(
                f,
                "Traffic at or above traffic_threshold ({threshold}) for {ticks} consecutive ticks. Current avg: {current:.2}"
            ),
            ThresholdReason::BelowRemoveThreshold { current, threshold } => write!(
                f,
                "Traffic meets adaptive remove threshold. Current avg: {current:.2} <= {threshold:.2}"
            ),
            ThresholdReason::SustainedLow { threshold, ticks, current } => write!(
                f,
                "Traffic at or below deployment_threshold ({threshold}) for {ticks} consecutive ticks. Current avg: {current:.2}"
            ),
            ThresholdReason::WithEdges { edges, reason } => {
                write!(f, "{reason} (with the users entering at ")?;
                for (index, edge) in edges.iter().enumerate() {
                    if index > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{edge}")?;
                }
                f.write_str(")")
            }
            ThresholdReason::CountedAt { home: Some(home) } => {
                write!(f, "Its users count towards {home}, which serves them best")
            }
            ThresholdReason::CountedAt { home: None } => {
                f.write_str("No region that takes machines can serve its users")
            }
        }
    }
}
