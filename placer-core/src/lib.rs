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
//! ## Dry run is the default
//! [`PlacerConfig::default()`] has `dry_run: true`. In dry-run the engine
//! never asks a real actuator to change anything: with one whose
//! [`is_simulation`](RegionActuator::is_simulation) is false (the default,
//! and what a Fly actuator answers) every planned deploy, remove and change
//! of machine count is reported as [`Outcome::DryRun`] and only the
//! listing ([`deployment`](RegionActuator::deployment), or its shorthand
//! [`deployed_regions`](RegionActuator::deployed_regions)) is called. A
//! simulating actuator (such as [`InMemoryActuator`]) is changed in dry-run
//! too, since that changes nothing real. Call
//! [`with_dry_run(false)`](PlacerConfig::with_dry_run) to let the engine
//! change a real deployment.
//!
//! ## How a tick decides
//! [`Placer::tick`] is four public steps, in order; a bot that does its own
//! I/O calls them itself and gets exactly the decisions and the
//! [`TickReport`] `tick` would give:
//!
//! 1. [`Placer::observe`] a [`TrafficSnapshot`]: appended to each region's
//!    bounded history, with a short and a long exponential moving average
//!    ([`predictor`]).
//! 2. [`Placer::decide`] against the deployment: the configured [`policy`]
//!    proposes deploys and removes (by default the seed's adaptive
//!    thresholds plus a sustained-traffic rule), and the shared rules guard
//!    them: allowed, excluded and always-running lists, per-region cooldown,
//!    regions the backend could not deploy lately, never below
//!    `min_regions`, no removal without usable metrics, and at most
//!    `max_actions_per_tick` moves. Pure: ask as often as you like.
//! 3. [`Placer::execute`] the [`Plan`] with an actuator (see dry run above):
//!    one failed action does not stop the others, and a removal is held back
//!    when a deploy it counted on to keep `min_regions` failed.
//! 4. [`Placer::commit`] the [`Execution`]: cooldowns, the policy's memory,
//!    and a backoff for a region the backend could not deploy
//!    ([`ActuatorError::RegionUnavailable`]) or a change it refused; it
//!    returns the [`TickReport`], in the seed's JSON shape.
//!
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
//! resume after a restart: [`EngineState::from_json`] (a
//! [`StateError`](state::StateError) when it cannot) and
//! [`Placer::with_state`].
//!
//! ## Where things are
//! The crate root holds what a tick needs; the modules hold the rest:
//! [`actuator`] (retry advice), [`memory`] (the in-memory backends),
//! [`report`], [`state`] (backoffs, deploys in doubt, per-region state), [`network`] (the
//! region catalog and round-trip times), [`config`], [`policy`],
//! [`forecast`] and [`wrap`] (retry, rate limit and read-only wrappers for
//! any actuator).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod setters;

pub mod actuator;
pub mod app_name;
pub mod config;
#[cfg(feature = "conformance")]
pub mod conformance;
mod decision;
pub mod forecast;
pub mod history;
pub mod machines;
pub mod memory;
pub mod network;
mod placer;
mod planner;
pub mod policy;
pub mod predictor;
pub mod reason;
pub mod region;
pub mod report;
pub mod secret;
pub mod sizing;
pub mod snapshot;
mod source;
pub mod state;
#[cfg(test)]
mod test_support;
mod text;
pub mod thresholds;
pub mod time;
pub mod wrap;

pub use actuator::{ActuatorError, RegionActuator};
pub use app_name::AppName;
/// Re-exported so a [`MetricsSource`] or [`RegionActuator`] can be
/// implemented without adding `async-trait` to your own dependencies.
pub use async_trait::async_trait;
pub use config::PlacerConfig;
pub use decision::{Action, Change, Decision, Move};
pub use machines::MachineCount;
pub use memory::{InMemoryActuator, ScriptedSource};
pub use placer::{Execution, Placer};
pub use planner::Plan;
pub use reason::Reason;
pub use region::Region;
pub use report::{ActionOutcome, MachineDetail, Outcome, RegionDetail, ResizeOutcome, TickReport};
pub use snapshot::TrafficSnapshot;
pub use source::{MetricsError, MetricsSource};
pub use state::EngineState;
pub use time::Timestamp;

/// The README's example, compiled and run as a test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme {}
