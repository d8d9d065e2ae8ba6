//! A state file written before each policy kept its own memory still loads:
//! the latency policy finds its memory where it now keeps it.

use placer_core::policy::{LatencyMemory, PolicyName};
use placer_core::{EngineState, Placer, PlacerConfig, Region, Timestamp};

/// Written by `fly-placer once` with `policy: latency` and a machine budget,
/// before this change: the latency policy's fields sit in `policy_memory`.
const OLD_STATE: &str = include_str!("data/state-format-1-latency.json");

#[test]
fn an_old_state_file_loads_with_the_latency_memory_in_place() {
    let state = EngineState::from_json(OLD_STATE).unwrap();
    assert_eq!(state.regions().count(), 8);
    let memory: LatencyMemory = state.policy_memory(&PolicyName::LATENCY).load();
    let baseline = memory.traffic_baseline.expect("the baseline was kept");
    assert_eq!(baseline.requests, 410.000162437927);
    assert_eq!(
        baseline.at,
        "2026-12-02T14:55:10.938Z".parse::<Timestamp>().unwrap()
    );
    let spent = memory.machine_time.expect("the machine time was kept");
    assert_eq!(spent.machine_seconds, 0.176);
    assert_eq!(memory.latency_streak, 0);

    // Written again, it reads back the same, in the new layout.
    let written = state.to_json();
    assert!(written.contains(r#""policies":{"latency":"#), "{written}");
    assert!(!written.contains("policy_memory"), "{written}");
    assert_eq!(EngineState::from_json(&written).unwrap(), state);
}

#[test]
fn the_latency_policy_resumes_from_an_old_state() {
    let state = EngineState::from_json(OLD_STATE).unwrap();
    let config = PlacerConfig::default().with_policy(PolicyName::LATENCY);
    let placer = Placer::with_state(config, state).unwrap();
    let deployed: std::collections::BTreeSet<Region> = ["ams", "iad", "nrt", "sfo", "sin"]
        .iter()
        .map(|code| code.parse().unwrap())
        .collect();
    let now: Timestamp = "2026-12-02T14:56:10.938Z".parse().unwrap();
    let plan = placer.decide(&deployed, now);
    // The baseline moved on from the remembered one rather than starting
    // again from this tick's total.
    let baseline = plan
        .memory
        .load::<LatencyMemory>()
        .traffic_baseline
        .unwrap();
    assert_eq!(baseline.at, now);
    assert_ne!(baseline.requests, 0.0);
    assert!((baseline.requests - 410.0).abs() < 5.0, "{baseline:?}");
}
