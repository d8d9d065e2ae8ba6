//! The apps a service places: one app is a fleet of one. [`Fleet`] is what
//! starting another app takes (the inputs, the shared limits, the store,
//! the `apps:` names and patterns); a refresh of the organization's apps
//! adds and drops apps, and a config change is handed to every app.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::Service;
use crate::backends::apps_traffic::AppsTraffic;
use crate::backends::SharedLimits;
use crate::config::apps::{self, AppSelection};
use crate::config::file::LoadedConfig;
use crate::runtime::{now, AppRunner, Inputs};
use crate::store::data_lock::DataDirLock;
use crate::store::OpenedStore;

/// What starting another app takes.
pub(super) struct Fleet {
    pub(super) inputs: Inputs,
    /// One app, or several named and matched by patterns.
    pub(super) selection: AppSelection,
    /// The Machines API limits every app draws on, with several apps; the
    /// one app of old keeps its own, which follow its config.
    pub(super) shared: Option<SharedLimits>,
    /// The config file as last read and put in force.
    pub(super) loaded: Mutex<LoadedConfig>,
    /// Lists the organization's apps, when there are patterns.
    pub(super) org: Option<placer_fly::OrgApps>,
    /// Where dropped apps' directories are moved aside.
    pub(super) apps_dir: PathBuf,
    /// Time between two listings of the organization's apps.
    pub(super) refresh: Duration,
    /// One refresh at a time.
    pub(super) refreshing: tokio::sync::Mutex<()>,
    /// The state store all apps share.
    pub(super) opened: OpenedStore,
    /// The shared data directory's lock, with several apps (the one app of
    /// old holds its own, which follows its data directory).
    pub(super) _lock: Option<DataDirLock>,
}

impl Fleet {
    fn named(&self) -> &[String] {
        match &self.selection {
            AppSelection::Many { names, .. } => names,
            AppSelection::Single => &[],
        }
    }

    fn patterns(&self) -> &[String] {
        match &self.selection {
            AppSelection::Many { patterns, .. } => patterns,
            AppSelection::Single => &[],
        }
    }

    /// The one query for every app's traffic, when there is one.
    pub(super) fn shared_traffic(&self) -> Option<&AppsTraffic> {
        self.shared.as_ref()?.traffic.as_deref()
    }

    pub(super) fn is_many(&self) -> bool {
        self.selection.is_many()
    }
}

/// What a refresh of the app list changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Refreshed {
    /// Apps picked up.
    pub added: Vec<String>,
    /// Apps dropped.
    pub dropped: Vec<String>,
}

impl Service {
    /// Time between two listings of the organization's apps, when app name
    /// patterns need them.
    pub fn apps_refresh(&self) -> Option<Duration> {
        self.fleet.org.as_ref().map(|_| self.fleet.refresh)
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
        let fleet = &self.fleet;
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
        let wanted = apps::matching(
            fleet.patterns(),
            fleet.named(),
            listed.iter().map(String::as_str),
        );
        let current: Vec<String> = self
            .app_names()
            .into_iter()
            .filter(|name| !fleet.named().contains(name))
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
                fleet.shared.clone(),
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

    pub(super) fn add_runner(&self, runner: AppRunner) {
        let name = runner.name().to_owned();
        self.metrics.add_app(&name, runner.settings().dry_run);
        self.failed_mut().remove(&name);
        self.runners_mut().insert(name, Arc::new(runner));
        self.update_traffic_apps();
    }

    /// Tells the one traffic query which apps to ask for.
    pub(super) fn update_traffic_apps(&self) {
        if let Some(traffic) = self.fleet.shared_traffic() {
            traffic.set_apps(self.app_names());
        }
    }

    pub(super) fn app_failed(&self, name: &str, message: String) {
        tracing::error!(app = %name, "app {name} not placed: {message}");
        self.failed_mut().insert(name.to_owned(), message);
    }

    /// Hands a valid new config to every app: each gets its own narrowed
    /// copy at its next tick. An app whose entries make an invalid config
    /// keeps its previous one and says why; the others take the change.
    pub(crate) fn stage_for_apps(&self, loaded: LoadedConfig) {
        let mut kept = self
            .fleet
            .loaded
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // What several apps share is read at start, but for the rate limit.
        if let Some(shared) = &self.fleet.shared {
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
                shared.limiter.set_limit(new.limiter_rate(), new.burst);
                let cap = |rate: &placer_fly::RateLimitOptions| match rate.requests_per_second {
                    Some(calls) => format!("{calls} calls/s, bursts of {}", rate.burst),
                    None => "no cap".to_owned(),
                };
                tracing::info!(
                    "fly.rate_limit for every app: {} (was {})",
                    cap(new),
                    cap(old)
                );
            }
        }
        if kept.settings.notify != loaded.settings.notify {
            self.notifier.apply(&loaded.settings.notify);
        }
        *kept = loaded.clone();
        drop(kept);
        let mut staged = self.staged();
        for (name, runner) in self.runners() {
            match self.fleet.selection.config_of(&loaded, &name) {
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
    use crate::config::file::parse;

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
