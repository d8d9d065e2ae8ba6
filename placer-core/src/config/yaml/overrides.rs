//! [`ConfigOverrides`]: engine keys written again inside a section of the
//! config file (`apps:` in fly-placer), each entry laid over the file's
//! top-level values.

use serde_yaml::{Mapping, Value};

use super::{closest, kind, line_of_key, syntax, ConfigError};
use crate::config::{InvalidConfig, PlacerConfig};
use crate::policy::PolicySettings;

/// The entries of one top-level section of a config file, each naming
/// something (an app, a pattern of app names) and holding engine keys that
/// override the file's top-level values for it.
///
/// The section is a mapping of entry names to mappings of engine keys (an
/// entry with nothing to override may be empty or `~`), or a list of entry
/// names. Every entry is checked when the file is read: an unknown key gets
/// the same file, line and did-you-mean error as at the top level, and each
/// entry laid alone over the top-level values must make a valid config.
///
/// ```
/// let text = "traffic_threshold: 50\napps:\n  shop-*:\n    traffic_threshold: 80\n  shop-eu:\n    cooldown_period: 5m\n";
/// let overrides = placer_core::config::overrides_from_yaml(text, "c.yml", "apps").unwrap();
/// assert_eq!(overrides.names().collect::<Vec<_>>(), ["shop-*", "shop-eu"]);
/// let config = overrides.config_for(["shop-*", "shop-eu"]).unwrap();
/// assert_eq!(config.traffic_threshold, 80.0);
/// assert_eq!(config.cooldown_period.as_secs(), 300);
///
/// let err = placer_core::config::overrides_from_yaml(
///     "apps:\n  shop:\n    trafic_threshold: 80\n", "c.yml", "apps").unwrap_err();
/// assert_eq!(err.line(), Some(3));
/// assert!(err.to_string().contains("did you mean `traffic_threshold`"));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigOverrides {
    origin: String,
    text: String,
    section: String,
    written: bool,
    base: Mapping,
    entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq)]
struct Entry {
    name: String,
    keys: Mapping,
}

/// Reads the top-level `section` of the YAML `text` as [`ConfigOverrides`]
/// and checks every entry. A document without the section gives no
/// entries.
///
/// # Errors
/// [`ConfigError`] naming the origin, the line and the key at fault
/// (`section.entry.key`).
pub fn overrides_from_yaml(
    text: &str,
    origin: &str,
    section: &str,
) -> Result<ConfigOverrides, ConfigError> {
    let document: Value = serde_yaml::from_str(text)
        .map_err(|err| super::unclosed_bracket(text, syntax(origin, &err)))?;
    let mut overrides = ConfigOverrides {
        origin: origin.to_owned(),
        text: text.to_owned(),
        section: section.to_owned(),
        ..ConfigOverrides::default()
    };
    let Value::Mapping(top) = document else {
        return Ok(overrides);
    };
    let engine_keys = engine_keys();
    overrides.base = top
        .iter()
        .filter(|(key, _)| key.as_str().is_some_and(|key| engine_keys.contains(&key)))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    let Some(written) = top.get(section) else {
        return Ok(overrides);
    };
    overrides.written = true;
    let section_error = |message: String| ConfigError::InvalidValue {
        origin: origin.to_owned(),
        line: line_of_key(text, section),
        key: section.to_owned(),
        message,
    };
    match written {
        Value::Sequence(items) => {
            for item in items {
                let Some(name) = item.as_str() else {
                    return Err(section_error(format!(
                        "a list of names holds only strings, found {}",
                        kind(item)
                    )));
                };
                overrides.push(name, Mapping::new())?;
            }
        }
        Value::Mapping(entries) => {
            for (name, keys) in entries {
                let Some(name) = name.as_str() else {
                    return Err(section_error(format!(
                        "names must be strings, found {}",
                        kind(name)
                    )));
                };
                let keys = match keys {
                    Value::Null => Mapping::new(),
                    Value::Mapping(keys) => keys.clone(),
                    other => {
                        return Err(ConfigError::InvalidValue {
                            origin: origin.to_owned(),
                            line: overrides.line_of_entry(name),
                            key: format!("{section}.{name}"),
                            message: format!(
                                "expected a mapping of settings (or nothing), found {}",
                                kind(other)
                            ),
                        })
                    }
                };
                overrides.push(name, keys)?;
            }
        }
        Value::Null => {}
        other => {
            return Err(section_error(format!(
                "expected a mapping of names to settings, or a list of names; found {}",
                kind(other)
            )))
        }
    }
    if overrides.entries.is_empty() {
        return Err(section_error("must name at least one entry".to_owned()));
    }
    Ok(overrides)
}

fn engine_keys() -> Vec<&'static str> {
    PlacerConfig::KEYS
        .iter()
        .copied()
        .chain(PolicySettings::keys())
        .collect()
}

impl ConfigOverrides {
    /// Whether the section is written in the file.
    pub fn is_written(&self) -> bool {
        self.written
    }

    /// The entries' names, in the file's order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|entry| entry.name.as_str())
    }

    /// The keys entry `name` overrides, in the file's order (none for an
    /// unknown entry).
    pub fn overridden_keys(&self, name: &str) -> Vec<String> {
        self.entries
            .iter()
            .filter(|entry| entry.name == name)
            .flat_map(|entry| entry.keys.keys())
            .filter_map(|key| key.as_str().map(str::to_owned))
            .collect()
    }

    /// The 1-based line where entry `name` is written, if it is.
    pub fn line_of_entry(&self, name: &str) -> Option<usize> {
        entry_line(&self.text, &self.section, name)
    }

    /// The engine config of the top-level values with the entries `names`
    /// laid over them in order (a later entry wins; nested sections such
    /// as `latency:` merge key by key). Unknown names are skipped.
    ///
    /// # Errors
    /// [`ConfigError`] at the overriding key's line when the result is not
    /// a valid config.
    pub fn config_for<'a>(
        &self,
        names: impl IntoIterator<Item = &'a str>,
    ) -> Result<PlacerConfig, ConfigError> {
        let mut merged = self.base.clone();
        let mut used: Vec<&Entry> = Vec::new();
        for name in names {
            for entry in self.entries.iter().filter(|entry| entry.name == name) {
                merge(&mut merged, &entry.keys);
                used.push(entry);
            }
        }
        // Which entry wrote a key last, to name its line.
        let place = |key: &str| -> (String, Option<usize>) {
            match used.iter().rev().find(|entry| entry.keys.contains_key(key)) {
                Some(entry) => (
                    format!("{}.{}.{key}", self.section, entry.name),
                    key_line_in_entry(&self.text, &self.section, &entry.name, key)
                        .or_else(|| self.line_of_entry(&entry.name)),
                ),
                None => (key.to_owned(), line_of_key(&self.text, key)),
            }
        };
        let config: PlacerConfig = serde_path_to_error::deserialize(Value::Mapping(merged))
            .map_err(|err| {
                let path = err.path().to_string();
                let top = path.split(['.', '[']).next().unwrap_or_default().to_owned();
                let message = err.into_inner().to_string();
                let (key, line) = if engine_keys().contains(&top.as_str()) {
                    place(&top)
                } else {
                    // A policy section read as a whole: its name leads the message.
                    let section = PolicySettings::keys()
                        .find(|key| message.starts_with(&format!("{key}: ")))
                        .unwrap_or_default();
                    place(section)
                };
                let error = ConfigError::InvalidValue {
                    origin: self.origin.clone(),
                    line,
                    key: key.clone(),
                    message,
                };
                // An unknown nested field: under the entry that wrote its
                // section.
                let mut prefix: Vec<&str> = key.split('.').collect();
                prefix.pop();
                super::refine_unknown_field(&self.text, &prefix, error)
            })?;
        config
            .validate()
            .map_err(|InvalidConfig { key, message }| {
                let written = used.iter().any(|entry| entry.keys.contains_key(key));
                match used.last() {
                    // A top-level value the entries make invalid: at the
                    // (last) entry, naming the top-level key.
                    Some(entry) if !written => ConfigError::InvalidValue {
                        origin: self.origin.clone(),
                        line: self.line_of_entry(&entry.name),
                        key: format!("{}.{}", self.section, entry.name),
                        message: format!("{key}: {message}"),
                    },
                    _ => {
                        let (key, line) = place(key);
                        ConfigError::InvalidValue {
                            origin: self.origin.clone(),
                            line,
                            key,
                            message,
                        }
                    }
                }
            })?;
        Ok(config)
    }

    fn push(&mut self, name: &str, keys: Mapping) -> Result<(), ConfigError> {
        let known = engine_keys();
        for key in keys.keys() {
            let Some(key) = key.as_str() else {
                return Err(ConfigError::Syntax {
                    origin: self.origin.clone(),
                    line: self.line_of_entry(name),
                    message: format!("keys must be strings, found {}", kind(key)),
                });
            };
            if !known.contains(&key) {
                return Err(ConfigError::UnknownKey {
                    origin: self.origin.clone(),
                    line: key_line_in_entry(&self.text, &self.section, name, key)
                        .or_else(|| self.line_of_entry(name)),
                    key: format!("{}.{name}.{key}", self.section),
                    suggestion: closest(key, &known),
                });
            }
        }
        self.entries.push(Entry {
            name: name.to_owned(),
            keys,
        });
        self.config_for([name]).map(|_| ())
    }
}

/// Lays `over` onto `base`: mappings merge key by key, anything else is
/// replaced.
fn merge(base: &mut Mapping, over: &Mapping) {
    for (key, value) in over {
        match (base.get_mut(key), value) {
            (Some(Value::Mapping(inner)), Value::Mapping(value)) => merge(inner, value),
            _ => {
                base.insert(key.clone(), value.clone());
            }
        }
    }
}

/// Whether `content` (a line without its indentation) starts with `key:`,
/// the key bare or quoted.
fn starts_with_key(content: &str, key: &str) -> bool {
    [key.to_owned(), format!("\"{key}\""), format!("'{key}'")]
        .iter()
        .any(|written| {
            content
                .strip_prefix(written.as_str())
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
}

/// The lines of a block that starts after line `start` (1-based), with
/// their indentation, while they are indented more than `indent`.
fn block(text: &str, start: usize, indent: usize) -> impl Iterator<Item = (usize, usize, &str)> {
    text.lines()
        .enumerate()
        .skip(start)
        .map(|(index, line)| {
            let content = line.trim_start();
            (index + 1, line.len() - content.len(), content)
        })
        .filter(|(_, _, content)| !content.is_empty() && !content.starts_with('#'))
        .take_while(move |(_, column, _)| *column > indent)
}

/// The line of `- name` or `name:` inside the top-level `section:`.
fn entry_line(text: &str, section: &str, name: &str) -> Option<usize> {
    let start = line_of_key(text, section)?;
    block(text, start, 0)
        .find(|(_, _, content)| {
            let item = content.strip_prefix("- ").map(str::trim);
            starts_with_key(content, name)
                || item.is_some_and(|item| item.trim_matches(['"', '\'']) == name)
        })
        .map(|(line, _, _)| line)
}

/// The line of `key:` inside entry `name` of the top-level `section:`.
fn key_line_in_entry(text: &str, section: &str, name: &str, key: &str) -> Option<usize> {
    let start = entry_line(text, section, name)?;
    let indent = text
        .lines()
        .nth(start - 1)
        .map(|line| line.len() - line.trim_start().len())?;
    block(text, start, indent)
        .find(|(_, _, content)| starts_with_key(content, key))
        .map(|(line, _, _)| line)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "traffic_threshold: 50\n\
                        deployment_threshold: 10\n\
                        latency:\n  improvement_margin: 0.2\n\
                        apps:\n\
                        \x20 shop-*:\n    traffic_threshold: 80\n    allowed_regions: [iad, fra]\n\
                        \x20 shop-eu:\n    latency:\n      improvement_margin: 0.3\n\
                        \x20 plain: ~\n";

    #[test]
    fn entries_lay_over_the_top_level_in_order() {
        let overrides = overrides_from_yaml(TEXT, "c.yml", "apps").unwrap();
        assert!(overrides.is_written());
        assert_eq!(
            overrides.names().collect::<Vec<_>>(),
            ["shop-*", "shop-eu", "plain"]
        );
        let plain = overrides.config_for(["plain"]).unwrap();
        assert_eq!(
            plain,
            crate::config::from_yaml(TEXT.split("apps:").next().unwrap(), "c").unwrap()
        );
        let both = overrides.config_for(["shop-*", "shop-eu"]).unwrap();
        assert_eq!(both.traffic_threshold, 80.0);
        assert_eq!(both.deployment_threshold, 10.0);
        assert_eq!(both.allowed_regions.len(), 2);
        let latency = both.policy_settings.get::<crate::policy::LatencySettings>();
        assert_eq!(latency.improvement_margin, 0.3);
        assert_eq!(
            overrides.overridden_keys("shop-*"),
            ["traffic_threshold", "allowed_regions"]
        );
        assert_eq!(overrides.line_of_entry("shop-eu"), Some(9));
    }

    #[test]
    fn a_list_of_names_overrides_nothing() {
        let overrides =
            overrides_from_yaml("cooldown_period: 5\napps: [a, \"b-*\"]\n", "c.yml", "apps")
                .unwrap();
        assert_eq!(overrides.names().collect::<Vec<_>>(), ["a", "b-*"]);
        assert_eq!(
            overrides
                .config_for(["a"])
                .unwrap()
                .cooldown_period
                .as_secs(),
            5
        );
        assert_eq!(overrides.line_of_entry("b-*"), None);
    }

    #[test]
    fn no_section_means_no_entries() {
        let overrides = overrides_from_yaml("dry_run: true\n", "c.yml", "apps").unwrap();
        assert!(!overrides.is_written());
        assert_eq!(overrides.names().count(), 0);
    }

    #[test]
    fn unknown_key_in_an_entry_names_file_line_and_suggests() {
        let text = "apps:\n  shop:\n    cooldown_period: 5\n    trafic_threshold: 80\n";
        let err = overrides_from_yaml(text, "c.yml", "apps").unwrap_err();
        assert_eq!(
            err.to_string(),
            "c.yml:4: unknown key `apps.shop.trafic_threshold` (did you mean `traffic_threshold`?)"
        );
    }

    #[test]
    fn an_unknown_field_in_an_entrys_section_is_named_whole_at_its_line() {
        let text = "latency:\n  persist_ticks: 2\napps:\n  blog:\n    latency:\n      persist_ticks: 3\n      region_cost: 4\n";
        let err = overrides_from_yaml(text, "c.yml", "apps").unwrap_err();
        assert_eq!(
            err.to_string(),
            "c.yml:7: unknown key `apps.blog.latency.region_cost` (did you mean `region_cost_ms`?)"
        );
    }

    #[test]
    fn a_broken_rule_is_placed_at_the_overriding_key() {
        let text = "traffic_threshold: 50\napps:\n  shop:\n    deployment_threshold: 60\n";
        let err = overrides_from_yaml(text, "c.yml", "apps").unwrap_err();
        assert_eq!(err.line(), Some(4), "{err}");
        assert!(
            err.to_string().contains("apps.shop.deployment_threshold"),
            "{err}"
        );
        // The rule names a top-level key the entry did not write: at the entry.
        let text = "deployment_threshold: 10\napps:\n  shop:\n    traffic_threshold: 5\n";
        let err = overrides_from_yaml(text, "c.yml", "apps").unwrap_err();
        assert_eq!(err.line(), Some(3), "{err}");
        assert!(
            err.to_string()
                .starts_with("c.yml:3: apps.shop: deployment_threshold"),
            "{err}"
        );
    }

    #[test]
    fn a_value_of_the_wrong_type_is_placed_at_its_key() {
        let text = "apps:\n  shop:\n    cooldown_period: 5\n    max_actions_per_tick: many\n";
        let err = overrides_from_yaml(text, "c.yml", "apps").unwrap_err();
        assert_eq!(err.line(), Some(4), "{err}");
        assert!(
            err.to_string().contains("apps.shop.max_actions_per_tick"),
            "{err}"
        );
        let text = "apps:\n  shop:\n    allowed_regions: [iad, Frankfurt]\n";
        let err = overrides_from_yaml(text, "c.yml", "apps").unwrap_err();
        assert_eq!(err.line(), Some(3), "{err}");
        assert!(err.to_string().contains("Frankfurt"), "{err}");
    }

    #[test]
    fn an_entry_that_is_not_a_mapping_is_refused() {
        let err = overrides_from_yaml("apps:\n  shop: 3\n", "c.yml", "apps").unwrap_err();
        assert_eq!(err.line(), Some(2), "{err}");
        let err = overrides_from_yaml("apps: {}\n", "c.yml", "apps").unwrap_err();
        assert!(err.to_string().contains("at least one"), "{err}");
    }
}
