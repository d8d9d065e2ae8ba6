//! Placement policies: given what the engine observed, propose moves.
//!
//! A policy only proposes. The [planner](crate::planner) then applies the
//! rules every policy shares — allowed/excluded/always-running lists,
//! cooldowns, the last region, the action limit — so a new policy cannot
//! break them.

mod latency;
mod threshold;

use std::collections::{BTreeMap, BTreeSet};

pub use latency::{LatencyPolicy, MachineTime, TrafficBaseline};
pub use threshold::ThresholdPolicy;

use crate::report::RegionDetail;
use crate::{Decision, EngineState, PlacerConfig, Region, Timestamp};

/// What a policy sees when it is asked for proposals.
#[derive(Debug, Clone, Copy)]
pub struct PlanningView<'a> {
    /// The engine's config.
    pub config: &'a PlacerConfig,
    /// History, streaks and last actions.
    pub state: &'a EngineState,
    /// Regions deployed now.
    pub deployed: &'a BTreeSet<Region>,
    /// Smoothed traffic and thresholds of every region in play.
    pub regions: &'a BTreeMap<Region, RegionDetail>,
    /// The tick's time.
    pub now: Timestamp,
}

/// What a policy carries from one tick to the next, persisted with the
/// engine state.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct PolicyMemory {
    /// Latency policy: consecutive ticks on which a better set of regions
    /// beat the current one by the improvement margin.
    pub latency_streak: u32,
    /// Latency policy: the app's usual total traffic, against which a
    /// region's cost is counted (`None` until the first observation).
    pub traffic_baseline: Option<TrafficBaseline>,
    /// Latency policy: since when a better set has beaten the current one
    /// without interruption, by at least the small margin.
    pub better_since: Option<Timestamp>,
    /// Latency policy: machine time spent in the current budget period
    /// (`None` without a budget, or until the first observation).
    pub machine_time: Option<MachineTime>,
    /// Latency policy: regions removed to stay within the machine budget,
    /// which may come back before the stabilization window has passed.
    pub budget_removed: BTreeSet<Region>,
}

/// A way of choosing where the app should run.
pub trait PlacementPolicy: Send + Sync {
    /// A wish for each region in `view.regions` (deploy, remove or none, and
    /// why): at most one per region.
    /// Regions without a proposal are left as they are. `memory` is what the
    /// policy kept from the previous tick; changes to it are kept when the
    /// tick is carried out.
    fn propose(&self, view: &PlanningView<'_>, memory: &mut PolicyMemory) -> Vec<Decision>;
}
