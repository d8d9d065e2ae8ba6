//! What the latency policy carries from one tick to the next.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::{LongRunTraffic, MachineTime, PriceInForce, TrafficBaseline};
use crate::{Region, Timestamp};

/// The latency policy's memory, persisted in the engine state under
/// `latency`. Its fields are those the engine state held as
/// `policy_memory` before each policy kept its own, so old states read
/// into it unchanged.
///
/// ```
/// use placer_core::policy::{LatencyMemory, PolicyName};
/// use placer_core::EngineState;
///
/// let state = EngineState::default();
/// let memory: LatencyMemory = state.policy_memory(&PolicyName::LATENCY).load();
/// assert_eq!(memory, LatencyMemory::default());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct LatencyMemory {
    /// Consecutive ticks on which a better set of regions beat the current
    /// one by the improvement margin.
    pub latency_streak: u32,
    /// The app's usual total traffic, against which a region's cost is
    /// counted (`None` until the first observation).
    pub traffic_baseline: Option<TrafficBaseline>,
    /// Since when a better set has beaten the current one without
    /// interruption, by at least the small margin.
    pub better_since: Option<Timestamp>,
    /// Machine time spent in the current budget period (`None` without a
    /// budget, or until the first observation).
    pub machine_time: Option<MachineTime>,
    /// Regions removed to stay within the machine budget, which may come
    /// back before the stabilization window has passed.
    pub budget_removed: BTreeSet<Region>,
    /// Regions chosen for removal and kept until the regions taking over
    /// their users have started (`machine_startup`): they go as soon as
    /// those are up, without waiting for the margins again.
    pub awaiting_startup: BTreeSet<Region>,
    /// The region price in force and why, under `latency.price_ms`,
    /// `latency.budget` or `latency.target_machines` (`None` under the
    /// legacy keys, whose price follows the traffic every tick).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<PriceInForce>,
    /// The app's long-run traffic, under `latency.price_ms`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub long_run: Option<LongRunTraffic>,
}
