//! [`Host`]: what a runner needs from the process around it, so the
//! runtime never imports the service.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use placer_core::{Placer, Region, TickReport};

use crate::config::file::LoadedConfig;
use crate::runtime::{AppRunner, TickError};

/// The process around a runner, called during a tick: it polls the config
/// file and keeps what all apps share (metrics, the trigger token, the
/// periodic loop). [`Service`](crate::Service) is the implementation; the
/// trait keeps the runner free of the service's types.
pub trait Host: Send + Sync {
    /// Reads the config file and hands `runner` a valid change waiting to
    /// be applied to it, if any. Called at the start of each of its ticks.
    fn staged_config(&self, runner: &AppRunner) -> Option<LoadedConfig>;
    /// `runner` put a changed config in force.
    fn config_applied(&self, runner: &AppRunner, applied: &Applied);
    /// A staged config could not be applied (`message` says why); the
    /// previous config stays in force.
    fn config_rejected(&self, runner: &AppRunner, message: String);
    /// A tick finished; its state was saved, or not (`tick.saved`).
    fn tick_finished(&self, runner: &AppRunner, tick: &FinishedTick<'_>);
    /// A tick of `runner` that was started did not finish with a report
    /// (it crashed, the state could not be read, leadership was lost).
    /// A host that keeps no record of those needs nothing here.
    fn tick_not_run(&self, runner: &AppRunner, error: &TickError) {
        let _ = (runner, error);
    }

    /// Whether an app whose forecaster has not read its past traffic yet
    /// may do so at this tick; when not, it ticks on observed traffic and
    /// asks again at its next tick. Spreads the warm starts of thousands of
    /// apps over their first ticks.
    fn warm_start_turn(&self) -> bool {
        true
    }
}

/// A config change a runner applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The changed settings, one `key: old → new` line each.
    pub changes: Vec<String>,
    /// Whether the time between periodic ticks changed.
    pub interval_changed: bool,
}

/// What [`Host::tick_finished`] is told about a tick.
#[derive(Debug)]
pub struct FinishedTick<'a> {
    /// The tick's report.
    pub report: &'a Arc<TickReport>,
    /// How long it took.
    pub took: Duration,
    /// What is deployed after it, as far as the runner knows.
    pub deployment: &'a BTreeSet<Region>,
    /// The engine after the tick.
    pub placer: &'a Placer,
    /// Whether saving the engine state failed.
    pub persist_failed: bool,
    /// Deploys and removes not made because someone else was changing the
    /// region's machines (a lease held elsewhere: [`ActuatorError::Busy`](placer_core::ActuatorError::Busy)).
    pub busy: u64,
    /// How the app's Machines API requests were answered so far (none
    /// without the Machines API).
    pub api_requests: Option<placer_fly::RequestCounts>,
}
