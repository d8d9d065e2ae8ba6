//! The `machines:` section: how many machines each deployed region runs.

use serde::{Deserialize, Deserializer, Serialize};

use crate::policy::SettingsSection;

/// How many machines each deployed region runs (the `machines:` section).
///
/// Without the section every deployed region runs one machine and nothing
/// else changes. With the section — even empty (`machines: {}`), which
/// means its defaults — counts are listed, planned, reported and scaled
/// (see [`Placer::sizes_machines`](crate::Placer::sizes_machines)). With
/// `requests_per_machine` set, the counts follow the load: the app's load
/// (each region's forecast peak over the lead time, the latest load while
/// not forecasting) divided by `requests_per_machine`, with `headroom` on
/// top, shared among the regions by load, within `min_per_region` and
/// `max_per_region`, and `max_total` over the app.
///
/// ```
/// # #[cfg(feature = "yaml")]
/// # fn main() {
/// use placer_core::config::MachinesSettings;
///
/// let config = placer_core::config::from_yaml(
///     "machines:\n  requests_per_machine: 120\n  headroom: 25%\n  max_per_region: 8\n",
///     "config.yml",
/// )
/// .unwrap();
/// let machines: MachinesSettings = config.policy_settings.get();
/// assert_eq!(machines.requests_per_machine, Some(120.0));
/// assert_eq!(machines.headroom, 0.25);
/// assert_eq!(machines.min_per_region, 1);
/// assert!(machines.is_set());
///
/// let plain = placer_core::config::from_yaml("", "config.yml").unwrap();
/// assert!(!plain.policy_settings.get::<MachinesSettings>().is_set());
/// # }
/// # #[cfg(not(feature = "yaml"))]
/// # fn main() {}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct MachinesSettings {
    /// The load one running machine serves, in the unit of the traffic
    /// values (like `traffic_threshold`: requests per 5 minutes with the
    /// default query). Unset, a deployed region runs `min_per_region`
    /// machines whatever its load.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests_per_machine: Option<f64>,
    /// Spare capacity on top of the load, as a fraction (`0.2`) or a
    /// percentage (`"20%"`). Default 20 %.
    #[serde(deserialize_with = "fraction")]
    pub headroom: f64,
    /// The fewest running machines in a deployed region. Default 1.
    pub min_per_region: u32,
    /// The most running machines in one region. Default: no limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_per_region: Option<u32>,
    /// The most running machines of the app over every region. Default:
    /// no limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_total: Option<u32>,
    /// Stopped machines kept beside the running ones in each deployed
    /// region, for Fly's proxy to start on a spike. Default 0.
    pub standby_per_region: u32,
}

/// The default `headroom`: 20 %.
pub const DEFAULT_HEADROOM: f64 = 0.2;

/// The largest `headroom` accepted: ten times the load.
pub const MAX_HEADROOM: f64 = 10.0;

impl Default for MachinesSettings {
    fn default() -> Self {
        MachinesSettings {
            requests_per_machine: None,
            headroom: DEFAULT_HEADROOM,
            min_per_region: 1,
            max_per_region: None,
            max_total: None,
            standby_per_region: 0,
        }
    }
}

impl MachinesSettings {
    /// True when the settings differ from the defaults. Sizing is on with
    /// such settings, and with any `machines:` section a config writes or
    /// code [sets](crate::policy::PolicySettings::set), even one that
    /// repeats the defaults (see
    /// [`Placer::sizes_machines`](crate::Placer::sizes_machines)).
    pub fn is_set(&self) -> bool {
        *self != MachinesSettings::default()
    }
}

crate::setters::with_setters!(MachinesSettings {
    with_requests_per_machine => requests_per_machine: Option<f64>,
    with_headroom => headroom: f64,
    with_min_per_region => min_per_region: u32,
    with_max_per_region => max_per_region: Option<u32>,
    with_max_total => max_total: Option<u32>,
    with_standby_per_region => standby_per_region: u32,
});

impl SettingsSection for MachinesSettings {
    const KEY: &'static str = "machines";

    fn validate(&self) -> Result<(), String> {
        if let Some(load) = self.requests_per_machine {
            if !load.is_finite() || load <= 0.0 {
                return Err(format!(
                    "requests_per_machine must be a number above 0 (the load one machine serves, in the unit of the traffic values), got {load}"
                ));
            }
        }
        if !self.headroom.is_finite() || !(0.0..=MAX_HEADROOM).contains(&self.headroom) {
            return Err(format!(
                "headroom must be from 0 to {MAX_HEADROOM} (a fraction such as 0.2, or a percentage such as \"20%\"), got {}",
                self.headroom
            ));
        }
        if self.min_per_region < 1 {
            return Err(
                "min_per_region must be at least 1 (a deployed region runs a machine; remove a region with the policy's settings instead)"
                    .to_owned(),
            );
        }
        if let Some(max) = self.max_per_region {
            if max < self.min_per_region {
                return Err(format!(
                    "max_per_region must be at least min_per_region ({}), got {max}",
                    self.min_per_region
                ));
            }
        }
        if self.max_total == Some(0) {
            return Err("max_total must be at least 1 (the app keeps its last machine)".to_owned());
        }
        Ok(())
    }
}

/// A fraction written as a number (`0.2`) or a percentage (`"20%"`).
fn fraction<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Written {
        Number(f64),
        Text(String),
    }
    match Written::deserialize(deserializer)? {
        Written::Number(value) => Ok(value),
        Written::Text(text) => {
            let trimmed = text.trim();
            trimmed
                .strip_suffix('%')
                .and_then(|number| number.trim().parse::<f64>().ok())
                .map(|percent| percent / 100.0)
                .or_else(|| trimmed.parse::<f64>().ok())
                .ok_or_else(|| {
                    serde::de::Error::custom(format!(
                        "expected a fraction such as 0.2 or a percentage such as \"20%\", got `{text}`"
                    ))
                })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(section: serde_json::Value) -> Result<MachinesSettings, String> {
        let settings: MachinesSettings =
            serde_json::from_value(section).map_err(|err| err.to_string())?;
        settings.validate()?;
        Ok(settings)
    }

    #[test]
    fn defaults_are_one_machine_per_region_and_not_set() {
        let settings = read(serde_json::json!({})).unwrap();
        assert_eq!(settings, MachinesSettings::default());
        assert!(!settings.is_set());
        assert_eq!(settings.headroom, 0.2);
        assert_eq!(settings.min_per_region, 1);
        assert_eq!(settings.standby_per_region, 0);
        assert!(read(serde_json::json!({"standby_per_region": 1}))
            .unwrap()
            .is_set());
    }

    #[test]
    fn headroom_reads_as_a_fraction_or_a_percentage() {
        let percent = read(serde_json::json!({"headroom": "35%"})).unwrap();
        assert!((percent.headroom - 0.35).abs() < 1e-12);
        let fraction = read(serde_json::json!({"headroom": 0.5})).unwrap();
        assert_eq!(fraction.headroom, 0.5);
        let err = read(serde_json::json!({"headroom": "lots"})).unwrap_err();
        assert!(err.contains("a percentage such as"), "{err}");
        let err = read(serde_json::json!({"headroom": -0.1})).unwrap_err();
        assert!(err.starts_with("headroom must be from 0"), "{err}");
    }

    #[test]
    fn out_of_range_values_name_their_key() {
        let cases = [
            (
                serde_json::json!({"requests_per_machine": 0}),
                "requests_per_machine must be a number above 0",
            ),
            (
                serde_json::json!({"min_per_region": 0}),
                "min_per_region must be at least 1",
            ),
            (
                serde_json::json!({"min_per_region": 3, "max_per_region": 2}),
                "max_per_region must be at least min_per_region (3), got 2",
            ),
            (
                serde_json::json!({"max_total": 0}),
                "max_total must be at least 1",
            ),
        ];
        for (section, expected) in cases {
            let err = read(section.clone()).unwrap_err();
            assert!(err.starts_with(expected), "{section}: {err}");
        }
    }
}
