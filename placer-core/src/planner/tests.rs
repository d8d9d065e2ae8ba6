use std::time::Duration;

use super::*;
use crate::policy::ThresholdPolicy;
use crate::test_support::{r, state_with, T0};
use crate::TrafficSnapshot;

fn set(codes: &[&str]) -> BTreeSet<Region> {
    codes.iter().map(|c| r(c)).collect()
}

fn plan_for(config: &PlacerConfig, state: &EngineState, deployed: &[&str]) -> Plan {
    let deployed = set(deployed);
    let input = PlanInput {
        config,
        state,
        deployed: &deployed,
        pending: &BTreeSet::new(),
        now: Timestamp::from_unix_seconds(T0 + 3600),
        metrics_usable: true,
        platform: crate::network::platform::PlatformRegions::built_in(),
    };
    plan(&input, &ThresholdPolicy)
}

fn skipped_reason<'a>(plan: &'a Plan, code: &str) -> (&'a Action, &'static str) {
    let s = plan
        .skipped
        .iter()
        .find(|s| s.region.as_str() == code)
        .unwrap_or_else(|| panic!("{code} not skipped in {plan:#?}"));
    (&s.action, Box::leak(s.reason.to_string().into_boxed_str()))
}

fn actions(plan: &Plan) -> Vec<(String, Action)> {
    plan.actions
        .iter()
        .map(|a| (a.region.to_string(), a.action.into()))
        .collect()
}

#[test]
fn steady_high_traffic_deploys_without_trend_after_sustain_ticks() {
    let config = PlacerConfig::default();
    // Flat at 80: current == long, so 80 < 1.1 × 80 and the seed would never deploy.
    let short = state_with(&config, &[("iad", 20.0), ("fra", 80.0)], 2);
    assert!(actions(&plan_for(&config, &short, &["iad"])).is_empty());
    let sustained = state_with(&config, &[("iad", 20.0), ("fra", 80.0)], 3);
    let plan = plan_for(&config, &sustained, &["iad"]);
    assert_eq!(actions(&plan), vec![("fra".into(), Action::Deploy)]);
    assert!(
        plan.actions[0]
            .reason
            .to_string()
            .contains("3 consecutive ticks"),
        "{:?}",
        plan.actions
    );
}

#[test]
fn seed_rule_alone_never_deploys_flat_traffic() {
    let config = PlacerConfig {
        sustain_ticks: 0,
        ..PlacerConfig::default()
    };
    let state = state_with(&config, &[("iad", 20.0), ("fra", 500.0)], 30);
    let plan = plan_for(&config, &state, &["iad"]);
    assert!(actions(&plan).is_empty());
    let (_, reason) = skipped_reason(&plan, "fra");
    assert_eq!(
        reason,
        "Traffic does not meet adaptive thresholds. Current avg: 500.00, Long-term avg: 500.00"
    );
}

#[test]
fn rising_traffic_deploys_at_the_adaptive_threshold() {
    let config = PlacerConfig::default();
    let mut state = state_with(&config, &[("iad", 20.0), ("fra", 30.0)], 10);
    for i in 0..3 {
        let at = Timestamp::from_unix_seconds(T0 + 1000 + i);
        state.record(
            &TrafficSnapshot::new(at, [("iad", 20.0), ("fra", 200.0)]).unwrap(),
            &config,
        );
    }
    let plan = plan_for(&config, &state, &["iad"]);
    assert_eq!(actions(&plan), vec![("fra".into(), Action::Deploy)]);
    assert!(plan.actions[0]
        .reason
        .to_string()
        .starts_with("Traffic meets adaptive deploy threshold"));
}

#[test]
fn quiet_deployed_region_is_removed() {
    let config = PlacerConfig::default();
    let state = state_with(&config, &[("iad", 100.0), ("fra", 0.0)], 5);
    let plan = plan_for(&config, &state, &["iad", "fra"]);
    assert_eq!(actions(&plan), vec![("fra".into(), Action::Remove)]);
}

#[test]
fn excluded_and_not_allowed_regions_are_never_deployed() {
    let config = PlacerConfig {
        allowed_regions: set(&["iad", "fra", "ams"]),
        excluded_regions: set(&["ams"]),
        ..PlacerConfig::default()
    };
    let state = state_with(&config, &[("iad", 20.0), ("ams", 90.0), ("sin", 90.0)], 5);
    let plan = plan_for(&config, &state, &["iad"]);
    // Their users count towards the nearest region that may be deployed.
    assert_eq!(actions(&plan), vec![("fra".into(), Action::Deploy)]);
    let fra = plan.actions[0].reason.to_string();
    assert!(
        fra.ends_with("(with the users entering at ams, sin)"),
        "{fra}"
    );
    assert_eq!(
        skipped_reason(&plan, "ams"),
        (&Action::Deploy, "Region is in excluded_regions list")
    );
    assert_eq!(
        skipped_reason(&plan, "sin"),
        (&Action::Deploy, "Region is not in allowed_regions list")
    );
}

#[test]
fn always_running_regions_are_deployed_when_missing_and_never_removed() {
    let config = PlacerConfig {
        always_running_regions: set(&["fra", "syd"]),
        ..PlacerConfig::default()
    };
    let state = state_with(&config, &[("iad", 100.0), ("fra", 0.0)], 5);
    let plan = plan_for(&config, &state, &["iad", "fra"]);
    assert_eq!(actions(&plan), vec![("syd".into(), Action::Deploy)]);
    assert_eq!(
        skipped_reason(&plan, "fra"),
        (&Action::Remove, "Region is in always_running_regions list")
    );
}

#[test]
fn cooldown_blocks_any_action_on_a_recently_changed_region() {
    let config = PlacerConfig {
        cooldown_period: Duration::from_secs(600),
        ..PlacerConfig::default()
    };
    let mut state = state_with(&config, &[("iad", 100.0), ("fra", 0.0)], 5);
    // fra was deployed 100 s before the planning time: removing it now would flap.
    state.record_action(
        &r("fra"),
        crate::Move::Deploy,
        Timestamp::from_unix_seconds(T0 + 3500),
    );
    let plan = plan_for(&config, &state, &["iad", "fra"]);
    assert!(actions(&plan).is_empty());
    assert_eq!(
        skipped_reason(&plan, "fra"),
        (&Action::Remove, "Cooldown period (500 seconds remaining)")
    );
    // Removed a moment ago: no re-deploy either (the seed only guarded removal).
    let mut state = EngineState::default();
    state.record_action(
        &r("fra"),
        crate::Move::Remove,
        Timestamp::from_unix_seconds(T0 + 3590),
    );
    for i in 0..5 {
        let at = Timestamp::from_unix_seconds(T0 + 3591 + i);
        state.record(
            &TrafficSnapshot::new(at, [("iad", 100.0), ("fra", 100.0)]).unwrap(),
            &config,
        );
    }
    let plan = plan_for(&config, &state, &["iad"]);
    assert_eq!(
        skipped_reason(&plan, "fra"),
        (&Action::Deploy, "Cooldown period (590 seconds remaining)")
    );
}

#[test]
fn the_last_region_is_never_removed() {
    let config = PlacerConfig::default();
    let state = state_with(&config, &[("iad", 0.0), ("fra", 1.0)], 5);
    let plan = plan_for(&config, &state, &["iad", "fra"]);
    // Both are quiet; the quietest goes, the other stays as the last region.
    assert_eq!(actions(&plan), vec![("iad".into(), Action::Remove)]);
    assert_eq!(
        skipped_reason(&plan, "fra"),
        (&Action::Remove, "Region is the last deployed region")
    );
}

#[test]
fn min_regions_keeps_more_than_one() {
    let config = PlacerConfig {
        min_regions: 2,
        ..PlacerConfig::default()
    };
    let state = state_with(&config, &[("iad", 0.0), ("fra", 1.0), ("ams", 2.0)], 5);
    let plan = plan_for(&config, &state, &["iad", "fra", "ams"]);
    assert_eq!(actions(&plan), vec![("iad".into(), Action::Remove)]);
    assert!(skipped_reason(&plan, "fra").1.contains("min_regions (2)"));
}

#[test]
fn action_limit_keeps_the_busiest_deploys() {
    let config = PlacerConfig {
        max_actions_per_tick: 2,
        ..PlacerConfig::default()
    };
    let traffic = [
        ("iad", 20.0),
        ("fra", 300.0),
        ("ams", 100.0),
        ("sin", 200.0),
    ];
    let state = state_with(&config, &traffic, 5);
    let plan = plan_for(&config, &state, &["iad"]);
    assert_eq!(
        actions(&plan),
        vec![
            ("fra".into(), Action::Deploy),
            ("sin".into(), Action::Deploy)
        ]
    );
    assert_eq!(
        skipped_reason(&plan, "ams"),
        (
            &Action::Deploy,
            "Action limit reached (max_actions_per_tick: 2)"
        )
    );
}

#[test]
fn no_usable_metrics_suspends_removals() {
    let config = PlacerConfig::default();
    let state = state_with(&config, &[("iad", 100.0), ("fra", 0.0)], 5);
    let deployed = set(&["iad", "fra"]);
    let input = PlanInput {
        config: &config,
        state: &state,
        deployed: &deployed,
        pending: &BTreeSet::new(),
        now: Timestamp::from_unix_seconds(T0 + 3600),
        metrics_usable: false,
        platform: crate::network::platform::PlatformRegions::built_in(),
    };
    let plan = plan(&input, &ThresholdPolicy);
    assert!(plan.actions.is_empty());
    assert_eq!(
        skipped_reason(&plan, "fra"),
        (
            &Action::Remove,
            "No usable traffic metrics: removals are suspended"
        )
    );
}

#[test]
fn deployed_region_without_data_is_left_alone() {
    let config = PlacerConfig::default();
    let state = EngineState::default();
    let plan = plan_for(&config, &state, &["iad", "fra"]);
    assert!(plan.actions.is_empty());
    assert_eq!(
        skipped_reason(&plan, "fra"),
        (&Action::None, "No traffic data yet")
    );
}

#[test]
fn an_edge_region_is_never_deployed_and_its_home_is_named() {
    let config = PlacerConfig::default();
    // Too little for a machine of its own: mad's users stay with iad.
    let state = state_with(&config, &[("iad", 20.0), ("mad", 20.0)], 5);
    let plan = plan_for(&config, &state, &["iad"]);
    assert!(actions(&plan).is_empty(), "{plan:#?}");
    // cdg, mad's home, is in play with a decision of its own.
    assert!(plan.regions.contains_key(&r("cdg")));
    let (action, reason) = skipped_reason(&plan, "mad");
    assert_eq!(action, &Action::None);
    assert!(
        reason.starts_with("mad is an edge region: users entering at mad are served from iad (")
            && reason.ends_with("ms); they would be served best from cdg"),
        "{reason}"
    );
    assert_eq!(
        plan.skipped
            .iter()
            .find(|s| s.region.as_str() == "mad")
            .map(|s| s.reason.class()),
        Some("not_deployable")
    );

    // Busy: the home is deployed, with mad's users, and mad is not.
    let state = state_with(&config, &[("iad", 20.0), ("mad", 90.0)], 5);
    let plan = plan_for(&config, &state, &["iad"]);
    assert_eq!(actions(&plan), vec![("cdg".into(), Action::Deploy)]);
    let (action, reason) = skipped_reason(&plan, "mad");
    assert_eq!(action, &Action::None);
    assert!(
        reason.starts_with("mad is an edge region: users entering at mad are served from cdg ("),
        "{reason}"
    );
}

#[test]
fn a_custom_policy_cannot_deploy_an_edge_region_or_always_run_one() {
    struct Everywhere;
    impl PlacementPolicy for Everywhere {
        fn name(&self) -> PolicyName {
            PolicyName::new("everywhere")
        }
        fn propose(&self, view: &PlanningView<'_>, _: &mut PolicyMemory) -> Vec<Decision> {
            view.regions
                .keys()
                .map(|region| Decision::new(*region, Action::Deploy, Reason::NoData))
                .collect()
        }
    }
    let config = PlacerConfig {
        always_running_regions: set(&["gig"]),
        ..PlacerConfig::default()
    };
    let state = state_with(&config, &[("iad", 20.0), ("waw", 90.0)], 5);
    let deployed = set(&["iad"]);
    let input = PlanInput {
        config: &config,
        state: &state,
        deployed: &deployed,
        now: Timestamp::from_unix_seconds(T0 + 3600),
        metrics_usable: true,
        platform: crate::network::platform::PlatformRegions::built_in(),
        pending: &BTreeSet::new(),
    };
    let plan = plan(&input, &Everywhere);
    for action in &plan.actions {
        assert!(
            PlatformRegions::built_in().is_deployable(&action.region),
            "{plan:#?}"
        );
    }
    for edge in ["gig", "waw"] {
        let (action, reason) = skipped_reason(&plan, edge);
        assert_eq!(action, &Action::Deploy, "{edge}");
        assert!(
            reason.starts_with(&format!("{edge} is an edge region: ")),
            "{reason}"
        );
    }
}
