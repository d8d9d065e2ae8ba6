//! [`TickReport`]: what one tick saw, decided and did, in the seed's output
//! shape plus the detail a person needs to see why.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::forecast::ForecastStatus;
use crate::policy::PolicyName;
use crate::{ActuatorError, Decision, MachineCount, Move, Region, Timestamp};

/// How a carried-out (or dry-run) action ended.
///
/// Serialized as `"ok"`, `"dry_run"`, `{"error": "…"}` (the error's
/// message) or `{"skipped": "…"}`. An error read back from JSON is an
/// [`ActuatorError::Reported`] with the same message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// The actuator carried it out.
    Ok,
    /// Dry run: planned, not carried out.
    DryRun,
    /// The actuator failed with this error. A deploy that failed with
    /// [`ActuatorError::RegionUnavailable`] puts its region in a backoff
    /// when committed.
    #[serde(rename = "error", with = "error_text")]
    Failed(ActuatorError),
    /// The actuator refused on purpose, as it should (machines fly-placer
    /// did not create, the app's last machine): nothing changed, and that is
    /// not a failure. The message says why.
    Skipped(String),
}

impl Outcome {
    /// True when the action changed the deployment (or, in dry-run, would
    /// have): [`Ok`](Self::Ok) and [`DryRun`](Self::DryRun).
    pub fn changes_deployment(&self) -> bool {
        matches!(self, Outcome::Ok | Outcome::DryRun)
    }
}

/// Figures as reports write them: rounded to a thousandth, so that JSON
/// shows `83.6`, not the float's `83.60000000000001`. For
/// `#[serde(serialize_with = …)]` on a report's `f64` (or `Option<f64>`)
/// fields; reading them back needs nothing special.
pub mod rounded {
    use serde::Serializer;

    /// `value` to the nearest thousandth; non-finite values as they are.
    pub fn round(value: f64) -> f64 {
        if value.is_finite() && value.abs() < 1e12 {
            (value * 1000.0).round() / 1000.0
        } else {
            value
        }
    }

    /// Writes `value` [rounded](round).
    ///
    /// # Errors
    /// The serializer's.
    pub fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(round(*value))
    }

    /// Writes `value`, if any, [rounded](round).
    ///
    /// # Errors
    /// The serializer's.
    pub fn serialize_option<S: Serializer>(
        value: &Option<f64>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => serializer.serialize_some(&round(*value)),
            None => serializer.serialize_none(),
        }
    }
}

/// An [`ActuatorError`] in JSON: its message.
mod error_text {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::ActuatorError;

    pub(super) fn serialize<S: Serializer>(
        error: &ActuatorError,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_str(error)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<ActuatorError, D::Error> {
        let message = String::deserialize(deserializer)?;
        Ok(ActuatorError::Reported { message })
    }
}

/// One deploy or remove the tick decided on, and its outcome. Serialized
/// flat: `{"region", "action", "reason", "outcome"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionOutcome {
    /// The region, deploy or remove, and why the policy chose it.
    #[serde(flatten)]
    pub decision: Decision<Move>,
    /// What happened.
    pub outcome: Outcome,
}

impl ActionOutcome {
    /// What came of carrying out `decision`.
    pub fn new(decision: Decision<Move>, outcome: Outcome) -> Self {
        ActionOutcome { decision, outcome }
    }
}

/// One change of a deployed region's machine count the tick decided on
/// (with a `machines:` section), and its outcome: the region stays
/// deployed, with `from` machines before and `to` after. Serialized as
/// `{"region", "from": {"running", "standby"}, "to": {…}, "reason",
/// "outcome"}`, the outcome as an [`ActionOutcome`]'s.
///
/// ```
/// use placer_core::{MachineCount, Outcome, ResizeOutcome};
///
/// let resize = ResizeOutcome::new(
///     "iad".parse().unwrap(),
///     MachineCount::new(3, 0),
///     MachineCount::new(5, 0),
///     "5 machines for 380 requests per 5 min (90 per machine, 20 % headroom)",
///     Outcome::Ok,
/// );
/// assert!(resize.is_up());
/// assert_eq!(
///     serde_json::to_value(&resize).unwrap()["to"],
///     serde_json::json!({"running": 5, "standby": 0})
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ResizeOutcome {
    /// The region.
    pub region: Region,
    /// Its machines at the start of the tick, as listed.
    pub from: MachineCount,
    /// The machines it is brought to.
    pub to: MachineCount,
    /// Why that many, in a sentence (the sizing step's).
    pub reason: String,
    /// What happened.
    pub outcome: Outcome,
}

impl ResizeOutcome {
    /// What came of bringing `region` from `from` to `to` machines, for
    /// `reason`.
    pub fn new(
        region: Region,
        from: MachineCount,
        to: MachineCount,
        reason: impl Into<String>,
        outcome: Outcome,
    ) -> Self {
        ResizeOutcome {
            region,
            from,
            to,
            reason: reason.into(),
            outcome,
        }
    }

    /// More running machines than before (or, with as many running, more
    /// standbys).
    pub fn is_up(&self) -> bool {
        (self.to.running, self.to.standby) > (self.from.running, self.from.standby)
    }

    /// The change in words: `from 3 to 5 machines`, or with standbys
    /// `from 3 running, 1 standby to 5 running, 1 standby`.
    ///
    /// ```
    /// use placer_core::{MachineCount, Outcome, ResizeOutcome};
    ///
    /// let iad = "iad".parse().unwrap();
    /// let plain = ResizeOutcome::new(iad, MachineCount::new(3, 0), MachineCount::new(5, 0), "", Outcome::Ok);
    /// assert_eq!(plain.counts(), "from 3 to 5 machines");
    /// let standby = ResizeOutcome::new(iad, MachineCount::new(1, 0), MachineCount::new(1, 1), "", Outcome::Ok);
    /// assert_eq!(standby.counts(), "from 1 running, 0 standby to 1 running, 1 standby");
    /// ```
    pub fn counts(&self) -> String {
        if self.from.standby == 0 && self.to.standby == 0 {
            format!(
                "from {} to {} machine{}",
                self.from.running,
                self.to.running,
                if self.to.running == 1 { "" } else { "s" }
            )
        } else {
            format!("from {} to {}", self.from, self.to)
        }
    }
}

/// The numbers behind a region's decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RegionDetail {
    /// Requests in the latest observation.
    #[serde(serialize_with = "rounded::serialize")]
    pub requests: f64,
    /// The average the thresholds were compared against.
    #[serde(serialize_with = "rounded::serialize")]
    pub current: f64,
    /// Short-term average.
    #[serde(serialize_with = "rounded::serialize")]
    pub short: f64,
    /// Long-term average.
    #[serde(serialize_with = "rounded::serialize")]
    pub long: f64,
    /// Deploy when `current` is at or above this.
    #[serde(serialize_with = "rounded::serialize")]
    pub deploy_threshold: f64,
    /// Remove when `current` is at or below this.
    #[serde(serialize_with = "rounded::serialize")]
    pub remove_threshold: f64,
    /// Points of history behind the averages (0: no data yet).
    pub points: usize,
    /// Whether the region was deployed at the start of the tick.
    pub deployed: bool,
    /// Its machines, with a `machines:` section only (absent without, so
    /// the report's shape is the seed's). Boxed: most reports have none,
    /// and every region of every app's latest report is kept in memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machines: Option<Box<MachineDetail>>,
}

/// A region's machines in a tick report: what the listing showed at the
/// start of the tick, and the count the sizing step set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MachineDetail {
    /// Machines started at the start of the tick (standbys the proxy
    /// started included).
    pub running: u32,
    /// Machines of ours stopped at the start of the tick.
    pub standby: u32,
    /// The running machines the sizing step wants there (0: not deployed).
    pub target: u32,
    /// The standbys the sizing step wants there.
    pub target_standby: u32,
    /// Why that many, in a sentence; why a change was put off, if it was.
    pub reason: String,
}

impl RegionDetail {
    /// A region whose latest observation, short, long and current averages
    /// are all `current` (one point of history), deployed or not, with
    /// both thresholds at 0; the `with_*` methods set the rest. For
    /// building a [`PlanningView`](crate::policy::PlanningView) by hand.
    ///
    /// ```
    /// use placer_core::RegionDetail;
    ///
    /// let detail = RegionDetail::new(40.0, false).with_thresholds(50.0, 5.0).with_points(12);
    /// assert_eq!((detail.current, detail.deploy_threshold, detail.points), (40.0, 50.0, 12));
    /// ```
    pub fn new(current: f64, deployed: bool) -> Self {
        RegionDetail {
            requests: current,
            current,
            short: current,
            long: current,
            deploy_threshold: 0.0,
            remove_threshold: 0.0,
            points: 1,
            deployed,
            machines: None,
        }
    }

    /// The same detail with these deploy and remove thresholds.
    #[must_use]
    pub fn with_thresholds(mut self, deploy: f64, remove: f64) -> Self {
        self.deploy_threshold = deploy;
        self.remove_threshold = remove;
        self
    }

    /// The same detail with these short- and long-term averages.
    #[must_use]
    pub fn with_averages(mut self, short: f64, long: f64) -> Self {
        self.short = short;
        self.long = long;
        self
    }

    /// The same detail with `requests` in the latest observation.
    #[must_use]
    pub fn with_requests(mut self, requests: f64) -> Self {
        self.requests = requests;
        self
    }

    /// The same detail with `points` of history behind the averages.
    #[must_use]
    pub fn with_points(mut self, points: usize) -> Self {
        self.points = points;
        self
    }
}

/// Everything one tick saw, decided and did.
///
/// The first five fields are the seed's output, with the same names and
/// meaning; the rest is detail. Lists are sorted, so the same input always
/// gives the same report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TickReport {
    /// Regions deployed by this tick (planned ones, in dry-run).
    pub deployed: Vec<Region>,
    /// Regions removed by this tick (planned ones, in dry-run).
    pub removed: Vec<Region>,
    /// Regions left as they were, with the reason.
    pub skipped: Vec<Decision>,
    /// Regions deployed at the start of the tick, as the actuator listed
    /// them.
    pub current_deployment: Vec<Region>,
    /// Regions deployed after the tick's actions.
    pub updated_deployment: Vec<Region>,
    /// Regions whose deploy is in doubt (its answer was lost) after the
    /// tick: not listed, yet counted as deployed for planning until the
    /// listing shows them or `pending_grace` passes (see
    /// [`PendingDeploy`](crate::state::PendingDeploy)). Left out of the JSON
    /// when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<Region>,
    /// The tick's time.
    pub at: Timestamp,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// The policy that proposed the moves.
    pub policy: PolicyName,
    /// The numbers behind each region's decision.
    pub regions: BTreeMap<Region, RegionDetail>,
    /// Each deploy or remove decided on, with its outcome.
    pub actions: Vec<ActionOutcome>,
    /// Each change of count of a region that stays deployed, with its
    /// outcome (like [`actions`](Self::actions): carried out, dry run,
    /// failed or skipped). Only with a `machines:` section: `None`, and
    /// left out of the JSON, without one, so the report's shape is the
    /// seed's; `deployed` and `removed` never list a resized region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resized: Option<Vec<ResizeOutcome>>,
    /// Why the tick could not observe or plan, if it could not.
    pub error: Option<TickError>,
    /// Regions in the traffic that are not Fly regions (not in the
    /// [catalog](crate::network::geo::catalog)): their traffic was ignored. Left out
    /// of the JSON when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignored_regions: Vec<Region>,
    /// For a policy that plans with forecasts (the latency policy):
    /// whether it did this tick, or reacted to observed traffic only and
    /// why (forecasting off, or not enough history yet). Left out of the
    /// JSON for other policies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forecast: Option<ForecastStatus>,
}

/// The step at which a tick gave up (see [`TickReport::failed_stage`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailedStage {
    /// Reading traffic from the metrics source.
    FetchingTraffic,
    /// Listing the deployed regions from the actuator.
    ListingDeployment,
}

impl FailedStage {
    const ALL: [FailedStage; 2] = [FailedStage::FetchingTraffic, FailedStage::ListingDeployment];

    /// How a report's `error` begins for this stage.
    fn prefix(self) -> &'static str {
        match self {
            FailedStage::FetchingTraffic => "fetching traffic failed: ",
            FailedStage::ListingDeployment => "listing deployed regions failed: ",
        }
    }
}

/// Why a tick could not observe or plan: the stage and the error it met.
///
/// It is serialized as its sentence (`"fetching traffic failed: …"`), as
/// the report always had it; [`source`](std::error::Error::source) gives
/// the error itself.
///
/// ```
/// use placer_core::{report::FailedStage, MetricsError, report::TickError};
///
/// let error = TickError::new(
///     FailedStage::FetchingTraffic,
///     MetricsError::backend("bot", "timed out"),
/// );
/// assert_eq!(error.stage(), FailedStage::FetchingTraffic);
/// assert!(error.to_string().starts_with("fetching traffic failed: "));
/// assert_eq!(serde_json::to_value(&error).unwrap(), error.to_string());
/// ```
#[derive(Debug, Clone)]
pub struct TickError {
    stage: FailedStage,
    cause: Arc<dyn std::error::Error + Send + Sync>,
}

impl TickError {
    /// The error `cause` met at `stage`.
    pub fn new(
        stage: FailedStage,
        cause: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        TickError {
            stage,
            cause: Arc::from(cause.into()),
        }
    }

    /// The step at which the tick gave up.
    pub fn stage(&self) -> FailedStage {
        self.stage
    }

    /// The error met there.
    pub fn cause(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self.cause.as_ref()
    }
}

impl fmt::Display for TickError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.stage.prefix(), self.cause)
    }
}

impl std::error::Error for TickError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.cause.as_ref())
    }
}

/// Equal when the stage and the sentence are.
impl PartialEq for TickError {
    fn eq(&self, other: &Self) -> bool {
        self.stage == other.stage && self.cause.to_string() == other.cause.to_string()
    }
}

impl Serialize for TickError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A sentence read back from a report: the stage from its beginning, the
/// rest as the error's message.
impl<'de> Deserialize<'de> for TickError {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        FailedStage::ALL
            .into_iter()
            .find_map(|stage| {
                let message = text.strip_prefix(stage.prefix())?;
                Some(TickError::new(stage, message.to_owned()))
            })
            .ok_or_else(|| serde::de::Error::custom(format!("not a tick error: {text:?}")))
    }
}

impl TickReport {
    /// The step at which the tick gave up, when it did.
    pub fn failed_stage(&self) -> Option<FailedStage> {
        self.error.as_ref().map(TickError::stage)
    }

    pub(crate) fn failed(
        at: Timestamp,
        dry_run: bool,
        policy: PolicyName,
        current: Option<&BTreeSet<Region>>,
        error: TickError,
    ) -> TickReport {
        let current: Vec<Region> = current
            .map(|c| c.iter().cloned().collect())
            .unwrap_or_default();
        TickReport {
            deployed: Vec::new(),
            removed: Vec::new(),
            skipped: Vec::new(),
            updated_deployment: current.clone(),
            current_deployment: current,
            pending: Vec::new(),
            at,
            dry_run,
            policy,
            regions: BTreeMap::new(),
            actions: Vec::new(),
            resized: None,
            error: Some(error),
            ignored_regions: Vec::new(),
            forecast: None,
        }
    }

    /// True when the tick observed and planned (actions may still have failed).
    pub fn is_ok(&self) -> bool {
        self.error.is_none()
    }

    /// True when any action or resize failed (a
    /// [skipped](Outcome::Skipped) one did not).
    pub fn has_failed_actions(&self) -> bool {
        self.failed_actions() > 0
    }

    /// How many actions and resizes failed.
    pub fn failed_actions(&self) -> usize {
        let failed = |outcome: &Outcome| matches!(outcome, Outcome::Failed(_));
        self.actions.iter().filter(|a| failed(&a.outcome)).count()
            + self.resizes().filter(|r| failed(&r.outcome)).count()
    }

    /// The tick's resizes, none without a `machines:` section.
    pub fn resizes(&self) -> impl Iterator<Item = &ResizeOutcome> + '_ {
        self.resized.iter().flatten()
    }

    /// True when the tick decided on any deploy, remove or resize,
    /// whatever came of it.
    pub fn decided_anything(&self) -> bool {
        !self.actions.is_empty() || self.resizes().next().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Reason;

    #[test]
    fn a_failed_action_is_written_as_its_error_message_and_read_back() {
        let fra: Region = "fra".parse().unwrap();
        let error = ActuatorError::region_unavailable("fly", &fra, "HTTP 422: no capacity");
        let failed = ActionOutcome::new(
            Decision::new(fra, Move::Deploy, Reason::NoData),
            Outcome::Failed(error),
        );
        let json = serde_json::to_value(&failed).unwrap();
        assert_eq!(
            json["outcome"],
            serde_json::json!({"error": "fly cannot deploy to fra: HTTP 422: no capacity"})
        );
        let read: ActionOutcome = serde_json::from_value(json).unwrap();
        assert_eq!(read.outcome, failed.outcome);
        let Outcome::Failed(error) = &read.outcome else {
            panic!("{read:?}");
        };
        assert!(matches!(error, ActuatorError::Reported { .. }));
        assert_eq!(serde_json::to_value(Outcome::DryRun).unwrap(), "dry_run");
        assert_eq!(
            serde_json::to_value(Outcome::Skipped("last machine".into())).unwrap(),
            serde_json::json!({"skipped": "last machine"})
        );
    }
}
