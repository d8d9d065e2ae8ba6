//! The forecaster's settings: the `forecast:` section of the config.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::FORECASTERS;
use crate::config::duration;
use crate::policy::SettingsSection;
use crate::PlacerConfig;

/// How the engine forecasts each region's traffic (the `forecast:`
/// section).
///
/// ```
/// # #[cfg(feature = "yaml")]
/// # fn main() {
/// use placer_core::forecast::ForecastSettings;
///
/// let config = placer_core::config::from_yaml(
///     "machine_startup: 3m\nforecast:\n  method: seasonal\n  bucket: 2h\n",
///     "config.yml",
/// )
/// .unwrap();
/// let forecast: ForecastSettings = config.policy_settings.get();
/// assert_eq!(forecast.bucket.as_secs(), 2 * 3600);
/// // Unset, the lead time is the start-up time plus one tick.
/// let tick = std::time::Duration::from_secs(60);
/// assert_eq!(forecast.lead_time(&config, tick).as_secs(), 4 * 60);
///
/// let off = placer_core::config::from_yaml("forecast:\n  method: none\n", "c.yml").unwrap();
/// assert!(!off.policy_settings.get::<ForecastSettings>().enabled());
/// # }
/// # #[cfg(not(feature = "yaml"))]
/// # fn main() {}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ForecastSettings {
    /// The forecasting method: a name in [`FORECASTERS`] (`seasonal`, the
    /// default) or `none`, which turns forecasting off: the policies then
    /// react to observed traffic only.
    pub method: String,
    /// How far ahead a policy plans: a machine deployed now should be
    /// serving by then. Default: `machine_startup` plus one tick (the
    /// interval between the last two observations). Seconds or a duration
    /// such as `"5m"`.
    #[serde(with = "duration::option", skip_serializing_if = "Option::is_none")]
    pub lead_time: Option<Duration>,
    /// Width of the time-of-day and time-of-week buckets the seasonal
    /// profile is kept in. Must divide a day; at least one hour, which
    /// keeps the state of an app in every region within 64 KiB. Default 1 h.
    #[serde(with = "duration")]
    pub bucket: Duration,
    /// How much observed history the forecaster needs before the policy
    /// uses its forecasts (before that it is purely reactive, and says so).
    /// Default seven days: every hour of the week has been seen once.
    #[serde(with = "duration")]
    pub min_history: Duration,
    /// How much past traffic a placer reads from its metrics source when it
    /// starts ([`Placer::backfill`](crate::Placer::backfill)), so it
    /// forecasts from its first tick instead of after `min_history` of
    /// watching. Only what the saved state does not already hold is read.
    /// Default 14 days; `0` reads nothing.
    #[serde(with = "duration")]
    pub warm_start: Duration,
}

/// The method name that turns forecasting off.
pub const NO_FORECAST: &str = "none";

impl Default for ForecastSettings {
    fn default() -> Self {
        ForecastSettings {
            method: "seasonal".to_owned(),
            lead_time: None,
            bucket: Duration::from_secs(3600),
            min_history: Duration::from_secs(7 * 24 * 3600),
            warm_start: 14 * DAY,
        }
    }
}

impl ForecastSettings {
    /// False when `method` is `none`.
    pub fn enabled(&self) -> bool {
        self.method != NO_FORECAST
    }

    /// The lead time in force: `lead_time`, or `machine_startup` plus
    /// `tick`.
    pub fn lead_time(&self, config: &PlacerConfig, tick: Duration) -> Duration {
        self.lead_time.unwrap_or(config.machine_startup + tick)
    }
}

const DAY: Duration = Duration::from_secs(24 * 3600);

crate::setters::with_setters!(ForecastSettings {
    with_method => method: String,
    with_lead_time => lead_time: Option<Duration>,
    with_bucket => bucket: Duration,
    with_min_history => min_history: Duration,
    with_warm_start => warm_start: Duration,
});

impl SettingsSection for ForecastSettings {
    const KEY: &'static str = "forecast";

    fn validate(&self) -> Result<(), String> {
        if self.enabled() && !FORECASTERS.iter().any(|entry| entry.name() == self.method) {
            let mut known: Vec<String> = FORECASTERS
                .iter()
                .map(|entry| format!("`{}`", entry.name()))
                .collect();
            known.push(format!("`{NO_FORECAST}`"));
            let hint = strsim_hint(&self.method);
            return Err(format!(
                "method is an unknown forecasting method `{}`, expected one of {}{hint}",
                self.method,
                known.join(", ")
            ));
        }
        let bucket = self.bucket.as_secs();
        if self.bucket.subsec_nanos() != 0 || bucket < 3600 || DAY.as_secs() % bucket != 0 {
            return Err(format!(
                "bucket must be a whole number of hours that divides a day (1h, 2h, 3h, 4h, 6h, 8h, 12h or 24h), got {}",
                humantime::format_duration(self.bucket)
            ));
        }
        if self.min_history > 28 * DAY {
            return Err("min_history must be at most 28 days".into());
        }
        if self.warm_start > 90 * DAY {
            return Err("warm_start must be at most 90 days".into());
        }
        Ok(())
    }
}

/// " (did you mean `seasonal`?)" when `method` is close to a known name.
fn strsim_hint(method: &str) -> String {
    FORECASTERS
        .iter()
        .map(|entry| entry.name())
        .chain([NO_FORECAST])
        .filter(|name| crate::text::edit_distance(method, name) <= 2.max(name.len() / 3))
        .map(|name| format!(" (did you mean `{name}`?)"))
        .next()
        .unwrap_or_default()
}
