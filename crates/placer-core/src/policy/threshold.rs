//! The threshold policy: each region on its own, by its smoothed traffic.

use super::{PlacementPolicy, PlanningView, Proposal};
use crate::report::Action;

/// Deploys a region when its current traffic reaches the deploy threshold,
/// or has stayed at or above `traffic_threshold` for `sustain_ticks`
/// observations; removes a deployed region when its traffic falls to the
/// remove threshold, or has stayed at or below `deployment_threshold` for
/// `sustain_ticks` observations. A region without data is left alone.
#[derive(Debug, Clone, Copy, Default)]
pub struct ThresholdPolicy;

impl PlacementPolicy for ThresholdPolicy {
    fn propose(&self, view: &PlanningView<'_>) -> Vec<Proposal> {
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
                    (Action::None, "No traffic data yet".to_owned())
                } else if !detail.deployed && detail.current >= detail.deploy_threshold {
                    (
                        Action::Deploy,
                        format!(
                            "Traffic meets adaptive deploy threshold. Current avg: {:.2} >= {:.2}",
                            detail.current, detail.deploy_threshold
                        ),
                    )
                } else if !detail.deployed && sustain > 0 && streaks.0 >= sustain {
                    (
                        Action::Deploy,
                        format!(
                            "Traffic at or above traffic_threshold ({}) for {} consecutive ticks. Current avg: {:.2}",
                            config.traffic_threshold, streaks.0, detail.current
                        ),
                    )
                } else if detail.deployed && detail.current <= detail.remove_threshold {
                    (
                        Action::Remove,
                        format!(
                            "Traffic meets adaptive remove threshold. Current avg: {:.2} <= {:.2}",
                            detail.current, detail.remove_threshold
                        ),
                    )
                } else if detail.deployed && sustain > 0 && streaks.1 >= sustain {
                    (
                        Action::Remove,
                        format!(
                            "Traffic at or below deployment_threshold ({}) for {} consecutive ticks. Current avg: {:.2}",
                            config.deployment_threshold, streaks.1, detail.current
                        ),
                    )
                } else {
                    (
                        Action::None,
                        format!(
                            "Traffic does not meet adaptive thresholds. Current avg: {:.2}, Long-term avg: {:.2}",
                            detail.current, detail.long
                        ),
                    )
                };
                Proposal {
                    region: region.clone(),
                    action,
                    reason,
                }
            })
            .collect()
    }
}
