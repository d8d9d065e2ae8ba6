//! The latency policy: choose the set of regions that minimises users'
//! round-trip time for the machines it costs.
//!
//! Placement is facility location on the [`LatencyModel`]: with `w_r` the
//! smoothed traffic entering at edge region `r` and `W = Σ w_r`, choose the
//! deployed set `D` minimising
//!
//! ```text
//! Σ_r w_r · RTT(r, D)  +  region_cost_ms · W · |D|
//! ```
//!
//! so one more region is worth it exactly when it lowers the mean round trip
//! per request by at least `region_cost_ms`. `D` keeps the always-running
//! regions, stays within the allowed and not excluded regions (and those
//! already deployed), and has between `min_regions` and `max_regions`
//! members. A change is proposed only when it improves the objective by
//! `improvement_margin` for `persist_ticks` consecutive ticks, so noise does
//! not move machines.

mod explain;
mod solver;

use std::collections::BTreeSet;
use std::sync::Arc;

use super::{PlacementPolicy, PlanningView, PolicyMemory, Proposal};
use crate::report::Action;
use crate::{LatencyModel, Reason, Region, RttTable};
use explain::Explainer;
use solver::FacilityProblem;

/// Places machines where they cut users' round trips most.
#[derive(Debug, Clone)]
pub struct LatencyPolicy {
    model: Arc<LatencyModel>,
}

impl LatencyPolicy {
    /// A latency policy on `model`.
    pub fn new(model: Arc<LatencyModel>) -> Self {
        LatencyPolicy { model }
    }
}

impl PlacementPolicy for LatencyPolicy {
    fn propose(&self, view: &PlanningView<'_>, memory: &mut PolicyMemory) -> Vec<Proposal> {
        let config = view.config;
        let weights: Vec<(Region, f64)> = view
            .regions
            .iter()
            .map(|(region, detail)| (*region, detail.current))
            .filter(|(_, weight)| *weight > 0.0)
            .collect();
        let total: f64 = weights.iter().map(|(_, w)| w).sum();
        if total <= 0.0 {
            memory.latency_streak = 0;
            return hold_all(view, Reason::LatencyNoTraffic);
        }
        let candidates: BTreeSet<Region> = view
            .regions
            .keys()
            .filter(|r| {
                config.may_deploy(r)
                    || view.deployed.contains(r)
                    || config.always_running_regions.contains(r)
            })
            .copied()
            .collect();
        let table = RttTable::new(weights.iter().map(|(r, _)| *r), candidates, &self.model);
        // Table rows are sorted by region, like `weights` (taken from a BTreeMap).
        debug_assert!(table.edges().iter().eq(weights.iter().map(|(r, _)| r)));
        let columns = table.servers();
        let problem = FacilityProblem {
            table: &table,
            weights: weights.iter().map(|(_, w)| *w).collect(),
            region_cost: vec![config.latency.region_cost_ms * total; columns.len()],
            min_size: config.min_regions,
            max_size: config.max_regions.unwrap_or(usize::MAX),
            fixed: columns
                .iter()
                .map(|r| config.always_running_regions.contains(r))
                .collect(),
            allowed: columns
                .iter()
                .map(|r| config.may_deploy(r) || view.deployed.contains(r))
                .collect(),
        };
        let current: Vec<bool> = columns.iter().map(|r| view.deployed.contains(r)).collect();
        let target = problem.solve(&current);
        let current_cost = problem.cost(&current);
        let gain = if current_cost > 0.0 {
            (current_cost - problem.cost(&target)) / current_cost
        } else {
            0.0
        };
        let changes = target != current;
        let worthwhile = changes && gain > 0.0 && gain >= config.latency.improvement_margin;
        memory.latency_streak = if worthwhile {
            memory.latency_streak.saturating_add(1)
        } else {
            0
        };
        let ready = worthwhile
            && (memory.latency_streak >= config.latency.persist_ticks
                || gain >= config.latency.urgent_improvement);

        let target_set: BTreeSet<Region> = columns
            .iter()
            .zip(&target)
            .filter(|(_, chosen)| **chosen)
            .map(|(r, _)| *r)
            .collect();
        let explainer = Explainer::new(&table, &weights, total, view.deployed, &target_set);
        view.regions
            .keys()
            .map(|region| {
                let wanted = target_set.contains(region);
                let deployed = view.deployed.contains(region);
                let (action, reason) = match (wanted, deployed) {
                    (true, true) => (Action::None, explainer.keep(region)),
                    (false, false) => (Action::None, explainer.served_from(region)),
                    _ if !worthwhile => (
                        Action::None,
                        Reason::LatencyBelowMargin {
                            gain_pct: 100.0 * gain,
                            margin_pct: 100.0 * config.latency.improvement_margin,
                        },
                    ),
                    _ if !ready => (
                        Action::None,
                        Reason::LatencyPending {
                            gain_pct: 100.0 * gain,
                            ticks: memory.latency_streak,
                            needed: config.latency.persist_ticks,
                        },
                    ),
                    _ if stabilizing(view, region).is_some() => (
                        Action::None,
                        Reason::LatencyStabilizing {
                            remaining_secs: stabilizing(view, region).unwrap_or_default(),
                        },
                    ),
                    (true, false) => (Action::Deploy, explainer.deploy(region)),
                    (false, true) => (Action::Remove, explainer.remove(region)),
                };
                Proposal {
                    region: *region,
                    action,
                    reason,
                }
            })
            .collect()
    }
}

/// Seconds left before a move on `region` may undo its last one.
fn stabilizing(view: &PlanningView<'_>, region: &Region) -> Option<u64> {
    let last = view.state.region(region)?.last_action?;
    let elapsed = view.now.duration_since(last.at);
    let window = view.config.latency.stabilization_window;
    (elapsed <= window).then(|| (window - elapsed).as_secs_f64().ceil() as u64)
}

fn hold_all(view: &PlanningView<'_>, reason: Reason) -> Vec<Proposal> {
    view.regions
        .keys()
        .map(|region| Proposal {
            region: *region,
            action: Action::None,
            reason: reason.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests;
