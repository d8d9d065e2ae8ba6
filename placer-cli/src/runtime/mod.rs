//! One app at work: [`AppRunner`] holds an app's placer, its backends
//! (traffic source and actuator), its stored state ([`store`]) and its
//! config, runs its ticks and applies config changes to itself; [`View`] is
//! what it shows the endpoints.
//!
//! Nothing here knows the HTTP server or the process: what a runner needs
//! from around it comes through [`Host`], which the
//! [`Service`](crate::Service) implements.

mod app;
mod apply;
mod error;
mod fenced;
mod host;
mod listed;
mod store;
#[cfg(test)]
mod tests;
mod tick;
mod tracked;
mod view;

use std::time::SystemTime;

use placer_core::Timestamp;

use crate::cli::GlobalArgs;
use crate::config::environment::Environment;

pub use app::AppRunner;
pub use error::{StartError, TickError, TickResult};
pub use host::{Applied, FinishedTick, Host};
pub use view::{RecentTick, View};

/// What the service was started from, kept to resolve config changes the
/// same way.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// Flags (merged with their environment variables by clap).
    pub args: GlobalArgs,
    /// The other environment variables.
    pub env: Environment,
    /// Seed of the traffic simulation when the config sets none; drawn once
    /// per process so a reload does not change the traffic.
    pub fallback_seed: u64,
}

/// How the service is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `serve`: the HTTP API and the periodic loop.
    Serve,
    /// `once`: a single tick.
    Once,
}

/// The wall clock as the engine's time.
pub(crate) fn now() -> Timestamp {
    Timestamp::from_system_time(SystemTime::now())
}
