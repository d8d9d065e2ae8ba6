//! The threshold policy: each region on its own, by its smoothed traffic.
//! Its settings are the engine's top-level threshold keys
//! (`traffic_threshold`, `deployment_threshold`, `sustain_ticks`,
//! `thresholds`), which the planner also uses to report each region's
//! thresholds; it keeps no memory of its own (the streaks are the engine's).

mod reason;

pub use reason::ThresholdReason;

use super::{PlacementPolicy, PlanningView, PolicyContext, PolicyEntry, PolicyMemory, PolicyName};
use crate::{Action, Decision, Reason};

/// The threshold policy's line in the [registry](super::POLICIES).
pub(super) const ENTRY: PolicyEntry = PolicyEntry::new("threshold", build);

impl PolicyName {
    /// The threshold policy (the default).
    pub const THRESHOLD: PolicyName = PolicyName::new("threshold");
}

fn build(_: &PolicyContext<'_>) -> Box<dyn PlacementPolicy> {
    Box::new(ThresholdPolicy)
}

/// Deploys a region when its current traffic reaches the deploy threshold,
/// or has stayed at or above `traffic_threshold` for `sustain_ticks`
/// observations; removes a deployed region when its traffic falls to the
/// remove threshold, or has stayed at or below `deployment_threshold` for
/// `sustain_ticks` observations. A region without data is left alone.
#[derive(Debug, Clone, Copy, Default)]
pub struct ThresholdPolicy;

impl PlacementPolicy for ThresholdPolicy {
    fn name(&self) -> PolicyName {
        PolicyName::THRESHOLD
    }

    fn propose(&self, view: &PlanningView<'_>, _memory: &mut PolicyMemory) -> Vec<Decision> {
        let config = view.config;
        let sustain = config.sustain_ticks;
        view.regions
            .iter()
            .map(|(region, detail)| {
                let streaks = view
                    .state
                    .region(region)
                    .map(|s| (s.high_streak as usize, s.low_streak as usize))
                    .unwrap_or((0, 0));
                let (action, reason) = if detail.points == 0 {
                    (Action::None, Reason::NoData)
                } else if !detail.deployed && detail.current >= detail.deploy_threshold {
                    (
                        Action::Deploy,
                        Reason::policy(ThresholdReason::AboveDeployThreshold {
                            current: detail.current,
                            threshold: detail.deploy_threshold,
                        }),
                    )
                } else if !detail.deployed && sustain > 0 && streaks.0 >= sustain {
                    (
                        Action::Deploy,
                        Reason::policy(ThresholdReason::SustainedHigh {
                            threshold: config.traffic_threshold,
                            ticks: streaks.0 as u32,
                            current: detail.current,
                        }),
                    )
                } else if detail.deployed && detail.current <= detail.remove_threshold {
                    (
                        Action::Remove,
                        Reason::policy(ThresholdReason::BelowRemoveThreshold {
                            current: detail.current,
                            threshold: detail.remove_threshold,
                        }),
                    )
                } else if detail.deployed && sustain > 0 && streaks.1 >= sustain {
                    (
                        Action::Remove,
                        Reason::policy(ThresholdReason::SustainedLow {
                            threshold: config.deployment_threshold,
                            ticks: streaks.1 as u32,
                            current: detail.current,
                        }),
                    )
                } else {
                    (
                        Action::None,
                        Reason::policy(ThresholdReason::WithinThresholds {
                            current: detail.current,
                            long: detail.long,
                        }),
                    )
                };
                Decision::new(*region, action, reason)
            })
            .collect()
    }
}
