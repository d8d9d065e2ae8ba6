//! `with_*` setters: a [`PlacerConfig`] is built from its defaults, one
//! setting at a time, so new settings can be added without breaking code
//! that builds one.

use std::collections::BTreeSet;
use std::time::Duration;

use super::{PlacerConfig, ThresholdMode};
use crate::policy::{PolicyName, SettingsSection};
use crate::Region;

macro_rules! setters {
    ($($setter:ident => $field:ident: $type:ty),* $(,)?) => {
        impl PlacerConfig {
            $(
                #[doc = concat!("The same config with `", stringify!($field), "` set to `value`.")]
                #[must_use]
                pub fn $setter(mut self, value: $type) -> Self {
                    self.$field = value;
                    self
                }
            )*
        }
    };
}

setters! {
    with_dry_run => dry_run: bool,
    with_cooldown_period => cooldown_period: Duration,
    with_short_term_window => short_term_window: usize,
    with_long_term_window => long_term_window: usize,
    with_alpha_short => alpha_short: f64,
    with_alpha_long => alpha_long: f64,
    with_traffic_threshold => traffic_threshold: f64,
    with_deployment_threshold => deployment_threshold: f64,
    with_allowed_regions => allowed_regions: BTreeSet<Region>,
    with_excluded_regions => excluded_regions: BTreeSet<Region>,
    with_always_running_regions => always_running_regions: BTreeSet<Region>,
    with_max_actions_per_tick => max_actions_per_tick: usize,
    with_sustain_ticks => sustain_ticks: usize,
    with_thresholds => thresholds: ThresholdMode,
    with_policy => policy: PolicyName,
    with_min_regions => min_regions: usize,
    with_max_regions => max_regions: Option<usize>,
    with_machine_startup => machine_startup: Duration,
    with_pending_grace => pending_grace: Duration,
}

impl PlacerConfig {
    /// The same config with a policy's settings section replaced.
    ///
    /// ```
    /// use placer_core::policy::{LatencySettings, PolicyName};
    /// use placer_core::PlacerConfig;
    ///
    /// let config = PlacerConfig::default()
    ///     .with_dry_run(false)
    ///     .with_policy(PolicyName::LATENCY)
    ///     .with_settings(&LatencySettings::default().with_persist_ticks(1));
    /// assert!(config.validate().is_ok());
    /// assert_eq!(config.policy_settings.get::<LatencySettings>().persist_ticks, 1);
    /// ```
    #[must_use]
    pub fn with_settings<T: SettingsSection>(mut self, settings: &T) -> Self {
        self.policy_settings.set(settings);
        self
    }
}
