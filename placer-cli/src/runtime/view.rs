//! [`View`]: what an [`AppRunner`](crate::AppRunner) shows of itself, a
//! copy taken after each tick and config change, so the endpoints never wait
//! for a tick in flight. The service builds the endpoints' documents from
//! it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use placer_core::network::platform::PlatformRegions;
use placer_core::report::{ActionOutcome, ResizeOutcome, TickError};
use placer_core::{EngineState, PlacerConfig, Region, TickReport, Timestamp};

/// What a [`View`] keeps of an earlier tick for the status page's list of
/// decisions: what it did and whether it failed, without its per-region
/// figures and reasons (those of the latest tick are in
/// [`View::last_report`]). With thousands of apps, whole reports kept for
/// twenty ticks were most of the process's memory.
#[derive(Debug, Clone)]
pub struct RecentTick {
    /// When it ran.
    pub at: Timestamp,
    /// Whether it was a dry run.
    pub dry_run: bool,
    /// Why it could not observe or plan, if it could not.
    pub error: Option<TickError>,
    /// Its deploys and removes, with their outcomes.
    pub actions: Vec<ActionOutcome>,
    /// Its changes of count of regions that stay deployed (with a
    /// `machines:` section), with their outcomes.
    pub resized: Vec<ResizeOutcome>,
    /// How many regions it left alone.
    pub skipped: usize,
}

impl From<&TickReport> for RecentTick {
    fn from(report: &TickReport) -> Self {
        RecentTick {
            at: report.at,
            dry_run: report.dry_run,
            error: report.error.clone(),
            actions: report.actions.clone(),
            resized: report.resizes().cloned().collect(),
            skipped: report.skipped.len(),
        }
    }
}

/// One app as the endpoints see it.
#[derive(Debug, Clone)]
pub struct View {
    /// The engine config in force.
    pub config: PlacerConfig,
    /// The config file.
    pub config_path: PathBuf,
    /// When the config in force was loaded.
    pub config_loaded_at: Timestamp,
    /// Why the file's current content is not in force, if it is not.
    pub config_error: Option<String>,
    /// One line on the traffic source.
    pub traffic_description: String,
    /// One line on the deployment's actuator.
    pub deployment_description: String,
    /// Time between periodic ticks (zero: none).
    pub interval: Duration,
    /// What is deployed, as last observed.
    pub deployment: BTreeSet<Region>,
    /// When `deployment` was observed.
    pub deployment_as_of: Option<Timestamp>,
    /// The engine's memory after the latest tick, shared with the engine
    /// (copied only when the engine changes it while this is held).
    pub state: Arc<EngineState>,
    /// The latest tick's report.
    pub last_report: Option<Arc<TickReport>>,
    /// The latest ticks, newest first, at most `service.recent_ticks`.
    pub recent_ticks: VecDeque<RecentTick>,
    /// Requests per region at the latest successful observation.
    pub latest_traffic: Option<(Timestamp, BTreeMap<Region, f64>)>,
    /// How long the latest tick took.
    pub last_tick_duration: Duration,
    /// Ticks run since start.
    pub ticks: u64,
    /// Why the engine state could not be saved, if the last save failed.
    pub persist_error: Option<String>,
    /// The picture of the platform's regions the latest tick planned over
    /// (the built-in one before the first tick).
    pub platform: Arc<PlatformRegions>,
}
