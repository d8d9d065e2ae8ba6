//! The registry of built-in policies: one line per policy.

use std::sync::Arc;

use super::settings::{SectionHooks, SettingsSection};
use super::{latency, threshold, PlacementPolicy, PolicyName};
use crate::{network::LatencyModel, PlacerConfig};

/// Every built-in policy. A new policy is one folder under `policy/` plus
/// one line here (see the [module docs](super)).
///
/// ```
/// use placer_core::policy::{PolicyName, POLICIES};
///
/// let names: Vec<PolicyName> = POLICIES.iter().map(|entry| entry.name()).collect();
/// assert_eq!(names, [PolicyName::THRESHOLD, PolicyName::LATENCY]);
/// ```
pub static POLICIES: &[PolicyEntry] = &[threshold::ENTRY, latency::ENTRY];

/// A built-in policy: its name (the config's `policy:` value and the key of
/// its memory in the state), the top-level config section holding its
/// settings, if any, and how to build it.
#[derive(Debug, Clone, Copy)]
pub struct PolicyEntry {
    name: &'static str,
    pub(crate) settings: Option<SectionHooks>,
    build: fn(&PolicyContext<'_>) -> Box<dyn PlacementPolicy>,
}

impl PolicyEntry {
    /// A policy called `name`, built by `build`.
    pub const fn new(
        name: &'static str,
        build: fn(&PolicyContext<'_>) -> Box<dyn PlacementPolicy>,
    ) -> Self {
        PolicyEntry {
            name,
            settings: None,
            build,
        }
    }

    /// The same, with settings of type `T`: the config's section
    /// [`T::KEY`](SettingsSection::KEY), read into
    /// [`PlacerConfig::policy_settings`].
    pub const fn with_settings<T: SettingsSection>(self) -> Self {
        PolicyEntry {
            settings: Some(SectionHooks::of::<T>()),
            ..self
        }
    }

    /// The policy's name.
    pub fn name(&self) -> PolicyName {
        PolicyName::new(self.name)
    }

    /// The config section holding its settings, if it has any.
    pub fn settings_key(&self) -> Option<&'static str> {
        self.settings.map(|section| section.key)
    }

    /// Builds the policy for `context`.
    pub fn build(&self, context: &PolicyContext<'_>) -> Box<dyn PlacementPolicy> {
        (self.build)(context)
    }

    /// The built-in policy called `name`.
    ///
    /// ```
    /// use placer_core::policy::PolicyEntry;
    ///
    /// assert_eq!(PolicyEntry::find("latency").unwrap().settings_key(), Some("latency"));
    /// assert!(PolicyEntry::find("fancy").is_none());
    /// ```
    pub fn find(name: &str) -> Option<&'static PolicyEntry> {
        POLICIES.iter().find(|entry| entry.name == name)
    }
}

/// What a built-in policy is built from.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct PolicyContext<'a> {
    /// The engine's config (valid).
    pub config: &'a PlacerConfig,
    /// Round-trip times between regions.
    pub latency_model: &'a Arc<LatencyModel>,
}

impl<'a> PolicyContext<'a> {
    /// The context of `config` with `latency_model`.
    pub fn new(config: &'a PlacerConfig, latency_model: &'a Arc<LatencyModel>) -> Self {
        PolicyContext {
            config,
            latency_model,
        }
    }
}
