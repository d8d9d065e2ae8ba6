//! [`ForecastState`]: the engine's forecaster, as kept in the engine state.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Forecast, ForecastSettings, Forecaster, ForecasterEntry};
use crate::{PlacerConfig, Region, Timestamp, TrafficSnapshot};

/// The engine's forecaster and the settings it was built with: a part of
/// the [`EngineState`](crate::EngineState).
///
/// It is persisted as `{"method", "version", "model", "sources"}`. A saved forecaster
/// that this build cannot use — another method or version, another bucket
/// width, or a malformed one — is dropped and learning starts afresh; it
/// never makes a state fail to restore.
#[derive(Default)]
pub struct ForecastState {
    settings: Option<ForecastSettings>,
    model: Option<Box<dyn Forecaster>>,
    /// A restored forecaster not yet matched with a config.
    saved: Option<Saved>,
    /// Set when the engine's policy does not plan with forecasts: no
    /// forecaster is kept then (not persisted: the engine sets it).
    unused: bool,
    /// Where the model's history came from.
    sources: HistorySources,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Saved {
    method: String,
    version: u32,
    model: serde_json::Value,
    /// Absent in states saved before it was kept.
    #[serde(default)]
    sources: HistorySources,
}

/// Where a forecaster's history came from: how much it learnt from past
/// traffic read at start ([`Placer::warm_start`](crate::Placer::warm_start),
/// e.g. from Prometheus, which keeps about two weeks) and how much from
/// the traffic the engine observed tick by tick since. Kept with the
/// forecaster in the persisted state, so what it learnt beyond the metrics
/// store's retention survives restarts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct HistorySources {
    /// Seconds of history learnt from traffic read at start.
    pub backfilled_secs: u64,
    /// Seconds of history learnt from the engine's own observations.
    pub observed_secs: u64,
}

/// Where one snapshot a forecaster learns from comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HistoryOrigin {
    /// Past traffic read at start (a warm start).
    Backfill,
    /// Traffic the engine observed at a tick.
    Observed,
}

impl fmt::Display for HistorySources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hours = |secs: u64| secs as f64 / 3600.0;
        write!(
            f,
            "{:.1} h read at start, {:.1} h observed",
            hours(self.backfilled_secs),
            hours(self.observed_secs)
        )
    }
}

/// Whether the engine forecasts, and if not, why not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum ForecastStatus {
    /// Forecasting is off (`forecast.method: none`): the policy reacts to
    /// observed traffic only.
    Off,
    /// The policy plans on observed traffic only (see
    /// [`PlacementPolicy::plans_with_forecasts`](crate::policy::PlacementPolicy::plans_with_forecasts)),
    /// so no forecaster is kept.
    Unused,
    /// Not enough history yet: the policy reacts to observed traffic only
    /// until the forecaster has learnt `needed`.
    Learning {
        /// History learnt so far, in seconds.
        learned_secs: u64,
        /// History needed (`forecast.min_history`), in seconds.
        needed_secs: u64,
    },
    /// The policy plans with forecasts (each trusted as far as its recent
    /// error allows).
    Forecasting {
        /// History learnt, in seconds.
        learned_secs: u64,
    },
}

impl ForecastStatus {
    /// True when the policy plans with forecasts.
    pub fn is_forecasting(&self) -> bool {
        matches!(self, ForecastStatus::Forecasting { .. })
    }
}

impl fmt::Display for ForecastStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hours = |secs: u64| secs as f64 / 3600.0;
        match self {
            ForecastStatus::Unused => f.write_str(
                "not forecasting: the policy plans on observed traffic only (the latency policy plans with forecasts)",
            ),
            ForecastStatus::Off => {
                f.write_str("forecasting is off (forecast.method: none); reacting to observed traffic")
            }
            ForecastStatus::Learning {
                learned_secs,
                needed_secs,
            } => write!(
                f,
                "not forecasting yet: {:.1} h of history learnt, {:.1} h needed; reacting to observed traffic",
                hours(*learned_secs),
                hours(*needed_secs)
            ),
            ForecastStatus::Forecasting { learned_secs } => write!(
                f,
                "forecasting from {:.1} h of history",
                hours(*learned_secs)
            ),
        }
    }
}

/// What [`Placer::warm_start`](crate::Placer::warm_start) made of the
/// history it was given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WarmStart {
    /// Snapshots given.
    pub given: usize,
    /// Snapshots learnt from: those later than everything learnt before,
    /// in time order.
    pub used: usize,
    /// The first and last time learnt from, when any.
    pub span: Option<(Timestamp, Timestamp)>,
    /// Whether the engine now forecasts, or stays reactive and why.
    pub status: ForecastStatus,
}

impl fmt::Display for WarmStart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "learnt from {} of {} snapshots", self.used, self.given)?;
        if let Some((first, last)) = self.span {
            write!(f, " ({first} to {last})")?;
        }
        write!(f, "; {}", self.status)
    }
}

impl ForecastState {
    /// Builds, keeps or restores the forecaster the config's `forecast:`
    /// section asks for. A forecaster already running with the same
    /// settings is kept; a saved one is restored when it fits, otherwise
    /// learning starts afresh. `method: none`, or a policy that plans
    /// without forecasts (see
    /// [`PlacementPolicy::plans_with_forecasts`](crate::policy::PlacementPolicy::plans_with_forecasts)),
    /// drops it.
    pub fn adapt_to(&mut self, config: &PlacerConfig) {
        let settings: ForecastSettings = config.policy_settings.get();
        if self.unused {
            self.model = None;
            self.saved = None;
            self.settings = Some(settings);
            return;
        }
        if self.settings.as_ref() == Some(&settings) && self.saved.is_none() {
            return;
        }
        let previous = self.saved.take().or_else(|| self.saved());
        let mut sources = HistorySources::default();
        self.model = ForecasterEntry::find(&settings.method).map(|entry| {
            previous
                .filter(|saved| saved.method == entry.name() && saved.version == entry.version())
                .and_then(|saved| {
                    let restored = entry.restore(&settings, &saved.model)?;
                    sources = saved.sources;
                    Some(restored)
                })
                .unwrap_or_else(|| entry.build(&settings))
        });
        self.sources = sources;
        self.settings = Some(settings);
    }

    /// Forgets everything learnt: a fresh forecaster for `config`, with no
    /// history.
    pub(crate) fn restart(&mut self, config: &PlacerConfig) {
        self.model = None;
        self.saved = None;
        self.settings = None;
        self.sources = HistorySources::default();
        self.adapt_to(config);
    }

    /// Whether the engine's policy plans with forecasts (see
    /// [`PlacementPolicy::plans_with_forecasts`](crate::policy::PlacementPolicy::plans_with_forecasts)):
    /// when not, the next [`adapt_to`](Self::adapt_to) drops the
    /// forecaster and none is kept or learnt.
    pub(crate) fn set_used(&mut self, used: bool) {
        if self.unused == used {
            self.unused = !used;
            // Applied again at the next adapt_to.
            self.settings = None;
        }
    }

    /// Learns from one observation (nothing when forecasting is off or the
    /// snapshot is not later than the last one learnt).
    pub fn learn(&mut self, snapshot: &TrafficSnapshot) -> bool {
        self.learn_from(snapshot, HistoryOrigin::Observed)
    }

    /// Learns from one snapshot that came from `origin`, counting the
    /// history it adds towards that origin (see
    /// [`history_sources`](Self::history_sources)).
    pub fn learn_from(&mut self, snapshot: &TrafficSnapshot, origin: HistoryOrigin) -> bool {
        let Some(model) = self.model.as_mut() else {
            return false;
        };
        let before = model.learned();
        if !model.learn(snapshot) {
            return false;
        }
        let added = model.learned().saturating_sub(before).as_secs();
        match origin {
            HistoryOrigin::Backfill => self.sources.backfilled_secs += added,
            HistoryOrigin::Observed => self.sources.observed_secs += added,
        }
        true
    }

    /// How much of the forecaster's history was read at start and how
    /// much observed since (zero without a forecaster).
    pub fn history_sources(&self) -> HistorySources {
        match (&self.model, &self.saved) {
            (Some(_), _) => self.sources,
            (None, Some(saved)) => saved.sources,
            (None, None) => HistorySources::default(),
        }
    }

    /// The forecaster in use, if any.
    pub fn forecaster(&self) -> Option<&dyn Forecaster> {
        self.model.as_deref()
    }

    /// Whether the engine forecasts (the config must have been applied
    /// with [`adapt_to`](Self::adapt_to)).
    pub fn status(&self) -> ForecastStatus {
        match (&self.model, &self.settings) {
            (Some(model), Some(settings)) => {
                let learned_secs = model.learned().as_secs();
                // A week of one-minute observations spans a week less one
                // minute: each observation counts for its tick.
                let tick = model.tick().unwrap_or_default();
                if model.learned() + tick >= settings.min_history {
                    ForecastStatus::Forecasting { learned_secs }
                } else {
                    ForecastStatus::Learning {
                        learned_secs,
                        needed_secs: settings.min_history.as_secs(),
                    }
                }
            }
            _ if self.unused => ForecastStatus::Unused,
            _ => ForecastStatus::Off,
        }
    }

    /// The busiest traffic expected in `region` from `from` to `until`,
    /// when the engine forecasts (see [`status`](Self::status)).
    pub fn peak(&self, region: &Region, from: Timestamp, until: Timestamp) -> Option<Forecast> {
        if !self.status().is_forecasting() {
            return None;
        }
        self.model.as_ref()?.peak(region, from, until)
    }

    /// The lead time in force: `forecast.lead_time`, or `machine_startup`
    /// plus the last interval between observations (one minute before two
    /// have been seen).
    pub fn lead_time(&self, config: &PlacerConfig) -> Duration {
        let settings: ForecastSettings = config.policy_settings.get();
        settings.lead_time(config, self.tick())
    }

    /// The interval between the last two observations learnt (one minute
    /// before two have been seen).
    pub fn tick(&self) -> Duration {
        self.model
            .as_ref()
            .and_then(|model| model.tick())
            .unwrap_or(Duration::from_secs(60))
    }

    fn saved(&self) -> Option<Saved> {
        match (&self.model, &self.saved) {
            (Some(model), _) => Some(Saved {
                method: model.method().to_owned(),
                version: ForecasterEntry::find(model.method()).map_or(0, |e| e.version()),
                model: model.save(),
                sources: self.sources,
            }),
            (None, saved) => saved.clone(),
        }
    }

    /// True when nothing would be persisted.
    pub(crate) fn is_empty(&self) -> bool {
        self.model.is_none() && self.saved.is_none()
    }
}

impl Clone for ForecastState {
    fn clone(&self) -> Self {
        ForecastState {
            settings: self.settings.clone(),
            model: self.model.as_ref().map(|model| model.clone_box()),
            saved: self.saved.clone(),
            unused: self.unused,
            sources: self.sources,
        }
    }
}

/// Equal when the persisted forms are equal.
impl PartialEq for ForecastState {
    fn eq(&self, other: &Self) -> bool {
        self.saved() == other.saved()
    }
}

impl fmt::Debug for ForecastState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ForecastState")
            .field("method", &self.model.as_ref().map(|model| model.method()))
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

impl Serialize for ForecastState {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.saved().serialize(serializer)
    }
}

/// Reads any value: one that is not a saved forecaster is dropped (the
/// engine starts learning afresh) rather than refused.
impl<'de> Deserialize<'de> for ForecastState {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        Ok(ForecastState {
            settings: None,
            model: None,
            saved: Saved::deserialize(value).ok(),
            unused: false,
            sources: HistorySources::default(),
        })
    }
}
