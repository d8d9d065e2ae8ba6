//! [`Service`]: the process around the apps — the HTTP API ([`http`]), the
//! metrics registry ([`metrics`]), the config file watch ([`reload`]), the
//! periodic loop ([`serve()`]), shutdown ([`shutdown`]) and the trigger
//! token — and the apps' [`AppRunner`]s, one per app name.
//!
//! There is one app for now. Every endpoint reaches it through
//! [`Service::runner`], the one place to change when there are more.

pub mod http;
pub mod metrics;
pub mod page;
pub mod reload;
mod serve;
pub mod shutdown;
pub mod status;

pub use serve::{serve, CONFIG_POLL_INTERVAL};

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use tokio::sync::Notify;

use crate::config_file::{self, LoadError, LoadedConfig};
use crate::resolve::{DeploymentPlan, Resolved, TrafficPlan};
use crate::runtime::{
    now, AppRunner, Applied, FinishedTick, Host, Inputs, Role, StartError, TickError, TickResult,
};
use crate::Secret;
use metrics::Metrics;
use placer_core::policy::{LatencyMemory, LatencySettings, PolicyName};
use reload::Reloader;
use status::{Health, StateDocument, TrafficDocument};

/// The key of an app without a name (simulated traffic and deployment).
const UNNAMED_APP: &str = "default";

/// The running service. Share it as `Arc<Service>`.
pub struct Service {
    runners: BTreeMap<String, Arc<AppRunner>>,
    trigger_token: RwLock<Option<Secret>>,
    metrics: Metrics,
    reloader: Mutex<Reloader>,
    role: Role,
    listen: SocketAddr,
    closing: AtomicBool,
    interval_changed: Notify,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("role", &self.role)
            .field("listen", &self.listen)
            .field("apps", &self.runners.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Service {
    /// Loads the config and starts its app's runner (see
    /// [`AppRunner::start`]).
    ///
    /// # Errors
    /// [`StartError`] saying what to fix.
    pub async fn start(inputs: Inputs, role: Role) -> Result<Arc<Service>, StartError> {
        let path = inputs.args.config.clone();
        let text = std::fs::read_to_string(&path).map_err(|source| LoadError::Read {
            path: path.clone(),
            source,
        })?;
        let loaded = config_file::parse(&text, &path).map_err(LoadError::from)?;
        let runner = AppRunner::start(inputs, role, loaded).await?;
        let (key, listen, trigger_token, dry_run) = {
            let settings = runner.settings();
            (
                app_key(&settings),
                settings.listen,
                settings.trigger_token.clone(),
                settings.dry_run,
            )
        };
        let metrics = Metrics::new();
        metrics.set_dry_run(dry_run);
        Ok(Arc::new(Service {
            runners: BTreeMap::from([(key, Arc::new(runner))]),
            trigger_token: RwLock::new(trigger_token),
            metrics,
            reloader: Mutex::new(Reloader::new(path, Some(text))),
            role,
            listen,
            closing: AtomicBool::new(false),
            interval_changed: Notify::new(),
        }))
    }

    /// The app's runner. Every endpoint goes through here: with one app
    /// there is one runner.
    pub fn runner(&self) -> &Arc<AppRunner> {
        self.runners
            .values()
            .next()
            .expect("the service starts with one app")
    }

    /// Runs a tick now and returns its report (see [`AppRunner::tick`]).
    ///
    /// # Errors
    /// [`TickError`] when shutting down or when the tick crashed.
    pub async fn tick_now(self: &Arc<Self>) -> TickResult {
        if self.closing.load(Ordering::SeqCst) {
            return Err(TickError::ShuttingDown);
        }
        let host: Arc<dyn Host> = Arc::clone(self) as Arc<dyn Host>;
        self.runner().tick(host).await
    }

    /// Stops taking ticks, waits for the ticks in flight, and saves the
    /// engine states.
    pub async fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
        for runner in self.runners.values() {
            runner.close().await;
        }
    }

    /// The `/health` document.
    pub fn health(&self) -> Health {
        self.runner().view().health()
    }

    /// The `/state` document.
    pub fn state(&self) -> StateDocument {
        self.runner().view().state(now())
    }

    /// The `/traffic` document.
    pub fn traffic(&self) -> TrafficDocument {
        self.runner().view().traffic()
    }

    /// The metrics registry.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Time between periodic ticks (zero: no loop).
    pub fn interval(&self) -> Duration {
        self.runner().view().interval
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
}

impl Host for Service {
    fn staged_config(&self) -> Option<LoadedConfig> {
        self.poll_config();
        self.reloader().take_pending()
    }

    fn config_applied(&self, runner: &AppRunner, applied: &Applied) {
        self.metrics.observe_reload(true);
        *self
            .trigger_token
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) =
            runner.settings().trigger_token.clone();
        if applied.interval_changed {
            self.interval_changed.notify_waiters();
        }
    }

    fn config_rejected(&self, _runner: &AppRunner, message: String) {
        self.reloader().reject_applied(message.clone());
        self.reject_config(message);
    }

    fn tick_finished(&self, _runner: &AppRunner, tick: &FinishedTick<'_>) {
        if tick.persist_failed {
            self.metrics.observe_persist_error();
        }
        self.metrics
            .observe_tick(tick.report, tick.took, tick.deployment);
        self.metrics.observe_budget(
            tick.placer
                .config()
                .policy_settings
                .get::<LatencySettings>()
                .budget
                .as_ref(),
            tick.placer
                .state()
                .policy_memory(&PolicyName::LATENCY)
                .load::<LatencyMemory>()
                .machine_time
                .as_ref(),
        );
    }
}

/// The name a runner is kept under: its app's, or [`UNNAMED_APP`] when
/// neither traffic nor deployment names one.
fn app_key(resolved: &Resolved) -> String {
    let app = match (&resolved.deployment, &resolved.traffic) {
        (DeploymentPlan::Observed(plan) | DeploymentPlan::Live(plan), _) => Some(&plan.app),
        (_, TrafficPlan::Prometheus(plan)) => Some(&plan.app),
        _ => None,
    };
    app.map_or_else(|| UNNAMED_APP.to_owned(), Clone::clone)
}
