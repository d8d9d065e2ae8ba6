//! # placer-core
//!
//! The pure placement engine behind `fly-placer`: it turns per-region request
//! counts into decisions about which regions an app's machines should run in.
//!
//! It does no I/O of its own — no network, files, environment or clock. Traffic
//! comes in through a [`MetricsSource`], the deployment is read and changed
//! through a [`RegionActuator`], and the time of each tick is passed in as a
//! [`Timestamp`]. That makes it easy to embed in an ops bot, to replay history
//! through it, and to test.
//!
//! ## How a tick decides
//! 1. **Observe**: fetch a [`TrafficSnapshot`] (a failed fetch ends the tick
//!    with no action) and append it to each region's bounded [`RegionHistory`].
//! 2. **Smooth**: a short and a long exponential moving average per region,
//!    computed oldest to newest ([`predictor`]).
//! 3. **Propose**: the configured [`policy`] proposes deploys and removes —
//!    by default the seed's adaptive thresholds ([`Thresholds`]) plus a
//!    sustained-traffic rule, so flat high traffic is served too.
//! 4. **Guard**: the [`planner`] applies the shared rules: allowed, excluded and
//!    always-running lists, per-region cooldown in both directions, never below
//!    `min_regions`, no removal without usable metrics, and at most
//!    `max_actions_per_tick` moves.
//! 5. **Apply and report**: carry the plan out (in dry-run only on simulating
//!    actuators) and return a [`TickReport`] in the seed's JSON shape.
//!
//! [`Placer::tick`] does all of this. A bot that does its own I/O uses the
//! steps under it: [`Placer::observe`] a snapshot, [`Placer::decide`]
//! against a deployment (pure: ask "what would you do?" as often as you
//! like), carry out what you choose, then [`Placer::commit`] the outcomes.
//! A policy of your own plugs in with [`Placer::with_policy`] (see
//! [`policy`]).
//!
//! ## Embedding
//! An ops bot with its own traffic numbers implements [`MetricsSource`] and
//! drives the engine with its own clock:
//!
//! ```
//! use placer_core::{
//!     async_trait, InMemoryActuator, MetricsError, MetricsSource, Placer, PlacerConfig, Timestamp,
//!     TrafficSnapshot,
//! };
//!
//! /// Traffic counted by the bot itself, e.g. from its own load balancer logs.
//! struct BotCounters;
//!
//! #[async_trait]
//! impl MetricsSource for BotCounters {
//!     async fn fetch(&self, at: Timestamp) -> Result<TrafficSnapshot, MetricsError> {
//!         TrafficSnapshot::new(at, [("iad", 35.0), ("syd", 140.0)])
//!             .map_err(|source| MetricsError::InvalidData { backend: "bot", source })
//!     }
//! }
//!
//! # futures::executor::block_on(async {
//! let config = PlacerConfig::default().with_dry_run(false).with_sustain_ticks(2);
//! let mut placer = Placer::new(config)?;
//! let actuator = InMemoryActuator::new(["iad".parse()?]);
//! let mut now = Timestamp::from_unix_seconds(1_800_000_000);
//! for _ in 0..2 {
//!     let report = placer.tick(&BotCounters, &actuator, now).await;
//!     assert!(report.is_ok());
//!     now = now + std::time::Duration::from_secs(60);
//! }
//! assert!(actuator.regions().contains(&"syd".parse()?));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! Persist [`Placer::state`] ([`EngineState::to_json`]; it is versioned) to
//! resume after a restart: [`EngineState::from_json`] (a [`StateError`]
//! when it cannot) and [`Placer::with_state`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod setters;

mod actuator;
mod app_name;
pub mod config;
#[cfg(feature = "conformance")]
pub mod conformance;
mod decision;
pub mod forecast;
mod history;
mod memory;
pub mod network;
mod placer;
mod planner;
pub mod policy;
pub mod predictor;
mod reason;
mod region;
mod report;
mod secret;
mod snapshot;
mod source;
mod state;
#[cfg(test)]
mod test_support;
mod thresholds;
mod time;
pub mod wrap;

pub use actuator::{ActuatorError, RegionActuator, Retry};
pub use app_name::{AppName, AppNameError};
/// Re-exported so a [`MetricsSource`] or [`RegionActuator`] can be
/// implemented without adding `async-trait` to your own dependencies.
pub use async_trait::async_trait;
#[cfg(feature = "yaml")]
pub use config::ConfigError;
pub use config::PlacerConfig;
pub use decision::{Action, Decision, Move};
pub use history::RegionHistory;
pub use memory::{ActuatorCall, InMemoryActuator, ScriptedSource};
pub use network::geo;
pub use network::geo::RegionInfo;
pub use network::{
    nearest_deployed, LatencyMatrixError, LatencyModel, RttTable, BASE_RTT_MS, RTT_MS_PER_KM,
    UNCATALOGUED_RTT_MS, UNSERVED_RTT_MS,
};
pub use placer::{Execution, Placer};
pub use planner::Plan;
pub use reason::Reason;
pub use region::{Region, RegionError};
pub use report::{ActionOutcome, FailedStage, Outcome, RegionDetail, TickError, TickReport};
pub use secret::{Secret, REDACTED};
pub use snapshot::{SnapshotError, TrafficSnapshot};
pub use source::{MetricsError, MetricsSource};
pub use state::{
    EngineState, LastAction, RegionBackoff, RegionState, StateError, FIRST_BACKOFF, MAX_BACKOFF,
    STATE_FORMAT_VERSION,
};
pub use thresholds::Thresholds;
pub use time::{Timestamp, TimestampError};
