//! Placement policies: given what the engine observed, propose moves.
//!
//! A policy only proposes. The [planner](crate::planner) then applies the
//! rules every policy shares — allowed/excluded/always-running lists,
//! cooldowns, the last region, the action limit — so a new policy cannot
//! break them.

mod threshold;

use std::collections::{BTreeMap, BTreeSet};

pub use threshold::ThresholdPolicy;

use crate::report::{Action, RegionDetail};
use crate::{EngineState, PlacerConfig, Reason, Region, Timestamp};

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

/// A policy's wish for one region.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    /// The region.
    pub region: Region,
    /// Deploy, remove, or none (leave it).
    pub action: Action,
    /// Why.
    pub reason: Reason,
}

/// A way of choosing where the app should run.
pub trait PlacementPolicy: Send + Sync {
    /// Proposals for the regions in `view.regions`: at most one per region.
    /// Regions without a proposal are left as they are.
    fn propose(&self, view: &PlanningView<'_>) -> Vec<Proposal>;
}
