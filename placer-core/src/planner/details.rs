//! The regions in play for a tick and the numbers behind each: history,
//! deployment, always-running regions and the home of each.

use std::collections::{BTreeMap, BTreeSet};

use super::PlanInput;
use crate::network::platform::{Home, PlatformRegions};
use crate::report::RegionDetail;
use crate::{
    state::RegionState, thresholds::Thresholds, EngineState, Move, PlacerConfig, Region, Timestamp,
};

/// Smoothed traffic and thresholds of every region in play: those with
/// history, those deployed, the always-running ones, and the home of each
/// of them (where its users are served best: see [`home_of`]), so a
/// policy may deploy it.
pub fn region_details(input: &PlanInput<'_>) -> BTreeMap<Region, RegionDetail> {
    let mut details: BTreeMap<Region, RegionDetail> = input
        .state
        .regions()
        .map(|(region, remembered)| (*region, detail(input, region, Some(remembered))))
        .collect();
    let extra = input
        .deployed
        .iter()
        .chain(&input.config.always_running_regions);
    for region in extra {
        if !details.contains_key(region) {
            details.insert(*region, detail(input, region, None));
        }
    }
    let homes: BTreeSet<Region> = details
        .keys()
        .filter_map(|region| input.home(region))
        .map(|home| home.region)
        .collect();
    for home in homes {
        details
            .entry(home)
            .or_insert_with(|| detail(input, &home, None));
    }
    details
}

impl PlanInput<'_> {
    /// Where the users entering at `region` are served best (see
    /// [`home_of`]).
    pub(super) fn home(&self, region: &Region) -> Option<Home> {
        home_of(
            self.config,
            self.state,
            self.deployed,
            self.platform,
            self.now,
            region,
        )
    }
}

/// The nearest region to `region` that the platform takes machines in and
/// that is deployed or may be deployed: allowed and not excluded (or always
/// running), not sitting out a backoff. `region` itself when it qualifies.
pub(crate) fn home_of(
    config: &PlacerConfig,
    state: &EngineState,
    deployed: &BTreeSet<Region>,
    platform: &PlatformRegions,
    now: Timestamp,
    region: &Region,
) -> Option<Home> {
    platform.home(region, |server| {
        deployed.contains(server)
            || ((config.may_deploy(server) || config.always_running_regions.contains(server))
                && state.held_back(server, Move::Deploy, now).is_none())
    })
}

fn detail(
    input: &PlanInput<'_>,
    region: &Region,
    remembered: Option<&RegionState>,
) -> RegionDetail {
    let config = input.config;
    let averages = remembered.and_then(|s| s.averages(config));
    let recent_longs: Vec<f64> = remembered
        .map(|s| s.recent_longs.iter().copied().collect())
        .unwrap_or_default();
    let long = averages.map_or(0.0, |a| a.long);
    let thresholds = Thresholds::for_region(config, long, &recent_longs);
    RegionDetail {
        requests: remembered.and_then(|s| s.history.latest()).unwrap_or(0.0),
        current: averages.map_or(0.0, |a| a.current),
        short: averages.map_or(0.0, |a| a.short),
        long,
        deploy_threshold: thresholds.deploy,
        remove_threshold: thresholds.remove,
        points: averages.map_or(0, |a| a.points),
        deployed: input.deployed.contains(region),
        machines: None,
    }
}
