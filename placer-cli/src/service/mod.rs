//! [`Service`]: the process around the apps — the HTTP API ([`http`]), the
//! metrics registry ([`metrics`]), the config file watch ([`reload`]), the
//! periodic loop ([`serve()`]), shutdown ([`shutdown`]) and the trigger
//! token — and the apps' [`AppRunner`]s, one per app name.
//!
//! With one app (no `apps:` section, no `simulation.apps`) everything
//! behaves and answers as it did before there could be several. With
//! several, a tick runs every app concurrently; each has its own state,
//! cooldowns and report, and they share the Machines API limits
//! ([`SharedLimits`]).

pub mod http;
mod json_body;
pub mod metrics;
pub mod page;
pub mod reload;
mod serve;
pub mod shutdown;
pub mod status;

pub use serve::{serve, CONFIG_POLL_INTERVAL};

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use tokio::sync::Notify;

use crate::apps::{selection, AppSelection};
use crate::backends::SharedLimits;
use crate::config_file::{self, LoadError, LoadedConfig};
use crate::data_lock::DataDirLock;
use crate::resolve::resolve;
use crate::runtime::{
    now, AppRunner, Applied, FinishedTick, Host, Inputs, Role, StartError, TickError, TickResult,
};
use crate::state_store::{self, Leadership};
use crate::Secret;
use metrics::Metrics;
use reload::Reloader;
use status::{Health, StateDocument, TrafficDocument};

/// The running service. Share it as `Arc<Service>`.
pub struct Service {
    runners: RwLock<BTreeMap<String, Arc<AppRunner>>>,
    /// Apps that could not be started, and why.
    failed: RwLock<BTreeMap<String, String>>,
    /// Whether several apps may be placed (answers are keyed by app).
    many: bool,
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
    closing: AtomicBool,
    interval_changed: Notify,
    /// The shared data directory's lock, with several apps.
    _lock: Option<DataDirLock>,
    /// With several apps: what new apps start from.
    fleet: Option<Fleet>,
    leadership: Leadership,
}

/// What starting another app takes, with several apps.
struct Fleet {
    inputs: Inputs,
    shared: SharedLimits,
    /// The config file as last read and put in force.
    loaded: Mutex<LoadedConfig>,
    /// Apps named in `apps:`: always placed.
    named: Vec<String>,
    /// Patterns of `apps:`, matched against the organization's apps.
    patterns: Vec<String>,
    /// Lists the organization's apps, when there are patterns.
    org: Option<placer_fly::OrgApps>,
    /// Where dropped apps' directories are moved aside.
    apps_dir: std::path::PathBuf,
    /// Time between two listings of the organization's apps.
    refresh: Duration,
    /// One refresh at a time.
    refreshing: tokio::sync::Mutex<()>,
    /// The state store all apps share.
    opened: state_store::OpenedStore,
}

/// What a refresh of the app list changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Refreshed {
    /// Apps picked up.
    pub added: Vec<String>,
    /// Apps dropped.
    pub dropped: Vec<String>,
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
    /// Loads the config and starts its apps' runners (see
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
        let metrics = Metrics::new();
        let reloader = Mutex::new(Reloader::new(path, Some(text)));
        let AppSelection::Many { names, patterns } = selection(&loaded) else {
            let settings = resolve(&inputs.args, &inputs.env, &loaded, inputs.fallback_seed)?;
            let opened = open_store(settings.state).await?;
            let leadership = opened.leadership.clone();
            let runner = AppRunner::start(inputs, role, loaded, opened).await?;
            let key = runner.name().to_owned();
            let (listen, trigger_token, dry_run, interval) = {
                let settings = runner.settings();
                (
                    settings.listen,
                    settings.trigger_token.clone(),
                    settings.dry_run,
                    settings.interval,
                )
            };
            metrics.add_app(&key, dry_run);
            return Ok(Arc::new(Service {
                runners: RwLock::new(BTreeMap::from([(key, Arc::new(runner))])),
                failed: RwLock::default(),
                many: false,
                dry_run,
                staged: Mutex::default(),
                trigger_token: RwLock::new(trigger_token),
                metrics,
                reloader,
                role,
                listen,
                interval: RwLock::new(interval),
                closing: AtomicBool::new(false),
                interval_changed: Notify::new(),
                _lock: None,
                fleet: None,
                leadership,
            }));
        };

        // The process-wide settings, from the file's top level.
        let top =
            resolve(&inputs.args, &inputs.env, &loaded, inputs.fallback_seed).or_else(|_| {
                // The top level alone may lack what each app has (its name).
                let first = names.first().map_or("app", String::as_str);
                let narrowed = loaded.for_app(first).map_err(LoadError::from)?;
                resolve(&inputs.args, &inputs.env, &narrowed, inputs.fallback_seed)
                    .map_err(StartError::from)
            })?;
        if role == Role::Serve {
            top.check_serve()?;
        }
        // Nothing in the data directory is read before its lock is held.
        let lock = if inputs.args.wait_for_lock {
            DataDirLock::acquire_waiting(&top.data_root).await?
        } else {
            DataDirLock::try_acquire(&top.data_root)?
        };
        let opened = open_store(top.state.clone()).await?;
        let mut shared = SharedLimits::new(&loaded.settings.fly);
        shared.traffic = apps_traffic(&inputs, &loaded, &top)?;
        let org = if patterns.is_empty() {
            None
        } else {
            let mut fly = loaded.settings.fly.clone();
            fly.token = inputs.env.api_token.clone();
            match placer_fly::OrgApps::new(&fly, shared.gate.clone()) {
                Ok(org) => Some(org),
                Err(err) => {
                    tracing::warn!(
                        "apps: patterns {} match no app: listing the organization's apps needs fly.org and FLY_API_TOKEN ({err})",
                        patterns.join(", ")
                    );
                    None
                }
            }
        };
        let fleet = Fleet {
            inputs: inputs.clone(),
            shared: shared.clone(),
            loaded: Mutex::new(loaded.clone()),
            named: names.clone(),
            patterns: patterns.clone(),
            org,
            apps_dir: top.data_root.join(crate::resolve::APPS_DIR),
            refresh: loaded.settings.service.apps_refresh,
            refreshing: tokio::sync::Mutex::new(()),
            opened: opened.clone(),
        };
        let service = Arc::new(Service {
            runners: RwLock::default(),
            failed: RwLock::default(),
            many: true,
            dry_run: top.dry_run,
            staged: Mutex::default(),
            trigger_token: RwLock::new(top.trigger_token.clone()),
            metrics,
            reloader,
            role,
            listen: top.listen,
            interval: RwLock::new(top.interval),
            closing: AtomicBool::new(false),
            interval_changed: Notify::new(),
            _lock: Some(lock),
            fleet: Some(fleet),
            leadership: opened.leadership.clone(),
        });
        let mut started = tokio::task::JoinSet::new();
        let at_once = Arc::new(tokio::sync::Semaphore::new(APPS_AT_ONCE));
        for name in names {
            let narrowed = match loaded.for_app(&name) {
                Ok(narrowed) => narrowed,
                Err(err) => {
                    service.app_failed(&name, err.to_string());
                    continue;
                }
            };
            let inputs = inputs.clone();
            let shared = shared.clone();
            let opened = opened.clone();
            let at_once = Arc::clone(&at_once);
            started.spawn(async move {
                let _turn = at_once.acquire_owned().await;
                let result =
                    AppRunner::start_with(inputs, role, narrowed, Some(shared), opened).await;
                (name, result)
            });
        }
        while let Some(joined) = started.join_next().await {
            let Ok((name, result)) = joined else {
                continue;
            };
            match result {
                Ok(runner) => service.add_runner(runner),
                Err(err) => service.app_failed(&name, err.to_string()),
            }
        }
        if let Err(err) = service.refresh_apps().await {
            tracing::error!("{err}");
        }
        Ok(service)
    }

    /// Time between two listings of the organization's apps, when app name
    /// patterns need them.
    pub fn apps_refresh(&self) -> Option<Duration> {
        let fleet = self.fleet.as_ref()?;
        fleet.org.as_ref().map(|_| fleet.refresh)
    }

    /// Lists the organization's apps and brings the apps placed in line
    /// with the patterns: a new matching app is started, an app no longer
    /// listed is dropped (its tick finished and its state saved, then its
    /// directory moved aside to `<app>.dropped-<unix seconds>`, and its keys
    /// in a shared store to `<key>.dropped-<revision>`). Apps named in
    /// `apps:` are never dropped.
    ///
    /// # Errors
    /// Why the organization's apps could not be listed; nothing changes.
    pub async fn refresh_apps(self: &Arc<Self>) -> Result<Refreshed, String> {
        let Some(fleet) = &self.fleet else {
            return Ok(Refreshed::default());
        };
        let Some(org) = &fleet.org else {
            return Ok(Refreshed::default());
        };
        let _one_at_a_time = fleet.refreshing.lock().await;
        let listed = org.names().await.map_err(|err| {
            format!(
                "listing the apps of organization {} failed, the app list stays as it is: {err}",
                org.org()
            )
        })?;
        let wanted = crate::apps::matching(
            &fleet.patterns,
            &fleet.named,
            listed.iter().map(String::as_str),
        );
        let current: Vec<String> = self
            .app_names()
            .into_iter()
            .filter(|name| !fleet.named.contains(name))
            .collect();
        let mut refreshed = Refreshed::default();
        for name in &current {
            if wanted.contains(name) {
                continue;
            }
            let Some(runner) = self.runners_mut().remove(name) else {
                continue;
            };
            runner.close().await;
            // In a shared store, its keys; with files, its directory.
            let keys = runner.set_state_aside().await;
            self.metrics.remove_app(name);
            self.update_traffic_apps();
            let dir = fleet.apps_dir.join(name);
            let aside = fleet.apps_dir.join(format!(
                "{name}.dropped-{}",
                now().unix_millis().div_euclid(1000)
            ));
            let mut kept = match std::fs::rename(&dir, &aside) {
                Ok(()) => aside.display().to_string(),
                Err(err) => {
                    tracing::error!(app = %name, "moving {} aside failed: {err}", dir.display());
                    dir.display().to_string()
                }
            };
            if !keys.is_empty() {
                kept = keys.join(", ");
            }
            tracing::warn!(
                app = %name,
                "app {name} is no longer in organization {}: dropped; its state is kept in {kept}",
                org.org()
            );
            refreshed.dropped.push(name.clone());
        }
        let failed = self.failed_apps();
        for name in wanted {
            if current.contains(&name) && !failed.contains_key(&name) {
                continue;
            }
            if self.runners_read().contains_key(&name) {
                continue;
            }
            let loaded = fleet
                .loaded
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .clone();
            let narrowed = match loaded.for_app(&name) {
                Ok(narrowed) => narrowed,
                Err(err) => {
                    self.app_failed(&name, err.to_string());
                    continue;
                }
            };
            match AppRunner::start_with(
                fleet.inputs.clone(),
                self.role,
                narrowed,
                Some(fleet.shared.clone()),
                fleet.opened.clone(),
            )
            .await
            {
                Ok(runner) => {
                    tracing::info!(
                        app = %name,
                        "app {name} of organization {} matches apps: placing it",
                        org.org()
                    );
                    self.add_runner(runner);
                    refreshed.added.push(name);
                }
                Err(err) => self.app_failed(&name, err.to_string()),
            }
        }
        Ok(refreshed)
    }

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

    fn add_runner(&self, runner: AppRunner) {
        let name = runner.name().to_owned();
        self.metrics.add_app(&name, runner.settings().dry_run);
        self.failed_mut().remove(&name);
        self.runners_mut().insert(name, Arc::new(runner));
        self.update_traffic_apps();
    }

    /// Tells the one traffic query which apps to ask for.
    fn update_traffic_apps(&self) {
        if let Some(traffic) = self
            .fleet
            .as_ref()
            .and_then(|fleet| fleet.shared.traffic.as_ref())
        {
            traffic.set_apps(self.app_names());
        }
    }

    fn app_failed(&self, name: &str, message: String) {
        tracing::error!(app = %name, "app {name} not placed: {message}");
        self.failed_mut().insert(name.to_owned(), message);
    }

    /// Whether the file's top level is a dry run (an app may override it).
    pub fn dry_run(&self) -> bool {
        self.dry_run
    }

    /// Whether several apps may be placed: answers are then keyed by app.
    pub fn is_many(&self) -> bool {
        self.many
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

    /// Runs a tick of the one app now and returns its report (see
    /// [`AppRunner::tick`]); with several apps, of the first.
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

    /// Runs a tick of app `name` now.
    ///
    /// # Errors
    /// [`UnknownApp`] when no such app is placed.
    pub async fn tick_app(self: &Arc<Self>, name: &str) -> Result<TickResult, UnknownApp> {
        let runner = self.runner_of(Some(name))?;
        if self.closing.load(Ordering::SeqCst) {
            return Ok(Err(TickError::ShuttingDown));
        }
        self.stage_changed_config();
        let host: Arc<dyn Host> = Arc::clone(self) as Arc<dyn Host>;
        Ok(runner.tick(host).await)
    }

    /// Reads the config file and hands a valid change to every app.
    fn stage_changed_config(&self) {
        self.poll_config();
        let pending = self.reloader().take_pending();
        if let Some(loaded) = pending {
            self.stage_for_apps(loaded);
        }
    }

    /// Runs a tick of every app now, [`APPS_AT_ONCE`] at a time, and
    /// returns each app's report. One app's failure never stops another's
    /// tick.
    pub async fn tick_all(self: &Arc<Self>) -> BTreeMap<String, TickResult> {
        let runners = self.runners();
        if self.closing.load(Ordering::SeqCst) {
            return runners
                .into_iter()
                .map(|(name, _)| (name, Err(TickError::ShuttingDown)))
                .collect();
        }
        // One traffic query for this tick.
        let traffic = self
            .fleet
            .as_ref()
            .and_then(|fleet| fleet.shared.traffic.as_ref());
        if let Some(traffic) = traffic {
            traffic.expire().await;
        }
        // A saved change reaches every app at this tick.
        self.stage_changed_config();
        let mut ticks = tokio::task::JoinSet::new();
        let at_once = Arc::new(tokio::sync::Semaphore::new(APPS_AT_ONCE));
        for (name, runner) in runners {
            let host: Arc<dyn Host> = Arc::clone(self) as Arc<dyn Host>;
            let at_once = Arc::clone(&at_once);
            ticks.spawn(async move {
                let _turn = at_once.acquire_owned().await;
                (name, runner.tick(host).await)
            });
        }
        let mut results = BTreeMap::new();
        while let Some(joined) = ticks.join_next().await {
            if let Ok((name, result)) = joined {
                results.insert(name, result);
            }
        }
        // Every app has its traffic: the answer is not kept until the next tick.
        if let Some(traffic) = traffic {
            traffic.expire().await;
        }
        results
    }

    /// Stops taking ticks, waits for the ticks in flight, and saves the
    /// engine states.
    pub async fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
        for (_, runner) in self.runners() {
            runner.close().await;
        }
        self.leadership.resign().await;
    }

    /// The `/health` document of app `name` (`None`: the one app).
    ///
    /// # Errors
    /// [`UnknownApp`] when no such app is placed.
    pub fn health_of(&self, name: Option<&str>) -> Result<Health, UnknownApp> {
        Ok(self.with_election(self.runner_of(name)?.view().health()))
    }

    /// `health` with this placer's role, with a shared state store.
    fn with_election(&self, mut health: Health) -> Health {
        if self.leadership.is_elected() {
            health.election = Some(status::Election::from(self.leadership.role()));
        }
        health
    }

    /// The `/health` document of the one app (the first with several).
    pub fn health(&self) -> Health {
        self.with_election(self.runner().view().health())
    }

    /// Every app's `/health` document, by app name, in order of name.
    /// Each is made as the iterator reaches it.
    pub fn health_all(self: &Arc<Self>) -> impl Iterator<Item = (String, Health)> + Send + 'static {
        let service = Arc::clone(self);
        self.runners()
            .into_iter()
            .map(move |(name, runner)| (name, service.with_election(runner.view().health())))
    }

    /// The `/state` document of the one app (the first with several).
    pub fn state(&self) -> StateDocument {
        self.runner().view().state(now())
    }

    /// The `/state` document of app `name` (`None`: the one app).
    ///
    /// # Errors
    /// [`UnknownApp`] when no such app is placed.
    pub fn state_of(&self, name: Option<&str>) -> Result<StateDocument, UnknownApp> {
        Ok(self.runner_of(name)?.view().state(now()))
    }

    /// Every app's `/state` document, by app name, in order of name.
    /// Each is made as the iterator reaches it, all as of the time of this call.
    pub fn state_all(&self) -> impl Iterator<Item = (String, StateDocument)> + Send + 'static {
        let at = now();
        self.runners()
            .into_iter()
            .map(move |(name, runner)| (name, runner.view().state(at)))
    }

    /// The `/traffic` document of the one app (the first with several).
    pub fn traffic(&self) -> TrafficDocument {
        self.runner().view().traffic()
    }

    /// The `/traffic` document of app `name` (`None`: the one app).
    ///
    /// # Errors
    /// [`UnknownApp`] when no such app is placed.
    pub fn traffic_of(&self, name: Option<&str>) -> Result<TrafficDocument, UnknownApp> {
        Ok(self.runner_of(name)?.view().traffic())
    }

    /// Every app's `/traffic` document, by app name, in order of name.
    /// Each is made as the iterator reaches it.
    pub fn traffic_all(&self) -> impl Iterator<Item = (String, TrafficDocument)> + Send + 'static {
        self.runners()
            .into_iter()
            .map(|(name, runner)| (name, runner.view().traffic()))
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

    /// Hands a valid new config to every app: each gets its own narrowed
    /// copy at its next tick. An app whose entries make an invalid config
    /// keeps its previous one and says why; the others take the change.
    pub(crate) fn stage_for_apps(&self, loaded: LoadedConfig) {
        if let Some(fleet) = &self.fleet {
            let mut kept = fleet
                .loaded
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            for note in shared_settings_kept(&kept, &loaded) {
                tracing::warn!("{note}");
            }
            let (old, new) = (
                &kept.settings.fly.rate_limit,
                &loaded.settings.fly.rate_limit,
            );
            if old != new {
                // Every app draws on this one limiter: the change reaches
                // them all at once.
                fleet
                    .shared
                    .limiter
                    .set_limit(new.requests_per_second, new.burst);
                tracing::info!(
                    "fly.rate_limit for every app: {} calls/s, bursts of {} (was {} calls/s, bursts of {})",
                    new.requests_per_second,
                    new.burst,
                    old.requests_per_second,
                    old.burst
                );
            }
            *kept = loaded.clone();
        }
        let mut staged = self.staged();
        for (name, runner) in self.runners() {
            if !self.many {
                staged.insert(name, loaded.clone());
                continue;
            }
            match loaded.for_app(&name) {
                Ok(narrowed) => {
                    staged.insert(name, narrowed);
                }
                Err(err) => {
                    let message = err.to_string();
                    tracing::error!(app = %name, "config change rejected for app {name}, its previous config stays in force: {message}");
                    self.metrics.observe_reload(&name, false);
                    runner.set_config_error(Some(message));
                }
            }
        }
    }

    fn staged(&self) -> MutexGuard<'_, HashMap<String, LoadedConfig>> {
        self.staged
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn runners_read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<AppRunner>>> {
        self.runners
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn runners_mut(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Arc<AppRunner>>> {
        self.runners
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn failed_mut(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, String>> {
        self.failed
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Host for Service {
    fn staged_config(&self, runner: &AppRunner) -> Option<LoadedConfig> {
        // With several apps, `tick_all` and `tick_app` read the file once
        // for all the apps they tick.
        if !self.many {
            self.stage_changed_config();
        }
        self.staged().remove(runner.name())
    }

    fn config_applied(&self, runner: &AppRunner, applied: &Applied) {
        self.metrics.observe_reload(runner.name(), true);
        let settings = runner.settings();
        *self
            .trigger_token
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = settings.trigger_token.clone();
        if applied.interval_changed {
            *self
                .interval
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = settings.interval;
            self.interval_changed.notify_waiters();
        }
    }

    fn config_rejected(&self, runner: &AppRunner, message: String) {
        self.reloader().reject_applied(message.clone());
        tracing::error!(
            app = %runner.name(),
            "config change rejected, the previous config stays in force: {message}"
        );
        self.metrics.observe_reload(runner.name(), false);
        runner.set_config_error(Some(message));
    }

    fn tick_finished(&self, runner: &AppRunner, tick: &FinishedTick<'_>) {
        let app = runner.name();
        if tick.persist_failed {
            self.metrics.observe_persist_error(app);
        }
        self.metrics
            .observe_tick(app, tick.report, tick.took, tick.deployment);
        self.metrics
            .observe_budget(app, tick.placer.policy_summary().budget.as_ref());
    }
}

/// The one query for every app's traffic, when traffic comes from
/// Prometheus and its `prometheus:` section has a multi-app template (the
/// default query has one); without one, each app queries on its own.
fn apps_traffic(
    inputs: &Inputs,
    loaded: &LoadedConfig,
    top: &crate::resolve::Resolved,
) -> Result<Option<Arc<crate::apps_traffic::AppsTraffic>>, StartError> {
    let crate::resolve::TrafficPlan::Prometheus(plan) = &top.traffic else {
        return Ok(None);
    };
    let section = &loaded.settings.prometheus;
    if section.apps_template().is_none() {
        tracing::warn!(
            "prometheus.query_template is not the default and prometheus.apps_query_template is not set: each app's traffic is queried on its own"
        );
        return Ok(None);
    }
    let _ = inputs;
    let source = crate::backends::prometheus_source(plan)?;
    Ok(Some(Arc::new(crate::apps_traffic::AppsTraffic::new(
        source,
    ))))
}

/// Opens the state store (one for all apps) and, with a shared store, gives
/// the first campaign a moment, so a lone placer leads at once.
async fn open_store(
    settings: state_store::StoreSettings,
) -> Result<state_store::OpenedStore, StartError> {
    let opened = state_store::open(settings).await?;
    tracing::info!("state: {}", opened.store.describe());
    let mut leadership = opened.leadership.clone();
    if leadership.is_elected() {
        let _ = tokio::time::timeout(Duration::from_secs(5), leadership.changed()).await;
    }
    Ok(opened)
}

/// What a changed config changes only in part while several apps run:
/// settings they share that are read at start (the cap on requests in
/// flight; the data directory's lock and where dropped apps are set
/// aside). One line each for the log.
fn shared_settings_kept(old: &LoadedConfig, new: &LoadedConfig) -> Vec<String> {
    let (old, new) = (&old.settings, &new.settings);
    let mut notes = Vec::new();
    if old.fly.max_in_flight != new.fly.max_in_flight {
        notes.push("fly.max_in_flight takes effect after a restart: every app shares the cap read at start");
    }
    if old.service.data_dir != new.service.data_dir {
        notes.push("service.data_dir takes full effect after a restart: each app keeps its state in the new directory from its next tick, but the directory's lock and where dropped apps are set aside stay those of the start");
    }
    notes.into_iter().map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::shared_settings_kept;
    use crate::config_file::parse;

    #[test]
    fn changes_of_the_settings_apps_share_at_start_are_said_to_need_a_restart() {
        let old = parse(
            "apps: [shop]\nfly:\n  rate_limit:\n    requests_per_second: 5\n",
            Path::new("c.yml"),
        )
        .unwrap();
        let same = parse(
            "apps: [shop]\ntraffic_threshold: 90\nfly:\n  rate_limit:\n    requests_per_second: 5\n",
            Path::new("c.yml"),
        )
        .unwrap();
        assert!(shared_settings_kept(&old, &same).is_empty());
        let changed = parse(
            "apps: [shop]\nfly:\n  rate_limit:\n    requests_per_second: 50\n  max_in_flight: 2\nservice:\n  data_dir: elsewhere\n",
            Path::new("c.yml"),
        )
        .unwrap();
        let notes = shared_settings_kept(&old, &changed);
        assert_eq!(notes.len(), 2, "{notes:?}");
        for (note, key) in notes.iter().zip(["fly.max_in_flight", "service.data_dir"]) {
            assert!(note.starts_with(key) && note.contains("restart"), "{note}");
        }
    }
}
