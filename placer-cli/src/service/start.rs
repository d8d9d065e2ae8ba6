//! Starting the service: the config read, the process-wide settings, the
//! state store opened and the apps' runners started.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::sync::Notify;

use super::fleet::Fleet;
use super::metrics::Metrics;
use super::reload::Reloader;
use super::{Service, APPS_AT_ONCE};
use crate::backends::apps_traffic::AppsTraffic;
use crate::backends::SharedLimits;
use crate::config;
use crate::config::apps::{selection, AppSelection};
use crate::config::file::{LoadError, LoadedConfig};
use crate::config::resolve::{resolve, Resolved, TrafficPlan, APPS_DIR};
use crate::runtime::{AppRunner, Inputs, Role, StartError};
use crate::store::data_lock::DataDirLock;
use crate::store::{self, OpenedStore};

impl Service {
    /// Loads the config and starts its apps' runners (see
    /// [`AppRunner::start_with`]): the one app of old, or every app the `apps:`
    /// section names and its patterns match.
    ///
    /// # Errors
    /// [`StartError`] saying what to fix. With several apps, one that
    /// cannot start is reported by `/health` and the others run.
    pub async fn start(inputs: Inputs, role: Role) -> Result<Arc<Service>, StartError> {
        let path = inputs.args.config.clone();
        let text = std::fs::read_to_string(&path).map_err(|source| LoadError::Read {
            path: path.clone(),
            source,
        })?;
        let loaded = config::file::parse(&text, &path).map_err(LoadError::from)?;
        let selection = selection(&loaded);
        let top = process_settings(&inputs, &loaded, &selection)?;
        if role == Role::Serve {
            top.check_serve()?;
        }
        // Nothing in the data directory is read before its lock is held;
        // the one app of old takes its own.
        let lock = match selection {
            AppSelection::Single => None,
            AppSelection::Many { .. } if inputs.args.wait_for_lock => {
                Some(DataDirLock::acquire_waiting(&top.data_root).await?)
            }
            AppSelection::Many { .. } => Some(DataDirLock::try_acquire(&top.data_root)?),
        };
        let opened = open_store(top.state.clone()).await?;
        let shared = match selection {
            AppSelection::Single => None,
            AppSelection::Many { .. } => {
                let mut shared = SharedLimits::new(&loaded.settings.fly);
                shared.traffic = apps_traffic(&loaded, &top)?;
                Some(shared)
            }
        };
        let org = match (&selection, &shared) {
            (AppSelection::Many { patterns, .. }, Some(shared)) if !patterns.is_empty() => {
                org_apps(&inputs, &loaded, shared, patterns)
            }
            _ => None,
        };
        let fleet = Fleet {
            inputs: inputs.clone(),
            selection: selection.clone(),
            shared,
            loaded: Mutex::new(loaded.clone()),
            org,
            apps_dir: top.data_root.join(APPS_DIR),
            refresh: loaded.settings.service.apps_refresh,
            refreshing: tokio::sync::Mutex::new(()),
            opened: opened.clone(),
            _lock: lock,
        };
        let metrics = Metrics::new();
        let notifier =
            super::notify::Notifier::new(&loaded.settings.notify, metrics.notifications().clone());
        let service = Arc::new(Service {
            runners: RwLock::default(),
            failed: RwLock::default(),
            dry_run: top.dry_run,
            staged: Mutex::default(),
            trigger_token: RwLock::new(top.trigger_token.clone()),
            metrics,
            reloader: Mutex::new(Reloader::new(path, Some(text))),
            role,
            listen: top.listen,
            interval: RwLock::new(top.interval),
            next_tick_at: RwLock::new(None),
            closing: AtomicBool::new(false),
            interval_changed: Notify::new(),
            fleet,
            leadership: opened.leadership.clone(),
            notifier,
        });
        match selection {
            // The one app of old: the service cannot run without it.
            AppSelection::Single => {
                let runner = AppRunner::start_with(inputs, role, loaded, None, opened).await?;
                service.add_runner(runner);
            }
            AppSelection::Many { names, .. } => {
                service.start_apps(&loaded, names).await;
                if let Err(err) = service.refresh_apps().await {
                    tracing::error!("{err}");
                }
            }
        }
        Ok(service)
    }

    /// Starts the apps `names` of several, [`APPS_AT_ONCE`] at a time; an
    /// app that cannot start is recorded and the others go on.
    async fn start_apps(self: &Arc<Self>, loaded: &LoadedConfig, names: Vec<String>) {
        let mut started = tokio::task::JoinSet::new();
        let at_once = Arc::new(tokio::sync::Semaphore::new(APPS_AT_ONCE));
        for name in names {
            let narrowed = match loaded.for_app(&name) {
                Ok(narrowed) => narrowed,
                Err(err) => {
                    self.app_failed(&name, err.to_string());
                    continue;
                }
            };
            let inputs = self.fleet.inputs.clone();
            let shared = self.fleet.shared.clone();
            let opened = self.fleet.opened.clone();
            let role = self.role;
            let at_once = Arc::clone(&at_once);
            started.spawn(async move {
                let _turn = at_once.acquire_owned().await;
                let result = AppRunner::start_with(inputs, role, narrowed, shared, opened).await;
                (name, result)
            });
        }
        while let Some(joined) = started.join_next().await {
            let Ok((name, result)) = joined else {
                continue;
            };
            match result {
                Ok(runner) => self.add_runner(runner),
                Err(err) => self.app_failed(&name, err.to_string()),
            }
        }
    }
}

/// The process-wide settings, from the file's top level. With several
/// apps the top level alone may lack what each app has (its name): then
/// they are those of the first app.
fn process_settings(
    inputs: &Inputs,
    loaded: &LoadedConfig,
    selection: &AppSelection,
) -> Result<Resolved, StartError> {
    let top = resolve(&inputs.args, &inputs.env, loaded, inputs.fallback_seed);
    match (top, selection) {
        (Ok(top), _) => Ok(top),
        (Err(err), AppSelection::Single) => Err(err.into()),
        (Err(_), AppSelection::Many { names, .. }) => {
            let first = names.first().map_or("app", String::as_str);
            let narrowed = loaded.for_app(first).map_err(LoadError::from)?;
            Ok(resolve(
                &inputs.args,
                &inputs.env,
                &narrowed,
                inputs.fallback_seed,
            )?)
        }
    }
}

/// Lists the organization's apps for the `apps:` patterns, when `fly.org`
/// and the token allow it.
fn org_apps(
    inputs: &Inputs,
    loaded: &LoadedConfig,
    shared: &SharedLimits,
    patterns: &[String],
) -> Option<placer_fly::OrgApps> {
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
}

/// The one query for every app's traffic, when traffic comes from
/// Prometheus and its `prometheus:` section has a multi-app template (the
/// default query has one); without one, each app queries on its own.
fn apps_traffic(
    loaded: &LoadedConfig,
    top: &Resolved,
) -> Result<Option<Arc<AppsTraffic>>, StartError> {
    let TrafficPlan::Prometheus(plan) = &top.traffic else {
        return Ok(None);
    };
    let section = &loaded.settings.prometheus;
    if section.apps_template().is_none() {
        tracing::warn!(
            "prometheus.query_template is not the default and prometheus.apps_query_template is not set: each app's traffic is queried on its own"
        );
        return Ok(None);
    }
    let source = crate::backends::prometheus_source(plan)?;
    Ok(Some(Arc::new(AppsTraffic::new(source))))
}

/// Opens the state store (one for all apps) and, with a shared store, gives
/// the first campaign a moment, so a lone placer leads at once.
async fn open_store(settings: store::StoreSettings) -> Result<OpenedStore, StartError> {
    let opened = store::open(settings).await?;
    tracing::info!("state: {}", opened.store.describe());
    let mut leadership = opened.leadership.clone();
    if leadership.is_elected() {
        let _ = tokio::time::timeout(Duration::from_secs(5), leadership.changed()).await;
    }
    Ok(opened)
}
