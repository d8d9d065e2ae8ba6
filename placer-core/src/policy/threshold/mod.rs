//! The threshold policy: each region on its own, by its smoothed traffic.
//! Its settings are the engine's top-level threshold keys
//! (`traffic_threshold`, `deployment_threshold`, `sustain_ticks`,
//! `thresholds`), which the planner also uses to report each region's
//! thresholds; it keeps no memory of its own (the streaks are the engine's).
//!
//! Traffic is counted where users entered Fly. The users of a region that
//! cannot be deployed (an edge region, deprecated, at capacity, not
//! allowed or excluded) count towards their home — the nearest region
//! that can ([`PlanningView::home`]) — so the policy deploys the home,
//! never the edge region.

mod reason;

use std::collections::BTreeMap;

pub use reason::ThresholdReason;

use super::{PlacementPolicy, PlanningView, PolicyContext, PolicyEntry, PolicyMemory, PolicyName};
use crate::thresholds::Thresholds;
use crate::{Action, Decision, Reason, Region, RegionDetail};

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
///
/// A region's traffic includes that of the undeployed regions it is the
/// [home](PlanningView::home) of: their sum is compared with thresholds
/// computed from the summed averages, a sustained rise counts as long as
/// the busiest of them has lasted (a lower bound of the sum's), and a
/// sustained fall only while the sum is at or below
/// `deployment_threshold`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ThresholdPolicy;

/// The traffic a region is judged by: its own and its edges'.
struct Served {
    detail: RegionDetail,
    high_streak: usize,
    low_streak: usize,
    edges: Vec<Region>,
}

impl PlacementPolicy for ThresholdPolicy {
    fn name(&self) -> PolicyName {
        PolicyName::THRESHOLD
    }

    fn propose(&self, view: &PlanningView<'_>, _memory: &mut PolicyMemory) -> Vec<Decision> {
        let served = served(view);
        view.regions
            .keys()
            .map(|region| match served.get(region) {
                Some(served) => decide(view, region, served),
                None => {
                    let home = view.home(region).map(|home| home.region);
                    Decision::new(
                        *region,
                        Action::None,
                        Reason::policy(ThresholdReason::CountedAt { home }),
                    )
                }
            })
            .collect()
    }
}

/// The traffic each region is judged by. A region missing from the map is
/// an undeployed one the platform takes no machine in: its traffic is its
/// home's.
fn served(view: &PlanningView<'_>) -> BTreeMap<Region, Served> {
    let streaks = |region: &Region| {
        view.state
            .region(region)
            .map(|s| (s.high_streak as usize, s.low_streak as usize))
            .unwrap_or((0, 0))
    };
    let mut served: BTreeMap<Region, Served> = BTreeMap::new();
    let mut moved: BTreeMap<Region, Vec<Region>> = BTreeMap::new();
    for (region, detail) in view.regions {
        let deployable = view.platform.is_deployable(region);
        if deployable || detail.deployed {
            let (high_streak, low_streak) = streaks(region);
            served.insert(
                *region,
                Served {
                    detail: detail.clone(),
                    high_streak,
                    low_streak,
                    edges: Vec::new(),
                },
            );
        }
        // A region sitting out a backoff keeps its traffic: the backoff is
        // short, and a machine next door for its duration would be churn.
        let listed =
            view.config.may_deploy(region) || view.config.always_running_regions.contains(region);
        if detail.deployed || detail.points == 0 || (deployable && listed) {
            continue;
        }
        if let Some(home) = view.home(region).filter(|home| home.region != *region) {
            moved.entry(home.region).or_default().push(*region);
        }
    }
    let config = view.config;
    for (home, edges) in moved {
        let Some(target) = served.get_mut(&home) else {
            continue;
        };
        let mut members = vec![home];
        members.extend(&edges);
        let details: Vec<&RegionDetail> =
            members.iter().filter_map(|r| view.regions.get(r)).collect();
        let sum = |field: fn(&RegionDetail) -> f64| details.iter().map(|d| field(d)).sum::<f64>();
        let mut recent_longs: Vec<f64> = Vec::new();
        for member in &members {
            let Some(state) = view.state.region(member) else {
                continue;
            };
            // Aligned on the latest value.
            let longs: Vec<f64> = state.recent_longs.iter().rev().copied().collect();
            if longs.len() > recent_longs.len() {
                recent_longs.resize(longs.len(), 0.0);
            }
            for (total, long) in recent_longs.iter_mut().zip(longs) {
                *total += long;
            }
        }
        recent_longs.reverse();
        let long = sum(|d| d.long);
        let current = sum(|d| d.current);
        let thresholds = Thresholds::for_region(config, long, &recent_longs);
        let detail = RegionDetail {
            requests: sum(|d| d.requests),
            current,
            short: sum(|d| d.short),
            long,
            deploy_threshold: thresholds.deploy,
            remove_threshold: thresholds.remove,
            points: details.iter().map(|d| d.points).max().unwrap_or(0),
            deployed: target.detail.deployed,
            machines: None,
        };
        let high_streak = members.iter().map(|r| streaks(r).0).max().unwrap_or(0);
        let low_streak = if current <= config.deployment_threshold {
            members.iter().map(|r| streaks(r).1).min().unwrap_or(0)
        } else {
            0
        };
        *target = Served {
            detail,
            high_streak,
            low_streak,
            edges,
        };
    }
    served
}

fn decide(view: &PlanningView<'_>, region: &Region, served: &Served) -> Decision {
    let config = view.config;
    let sustain = config.sustain_ticks;
    let detail = &served.detail;
    let (action, reason) = if detail.points == 0 {
        return Decision::new(*region, Action::None, Reason::NoData);
    } else if !detail.deployed && detail.current >= detail.deploy_threshold {
        (
            Action::Deploy,
            ThresholdReason::AboveDeployThreshold {
                current: detail.current,
                threshold: detail.deploy_threshold,
            },
        )
    } else if !detail.deployed && sustain > 0 && served.high_streak >= sustain {
        (
            Action::Deploy,
            ThresholdReason::SustainedHigh {
                threshold: config.traffic_threshold,
                ticks: served.high_streak as u32,
                current: detail.current,
            },
        )
    } else if detail.deployed && detail.current <= detail.remove_threshold {
        (
            Action::Remove,
            ThresholdReason::BelowRemoveThreshold {
                current: detail.current,
                threshold: detail.remove_threshold,
            },
        )
    } else if detail.deployed && sustain > 0 && served.low_streak >= sustain {
        (
            Action::Remove,
            ThresholdReason::SustainedLow {
                threshold: config.deployment_threshold,
                ticks: served.low_streak as u32,
                current: detail.current,
            },
        )
    } else {
        (
            Action::None,
            ThresholdReason::WithinThresholds {
                current: detail.current,
                long: detail.long,
            },
        )
    };
    let reason = if served.edges.is_empty() {
        reason
    } else {
        ThresholdReason::WithEdges {
            edges: served.edges.clone(),
            reason: Box::new(reason),
        }
    };
    Decision::new(*region, action, Reason::policy(reason))
}
