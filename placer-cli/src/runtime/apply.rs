//! Putting a changed config file in force between two ticks: re-resolving
//! the settings, rebuilding the backends they name, and switching the
//! engine state file when the mode changes — all or nothing.

use placer_core::Placer;
use serde_json::Value;

use crate::config::file::LoadedConfig;
use crate::config::resolve::resolve;
use crate::runtime::app::{build_backends, AppRunner, Engine};
use crate::runtime::store::restore_engine_state;
use crate::runtime::Role;
use crate::store::data_lock::DataDirLock;
use crate::store::{store_for_app, StateItem, StateKey, StateUrl};

impl AppRunner {
    /// Applies `loaded` to `engine`, or changes nothing and says why.
    /// Returns the changed settings, one `key: old → new` line each.
    pub(super) async fn switch_config(
        &self,
        engine: &mut Engine,
        loaded: LoadedConfig,
    ) -> Result<Vec<String>, String> {
        let inputs = &self.inputs;
        let mut resolved = resolve(&inputs.args, &inputs.env, &loaded, inputs.fallback_seed)
            .map_err(|err| err.to_string())?;
        // One app's runner places that app: its name keys its state, its
        // metrics and its endpoints.
        if loaded.app.is_none() {
            let app = resolved.app_key();
            if app != self.name() {
                return Err(format!(
                    "the config now places app {app:?} instead of {:?}: placing another app takes a restart, so the config in force stays",
                    self.name()
                ));
            }
        }
        let old = self.settings().clone();
        let mut notes = Vec::new();
        if self.role == Role::Serve {
            if resolved.listen != old.listen {
                notes.push(format!(
                    "service.listen {} takes effect after a restart",
                    resolved.listen
                ));
                resolved.listen = old.listen;
                resolved.listen_from = old.listen_from.clone();
            }
            resolved.check_serve().map_err(|err| err.to_string())?;
        }
        // A file store follows the data directory; another store is kept
        // until a restart.
        let new_store = match (&resolved.state.url, &old.state.url) {
            (StateUrl::File(_), StateUrl::File(_)) if resolved.data_dir != old.data_dir => Some(
                store_for_app(&engine.store, &resolved.state, &resolved.data_dir),
            ),
            (StateUrl::File(_), StateUrl::File(_)) => None,
            (new, old_url) if new != old_url => {
                notes.push(format!(
                    "state.url {new} takes effect after a restart (state stays in {old_url})"
                ));
                resolved.state = old.state.clone();
                None
            }
            _ => None,
        };

        // A new data directory is locked before anything in it is read.
        let new_lock = match &engine.lock {
            Some(lock) if resolved.data_dir != lock.dir() => {
                Some(DataDirLock::try_acquire(&resolved.data_dir).map_err(|err| err.to_string())?)
            }
            // One of several apps: the service holds the shared directory's lock.
            _ => None,
        };
        if engine.lock.is_none() {
            std::fs::create_dir_all(&resolved.data_dir)
                .map_err(|err| format!("cannot create {}: {err}", resolved.data_dir.display()))?;
        }

        let backends = if resolved.traffic != old.traffic || resolved.deployment != old.deployment {
            Some(
                build_backends(&resolved, &self.deployed, self.shared.as_ref())
                    .map_err(|err| err.to_string())?,
            )
        } else {
            None
        };

        // Each mode (and each data directory) keeps its own engine memory.
        let key = StateKey::new(self.name(), StateItem::engine_state(resolved.dry_run));
        let new_state = if key != engine.key || new_store.is_some() {
            let store = new_store.unwrap_or_else(|| engine.store.clone());
            let state = restore_engine_state(store.as_ref(), &key)
                .await
                .map_err(|err| err.to_string())?;
            let placer = Placer::with_state(loaded.engine.clone(), state)
                .map_err(|err| format!("{}: {err}", loaded.path.display()))?;
            Some((store, key, placer))
        } else {
            None
        };

        // Everything that can fail has been done; from here on, commit.
        let mut changes = describe_changes(&engine.loaded, &loaded);
        changes.extend(notes);
        match new_state {
            Some((store, key, placer)) => {
                if let Err(err) = engine.save().await {
                    tracing::error!("saving the engine state failed: {err}");
                }
                changes.push(format!("engine state now kept in {}", store.location(&key)));
                engine.store = store;
                engine.key = key;
                engine.placer = placer;
            }
            None => engine
                .placer
                .set_config(loaded.engine.clone())
                .map_err(|err| format!("{}: {err}", loaded.path.display()))?,
        }
        if let Some(lock) = new_lock {
            engine.lock = Some(lock);
        }
        if let Some(backends) = backends {
            for problem in &backends.recovered {
                tracing::error!("{problem}");
            }
            tracing::info!("traffic: {}", backends.traffic_description);
            tracing::info!("deployment: {}", backends.deployment_description);
            engine.backends = backends;
        }
        *self
            .resolved
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = resolved;
        engine.loaded = loaded;
        Ok(changes)
    }
}

/// One `key: old → new` line per changed setting, nested keys dotted.
pub(crate) fn describe_changes(old: &LoadedConfig, new: &LoadedConfig) -> Vec<String> {
    let as_value = |config: &LoadedConfig| {
        let mut value = serde_json::to_value(&config.engine).unwrap_or(Value::Null);
        if let (Value::Object(map), Value::Object(sections)) = (&mut value, config.settings.shown())
        {
            map.extend(sections);
        }
        value
    };
    let mut changes = Vec::new();
    diff("", &as_value(old), &as_value(new), &mut changes);
    // Credentials are shown redacted, so a change of one alone would
    // otherwise read as "no setting changed".
    let (before, after) = (&old.settings, &new.settings);
    let sections = [
        ("service", before.service != after.service),
        ("prometheus", before.prometheus != after.prometheus),
        ("fly", before.fly != after.fly),
        ("simulation", before.simulation != after.simulation),
        ("state", before.state != after.state),
        ("notify", before.notify != after.notify),
    ];
    for (section, differs) in sections {
        let listed = changes
            .iter()
            .any(|change| change.starts_with(&format!("{section}.")));
        if differs && !listed {
            changes.push(format!("{section}: a credential changed (not shown)"));
        }
    }
    changes
}

fn diff(prefix: &str, old: &Value, new: &Value, out: &mut Vec<String>) {
    match (old, new) {
        (Value::Object(old_map), Value::Object(new_map)) => {
            let keys: std::collections::BTreeSet<&String> =
                old_map.keys().chain(new_map.keys()).collect();
            for key in keys {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                let none = Value::Null;
                diff(
                    &path,
                    old_map.get(key).unwrap_or(&none),
                    new_map.get(key).unwrap_or(&none),
                    out,
                );
            }
        }
        _ if old != new => out.push(format!("{prefix}: {old} → {new}")),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::file::parse;

    #[test]
    fn lists_changed_keys_with_old_and_new_values() {
        let old = parse("traffic_threshold: 50\n", Path::new("c.yml")).unwrap();
        let new = parse(
            "traffic_threshold: 80\nservice:\n  interval: 5s\n  trigger_token: hidden\n",
            Path::new("c.yml"),
        )
        .unwrap();
        let changes = describe_changes(&old, &new);
        assert_eq!(
            changes,
            [
                "service.interval: \"1m\" → \"5s\"",
                "service.trigger_token: null → \"[redacted]\"",
                "traffic_threshold: 50.0 → 80.0",
            ]
        );
        assert!(describe_changes(&new, &new).is_empty());
    }

    #[test]
    fn a_changed_credential_alone_is_said_without_its_value() {
        let old = parse(
            "prometheus:\n  url: http://reader:hunter2@127.0.0.1:8428\nservice:\n  trigger_token: first\n",
            Path::new("c.yml"),
        )
        .unwrap();
        let new = parse(
            "prometheus:\n  url: http://reader:swordfish@127.0.0.1:8428\nservice:\n  trigger_token: second\n",
            Path::new("c.yml"),
        )
        .unwrap();
        let changes = describe_changes(&old, &new);
        assert_eq!(
            changes,
            [
                "service: a credential changed (not shown)",
                "prometheus: a credential changed (not shown)",
            ]
        );
        for change in &changes {
            for secret in ["hunter2", "swordfish", "first", "second"] {
                assert!(!change.contains(secret), "{change}");
            }
        }
    }

    #[test]
    fn changed_urls_are_listed_without_their_credentials() {
        let old = parse(
            "prometheus:\n  url: http://reader:hunter2@127.0.0.1:8428\n",
            Path::new("c.yml"),
        )
        .unwrap();
        let new = parse(
            "prometheus:\n  url: http://reader:hunter2@127.0.0.1:9090\n",
            Path::new("c.yml"),
        )
        .unwrap();
        assert_eq!(
            describe_changes(&old, &new),
            ["prometheus.url: \"http://127.0.0.1:8428\" → \"http://127.0.0.1:9090\""]
        );
    }
}
