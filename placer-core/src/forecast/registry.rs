//! The registry of built-in forecasting methods: one line per method.

use super::{seasonal, ForecastSettings, Forecaster};

/// Every built-in forecasting method. A new method is one folder under
/// `forecast/` plus one line here (see the [module docs](super)).
///
/// ```
/// use placer_core::forecast::FORECASTERS;
///
/// let names: Vec<&str> = FORECASTERS.iter().map(|entry| entry.name()).collect();
/// assert_eq!(names, ["seasonal"]);
/// ```
pub static FORECASTERS: &[ForecasterEntry] = &[seasonal::ENTRY];

/// A built-in forecasting method: its name (the config's
/// `forecast.method`), the version of its saved form, and how to build and
/// restore it.
#[derive(Debug, Clone, Copy)]
pub struct ForecasterEntry {
    name: &'static str,
    version: u32,
    build: fn(&ForecastSettings) -> Box<dyn Forecaster>,
    restore: fn(&ForecastSettings, &serde_json::Value) -> Option<Box<dyn Forecaster>>,
}

impl ForecasterEntry {
    /// A method called `name` whose saved form has version `version`, made
    /// new by `build` and from a saved form by `restore` (`None`: the saved
    /// form does not fit the settings, so the engine starts afresh).
    pub const fn new(
        name: &'static str,
        version: u32,
        build: fn(&ForecastSettings) -> Box<dyn Forecaster>,
        restore: fn(&ForecastSettings, &serde_json::Value) -> Option<Box<dyn Forecaster>>,
    ) -> Self {
        ForecasterEntry {
            name,
            version,
            build,
            restore,
        }
    }

    /// The method's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The version of its saved form.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// A new forecaster that has learnt nothing.
    pub fn build(&self, settings: &ForecastSettings) -> Box<dyn Forecaster> {
        (self.build)(settings)
    }

    /// The forecaster saved as `saved`, or `None` when it does not fit
    /// `settings`.
    pub fn restore(
        &self,
        settings: &ForecastSettings,
        saved: &serde_json::Value,
    ) -> Option<Box<dyn Forecaster>> {
        (self.restore)(settings, saved)
    }

    /// The built-in method called `name`.
    pub fn find(name: &str) -> Option<&'static ForecasterEntry> {
        FORECASTERS.iter().find(|entry| entry.name == name)
    }
}
