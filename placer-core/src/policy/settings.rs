//! [`PolicySettings`]: each built-in policy's section of the config, keyed
//! by the section name the [registry](super::POLICIES) gives it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, OnceLock};

use serde::de::{DeserializeOwned, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::POLICIES;
use crate::config::MachinesSettings;
use crate::forecast::ForecastSettings;

/// A policy's settings: one top-level section of the config (`latency:`
/// for the latency policy), named by [`KEY`](Self::KEY).
///
/// ```
/// use placer_core::policy::{LatencySettings, SettingsSection};
/// use placer_core::PlacerConfig;
///
/// let mut config = PlacerConfig::default();
/// let mut latency: LatencySettings = config.policy_settings.get();
/// latency.region_cost_ms = 8.0;
/// config.policy_settings.set(&latency);
/// assert_eq!(config.policy_settings.get::<LatencySettings>().region_cost_ms, 8.0);
/// assert_eq!(LatencySettings::KEY, "latency");
/// ```
pub trait SettingsSection: Serialize + DeserializeOwned + Default {
    /// The section's top-level key in the config.
    const KEY: &'static str;

    /// Checks the section's rules; the message names the setting at fault.
    ///
    /// # Errors
    /// What is wrong, as a sentence that starts with the setting's name.
    fn validate(&self) -> Result<(), String>;
}

/// How the registry handles one policy's section without knowing its type.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SectionHooks {
    pub key: &'static str,
    pub defaults: fn() -> serde_json::Value,
    /// Reads a written section (defaults filled in) and writes it back in
    /// its one canonical form, so equal settings compare equal.
    pub normalize: fn(serde_json::Value) -> Result<serde_json::Value, String>,
    pub validate: fn(&serde_json::Value) -> Result<(), String>,
}

impl SectionHooks {
    pub const fn of<T: SettingsSection>() -> Self {
        SectionHooks {
            key: T::KEY,
            defaults: defaults::<T>,
            normalize: normalize::<T>,
            validate: validate::<T>,
        }
    }
}

fn defaults<T: SettingsSection>() -> serde_json::Value {
    serde_json::to_value(T::default()).expect("settings serialize to a serde value")
}

/// Reads a written section; a refused value's message starts with its
/// field (`budget.period: ...`) unless it names the field already.
fn normalize<T: SettingsSection>(value: serde_json::Value) -> Result<serde_json::Value, String> {
    let settings: T = serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let message = err.into_inner().to_string();
        let field = path.rsplit('.').next().unwrap_or_default();
        if field.is_empty() || message.contains(&format!("`{field}`")) {
            message
        } else {
            format!("{path}: {message}")
        }
    })?;
    Ok(serde_json::to_value(settings).expect("settings serialize to a serde value"))
}

fn validate<T: SettingsSection>(value: &serde_json::Value) -> Result<(), String> {
    T::deserialize(value)
        .map_err(|err| err.to_string())?
        .validate()
}

/// The policies' sections, then the forecaster's (`forecast:`), which
/// every policy may read, and the sizing step's (`machines:`).
fn sections() -> impl Iterator<Item = SectionHooks> {
    POLICIES.iter().filter_map(|entry| entry.settings).chain([
        SectionHooks::of::<ForecastSettings>(),
        SectionHooks::of::<MachinesSettings>(),
    ])
}

/// The settings of every built-in policy that has any, of the
/// forecaster ([`ForecastSettings`], `forecast:`) and of the sizing step
/// ([`MachinesSettings`], `machines:`), each under its
/// section's key, with the defaults for sections a config leaves out.
///
/// In a config they are top-level sections beside the engine's keys. Read
/// and change them typed with [`get`](Self::get) and [`set`](Self::set).
///
/// Sections are shared, not copied: clones of a config, and configs whose
/// section is the default one, hold one copy of it (a service placing
/// many apps keeps one set of default settings, not one per app).
#[derive(Debug, Clone, PartialEq)]
pub struct PolicySettings {
    sections: BTreeMap<&'static str, Arc<serde_json::Value>>,
    /// The sections [turned on by being there](turned_on_by_presence) that
    /// a config wrote (even empty) or code [set](Self::set).
    written: BTreeSet<&'static str>,
}

/// Whether section `key` changes what the engine does by being in the
/// config at all, even empty: the sizing step's `machines:`. Only such
/// sections are remembered as written, and left out of the printed
/// config when they are not, so that the printed config reads back the
/// same.
fn turned_on_by_presence(key: &str) -> bool {
    key == MachinesSettings::KEY
}

/// Every registered section's defaults, made once.
fn default_sections() -> &'static BTreeMap<&'static str, Arc<serde_json::Value>> {
    static DEFAULTS: OnceLock<BTreeMap<&'static str, Arc<serde_json::Value>>> = OnceLock::new();
    DEFAULTS.get_or_init(|| {
        sections()
            .map(|section| (section.key, Arc::new((section.defaults)())))
            .collect()
    })
}

/// `value` of section `key`, as the shared default when it is the default.
fn shared(key: &'static str, value: serde_json::Value) -> Arc<serde_json::Value> {
    match default_sections().get(key) {
        Some(default) if **default == value => Arc::clone(default),
        _ => Arc::new(value),
    }
}

impl Default for PolicySettings {
    fn default() -> Self {
        PolicySettings {
            sections: default_sections().clone(),
            written: BTreeSet::new(),
        }
    }
}

impl PolicySettings {
    /// The settings of section `T`; its defaults when they cannot be read
    /// (a section that is not registered).
    pub fn get<T: SettingsSection>(&self) -> T {
        self.sections
            .get(T::KEY)
            .and_then(|value| T::deserialize(value.as_ref()).ok())
            .unwrap_or_default()
    }

    /// Replaces the settings of section `T`; the section then counts as
    /// [written](Self::is_written).
    pub fn set<T: SettingsSection>(&mut self, settings: &T) {
        let value = serde_json::to_value(settings).expect("settings serialize to a serde value");
        self.sections.insert(T::KEY, shared(T::KEY, value));
        if turned_on_by_presence(T::KEY) {
            self.written.insert(T::KEY);
        }
    }

    /// Whether the config wrote section `T` — even empty, or with its
    /// defaults only — or it was [set](Self::set), for a section a step
    /// turns on by being there (the sizing step's `machines:`); false for
    /// every other section.
    ///
    /// ```
    /// # #[cfg(feature = "yaml")]
    /// # fn main() {
    /// use placer_core::config::MachinesSettings;
    ///
    /// let empty = placer_core::config::from_yaml("machines: {}\n", "c.yml").unwrap();
    /// assert!(empty.policy_settings.is_written::<MachinesSettings>());
    /// let none = placer_core::config::from_yaml("dry_run: true\n", "c.yml").unwrap();
    /// assert!(!none.policy_settings.is_written::<MachinesSettings>());
    /// # }
    /// # #[cfg(not(feature = "yaml"))]
    /// # fn main() {}
    /// ```
    pub fn is_written<T: SettingsSection>(&self) -> bool {
        self.written.contains(T::KEY)
    }

    /// The top-level keys of every registered section.
    pub fn keys() -> impl Iterator<Item = &'static str> {
        sections().map(|section| section.key)
    }

    /// Checks each section's rules.
    pub(crate) fn validate(&self) -> Result<(), (&'static str, String)> {
        for section in sections() {
            if let Some(value) = self.sections.get(section.key) {
                (section.validate)(value).map_err(|message| (section.key, message))?;
            }
        }
        Ok(())
    }
}

/// Every section under its key, but `machines:` only when the config
/// has it (see [`is_written`](PolicySettings::is_written)).
impl Serialize for PolicySettings {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // A section turned on by being there is printed only when it is.
        serializer.collect_map(
            self.sections
                .iter()
                .filter(|(key, _)| !turned_on_by_presence(key) || self.written.contains(*key))
                .map(|(key, value)| (key, value.as_ref())),
        )
    }
}

/// Reads the registered sections among a config's keys and ignores the
/// others (the engine's own keys, and sections other crates own).
impl<'de> Deserialize<'de> for PolicySettings {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(SectionsVisitor)
    }
}

struct SectionsVisitor;

impl<'de> Visitor<'de> for SectionsVisitor {
    type Value = PolicySettings;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping of config sections")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PolicySettings, A::Error> {
        let mut settings = PolicySettings::default();
        while let Some(key) = map.next_key::<String>()? {
            let Some(section) = sections().find(|section| section.key == key) else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            let written: serde_json::Value = map.next_value()?;
            let value = (section.normalize)(written)
                .map_err(|message| serde::de::Error::custom(format!("{key}: {message}")))?;
            settings
                .sections
                .insert(section.key, shared(section.key, value));
            if turned_on_by_presence(section.key) {
                settings.written.insert(section.key);
            }
        }
        Ok(settings)
    }
}
