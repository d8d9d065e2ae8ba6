//! Which apps one fly-placer places: the `apps:` section of the config file
//! (names and glob patterns such as `shop-*`, each with engine keys that
//! override the file's top-level values), `simulation.apps`, or — without
//! either — the one app of `PLACER_APP`, `fly.app` or `FLY_APP_NAME`.

use std::collections::BTreeSet;

use placer_core::config::ConfigError;
use placer_core::AppName;

use crate::config::file::LoadedConfig;

/// The config file's section listing the apps.
pub const APPS_SECTION: &str = "apps";

/// Where the apps placed come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppSelection {
    /// One app, named (or not, when simulated) as before there were many:
    /// its files stay at the top of the data directory.
    Single,
    /// Several apps, each with its own files under `<data_dir>/apps/<app>/`.
    Many {
        /// Apps named in the `apps:` section, or the simulated apps.
        names: Vec<String>,
        /// Patterns of the `apps:` section, matched against the
        /// organization's apps (`fly.org`).
        patterns: Vec<String>,
    },
}

impl AppSelection {
    /// Whether more than the one app of old may be placed.
    pub fn is_many(&self) -> bool {
        matches!(self, AppSelection::Many { .. })
    }

    /// The config app `name` runs with: the file as it is for the one app
    /// of old; with several, narrowed to `name`
    /// ([`LoadedConfig::for_app`]).
    ///
    /// # Errors
    /// [`ConfigError`] at the overriding key's line when `name`'s entries
    /// make an invalid config together.
    pub fn config_of(
        &self,
        loaded: &LoadedConfig,
        name: &str,
    ) -> Result<LoadedConfig, ConfigError> {
        match self {
            AppSelection::Single => Ok(loaded.clone()),
            AppSelection::Many { .. } => loaded.for_app(name),
        }
    }
}

/// The apps `loaded` asks for.
pub fn selection(loaded: &LoadedConfig) -> AppSelection {
    if loaded.overrides.is_written() {
        let (patterns, names): (Vec<String>, Vec<String>) = loaded
            .overrides
            .names()
            .map(str::to_owned)
            .partition(|name| is_pattern(name));
        return AppSelection::Many { names, patterns };
    }
    match loaded.settings.simulation.apps {
        Some(count) if count > 1 => AppSelection::Many {
            names: (1..=count).map(simulated_app_name).collect(),
            patterns: Vec::new(),
        },
        _ => AppSelection::Single,
    }
}

/// The name of the `n`-th simulated app (`sim-1`, `sim-2`, …).
pub fn simulated_app_name(n: usize) -> String {
    format!("sim-{n}")
}

/// Whether an `apps:` entry is a glob pattern rather than a name.
pub fn is_pattern(entry: &str) -> bool {
    entry.contains(['*', '?', '['])
}

/// Whether `app` matches the glob `pattern` (`*`, `?`, `[a-z]`).
pub fn matches(pattern: &str, app: &str) -> bool {
    glob::Pattern::new(pattern).is_ok_and(|pattern| pattern.matches(app))
}

/// Checks an `apps:` entry: a Fly app name, or a valid glob pattern.
///
/// # Errors
/// What is wrong with it.
pub fn check_entry(entry: &str) -> Result<(), String> {
    if is_pattern(entry) {
        glob::Pattern::new(entry)
            .map(|_| ())
            .map_err(|err| format!("{entry:?} is not a valid pattern: {err}"))
    } else {
        entry
            .parse::<AppName>()
            .map(|_| ())
            .map_err(|err| err.to_string())
    }
}

/// The `apps:` entries that apply to `app`, in the order they are laid
/// over the top-level values: matching patterns in the file's order, then
/// the entry naming it, which wins.
pub fn entries_for<'a>(loaded: &'a LoadedConfig, app: &str) -> Vec<&'a str> {
    let mut entries: Vec<&str> = loaded
        .overrides
        .names()
        .filter(|entry| is_pattern(entry) && matches(entry, app))
        .collect();
    entries.extend(loaded.overrides.names().filter(|entry| *entry == app));
    entries
}

/// The apps among `org_apps` that `patterns` match, without those named
/// already.
pub fn matching<'a>(
    patterns: &[String],
    named: &[String],
    org_apps: impl IntoIterator<Item = &'a str>,
) -> BTreeSet<String> {
    org_apps
        .into_iter()
        .filter(|app| !named.iter().any(|name| name == app))
        .filter(|app| patterns.iter().any(|pattern| matches(pattern, app)))
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_names_and_leave_named_apps_alone() {
        assert!(is_pattern("shop-*") && !is_pattern("shop-web"));
        assert!(matches("shop-*", "shop-web"));
        assert!(!matches("shop-*", "blog"));
        assert!(matches("api-?", "api-1"));
        let found = matching(
            &["shop-*".to_owned()],
            &["shop-web".to_owned()],
            ["shop-web", "shop-eu", "blog"],
        );
        assert_eq!(found, BTreeSet::from(["shop-eu".to_owned()]));
    }

    #[test]
    fn entries_are_names_or_valid_patterns() {
        assert!(check_entry("shop-web").is_ok());
        assert!(check_entry("shop-*").is_ok());
        assert!(check_entry("Shop Web").is_err());
        assert!(check_entry("shop-[").is_err());
    }
}
