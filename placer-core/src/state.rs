//! [`EngineState`]: everything the engine remembers between ticks — traffic
//! history, streaks and the last action per region, backoffs, deploys in
//! doubt ([`PendingDeploy`]) — in a versioned, serializable form a binary
//! can persist and restore.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

use crate::config::ThresholdMode;
use crate::forecast::{ForecastState, HistoryOrigin};
use crate::policy::{PolicyMemory, PolicyName};
use crate::predictor::Averages;
use crate::{
    history::RegionHistory, Change, Move, PlacerConfig, Region, Timestamp, TrafficSnapshot,
};

mod backoff;
mod pending;
mod regions;
pub use backoff::{RegionBackoff, FIRST_BACKOFF, MAX_BACKOFF};
pub use pending::PendingDeploy;
use regions::RegionMap;

/// The format version written by this crate. Restoring a state written in
/// another version fails with [`StateError::UnsupportedVersion`].
pub const STATE_FORMAT_VERSION: u32 = 1;

/// The engine's memory between ticks: read it with
/// [`Placer::state`](crate::Placer::state); only the engine's steps change
/// it.
///
/// ```
/// use placer_core::{EngineState, Placer, PlacerConfig, Timestamp, TrafficSnapshot};
///
/// let mut placer = Placer::new(PlacerConfig::default()).unwrap();
/// let at = Timestamp::from_unix_seconds(60);
/// placer.observe(&TrafficSnapshot::new(at, [("iad", 80.0)]).unwrap());
/// let state: &EngineState = placer.state();
/// assert_eq!(state.region(&"iad".parse().unwrap()).unwrap().history.len(), 1);
/// let saved = state.to_json();
/// assert_eq!(&EngineState::from_json(&saved).unwrap(), state);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "VersionedState", into = "VersionedState")]
pub struct EngineState {
    last_observation: Option<Timestamp>,
    regions: RegionMap,
    /// Each policy's memory, under its name.
    policies: BTreeMap<String, serde_json::Value>,
    /// Regions whose deploy or removal the backend refused lately.
    backoffs: BTreeMap<Region, RegionBackoff>,
    /// Regions whose deploy is in doubt, counted as deployed for a while.
    pending: pending::PendingDeploys,
    /// The traffic forecaster.
    forecast: ForecastState,
}

/// What the engine remembers about one region.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct RegionState {
    /// Request counts, oldest first.
    pub history: RegionHistory,
    /// Recent long-term averages, oldest first (kept only for
    /// volatility-aware thresholds).
    pub recent_longs: VecDeque<f64>,
    /// Consecutive observations with current traffic at or above
    /// `traffic_threshold`.
    pub high_streak: u32,
    /// Consecutive observations with current traffic at or below
    /// `deployment_threshold`.
    pub low_streak: u32,
    /// The last deploy, remove or resize carried out on the region.
    pub last_action: Option<LastAction>,
    /// The averages of `history` as of the last observation, kept so a plan
    /// does not compute them again; rebuilt from `history` on restore.
    #[serde(skip)]
    averages: Option<Averages>,
}

/// Equal when everything persisted is equal (the cached averages follow
/// from the history).
impl PartialEq for RegionState {
    fn eq(&self, other: &Self) -> bool {
        self.history == other.history
            && self.recent_longs == other.recent_longs
            && self.high_streak == other.high_streak
            && self.low_streak == other.low_streak
            && self.last_action == other.last_action
    }
}

impl RegionState {
    /// The short, long and current averages of the region's history: those
    /// computed at the last observation (under the config in force then), or
    /// computed now under `config` when there are none. `None` without
    /// history.
    pub fn averages(&self, config: &PlacerConfig) -> Option<Averages> {
        self.averages
            .or_else(|| Averages::of(&self.history, config))
    }
}

/// A deploy, remove or resize that was carried out, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastAction {
    /// When it was carried out.
    pub at: Timestamp,
    /// What was done (`deploy` and `remove` as states have always
    /// written them).
    pub action: Change,
    /// Whether a resize added running machines, some of which may not
    /// have started yet (written only when true).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub scaled_up: bool,
}

/// Why a persisted state could not be restored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The text is not a serialized engine state.
    #[error("engine state is malformed: {message}")]
    Malformed {
        /// What the parser reported.
        message: String,
    },
    /// The state was written by an incompatible version.
    #[error("engine state has format version {found}, this build reads version {expected}")]
    UnsupportedVersion {
        /// The version found in the data.
        found: u32,
        /// The version this build reads.
        expected: u32,
    },
    /// A region's history holds a value that is not a finite count.
    #[error("engine state: history of region {region} holds a negative or non-finite count")]
    InvalidHistory {
        /// The region at fault.
        region: Region,
    },
}

impl EngineState {
    /// Restores a state from the JSON that [`to_json`](Self::to_json) (or
    /// `serde_json` on an `EngineState`) wrote, in this format version or
    /// an older one. This is the way to resume after a restart: pass the
    /// result to [`Placer::with_state`](crate::Placer::with_state).
    ///
    /// ```
    /// use placer_core::{EngineState, Placer, PlacerConfig, state::StateError};
    ///
    /// let placer = Placer::new(PlacerConfig::default()).unwrap();
    /// let saved = placer.state().to_json();
    /// let restored = EngineState::from_json(&saved).unwrap();
    /// let placer = Placer::with_state(PlacerConfig::default(), restored).unwrap();
    /// assert_eq!(placer.state().to_json(), saved);
    ///
    /// let future = r#"{"format_version": 99}"#;
    /// assert!(matches!(
    ///     EngineState::from_json(future),
    ///     Err(StateError::UnsupportedVersion { found: 99, .. })
    /// ));
    /// ```
    ///
    /// # Errors
    /// [`StateError`] when the text is not a state, was written by a newer
    /// format version, or holds impossible counts.
    pub fn from_json(text: &str) -> Result<Self, StateError> {
        let stored: VersionedState =
            serde_json::from_str(text).map_err(|err| StateError::Malformed {
                message: err.to_string(),
            })?;
        EngineState::try_from(stored)
    }

    /// The state as JSON, for [`from_json`](Self::from_json).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an engine state always serializes")
    }

    /// Adds a successful observation: every known region gets a point (zero
    /// when the snapshot lacks it) and its streaks are updated.
    pub(crate) fn record(&mut self, snapshot: &TrafficSnapshot, config: &PlacerConfig) {
        let new = snapshot
            .iter()
            .filter(|(region, _)| !self.regions.contains(region))
            .count();
        self.regions.reserve_exact(new);
        for (region, _) in snapshot.iter() {
            self.regions.entry_or_default(*region);
        }
        let capacity = config.history_capacity();
        for (region, state) in self.regions.iter_mut() {
            state.history.push(snapshot.requests(region), capacity);
            state.averages = Averages::of(&state.history, config);
            let Some(averages) = state.averages else {
                continue;
            };
            state.high_streak = next_streak(
                state.high_streak,
                averages.current >= config.traffic_threshold,
            );
            state.low_streak = next_streak(
                state.low_streak,
                averages.current <= config.deployment_threshold,
            );
            if config.thresholds == ThresholdMode::VolatilityAware {
                state.recent_longs.push_back(averages.long);
                while state.recent_longs.len() > config.long_term_window {
                    state.recent_longs.pop_front();
                }
            } else {
                state.recent_longs.clear();
            }
        }
        self.last_observation = Some(snapshot.at());
        self.forecast.adapt_to(config);
        self.forecast.learn(snapshot);
    }

    /// Feeds a past observation to the forecaster only: history, streaks
    /// and the rest of the state are left as they are. False when the
    /// forecaster learnt nothing from it (forecasting is off, or the
    /// snapshot is not later than the last one it learnt).
    pub fn learn_forecast(&mut self, snapshot: &TrafficSnapshot, config: &PlacerConfig) -> bool {
        self.forecast.adapt_to(config);
        self.forecast.learn_from(snapshot, HistoryOrigin::Backfill)
    }

    /// Forgets what the forecaster learnt (see [`Placer::restart_forecast`](crate::Placer::restart_forecast)).
    pub(crate) fn restart_forecast(&mut self, config: &PlacerConfig) {
        self.forecast.restart(config);
    }

    /// Tells the forecaster whether the engine's policy plans with
    /// forecasts; when it does not, none is kept (see
    /// [`ForecastState::adapt_to`]). Applied at the next `adapt_to`.
    pub(crate) fn set_forecast_used(&mut self, used: bool) {
        self.forecast.set_used(used);
    }

    /// The traffic forecaster and whether it forecasts yet.
    pub fn forecast(&self) -> &ForecastState {
        &self.forecast
    }

    /// Notes that a deployed region's machine count changed at `at`: starts
    /// its cooldown (a later scale-down waits for it) and, unlike a deploy
    /// or a removal, leaves the traffic streaks alone. Recorded as a
    /// [`Change::Resize`]: the region is not starting, as after a deploy.
    pub(crate) fn record_resize(&mut self, region: &Region, at: Timestamp, scaled_up: bool) {
        let state = self.regions.entry_or_default(*region);
        state.last_action = Some(LastAction {
            at,
            action: Change::Resize,
            scaled_up,
        });
    }

    /// Notes that `action` was carried out on `region` at `at` (starts its
    /// cooldown).
    pub(crate) fn record_action(&mut self, region: &Region, action: Move, at: Timestamp) {
        let state = self.regions.entry_or_default(*region);
        state.last_action = Some(LastAction {
            at,
            action: action.into(),
            scaled_up: false,
        });
        // A fresh start for the streak that caused the move.
        state.high_streak = 0;
        state.low_streak = 0;
    }

    /// Forgets regions that are not deployed, had no traffic in their whole
    /// remembered history and are not cooling down, to keep the state small.
    pub(crate) fn forget_idle(
        &mut self,
        deployed: &BTreeSet<Region>,
        config: &PlacerConfig,
        now: Timestamp,
    ) {
        self.regions
            .retain(|region, state| !is_idle(region, state, deployed, config, now));
    }

    /// True when [`forget_idle`](Self::forget_idle) would forget a region.
    pub(crate) fn has_idle(
        &self,
        deployed: &BTreeSet<Region>,
        config: &PlacerConfig,
        now: Timestamp,
    ) -> bool {
        self.regions
            .iter()
            .any(|(region, state)| is_idle(region, state, deployed, config, now))
    }

    /// Applies a changed config: history beyond the new windows is dropped,
    /// and the forecaster follows the `forecast:` section (see
    /// [`ForecastState::adapt_to`]).
    pub(crate) fn adapt_to(&mut self, config: &PlacerConfig) {
        self.forecast.adapt_to(config);
        let capacity = config.history_capacity();
        for state in self.regions.values_mut() {
            state.history.truncate_to(capacity);
            state.averages = Averages::of(&state.history, config);
            while state.recent_longs.len() > config.long_term_window {
                state.recent_longs.pop_front();
            }
        }
    }

    /// What is remembered about `region`.
    pub fn region(&self, region: &Region) -> Option<&RegionState> {
        self.regions.get(region)
    }

    /// Every remembered region, in region order.
    pub fn regions(&self) -> impl Iterator<Item = (&Region, &RegionState)> + '_ {
        self.regions.iter()
    }

    /// What the policy called `policy` carried over from its previous tick
    /// (empty when it has kept nothing).
    pub fn policy_memory(&self, policy: &PolicyName) -> PolicyMemory {
        self.policies
            .get(policy.as_str())
            .cloned()
            .map(PolicyMemory::from_value)
            .unwrap_or_default()
    }

    /// Keeps what the policy called `policy` wants to remember until its
    /// next tick. Other policies' memories are kept as they are, so a
    /// switch of policy and back finds its memory again.
    pub(crate) fn set_policy_memory(&mut self, policy: &PolicyName, memory: PolicyMemory) {
        if memory.is_empty() {
            self.policies.remove(policy.as_str());
        } else {
            self.policies
                .insert(policy.as_str().to_owned(), memory.into_value());
        }
    }

    /// Notes that the backend refused `action` on `region` at `at`
    /// (a region unavailable for a deploy, or a removal refused on purpose):
    /// the move is held back for a while, twice as long as last time when it
    /// was refused before. [`Placer::commit`](crate::Placer::commit) calls
    /// this for the outcomes it is given.
    pub(crate) fn record_refusal(
        &mut self,
        region: &Region,
        action: Move,
        reason: impl Into<String>,
        at: Timestamp,
    ) {
        let next = RegionBackoff::after_refusal(self.backoffs.get(region), action, reason, at);
        self.backoffs.insert(*region, next);
    }

    /// The backoff that holds `action` on `region` back at `now`, if any.
    pub fn held_back(
        &self,
        region: &Region,
        action: Move,
        now: Timestamp,
    ) -> Option<&RegionBackoff> {
        self.backoffs
            .get(region)
            .filter(|backoff| backoff.action == action && backoff.holds(now))
    }

    /// Every remembered refusal, in region order (some may no longer hold).
    pub fn backoffs(&self) -> impl Iterator<Item = (&Region, &RegionBackoff)> + '_ {
        self.backoffs.iter()
    }

    /// Forgets refusals that no longer apply after a tick that left
    /// `deployed` at `now`: `done` regions had their move carried out, a
    /// refused deploy of a region now deployed (or removal of a region now
    /// gone) is moot, and a backoff over for [`MAX_BACKOFF`] is old.
    pub(crate) fn settle_backoffs(
        &mut self,
        deployed: &BTreeSet<Region>,
        done: &BTreeSet<Region>,
        now: Timestamp,
    ) {
        self.backoffs.retain(|region, backoff| {
            let moot = match backoff.action {
                Move::Deploy => deployed.contains(region),
                Move::Remove => !deployed.contains(region),
            };
            !moot && !done.contains(region) && backoff.is_recent(now)
        });
    }

    /// Time of the last successful observation.
    pub fn last_observation(&self) -> Option<Timestamp> {
        self.last_observation
    }

    /// Time left before `region` may be acted on again, if any.
    pub fn cooldown_remaining(
        &self,
        region: &Region,
        config: &PlacerConfig,
        now: Timestamp,
    ) -> Option<std::time::Duration> {
        let last = self.regions.get(region)?.last_action?;
        let elapsed = now.duration_since(last.at);
        (elapsed < config.cooldown_period).then(|| config.cooldown_period - elapsed)
    }
}

fn is_idle(
    region: &Region,
    state: &RegionState,
    deployed: &BTreeSet<Region>,
    config: &PlacerConfig,
    now: Timestamp,
) -> bool {
    !deployed.contains(region)
        && state.history.len() >= config.history_capacity()
        && state.history.is_all_zero()
        && state
            .last_action
            .is_none_or(|last| now.duration_since(last.at) >= config.cooldown_period)
}

fn next_streak(streak: u32, holds: bool) -> u32 {
    if holds {
        streak.saturating_add(1)
    } else {
        0
    }
}

#[derive(Serialize, Deserialize)]
struct VersionedState {
    format_version: u32,
    #[serde(default)]
    last_observation: Option<Timestamp>,
    #[serde(default)]
    regions: BTreeMap<Region, RegionState>,
    /// Each policy's memory, under its name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    policies: BTreeMap<String, serde_json::Value>,
    /// Regions whose deploy or removal the backend refused lately.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    backoffs: BTreeMap<Region, RegionBackoff>,
    /// Regions whose deploy is in doubt (absent from states written before
    /// there were any).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pending: pending::PendingDeploys,
    /// The traffic forecaster, with its own method name and version: one
    /// this build cannot use starts afresh rather than failing the state.
    #[serde(default, skip_serializing_if = "ForecastState::is_empty")]
    forecast: ForecastState,
    /// Before each policy kept its own memory, the latency policy's fields
    /// were kept here: read, never written.
    #[serde(default, skip_serializing)]
    policy_memory: Option<serde_json::Value>,
}

impl TryFrom<VersionedState> for EngineState {
    type Error = StateError;
    fn try_from(stored: VersionedState) -> Result<Self, StateError> {
        if stored.format_version != STATE_FORMAT_VERSION {
            return Err(StateError::UnsupportedVersion {
                found: stored.format_version,
                expected: STATE_FORMAT_VERSION,
            });
        }
        for (region, state) in &stored.regions {
            let longs_valid = state
                .recent_longs
                .iter()
                .all(|x| x.is_finite() && *x >= 0.0);
            if !state.history.is_valid() || !longs_valid {
                return Err(StateError::InvalidHistory { region: *region });
            }
        }
        let mut policies = stored.policies;
        if let Some(legacy) = stored.policy_memory.filter(holds_something) {
            policies
                .entry(PolicyName::LATENCY.as_str().to_owned())
                .or_insert(legacy);
        }
        Ok(EngineState {
            last_observation: stored.last_observation,
            regions: stored.regions.into_iter().collect(),
            policies,
            backoffs: stored.backoffs,
            pending: stored.pending,
            forecast: stored.forecast,
        })
    }
}

impl From<EngineState> for VersionedState {
    fn from(state: EngineState) -> Self {
        VersionedState {
            format_version: STATE_FORMAT_VERSION,
            last_observation: state.last_observation,
            regions: state.regions.into_entries().collect(),
            policies: state.policies,
            backoffs: state.backoffs,
            pending: state.pending,
            forecast: state.forecast,
            policy_memory: None,
        }
    }
}

/// False for a value that holds nothing but empty fields, as the old
/// `policy_memory` did whenever the latency policy had not run.
fn holds_something(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Null | serde_json::Value::Bool(false) => false,
        serde_json::Value::Number(n) => n.as_f64() != Some(0.0),
        serde_json::Value::String(text) => !text.is_empty(),
        serde_json::Value::Array(items) => !items.is_empty(),
        serde_json::Value::Object(fields) => fields.values().any(holds_something),
        serde_json::Value::Bool(true) => true,
    }
}

#[cfg(test)]
mod tests;
