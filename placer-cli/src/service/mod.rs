//! [`Service`]: the process around the apps — the HTTP API ([`http`]), the
//! metrics registry ([`metrics`]), the config file watch ([`reload`]), the
//! periodic loop ([`serve()`]), shutdown ([`shutdown`]), the trigger
//! token and the webhook notifications ([`notify`]) — and the apps' [`AppRunner`]s, one per app name.
//!
//! One app is a fleet of one ([`fleet`]): the service is started one way
//! ([`start`](Service::start)), holds its runners by name and ticks them
//! all together. Without an `apps:` section (and at most one simulated
//! app) the fleet holds the one app of old: its files stay at the top of
//! the data directory, its Machines API limits follow its own config, and
//! the endpoints answer with its documents as they always did. With
//! several, a tick runs every app concurrently; each has its own state,
//! cooldowns and report, and they share the Machines API limits
//! ([`SharedLimits`](crate::backends::SharedLimits)).

mod documents;
mod fleet;
mod host;
pub mod http;
mod json_body;
pub mod metrics;
pub mod notify;
pub mod overview;
pub mod page;
pub mod reload;
mod serve;
pub mod shutdown;
mod start;
pub mod status;
mod ticks;
pub mod worldmap;

pub use serve::serve;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use placer_core::secret::Secret;
use tokio::sync::Notify;

use crate::config::file::LoadedConfig;
use crate::runtime::{AppRunner, Role};
use crate::store::Leadership;
use fleet::Fleet;
use metrics::Metrics;
use reload::Reloader;

/// The running service. Share it as `Arc<Service>`.
pub struct Service {
    runners: RwLock<BTreeMap<String, Arc<AppRunner>>>,
    /// Apps that could not be started, and why.
    failed: RwLock<BTreeMap<String, String>>,
    /// Whether the file's top level is a dry run.
    dry_run: bool,
    /// Config changes staged for each app, taken at its next tick.
    staged: Mutex<HashMap<String, LoadedConfig>>,
    trigger_token: RwLock<Option<Secret>>,
    metrics: Metrics,
    reloader: Mutex<Reloader>,
    role: Role,
    listen: SocketAddr,
    interval: RwLock<Duration>,
    /// When the periodic loop will tick next (none without a loop).
    next_tick_at: RwLock<Option<placer_core::Timestamp>>,
    closing: AtomicBool,
    interval_changed: Notify,
    /// The apps placed and what starting another takes.
    fleet: Fleet,
    leadership: Leadership,
    /// Posts what ticks did to the `notify:` webhooks.
    notifier: notify::Notifier,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("role", &self.role)
            .field("listen", &self.listen)
            .field("apps", &self.app_names())
            .finish_non_exhaustive()
    }
}

/// Apps that start or tick at the same time; the others wait their turn.
/// Their Machines API calls wait for the shared rate limit anyway, so more
/// at once would only hold more ticks in memory, not finish sooner.
pub const APPS_AT_ONCE: usize = 64;

/// Why an app named in a request is not there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no app {name:?} is placed here; GET /apps lists them")]
pub struct UnknownApp {
    /// The name asked for.
    pub name: String,
}

impl Service {
    /// Whether this placer leads, and who does otherwise.
    pub fn leadership(&self) -> &Leadership {
        &self.leadership
    }

    /// On a follower: reads every app's stored engine state, so the
    /// endpoints show what the leader saved.
    pub async fn refresh_from_store(&self) {
        for (_, runner) in self.runners() {
            runner.refresh_from_store().await;
        }
    }

    /// Whether the file's top level is a dry run (an app may override it).
    pub fn dry_run(&self) -> bool {
        self.dry_run
    }

    /// Whether several apps may be placed (an `apps:` section, or several
    /// simulated apps): answers are then keyed by app.
    pub fn is_many(&self) -> bool {
        self.fleet.is_many()
    }

    /// The apps placed, by name.
    pub fn app_names(&self) -> Vec<String> {
        self.runners_read().keys().cloned().collect()
    }

    /// Apps that could not be started, with why.
    pub fn failed_apps(&self) -> BTreeMap<String, String> {
        self.failed
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Every runner, by app name.
    pub fn runners(&self) -> Vec<(String, Arc<AppRunner>)> {
        self.runners_read()
            .iter()
            .map(|(name, runner)| (name.clone(), Arc::clone(runner)))
            .collect()
    }

    /// The runner of app `name`; with one app, `None` names it too.
    ///
    /// # Errors
    /// [`UnknownApp`] when no such app is placed.
    pub fn runner_of(&self, name: Option<&str>) -> Result<Arc<AppRunner>, UnknownApp> {
        let runners = self.runners_read();
        let found = match name {
            Some(name) => runners.get(name),
            None if runners.len() == 1 => runners.values().next(),
            None => None,
        };
        found.cloned().ok_or_else(|| UnknownApp {
            name: name.unwrap_or_default().to_owned(),
        })
    }

    /// The one app's runner (the first app's with several).
    ///
    /// # Panics
    /// When no app is placed at all.
    pub fn runner(&self) -> Arc<AppRunner> {
        self.runners_read()
            .values()
            .next()
            .cloned()
            .expect("the service places at least one app")
    }

    /// The metrics registry.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Time between periodic ticks (zero: no loop).
    pub fn interval(&self) -> Duration {
        *self
            .interval
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// When the periodic loop will tick next: none without a loop (`serve`
    /// with `service.interval: 0`, or `once`).
    pub fn next_tick_at(&self) -> Option<placer_core::Timestamp> {
        *self
            .next_tick_at
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Says when the periodic loop will tick next.
    pub(crate) fn set_next_tick_at(&self, at: Option<placer_core::Timestamp>) {
        *self
            .next_tick_at
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = at;
    }

    /// Resolves when a config change alters the interval.
    pub fn interval_changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.interval_changed.notified()
    }

    /// The bearer token `POST /trigger` requires, if any.
    pub fn trigger_token(&self) -> Option<Secret> {
        self.trigger_token
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The address `serve` listens on.
    pub fn listen(&self) -> SocketAddr {
        self.listen
    }

    pub(crate) fn reloader(&self) -> MutexGuard<'_, Reloader> {
        self.reloader
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(super) fn staged(&self) -> MutexGuard<'_, HashMap<String, LoadedConfig>> {
        self.staged
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(super) fn runners_read(
        &self,
    ) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<AppRunner>>> {
        self.runners
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(super) fn runners_mut(
        &self,
    ) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Arc<AppRunner>>> {
        self.runners
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(super) fn failed_mut(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, String>> {
        self.failed
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
