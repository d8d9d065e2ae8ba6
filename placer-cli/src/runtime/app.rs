//! Starting the service: config, settings, backends and saved state, each
//! failure with a message that says what to fix.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use placer_core::{EngineState, Placer};
use tokio::sync::{watch, Notify};

use crate::backends::{BackendError, Backends};
use crate::config_file::{self, LoadError};
use crate::service::metrics::Metrics;
use crate::runtime::store::{JsonFile, PersistError, Restored};
use crate::service::reload::Reloader;
use crate::resolve::{resolve, SetupError};
use crate::service::{now, Engine, Inputs, Role, Service};
use crate::service::status::View;

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The config file is missing or invalid.
    #[error(transparent)]
    Config(#[from] LoadError),
    /// Settings are missing or conflict.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// A backend could not be set up.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// A state file is unusable and could not be moved aside.
    #[error(transparent)]
    Persist(#[from] PersistError),
}

impl StartError {
    /// The process exit code: 2 for problems in the user's settings, 1 for
    /// the rest.
    pub fn exit_code(&self) -> u8 {
        match self {
            StartError::Config(_) | StartError::Setup(_) | StartError::Backend(_) => 2,
            StartError::Persist(_) => 1,
        }
    }
}

impl Service {
    /// Loads the config, resolves the settings, builds the backends and
    /// restores the engine state; then lists the deployment once, so the
    /// endpoints have something to show before the first tick.
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
        let resolved = resolve(&inputs.args, &inputs.env, &loaded, inputs.fallback_seed)?;
        if role == Role::Serve {
            resolved.check_serve()?;
        }
        for note in &resolved.notes {
            tracing::warn!("{note}");
        }
        let backends = Backends::build(&resolved)?;
        for problem in &backends.recovered {
            tracing::error!("{problem}");
        }
        tracing::info!("traffic: {}", backends.traffic_description);
        tracing::info!("deployment: {}", backends.deployment_description);

        let store = JsonFile::new(resolved.engine_state_file());
        let state = restore_engine_state(&store)?;
        let placer = Placer::with_state(loaded.engine.clone(), state.clone())
            .expect("the config passed validation when it was parsed");

        let (deployment, deployment_as_of) = match backends.actuator.deployed_regions().await {
            Ok(regions) => (regions, Some(now())),
            Err(err) => {
                tracing::warn!(
                    "listing the deployment at start failed (the first tick retries): {err}"
                );
                (Default::default(), None)
            }
        };
        if let Some(simulation) = &backends.simulation {
            simulation.set_deployed(deployment.iter().cloned());
        }

        let metrics = Metrics::new();
        metrics.set_dry_run(resolved.dry_run);
        let view = View {
            config: loaded.engine.clone(),
            config_path: path.clone(),
            config_loaded_at: now(),
            config_error: None,
            traffic_description: backends.traffic_description.clone(),
            deployment_description: backends.deployment_description.clone(),
            interval: resolved.interval,
            deployment,
            deployment_as_of,
            state,
            last_report: None,
            latest_traffic: None,
            last_tick_duration: Duration::ZERO,
            ticks: 0,
            persist_error: None,
        };
        let listen = resolved.listen;
        let trigger_token = resolved.trigger_token.clone();
        let engine = Engine {
            placer,
            backends,
            resolved,
            loaded,
            store,
        };
        Ok(Arc::new(Service {
            engine: Arc::new(tokio::sync::Mutex::new(engine)),
            view: RwLock::new(view),
            trigger_token: RwLock::new(trigger_token),
            finished: watch::Sender::new(None),
            metrics,
            reloader: Mutex::new(Reloader::new(path, Some(text))),
            inputs,
            role,
            listen,
            closing: AtomicBool::new(false),
            interval_changed: Notify::new(),
        }))
    }
}

/// Reads the engine state from `store`: a missing file is a fresh start; an
/// unusable one is moved aside (logged as an error) and is a fresh start.
///
/// # Errors
/// [`PersistError::MoveAside`] when an unusable file cannot be moved.
pub(crate) fn restore_engine_state(
    store: &JsonFile<EngineState>,
) -> Result<EngineState, PersistError> {
    Ok(match store.load()? {
        Restored::Missing => {
            tracing::info!(
                "no engine state at {} yet: starting with no history",
                store.path().display()
            );
            EngineState::default()
        }
        Restored::Loaded(state) => {
            let regions = state.regions().count();
            let last = state
                .last_observation()
                .map_or_else(|| "never".to_owned(), |at| at.to_string());
            tracing::info!(
                "engine state restored from {} ({regions} regions, last observation {last})",
                store.path().display()
            );
            state
        }
        Restored::MovedAside { problem, moved_to } => {
            tracing::error!(
                "engine state file {} {problem}; it was moved to {} and the engine starts with no history",
                store.path().display(),
                moved_to.display()
            );
            EngineState::default()
        }
    })
}
