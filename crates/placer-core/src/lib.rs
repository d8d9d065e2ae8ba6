//! placer-core: the pure placement engine behind fly-placer.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod actuator;
pub mod conformance;
pub mod geo;
pub mod kmedian;
mod latency;
mod memory;
pub mod quality;
mod region;
mod rtt_table;
pub mod scenario;
pub mod seed_rule;
mod snapshot;
mod source;
mod time;
mod timeline;
mod token;
pub mod trace;

pub use actuator::{ActuatorError, RegionActuator};
pub use geo::RegionInfo;
pub use kmedian::{KMedian, KMedianError, KMedianSolution};
pub use latency::{
    nearest_deployed, LatencyMatrixError, LatencyModel, BASE_RTT_MS, RTT_MS_PER_KM,
    UNCATALOGUED_RTT_MS, UNSERVED_RTT_MS,
};
pub use memory::{ActuatorCall, InMemoryActuator, ScriptedSource};
pub use quality::{QualityOptions, QualityReport, QualityRow};
pub use region::{Region, RegionError};
pub use rtt_table::RttTable;
pub use seed_rule::{replay_seed_rule, SeedDecision, SeedRule, SeedRuleParams};
pub use snapshot::{SnapshotError, TrafficSnapshot};
pub use source::{MetricsError, MetricsSource};
pub use time::{Timestamp, TimestampError};
pub use timeline::Timeline;
pub use token::ApiToken;
pub use trace::{Trace, TraceError};
