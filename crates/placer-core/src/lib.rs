//! placer-core: the pure placement engine behind fly-placer.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod actuator;
pub mod config;
pub mod conformance;
mod history;
mod memory;
mod placer;
pub mod planner;
pub mod policy;
pub mod predictor;
mod region;
mod report;
mod snapshot;
mod source;
mod state;
mod thresholds;
mod time;
mod token;

pub use actuator::{ActuatorError, RegionActuator};
pub use config::{ConfigError, PlacerConfig};
pub use history::RegionHistory;
pub use memory::{ActuatorCall, InMemoryActuator, ScriptedSource};
pub use placer::Placer;
pub use planner::{Plan, PlannedAction};
pub use region::{Region, RegionError};
pub use report::{Action, ActionOutcome, Outcome, RegionDetail, Skipped, TickReport};
pub use snapshot::{SnapshotError, TrafficSnapshot};
pub use source::{MetricsError, MetricsSource};
pub use state::{EngineState, LastAction, RegionState, StateError, STATE_FORMAT_VERSION};
pub use thresholds::Thresholds;
pub use time::{Timestamp, TimestampError};
pub use token::ApiToken;
