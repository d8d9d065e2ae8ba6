use super::*;

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_unix_seconds(seconds)
}

fn region(code: &str) -> Region {
    code.parse().unwrap()
}

#[test]
fn a_region_missing_from_a_snapshot_had_zero_requests() {
    let config = PlacerConfig::default();
    let mut state = EngineState::default();
    state.record(
        &TrafficSnapshot::new(at(0), [("iad", 5.0)]).unwrap(),
        &config,
    );
    state.record(
        &TrafficSnapshot::new(at(60), [("fra", 7.0)]).unwrap(),
        &config,
    );
    let iad: Vec<f64> = state
        .region(&region("iad"))
        .unwrap()
        .history
        .iter()
        .collect();
    assert_eq!(iad, vec![5.0, 0.0]);
    let fra: Vec<f64> = state
        .region(&region("fra"))
        .unwrap()
        .history
        .iter()
        .collect();
    assert_eq!(fra, vec![7.0]);
}

#[test]
fn history_is_bounded_by_the_longest_window() {
    let config = PlacerConfig {
        long_term_window: 4,
        short_term_window: 2,
        ..PlacerConfig::default()
    };
    let mut state = EngineState::default();
    for i in 0..10 {
        state.record(
            &TrafficSnapshot::new(at(i), [("iad", i as f64)]).unwrap(),
            &config,
        );
    }
    let points: Vec<f64> = state
        .region(&region("iad"))
        .unwrap()
        .history
        .iter()
        .collect();
    assert_eq!(points, vec![6.0, 7.0, 8.0, 9.0]);
}

#[test]
fn streaks_count_consecutive_ticks_over_and_under_thresholds() {
    let config = PlacerConfig {
        short_term_window: 1,
        long_term_window: 1,
        ..PlacerConfig::default()
    };
    let mut state = EngineState::default();
    for count in [60.0, 70.0, 5.0, 80.0, 90.0, 95.0] {
        state.record(
            &TrafficSnapshot::new(at(0), [("iad", count)]).unwrap(),
            &config,
        );
    }
    let iad = state.region(&region("iad")).unwrap();
    assert_eq!((iad.high_streak, iad.low_streak), (3, 0));
}

#[test]
fn cooldown_remaining_counts_down_from_the_last_action() {
    let config = PlacerConfig {
        cooldown_period: std::time::Duration::from_secs(100),
        ..PlacerConfig::default()
    };
    let mut state = EngineState::default();
    state.record_action(&region("iad"), Move::Deploy, at(1000));
    assert_eq!(
        state.cooldown_remaining(&region("iad"), &config, at(1030)),
        Some(std::time::Duration::from_secs(70))
    );
    assert_eq!(
        state.cooldown_remaining(&region("iad"), &config, at(1100)),
        None
    );
    assert_eq!(
        state.cooldown_remaining(&region("fra"), &config, at(1030)),
        None
    );
}

#[test]
fn idle_undeployed_regions_are_forgotten_but_deployed_ones_kept() {
    let config = PlacerConfig {
        short_term_window: 1,
        long_term_window: 2,
        ..PlacerConfig::default()
    };
    let mut state = EngineState::default();
    state.record(
        &TrafficSnapshot::new(at(0), [("iad", 0.0), ("fra", 0.0)]).unwrap(),
        &config,
    );
    state.record(
        &TrafficSnapshot::new(at(60), [("iad", 0.0), ("fra", 0.0)]).unwrap(),
        &config,
    );
    let deployed: BTreeSet<Region> = [region("fra")].into();
    state.forget_idle(&deployed, &config, at(60));
    assert!(state.region(&region("iad")).is_none());
    assert!(state.region(&region("fra")).is_some());
}

#[test]
fn state_round_trips_with_its_version_and_rejects_others() {
    let config = PlacerConfig::default();
    let mut state = EngineState::default();
    state.record(
        &TrafficSnapshot::new(at(0), [("iad", 12.5)]).unwrap(),
        &config,
    );
    state.record_action(&region("iad"), Move::Deploy, at(0));
    let json = serde_json::to_string(&state).unwrap();
    assert!(json.contains("\"format_version\":1"), "{json}");
    let restored: EngineState = serde_json::from_str(&json).unwrap();
    assert_eq!(restored, state);

    let future = json.replace("\"format_version\":1", "\"format_version\":9");
    let err = serde_json::from_str::<EngineState>(&future).unwrap_err();
    assert!(err.to_string().contains("format version 9"), "{err}");

    let corrupt = json.replace("12.5", "-12.5");
    assert!(serde_json::from_str::<EngineState>(&corrupt).is_err());
}

#[test]
fn a_pending_deploy_holds_until_listed_or_its_grace_passes() {
    let config = PlacerConfig::default().with_pending_grace(std::time::Duration::from_secs(300));
    let mut state = EngineState::default();
    state.record_pending(&region("fra"), at(0));
    state.record_pending(&region("nrt"), at(0));
    let listed: BTreeSet<Region> = [region("iad")].into();
    assert_eq!(
        state.pending_regions(&listed, &config, at(299)),
        [region("fra"), region("nrt")].into()
    );
    assert!(state.pending_regions(&listed, &config, at(300)).is_empty());

    // fra is listed: settled, and its cooldown runs from the deploy.
    let listed: BTreeSet<Region> = [region("iad"), region("fra")].into();
    state.settle_pending(&listed, &config, at(120));
    assert_eq!(state.pending_deploys().count(), 1);
    let fra = state.region(&region("fra")).unwrap().last_action.unwrap();
    assert_eq!((fra.at, fra.action), (at(0), Change::Deploy));
    assert!(state
        .pending_deploy(&region("nrt"), &config, at(120))
        .is_some());

    // nrt's grace passes without the listing showing it: forgotten, and no
    // cooldown started (the deploy did not happen).
    state.settle_pending(&listed, &config, at(300));
    assert_eq!(state.pending_deploys().count(), 0);
    assert!(state.region(&region("nrt")).is_none());
}

#[test]
fn pending_deploys_round_trip_and_older_states_load_without_them() {
    let mut state = EngineState::default();
    state.record_pending(&region("fra"), at(60));
    let json = state.to_json();
    assert!(json.contains(r#""pending":{"fra":{"since":"#), "{json}");
    let restored = EngineState::from_json(&json).unwrap();
    assert_eq!(restored, state);
    assert_eq!(
        restored.pending_deploys().next(),
        Some((&region("fra"), &PendingDeploy { since: at(60) }))
    );

    let older = r#"{"format_version":1,"last_observation":null,"regions":{}}"#;
    let loaded = EngineState::from_json(older).unwrap();
    assert_eq!(loaded.pending_deploys().count(), 0);
    assert!(!EngineState::default().to_json().contains("pending"));
}

#[test]
fn a_resize_is_remembered_as_a_resize_and_older_states_still_read() {
    let config = PlacerConfig {
        cooldown_period: std::time::Duration::from_secs(100),
        ..PlacerConfig::default()
    };
    let mut state = EngineState::default();
    state.record_resize(&region("iad"), at(1000), false);
    let last = state.region(&region("iad")).unwrap().last_action.unwrap();
    assert_eq!(last.action, Change::Resize);
    assert!(!last.scaled_up);
    assert_ne!(last.action, crate::Action::Deploy);
    // It starts the cooldown like any change.
    assert_eq!(
        state.cooldown_remaining(&region("iad"), &config, at(1040)),
        Some(std::time::Duration::from_secs(60))
    );
    let json = state.to_json();
    assert!(json.contains(r#""action":"resize""#), "{json}");
    assert!(!json.contains("scaled_up"), "{json}");
    let mut up = state.clone();
    up.record_resize(&region("fra"), at(1000), true);
    let up_json = up.to_json();
    assert!(up_json.contains(r#""scaled_up":true"#), "{up_json}");
    let read = EngineState::from_json(&up_json).unwrap();
    assert!(
        read.region(&region("fra"))
            .unwrap()
            .last_action
            .unwrap()
            .scaled_up
    );
    assert_eq!(EngineState::from_json(&json).unwrap(), state);

    // A state written before resizes had a name reads as it was written.
    let old = r#"{"format_version":1,"regions":{"fra":{"last_action":{"at":"2026-12-01T00:00:00Z","action":"remove"}}}}"#;
    let read = EngineState::from_json(old).unwrap();
    let fra = read.region(&region("fra")).unwrap().last_action.unwrap();
    assert_eq!(fra.action, Change::Remove);
}
