//! Shared by the fuzz target and the corpus test: restoring engine state.

use std::collections::BTreeSet;

use placer_core::config::ThresholdMode;
use placer_core::policy::PolicyName;
use placer_core::{
    network::geo, Action, Decision, EngineState, Move, Placer, PlacerConfig, Region, Timestamp,
    TrafficSnapshot,
};

/// Reads `data` as a persisted engine state: an accepted state reads back
/// equal, and an engine resumed from it plans within the planner's rules
/// under each policy and threshold mode.
pub fn check_state(data: &[u8]) -> Result<(), String> {
    let state = serde_json::from_slice::<EngineState>(data).map_err(|err| err.to_string())?;
    let written = serde_json::to_vec(&state).expect("a state serializes");
    let again: EngineState = serde_json::from_slice(&written).expect("a written state is accepted");
    assert_eq!(again, state);

    let now = state
        .last_observation()
        .unwrap_or(Timestamp::from_unix_seconds(1_800_000_000));
    let last_deployed: BTreeSet<Region> = state
        .regions()
        .filter(|(_, s)| {
            s.last_action
                .is_some_and(|last| last.action == Action::Deploy)
        })
        .map(|(region, _)| *region)
        .collect();
    let remembered: BTreeSet<Region> = state.regions().map(|(region, _)| *region).collect();
    let configs = [
        PlacerConfig::default(),
        PlacerConfig::default().with_thresholds(ThresholdMode::VolatilityAware),
        PlacerConfig::default().with_policy(PolicyName::LATENCY),
    ];
    for config in configs {
        // Resumed, the engine has no usable metrics until it observes.
        let resumed = Placer::with_state(config.clone(), state.clone()).expect("a valid config");
        let mut observed = resumed.clone();
        let traffic = remembered.iter().map(|region| (region.as_str(), 1.0));
        if let Ok(snapshot) = TrafficSnapshot::new(now, traffic) {
            observed.observe(&snapshot);
        }
        // Traffic in a region outside Fly's catalog is ignored.
        let usable = remembered
            .iter()
            .any(|region| geo::region_info(region).is_some());
        for deployed in [&last_deployed, &remembered] {
            for (placer, metrics_usable) in [(&observed, usable), (&resumed, false)] {
                let plan = placer.decide(deployed, now);
                check_plan(&plan.actions, deployed, &config, metrics_usable);
            }
        }
    }
    Ok(())
}

fn check_plan(
    actions: &[Decision<Move>],
    deployed: &BTreeSet<Region>,
    config: &PlacerConfig,
    metrics_usable: bool,
) {
    assert!(actions.len() <= config.max_actions_per_tick);
    let mut after = deployed.clone();
    for planned in actions {
        match planned.action {
            Move::Deploy => assert!(after.insert(planned.region), "{planned:?}: deployed"),
            Move::Remove => {
                assert!(metrics_usable, "removal without usable metrics");
                assert!(after.remove(&planned.region), "{planned:?}: not deployed");
            }
        }
    }
    assert!(after.len() >= deployed.len().min(config.min_regions));
}
