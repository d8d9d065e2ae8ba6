//! [`View`]: what an [`AppRunner`](crate::AppRunner) shows of itself, a
//! copy taken after each tick and config change, so the endpoints never wait
//! for a tick in flight. The service builds the endpoints' documents from
//! it.

use std::collections::{BTreeSet, VecDeque};
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

impl View {
    /// When the latest successful observation was made, and its requests
    /// per region in region order.
    pub fn latest_traffic(&self) -> Option<(Timestamp, impl Iterator<Item = (Region, f64)> + '_)> {
        let report = self.latest_ok_report.as_deref()?;
        let traffic = report
            .regions
            .iter()
            .map(|(region, detail)| (*region, detail.requests));
        Some((report.at, traffic))
    }
}

/// Puts `tick` first in `recent` and keeps the newest `keep` ticks, in
/// room for exactly `keep` (growing by doubling would leave a third of
/// it unused at the default 20, in every app).
pub(crate) fn keep_recent(recent: &mut VecDeque<RecentTick>, tick: RecentTick, keep: usize) {
    if keep > 0 {
        recent.truncate(keep - 1);
        recent.reserve_exact(keep - recent.len());
        recent.push_front(tick);
    }
    recent.truncate(keep);
    if recent.capacity() > keep {
        recent.shrink_to(keep);
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
    /// The latest successful tick's report: the same as `last_report`
    /// unless a later tick failed. Its regions' requests are the latest
    /// traffic ([`latest_traffic`](Self::latest_traffic)), kept through
    /// failed ticks without a copy of their own.
    pub latest_ok_report: Option<Arc<TickReport>>,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn tick(seconds: i64) -> RecentTick {
        RecentTick {
            at: Timestamp::from_unix_seconds(seconds),
            dry_run: true,
            error: None,
            actions: Vec::new(),
            resized: Vec::new(),
            skipped: 0,
        }
    }

    #[test]
    fn the_recent_ticks_are_the_newest_first_in_room_for_exactly_as_many() {
        let mut recent = VecDeque::new();
        for seconds in 1..=25 {
            keep_recent(&mut recent, tick(seconds), 20);
            assert_eq!(recent.len(), seconds.min(20) as usize);
            assert_eq!(recent.capacity(), 20);
        }
        let kept: Vec<i64> = recent.iter().map(|t| t.at.unix_millis() / 1000).collect();
        assert_eq!(kept, (6..=25).rev().collect::<Vec<_>>());

        // A smaller `service.recent_ticks` gives the room back.
        keep_recent(&mut recent, tick(26), 5);
        assert_eq!(recent.len(), 5);
        assert!(recent.capacity() < 20, "{}", recent.capacity());
        assert_eq!(recent[0].at, Timestamp::from_unix_seconds(26));

        keep_recent(&mut recent, tick(27), 0);
        assert!(recent.is_empty());
    }
}
