//! placer-core: the pure placement engine behind fly-placer.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod actuator;
pub mod config;
pub mod conformance;
mod memory;
mod region;
mod snapshot;
mod source;
mod time;
mod token;

pub use actuator::{ActuatorError, RegionActuator};
pub use config::{ConfigError, PlacerConfig};
pub use memory::{ActuatorCall, InMemoryActuator, ScriptedSource};
pub use region::{Region, RegionError};
pub use snapshot::{SnapshotError, TrafficSnapshot};
pub use source::{MetricsError, MetricsSource};
pub use time::{Timestamp, TimestampError};
pub use token::ApiToken;
