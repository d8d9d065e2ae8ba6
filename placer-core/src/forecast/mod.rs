//! Traffic forecasts: what each region's traffic will be over the next
//! minutes, learnt from what it was at the same time on earlier days and
//! weeks.
//!
//! A machine takes time to start and pass its health checks
//! ([`machine_startup`](crate::PlacerConfig::machine_startup)), so a policy
//! that only reacts to traffic is always late for a rise. A [`Forecaster`]
//! learns from every observation the engine records (and from past ones
//! handed to [`Placer::warm_start`](crate::Placer::warm_start)) and tells a
//! policy the traffic it expects in a window ahead, with a prediction
//! interval, how it knows (the same hour on the last weeks or days) and how
//! far to trust it (its recent error).
//!
//! The forecaster is part of the [`EngineState`](crate::EngineState): it
//! is persisted and restored with the rest of it, under its method's name
//! and a version. A saved forecaster of another method, version or bucket
//! width is not an error: the engine starts learning afresh.
//!
//! ## The extension point: [`Forecaster`] plus the [registry](FORECASTERS)
//! Each method is a folder `forecast/<name>/` with a type implementing
//! [`Forecaster`] and an `ENTRY: ForecasterEntry` naming it, building it
//! and restoring it from its saved form; one line in [`FORECASTERS`] makes
//! `forecast.method: <name>` select it. Built in:
//!
//! - `seasonal/`: a time-of-week profile per region, with a time-of-day
//!   profile for the first week, scaled by the recent level
//!   ([`SeasonalForecaster`]).
//!
//! The config's `forecast:` section ([`ForecastSettings`]) chooses the
//! method (`none` turns forecasting off), the lead time and the bucket
//! width.

mod registry;
mod seasonal;
mod settings;
mod state;

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{Region, Timestamp, TrafficSnapshot};

pub use registry::{ForecasterEntry, FORECASTERS};
pub use seasonal::SeasonalForecaster;
pub use settings::{ForecastSettings, NO_FORECAST};
pub use state::{ForecastState, ForecastStatus, HistoryOrigin, HistorySources, WarmStart};

/// The step [`Placer::backfill`](crate::Placer::backfill) reads past
/// traffic at: five minutes, the window of the default Prometheus query, so
/// each request is counted once; an hour's bucket learns from twelve
/// samples.
pub const BACKFILL_STEP: Duration = Duration::from_secs(5 * 60);

/// A way of forecasting each region's traffic.
///
/// A forecaster learns observations in time order and answers for any
/// window; it does no I/O and reads no clock. It must be able to write
/// itself out ([`save`](Self::save)) in a form its registry entry restores,
/// and that form must stay small: the whole engine state of an app seen in
/// every Fly region fits in 64 KiB.
pub trait Forecaster: Send + Sync {
    /// The method's name, as `forecast.method` selects it.
    fn method(&self) -> &'static str;

    /// Learns from one observation. Returns false, learning nothing, when
    /// the snapshot is not later than the last one learnt.
    fn learn(&mut self, snapshot: &TrafficSnapshot) -> bool;

    /// The busiest traffic expected in `region` between `from` and
    /// `until` (both included), or `None` when the forecaster cannot say
    /// (not enough history yet, or a region it has never seen).
    fn peak(&self, region: &Region, from: Timestamp, until: Timestamp) -> Option<Forecast>;

    /// How much history it has learnt: the time covered by its
    /// observations, gaps longer than a bucket not counted.
    fn learned(&self) -> Duration;

    /// The time of the last observation learnt.
    fn last_learned(&self) -> Option<Timestamp>;

    /// The interval between the last two observations learnt (one tick).
    fn tick(&self) -> Option<Duration>;

    /// The forecaster's saved form, for its entry's restore.
    fn save(&self) -> serde_json::Value;

    /// A copy of the forecaster.
    fn clone_box(&self) -> Box<dyn Forecaster>;
}

/// Expected traffic in one region at one time, with an interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Forecast {
    /// When the traffic is expected (the busiest moment of the window
    /// asked about).
    pub at: Timestamp,
    /// Expected requests per observation, as the metrics source counts them.
    pub expected: f64,
    /// Lower end of the prediction interval (about 80 %).
    pub low: f64,
    /// Upper end of the prediction interval.
    pub high: f64,
    /// What the forecast is based on.
    pub basis: ForecastBasis,
    /// How far the forecast is to be trusted, from 0 (its recent forecasts
    /// were far off: plan as if there were none) to 1 (they were close).
    pub trust: f64,
}

/// What a forecast is based on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ForecastBasis {
    /// The same hour of the same weekday, on this many earlier weeks.
    SameHourOfWeek {
        /// Weeks seen (at most 255).
        weeks: u8,
    },
    /// The same hour of the day, on this many earlier days (before a
    /// whole week has been seen).
    SameHourOfDay {
        /// Days seen (at most 255).
        days: u8,
    },
}

impl Forecast {
    /// The forecast as plain words: "320 req from 08:30 UTC, as on the
    /// last 4 Mondays".
    ///
    /// ```
    /// use placer_core::forecast::{Forecast, ForecastBasis};
    /// use placer_core::Timestamp;
    ///
    /// // Monday 2027-01-04 08:30 UTC.
    /// let at = Timestamp::from_unix_seconds(1_799_051_400);
    /// let forecast = Forecast {
    ///     at,
    ///     expected: 320.4,
    ///     low: 280.0,
    ///     high: 360.0,
    ///     basis: ForecastBasis::SameHourOfWeek { weeks: 4 },
    ///     trust: 1.0,
    /// };
    /// assert_eq!(
    ///     forecast.to_string(),
    ///     "expected 320 requests from 08:30 UTC, as on the last 4 Mondays"
    /// );
    /// ```
    pub fn describe(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Forecast {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.at.unix_seconds();
        let of_day = secs.rem_euclid(86_400);
        let (hour, minute) = (of_day / 3600, (of_day % 3600) / 60);
        write!(
            f,
            "expected {:.0} requests from {hour:02}:{minute:02} UTC, ",
            self.expected
        )?;
        match self.basis {
            ForecastBasis::SameHourOfWeek { weeks: 1 } => {
                write!(f, "as last {}", weekday(self.at))
            }
            ForecastBasis::SameHourOfWeek { weeks } => {
                write!(f, "as on the last {weeks} {}s", weekday(self.at))
            }
            ForecastBasis::SameHourOfDay { days: 1 } => f.write_str("as yesterday"),
            ForecastBasis::SameHourOfDay { days } => write!(f, "as on the last {days} days"),
        }
    }
}

/// The weekday of `at` in UTC.
fn weekday(at: Timestamp) -> &'static str {
    const NAMES: [&str; 7] = [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ];
    // 1970-01-01 was a Thursday.
    let day = at.unix_seconds().div_euclid(86_400);
    NAMES[(day + 3).rem_euclid(7) as usize]
}

#[cfg(test)]
mod tests;
