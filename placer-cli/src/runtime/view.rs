//! [`View`]: what an [`AppRunner`](crate::AppRunner) shows of itself, a
//! copy taken after each tick and config change, so the endpoints never wait
//! for a tick in flight. The service builds the endpoints' documents from
//! it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use placer_core::network::platform::PlatformRegions;
use placer_core::{EngineState, PlacerConfig, Region, TickReport, Timestamp};

/// How many of the latest ticks' reports a [`View`] keeps (the status
/// page's decisions list).
pub const RECENT_TICKS: usize = 20;

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
    /// The latest ticks' reports, newest first, at most [`RECENT_TICKS`].
    pub recent_reports: VecDeque<Arc<TickReport>>,
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
