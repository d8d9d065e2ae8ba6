//! The rules a [`PlacerConfig`] must satisfy.

use super::PlacerConfig;
use crate::policy::{PolicyEntry, POLICIES};

/// A setting that breaks one of the config's rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct InvalidConfig {
    /// The key at fault, e.g. `short_term_window`.
    pub key: &'static str,
    /// What is wrong with its value.
    pub message: String,
}

fn invalid(key: &'static str, message: impl Into<String>) -> Result<(), InvalidConfig> {
    Err(InvalidConfig {
        key,
        message: message.into(),
    })
}

impl PlacerConfig {
    /// Checks every rule and names the first key that breaks one.
    ///
    /// # Errors
    /// [`InvalidConfig`] naming the key: windows below 1 or short above long,
    /// smoothing factors outside (0, 1], thresholds that are not finite, below
    /// zero, or not `deployment_threshold < traffic_threshold`, regions both
    /// always-running and excluded, always-running regions outside a set
    /// allowed list, no action allowed per tick, inconsistent region bounds,
    /// a `pending_grace` under a second or over a day, or latency settings
    /// out of range (including a machine budget that is not positive or a
    /// budget period under a second).
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        if PolicyEntry::find(self.policy.as_str()).is_none() {
            let known: Vec<String> = POLICIES
                .iter()
                .map(|entry| format!("`{}`", entry.name()))
                .collect();
            return invalid(
                "policy",
                format!(
                    "unknown policy `{}`, expected one of {}",
                    self.policy,
                    known.join(", ")
                ),
            );
        }
        self.validate_engine()
    }

    /// Every rule but the one on the `policy:` name: for an engine that
    /// runs a policy of its own.
    pub(crate) fn validate_engine(&self) -> Result<(), InvalidConfig> {
        if self.short_term_window < 1 {
            return invalid("short_term_window", "must be at least 1");
        }
        if self.long_term_window < 1 {
            return invalid("long_term_window", "must be at least 1");
        }
        if self.short_term_window > self.long_term_window {
            return invalid(
                "short_term_window",
                format!(
                    "must not exceed long_term_window ({} > {})",
                    self.short_term_window, self.long_term_window
                ),
            );
        }
        for (key, alpha) in [
            ("alpha_short", self.alpha_short),
            ("alpha_long", self.alpha_long),
        ] {
            if !(alpha > 0.0 && alpha <= 1.0) {
                return invalid(key, format!("must be in (0, 1], got {alpha}"));
            }
        }
        for (key, value) in [
            ("traffic_threshold", self.traffic_threshold),
            ("deployment_threshold", self.deployment_threshold),
        ] {
            if !value.is_finite() || value < 0.0 {
                return invalid(key, format!("must be a finite number >= 0, got {value}"));
            }
        }
        if self.deployment_threshold >= self.traffic_threshold {
            return invalid(
                "deployment_threshold",
                format!(
                    "must be below traffic_threshold ({} >= {})",
                    self.deployment_threshold, self.traffic_threshold
                ),
            );
        }
        if let Some(region) = self
            .always_running_regions
            .intersection(&self.excluded_regions)
            .next()
        {
            return invalid(
                "always_running_regions",
                format!("{region} is also in excluded_regions"),
            );
        }
        if !self.allowed_regions.is_empty() {
            if let Some(region) = self
                .always_running_regions
                .difference(&self.allowed_regions)
                .next()
            {
                return invalid(
                    "always_running_regions",
                    format!("{region} is not in allowed_regions"),
                );
            }
        }
        if self.max_actions_per_tick < 1 {
            return invalid("max_actions_per_tick", "must be at least 1");
        }
        if self.min_regions < 1 {
            return invalid(
                "min_regions",
                "must be at least 1 (the last region is never removed)",
            );
        }
        if let Some(max) = self.max_regions {
            if max < self.min_regions {
                return invalid(
                    "max_regions",
                    format!(
                        "must be at least min_regions ({max} < {})",
                        self.min_regions
                    ),
                );
            }
            if max < self.always_running_regions.len() {
                return invalid(
                    "max_regions",
                    format!(
                        "must leave room for the {} always-running regions",
                        self.always_running_regions.len()
                    ),
                );
            }
        }
        if self.pending_grace < std::time::Duration::from_secs(1)
            || self.pending_grace > super::MAX_PENDING_GRACE
        {
            return invalid(
                "pending_grace",
                format!("must be from 1s to 24h, got {:?}", self.pending_grace),
            );
        }
        if let Err((key, message)) = self.policy_settings.validate() {
            return invalid(key, message);
        }
        Ok(())
    }
}
