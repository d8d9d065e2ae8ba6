//! [`Service`]: the engine with its traffic source and actuator, running
//! one tick at a time, saving its state, and taking config changes between
//! ticks.

pub mod http;
pub mod metrics;
pub mod reload;
mod serve;
pub mod shutdown;
pub mod status;

pub use serve::{serve, CONFIG_POLL_INTERVAL};

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant, SystemTime};

use placer_core::{EngineState, Placer, TickReport, Timestamp};
use tokio::sync::{watch, Notify, OwnedMutexGuard};

use crate::backends::Backends;
use crate::cli::GlobalArgs;
use crate::config_file::LoadedConfig;
use crate::environment::Environment;
use crate::service::metrics::Metrics;
use crate::runtime::store::JsonFile;
use crate::service::reload::{ReloadEvent, Reloader};
use crate::resolve::Resolved;
use crate::service::status::{Health, StateDocument, TrafficDocument, View};
use crate::{log_lines, Secret};

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

/// A tick's report, or why there is none.
pub type TickResult = Result<Arc<TickReport>, TickError>;

/// Why a tick was not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TickError {
    /// The service is shutting down.
    #[error("the service is shutting down")]
    ShuttingDown,
    /// The tick panicked (a bug); the engine keeps its previous state.
    #[error("the tick stopped unexpectedly: {0}")]
    Crashed(String),
}

pub(crate) struct Engine {
    pub(crate) placer: Placer,
    pub(crate) backends: Backends,
    pub(crate) resolved: Resolved,
    pub(crate) loaded: LoadedConfig,
    pub(crate) store: JsonFile<EngineState>,
}

/// The running engine. Share it as `Arc<Service>`.
pub struct Service {
    pub(crate) engine: Arc<tokio::sync::Mutex<Engine>>,
    pub(crate) view: RwLock<View>,
    pub(crate) trigger_token: RwLock<Option<Secret>>,
    pub(crate) finished: watch::Sender<Option<TickResult>>,
    pub(crate) metrics: Metrics,
    pub(crate) reloader: Mutex<Reloader>,
    pub(crate) inputs: Inputs,
    pub(crate) role: Role,
    pub(crate) listen: SocketAddr,
    pub(crate) closing: AtomicBool,
    pub(crate) interval_changed: Notify,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("role", &self.role)
            .field("listen", &self.listen)
            .finish_non_exhaustive()
    }
}

pub(crate) fn now() -> Timestamp {
    Timestamp::from_system_time(SystemTime::now())
}

impl Service {
    /// Runs a tick now and returns its report. Ticks never overlap: when one
    /// is already running, this waits for it and returns its report.
    ///
    /// The tick runs as its own task, so it completes (and its state is
    /// saved) even when the caller stops waiting, e.g. an HTTP client that
    /// hangs up.
    ///
    /// # Errors
    /// [`TickError`] when shutting down or when the tick crashed.
    pub async fn tick_now(self: &Arc<Self>) -> TickResult {
        if self.closing.load(Ordering::SeqCst) {
            return Err(TickError::ShuttingDown);
        }
        let mut finished = self.finished.subscribe();
        finished.borrow_and_update();
        match Arc::clone(&self.engine).try_lock_owned() {
            Ok(engine) => {
                let service = Arc::clone(self);
                let result = tokio::spawn(async move { service.run_tick(engine).await })
                    .await
                    .map_err(|err| TickError::Crashed(err.to_string()));
                if let Err(err) = &result {
                    tracing::error!("{err}");
                    // Requests that joined this tick get the same answer.
                    self.finished.send_replace(Some(Err(err.clone())));
                }
                result
            }
            Err(_) => {
                // The running tick's report answers this request too.
                finished
                    .changed()
                    .await
                    .map_err(|_| TickError::ShuttingDown)?;
                let result = finished.borrow().clone();
                result.unwrap_or(Err(TickError::ShuttingDown))
            }
        }
    }

    async fn run_tick(&self, mut engine: OwnedMutexGuard<Engine>) -> Arc<TickReport> {
        self.poll_config();
        self.apply_staged_config(&mut engine);

        let started = Instant::now();
        let at = now();
        let Engine {
            placer, backends, ..
        } = &mut *engine;
        let report = placer
            .tick(backends.source.as_ref(), backends.actuator.as_ref(), at)
            .await;
        let took = started.elapsed();

        // What is really deployed now: the plan's result where the actuator
        // carried it out (or simulated it), the observed set otherwise.
        let acted = !report.dry_run || backends.actuator.is_simulation();
        let deployment = if report.is_ok() && acted {
            &report.updated_deployment
        } else {
            &report.current_deployment
        };
        let deployment: std::collections::BTreeSet<_> = deployment.iter().cloned().collect();
        if let Some(simulation) = &backends.simulation {
            if report.is_ok() {
                simulation.set_deployed(deployment.iter().cloned());
            }
        }

        let saved = engine.store.save(engine.placer.state());
        if let Err(err) = &saved {
            self.metrics.observe_persist_error();
            tracing::error!("saving the engine state failed: {err}");
        }
        log_lines::tick(&report);
        self.metrics.observe_tick(&report, took, &deployment);
        self.metrics.observe_budget(
            engine.placer.config().latency.budget.as_ref(),
            engine.placer.state().policy_memory().machine_time.as_ref(),
        );

        let report = Arc::new(report);
        {
            let mut view = self.view_mut();
            view.ticks += 1;
            view.last_report = Some(Arc::clone(&report));
            view.last_tick_duration = took;
            view.state = engine.placer.state().clone();
            view.persist_error = saved.err().map(|err| err.to_string());
            if report.is_ok() {
                view.deployment = deployment;
                view.deployment_as_of = Some(report.at);
                view.latest_traffic = Some((
                    report.at,
                    report
                        .regions
                        .iter()
                        .map(|(region, detail)| (*region, detail.requests))
                        .collect(),
                ));
            }
        }
        self.finished.send_replace(Some(Ok(Arc::clone(&report))));
        report
    }

    /// Reads the config file; a change is checked now and applied at the
    /// next tick. Called every second by `serve` and at the start of each
    /// tick.
    pub fn poll_config(&self) {
        let event = self.reloader().poll();
        match event {
            ReloadEvent::Unchanged => {}
            ReloadEvent::Staged => {
                tracing::info!(
                    "config file {} changed; the new settings apply from the next tick",
                    self.inputs.args.config.display()
                );
                // The file is valid again: an earlier rejection no longer
                // describes it.
                self.view_mut().config_error = None;
            }
            ReloadEvent::Rejected(message) => self.reject_config(message),
        }
    }

    fn reject_config(&self, message: String) {
        tracing::error!("config change rejected, the previous config stays in force: {message}");
        self.metrics.observe_reload(false);
        self.view_mut().config_error = Some(message);
    }

    fn apply_staged_config(&self, engine: &mut Engine) {
        let Some(loaded) = self.reloader().take_pending() else {
            return;
        };
        match crate::runtime::switch_config(self, engine, loaded) {
            Ok(changes) => {
                let summary = if changes.is_empty() {
                    "no setting changed".to_owned()
                } else {
                    changes.join("; ")
                };
                tracing::info!("config {} applied: {summary}", engine.loaded.path.display());
                self.metrics.observe_reload(true);
                let interval = engine.resolved.interval;
                let changed_interval = {
                    let mut view = self.view_mut();
                    let changed = view.interval != interval;
                    view.config = engine.loaded.engine.clone();
                    view.config_loaded_at = now();
                    view.config_error = None;
                    view.interval = interval;
                    view.traffic_description = engine.backends.traffic_description.clone();
                    view.deployment_description = engine.backends.deployment_description.clone();
                    changed
                };
                *self
                    .trigger_token
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) =
                    engine.resolved.trigger_token.clone();
                if changed_interval {
                    self.interval_changed.notify_waiters();
                }
            }
            Err(message) => {
                self.reloader().reject_applied(message.clone());
                self.reject_config(message);
            }
        }
    }

    /// Stops taking ticks, waits for the tick in flight, and saves the
    /// engine state.
    pub async fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
        let engine = self.engine.lock().await;
        match engine.store.save(engine.placer.state()) {
            Ok(()) => tracing::info!("engine state saved to {}", engine.store.path().display()),
            Err(err) => tracing::error!("saving the engine state failed: {err}"),
        }
    }

    /// The `/health` document.
    pub fn health(&self) -> Health {
        self.view().health()
    }

    /// The `/state` document.
    pub fn state(&self) -> StateDocument {
        self.view().state(now())
    }

    /// The `/traffic` document.
    pub fn traffic(&self) -> TrafficDocument {
        self.view().traffic()
    }

    /// The metrics registry.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Time between periodic ticks (zero: no loop).
    pub fn interval(&self) -> Duration {
        self.view().interval
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

    pub(crate) fn view(&self) -> RwLockReadGuard<'_, View> {
        self.view
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn view_mut(&self) -> RwLockWriteGuard<'_, View> {
        self.view
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn reloader(&self) -> MutexGuard<'_, Reloader> {
        self.reloader
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
