//! [`AppRunner`]: one app's engine with its traffic source, actuator and
//! stored state, running one tick at a time and taking config changes
//! between ticks.

use std::collections::VecDeque;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use placer_core::{EngineState, Placer};
use tokio::sync::watch;

use crate::backends::{BackendError, Backends, SharedLimits};
use crate::config::file::LoadedConfig;
use crate::config::resolve::{resolve, Resolved};
use crate::runtime::listed::ListedAtStart;
use crate::runtime::store::restore_engine_state;
use crate::runtime::tracked::Tracked;
use crate::runtime::{now, Inputs, Role, View};
use crate::runtime::{Applied, Host, StartError, TickResult};
use crate::store::data_lock::DataDirLock;
use crate::store::StoreError;
use crate::store::{save_json, store_for_app, Leadership, OpenedStore};
use crate::store::{Aside, StateItem, StateKey, StateStore};
use placer_lab::DeployedRegions;

/// The parts a tick changes, behind one lock so ticks never overlap.
pub(super) struct Engine {
    pub(super) placer: Placer,
    pub(super) backends: Backends,
    pub(super) loaded: LoadedConfig,
    /// Where the engine state is kept.
    pub(super) store: Arc<dyn StateStore>,
    /// The engine state's key in the store.
    pub(super) key: StateKey,
    /// Whether the store is shared by several placers (not files): then a
    /// simulated deployment is kept there too, so a placer that takes over
    /// goes on from it.
    pub(super) shared_store: bool,
    /// The leadership term the placer's state was read in; `None` (or
    /// another term) means it is read again before the next tick acts.
    pub(super) term: Option<i64>,
    /// The data directory's lock, held as long as the state lives there
    /// (none for one of several apps: the service holds the lock of the
    /// directory they share).
    pub(super) lock: Option<DataDirLock>,
    /// Whether the forecaster of this placer was warm-started from the
    /// source's history (done once, before its first tick).
    pub(super) backfilled: bool,
    /// Whether its warm start was put off at a tick (others had the turn):
    /// the forecaster learnt observed traffic since, and is started afresh
    /// when its turn comes.
    pub(super) warm_start_put_off: bool,
}

impl Engine {
    /// Saves the engine state. A stale or fenced write (another placer
    /// wrote since) forgets the term, so the state is read again before
    /// this placer acts next.
    pub(super) async fn save(&mut self) -> Result<(), StoreError> {
        let mut saved = save_json(self.store.as_ref(), &self.key, self.placer.state()).await;
        if let (Ok(()), Some((key, simulation))) = (&saved, self.simulation()) {
            saved = self.store.save(&key, &simulation.to_json()).await;
        }
        if matches!(
            saved,
            Err(StoreError::Stale { .. } | StoreError::Fenced { .. })
        ) {
            self.term = None;
        }
        saved
    }

    /// The simulated deployment and its key in a shared store; none with
    /// files or a deployment that is not simulated.
    fn simulation(&self) -> Option<(StateKey, &crate::backends::dry_run::DryRunActuator)> {
        let simulation = self.backends.simulation.as_deref()?;
        self.shared_store.then(|| {
            let key = StateKey::new(self.key.app.clone(), StateItem::SimulatedDeployment);
            (key, simulation)
        })
    }

    /// Replaces the simulated deployment with the one kept in the shared
    /// store, if there is one. One that cannot be used is moved aside and
    /// the local one kept.
    pub(super) async fn restore_simulation(&self) -> Result<(), StoreError> {
        let Some((key, simulation)) = self.simulation() else {
            return Ok(());
        };
        let Some(json) = self.store.load(&key).await? else {
            return Ok(());
        };
        let from = self.store.location(&key);
        if let Err(err) = simulation.replace_from_json(&json, &from) {
            tracing::error!("{err}; keeping the local simulated deployment");
            if matches!(err, crate::backends::dry_run::DryRunError::Invalid { .. }) {
                let moved_to = self.store.move_aside(&key, Aside::Unusable).await?;
                tracing::warn!("moved the unusable simulated deployment to {moved_to}");
            }
        }
        Ok(())
    }
}

/// One app: its placer, its backends (traffic source and actuator), its
/// stored state and its config. It ticks one at a time, applies a changed
/// config between ticks, and keeps a [`View`] of itself for the endpoints.
/// Share it as `Arc<AppRunner>`.
pub struct AppRunner {
    pub(super) name: String,
    pub(super) shared: Option<SharedLimits>,
    pub(super) engine: Arc<tokio::sync::Mutex<Engine>>,
    pub(super) resolved: RwLock<Resolved>,
    /// What is deployed as the actuator last listed and changed it; the
    /// simulated traffic source reads it. It outlives rebuilt backends.
    pub(super) deployed: DeployedRegions,
    view: RwLock<View>,
    pub(super) finished: watch::Sender<Option<TickResult>>,
    pub(super) inputs: Inputs,
    pub(super) role: Role,
    pub(super) leadership: Leadership,
}

impl std::fmt::Debug for AppRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppRunner")
            .field("app", &self.name)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl AppRunner {
    /// [`start_with`](Self::start_with) without shared limits: the one app
    /// of old.
    #[cfg(test)]
    pub async fn start(
        inputs: Inputs,
        role: Role,
        loaded: LoadedConfig,
        opened: OpenedStore,
    ) -> Result<AppRunner, StartError> {
        Self::start_with(inputs, role, loaded, None, opened).await
    }

    /// Resolves the settings of `loaded`, builds the backends and restores
    /// the engine state from `opened`'s store; then lists the deployment
    /// once, so the endpoints have something to show before the first tick.
    /// It ticks only while `opened`'s leadership says this placer leads.
    ///
    /// With `shared` set, it is one of several apps (`loaded` narrowed with
    /// [`LoadedConfig::for_app`]): its Machines API calls draw on the limits
    /// all apps share, and the data directory's lock is left to the caller.
    /// Without, it is the one app of old: it takes its data directory's
    /// lock and its limits follow its own config.
    ///
    /// # Errors
    /// [`StartError`] saying what to fix.
    pub async fn start_with(
        inputs: Inputs,
        role: Role,
        loaded: LoadedConfig,
        shared: Option<SharedLimits>,
        opened: OpenedStore,
    ) -> Result<AppRunner, StartError> {
        let resolved = resolve(&inputs.args, &inputs.env, &loaded, inputs.fallback_seed)?;
        if role == Role::Serve {
            resolved.check_serve()?;
        }
        let name = match &loaded.app {
            Some(name) => name.clone(),
            None => resolved.app_key(),
        };
        // Nothing in the data directory is read before its lock is held.
        let lock = if loaded.app.is_some() {
            std::fs::create_dir_all(&resolved.data_dir).map_err(|source| {
                crate::store::data_lock::LockError::Io {
                    dir: resolved.data_dir.clone(),
                    source,
                }
            })?;
            None
        } else if inputs.args.wait_for_lock {
            Some(DataDirLock::acquire_waiting(&resolved.data_dir).await?)
        } else {
            Some(DataDirLock::try_acquire(&resolved.data_dir)?)
        };
        for note in &resolved.notes {
            tracing::warn!("{note}");
        }
        let deployed = DeployedRegions::default();
        let backends = build_backends(&resolved, &deployed, shared.as_ref())?;
        for problem in &backends.recovered {
            tracing::error!("{problem}");
        }
        tracing::info!(app = %name, "traffic: {}", backends.traffic_description);
        tracing::info!(app = %name, "deployment: {}", backends.deployment_description);
        let standbys = loaded
            .engine
            .policy_settings
            .get::<placer_core::config::MachinesSettings>()
            .standby_per_region;
        for warning in crate::backends::standby_warnings(&resolved, standbys).await {
            tracing::warn!(app = %name, "{warning}");
        }

        let OpenedStore { store, leadership } = opened;
        let store = store_for_app(&store, &resolved.state, &resolved.data_dir);
        let key = StateKey::new(name.clone(), StateItem::engine_state(resolved.dry_run));
        // The term is read first: state read after winning is that term's.
        let term = leadership.term().ok();
        let state = restore_engine_state(store.as_ref(), &key).await?;
        let placer = Placer::with_state(loaded.engine.clone(), state)
            .expect("the config passed validation when it was parsed");
        let shared_store = !matches!(resolved.state.url, crate::store::StateUrl::File(_));
        let mut engine = Engine {
            placer,
            backends,
            loaded,
            store,
            key,
            shared_store,
            term,
            lock,
            backfilled: false,
            warm_start_put_off: false,
        };
        engine.restore_simulation().await?;
        let listed = engine.backends.actuator.deployment().await;
        let (deployment, deployment_as_of) = match &listed {
            Ok(counts) => (
                counts
                    .iter()
                    .filter(|(_, count)| count.is_deployed())
                    .map(|(region, _)| *region)
                    .collect(),
                Some(now()),
            ),
            Err(err) if role == Role::Once => {
                tracing::warn!("listing the deployment at start failed: {err}");
                (Default::default(), None)
            }
            Err(err) => {
                tracing::warn!(
                    "listing the deployment at start failed (the first tick retries): {err}"
                );
                (Default::default(), None)
            }
        };
        if role == Role::Once {
            // The tick starts now: it uses this listing instead of listing again.
            let actuator = Arc::clone(&engine.backends.actuator);
            engine.backends.actuator = Arc::new(ListedAtStart::new(actuator, listed));
        } else {
            // The first tick lists again: nothing is kept for it until then.
            engine.backends.actuator.tick_finished();
        }

        let view = View {
            config: engine.loaded.engine.clone(),
            config_path: engine.loaded.path.clone(),
            config_loaded_at: now(),
            config_error: None,
            traffic_description: engine.backends.traffic_description.clone(),
            deployment_description: engine.backends.deployment_description.clone(),
            interval: resolved.interval,
            deployment,
            deployment_as_of,
            // The engine's own copy: adapted to the config (its forecaster built).
            state: engine.placer.shared_state(),
            last_report: None,
            recent_ticks: VecDeque::new(),
            latest_ok_report: None,
            last_tick_duration: Duration::ZERO,
            ticks: 0,
            persist_error: None,
            platform: Arc::clone(engine.placer.platform_regions()),
        };
        Ok(AppRunner {
            name,
            shared,
            engine: Arc::new(tokio::sync::Mutex::new(engine)),
            resolved: RwLock::new(resolved),
            view: RwLock::new(view),
            finished: watch::Sender::new(None),
            deployed,
            inputs,
            role,
            leadership,
        })
    }

    /// On a follower: reads the stored engine state for the endpoints, so
    /// they show what the leader saved.
    pub async fn refresh_from_store(&self) {
        let Ok(engine) = self.engine.try_lock() else {
            return;
        };
        match crate::store::load_json::<EngineState>(engine.store.as_ref(), &engine.key).await {
            Ok(crate::store::Restored::Loaded(state)) => {
                let mut view = self.view_mut();
                // Read as the engine would (its forecaster built), for /health.
                view.state = Placer::with_state(view.config.clone(), state.clone())
                    .map_or(Arc::new(state), |placer| placer.shared_state());
            }
            Ok(_) => {}
            Err(err) => tracing::warn!("reading the leader's engine state failed: {err}"),
        }
    }

    pub(super) async fn apply_staged_config(
        &self,
        engine: &mut Engine,
        loaded: LoadedConfig,
        host: &dyn Host,
    ) {
        match self.switch_config(engine, loaded).await {
            Ok(changes) => {
                let summary = if changes.is_empty() {
                    "no setting changed".to_owned()
                } else {
                    changes.join("; ")
                };
                tracing::info!("config {} applied: {summary}", engine.loaded.path.display());
                let interval = self.settings().interval;
                let interval_changed = {
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
                let applied = Applied {
                    changes,
                    interval_changed,
                };
                host.config_applied(self, &applied);
            }
            Err(message) => host.config_rejected(self, message),
        }
    }

    /// For an app placed no more: moves its state in a shared store (its
    /// engine states and simulated deployment) aside, so that a new app of
    /// the same name starts afresh, and says where each went. Only the
    /// leader moves anything; with files nothing is moved here (the
    /// service moves the app's directory).
    pub async fn set_state_aside(&self) -> Vec<String> {
        let engine = self.engine.lock().await;
        if !engine.shared_store || self.leadership.term().is_err() {
            return Vec::new();
        }
        let mut kept = Vec::new();
        for item in StateItem::ALL {
            let key = StateKey::new(engine.key.app.clone(), item);
            let moved = match engine.store.load(&key).await {
                Ok(None) => continue,
                Ok(Some(_)) => engine.store.move_aside(&key, Aside::Dropped).await,
                Err(err) => Err(err),
            };
            match moved {
                Ok(at) => kept.push(at),
                Err(err) => tracing::error!(
                    app = %self.name,
                    "moving {} aside failed: {err}",
                    engine.store.location(&key)
                ),
            }
        }
        kept
    }

    /// The app's name (`default` for a simulated app without one).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Waits for the tick in flight and saves the engine state (when this
    /// placer leads: a follower's copy is the leader's).
    pub async fn close(&self) {
        let mut engine = self.engine.lock().await;
        if engine.term.is_none() || self.leadership.term().ok() != engine.term {
            return;
        }
        match engine.save().await {
            Ok(()) => tracing::info!(
                "engine state saved to {}",
                engine.store.location(&engine.key)
            ),
            Err(err) => tracing::error!("saving the engine state failed: {err}"),
        }
    }

    /// The settings in force, resolved from the config, the flags and the
    /// environment.
    pub fn settings(&self) -> RwLockReadGuard<'_, Resolved> {
        self.resolved
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The runner as the endpoints see it, as of the latest tick or config
    /// change.
    pub fn view(&self) -> RwLockReadGuard<'_, View> {
        self.view
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records why the config file's current content is not in force (or
    /// that it is valid again, with `None`).
    pub fn set_config_error(&self, error: Option<String>) {
        self.view_mut().config_error = error;
    }

    pub(super) fn view_mut(&self) -> RwLockWriteGuard<'_, View> {
        self.view
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The backends `resolved` names, with the actuator recording into
/// `deployed` what it lists and changes.
pub(super) fn build_backends(
    resolved: &Resolved,
    deployed: &DeployedRegions,
    shared: Option<&SharedLimits>,
) -> Result<Backends, BackendError> {
    let mut backends = Backends::build(resolved, deployed, shared)?;
    backends.actuator = Arc::new(Tracked::new(backends.actuator, deployed.clone()));
    Ok(backends)
}
