//! [`TickReport`]: what one tick saw, decided and did, in the seed's output
//! shape plus the detail a person needs to see why.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::config::PolicyKind;
use crate::{Reason, Region, Timestamp};

/// A move on one region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Start running the app in the region.
    Deploy,
    /// Stop running the app in the region.
    Remove,
    /// Leave the region as it is.
    None,
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Action::Deploy => "deploy",
            Action::Remove => "remove",
            Action::None => "none",
        })
    }
}

/// A region the tick did not change, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    /// The region.
    pub region: Region,
    /// What the policy wanted for it (`none` when it wanted nothing).
    pub action: Action,
    /// Why nothing was done.
    pub reason: Reason,
}

/// How a carried-out (or dry-run) action ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The actuator carried it out.
    Ok,
    /// Dry run: planned, not carried out.
    DryRun,
    /// The actuator failed; the message says why.
    Error(String),
}

/// One deploy or remove the tick decided on, and its outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionOutcome {
    /// The region.
    pub region: Region,
    /// Deploy or remove.
    pub action: Action,
    /// Why the policy chose it.
    pub reason: Reason,
    /// What happened.
    pub outcome: Outcome,
}

/// The numbers behind a region's decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegionDetail {
    /// Requests in the latest observation.
    pub requests: f64,
    /// The average the thresholds were compared against.
    pub current: f64,
    /// Short-term average.
    pub short: f64,
    /// Long-term average.
    pub long: f64,
    /// Deploy when `current` is at or above this.
    pub deploy_threshold: f64,
    /// Remove when `current` is at or below this.
    pub remove_threshold: f64,
    /// Points of history behind the averages (0: no data yet).
    pub points: usize,
    /// Whether the region was deployed at the start of the tick.
    pub deployed: bool,
}

/// Everything one tick saw, decided and did.
///
/// The first five fields are the seed's output, with the same names and
/// meaning; the rest is detail. Lists are sorted, so the same input always
/// gives the same report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TickReport {
    /// Regions deployed by this tick (planned ones, in dry-run).
    pub deployed: Vec<Region>,
    /// Regions removed by this tick (planned ones, in dry-run).
    pub removed: Vec<Region>,
    /// Regions left as they were, with the reason.
    pub skipped: Vec<Skipped>,
    /// Regions deployed at the start of the tick.
    pub current_deployment: Vec<Region>,
    /// Regions deployed after the tick's actions.
    pub updated_deployment: Vec<Region>,
    /// The tick's time.
    pub at: Timestamp,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// The policy that proposed the moves.
    pub policy: PolicyKind,
    /// The numbers behind each region's decision.
    pub regions: BTreeMap<Region, RegionDetail>,
    /// Each deploy or remove decided on, with its outcome.
    pub actions: Vec<ActionOutcome>,
    /// Why the tick could not observe or plan, if it could not.
    pub error: Option<String>,
}

/// The step at which a tick gave up (see [`TickReport::failed_stage`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailedStage {
    /// Reading traffic from the metrics source.
    FetchingTraffic,
    /// Listing the deployed regions from the actuator.
    ListingDeployment,
}

impl FailedStage {
    /// How a report's `error` begins for this stage.
    pub(crate) fn prefix(self) -> &'static str {
        match self {
            FailedStage::FetchingTraffic => "fetching traffic failed: ",
            FailedStage::ListingDeployment => "listing deployed regions failed: ",
        }
    }
}

impl TickReport {
    /// The step at which the tick gave up, when it did.
    pub fn failed_stage(&self) -> Option<FailedStage> {
        let error = self.error.as_deref()?;
        [FailedStage::FetchingTraffic, FailedStage::ListingDeployment]
            .into_iter()
            .find(|stage| error.starts_with(stage.prefix()))
    }

    pub(crate) fn failed(
        at: Timestamp,
        dry_run: bool,
        policy: PolicyKind,
        current: Option<&BTreeSet<Region>>,
        stage: FailedStage,
        cause: impl std::fmt::Display,
    ) -> TickReport {
        let error = format!("{}{cause}", stage.prefix());
        let current: Vec<Region> = current
            .map(|c| c.iter().cloned().collect())
            .unwrap_or_default();
        TickReport {
            deployed: Vec::new(),
            removed: Vec::new(),
            skipped: Vec::new(),
            updated_deployment: current.clone(),
            current_deployment: current,
            at,
            dry_run,
            policy,
            regions: BTreeMap::new(),
            actions: Vec::new(),
            error: Some(error),
        }
    }

    /// True when the tick observed and planned (actions may still have failed).
    pub fn is_ok(&self) -> bool {
        self.error.is_none()
    }

    /// True when any action failed.
    pub fn has_failed_actions(&self) -> bool {
        self.actions
            .iter()
            .any(|action| matches!(action.outcome, Outcome::Error(_)))
    }
}
