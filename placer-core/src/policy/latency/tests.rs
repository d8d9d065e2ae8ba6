use std::time::Duration;

use super::*;
use super::{LatencyMemory, LatencySettings};
use crate::planner::{plan, Plan, PlanInput};
use crate::policy::PolicyName;
use crate::policy::TrafficBaseline;
use crate::test_support::{r, state_with, T0};
use crate::{EngineState, PlacerConfig, Timestamp, TrafficSnapshot};

/// When the plans are made: two hours after the first recorded tick.
pub(super) fn now() -> Timestamp {
    Timestamp::from_unix_seconds(T0 + 7200)
}

pub(super) fn with_latency(latency: LatencySettings) -> PlacerConfig {
    let mut config = PlacerConfig {
        policy: PolicyName::LATENCY,
        ..PlacerConfig::default()
    };
    config.policy_settings.set(&latency);
    config
}

fn config() -> PlacerConfig {
    with_latency(LatencySettings {
        persist_ticks: 1,
        ..Default::default()
    })
}

/// Gains under a 90 % margin, never urgent, a ten-minute window: only the
/// patient path can act.
fn patient_config() -> PlacerConfig {
    with_latency(LatencySettings {
        improvement_margin: 0.9,
        urgent_improvement: 1.0,
        stabilization_window: Duration::from_secs(600),
        ..Default::default()
    })
}

fn plan_with(config: &PlacerConfig, state: &EngineState, deployed: &[&str]) -> Plan {
    plan_at(config, state, deployed, now())
}

pub(super) fn moves(plan: &Plan) -> Vec<String> {
    plan.actions
        .iter()
        .map(|a| format!("{} {}", a.action, a.region))
        .collect()
}

pub(super) fn reason(plan: &Plan, code: &str) -> String {
    plan.actions
        .iter()
        .find(|a| a.region.as_str() == code)
        .map(|a| a.reason.to_string())
        .or_else(|| {
            plan.skipped
                .iter()
                .find(|s| s.region.as_str() == code)
                .map(|s| s.reason.to_string())
        })
        .unwrap()
}

#[test]
fn serves_a_distant_continent_and_explains_the_saving() {
    let config = config();
    let traffic = [("iad", 100.0), ("gru", 60.0), ("eze", 10.0), ("scl", 5.0)];
    let state = state_with(&config, &traffic, 5);
    let plan = plan_with(&config, &state, &["iad"]);
    assert_eq!(moves(&plan), ["deploy gru"]);
    let why = reason(&plan, "gru");
    assert!(why.starts_with("Saves "), "{why}");
    assert!(why.contains("% of requests (gru, eze, scl)"), "{why}");
    // eze and scl are edge regions: their users are served from gru.
    let eze = reason(&plan, "eze");
    assert!(
        eze.starts_with("eze is an edge region: users entering at eze are served from gru ("),
        "{eze}"
    );
}

#[test]
fn removes_a_region_next_to_another_and_says_where_its_users_go() {
    let config = config();
    let traffic = [("fra", 200.0), ("ams", 20.0)];
    let state = state_with(&config, &traffic, 5);
    let plan = plan_with(&config, &state, &["fra", "ams"]);
    assert_eq!(moves(&plan), ["remove ams"]);
    assert_eq!(reason(&plan, "ams"), "Its users are 8 ms from fra");
    assert_eq!(reason(&plan, "fra"), "Serves 100.0 % of requests");
}

#[test]
fn thinly_split_traffic_on_one_continent_still_gets_a_region() {
    let config = config();
    // No European region is busy alone, together they are most of the traffic.
    let traffic = [
        ("iad", 40.0),
        ("ams", 30.0),
        ("cdg", 30.0),
        ("lhr", 30.0),
        ("fra", 30.0),
    ];
    let state = state_with(&config, &traffic, 5);
    let plan = plan_with(&config, &state, &["iad"]);
    assert_eq!(plan.actions.len(), 1, "{plan:#?}");
    assert_eq!(plan.actions[0].action, Action::Deploy);
}

#[test]
fn a_small_gain_must_persist_before_it_is_acted_on() {
    let config = with_latency(LatencySettings {
        persist_ticks: 3,
        urgent_improvement: 1.0,
        ..Default::default()
    });
    let traffic = [("iad", 100.0), ("gru", 60.0)];
    let mut state = state_with(&config, &traffic, 5);
    for tick in 1..=3 {
        let plan = plan_with(&config, &state, &["iad"]);
        if tick < 3 {
            assert!(plan.actions.is_empty(), "acted at tick {tick}");
            assert!(reason(&plan, "gru").contains(&format!("({tick} of 3 ticks)")));
        } else {
            assert_eq!(moves(&plan), ["deploy gru"]);
        }
        state.set_policy_memory(&plan.policy, plan.memory);
    }
}

#[test]
fn gains_under_the_margin_are_ignored() {
    let config = with_latency(LatencySettings {
        improvement_margin: 0.9,
        patient_margin: 0.9,
        urgent_improvement: 1.0,
        ..Default::default()
    });
    let state = state_with(&config, &[("iad", 100.0), ("gru", 60.0)], 5);
    let plan = plan_with(&config, &state, &["iad"]);
    assert!(plan.actions.is_empty());
    assert!(reason(&plan, "gru").contains("improvement_margin: 90.0 %"));
    assert_eq!(plan.memory.load::<LatencyMemory>().latency_streak, 0);
    assert_eq!(plan.memory.load::<LatencyMemory>().better_since, None);
}

pub(super) fn plan_at(
    config: &PlacerConfig,
    state: &EngineState,
    deployed: &[&str],
    now: Timestamp,
) -> Plan {
    let deployed: BTreeSet<Region> = deployed.iter().map(|c| r(c)).collect();
    let input = PlanInput {
        config,
        state,
        deployed: &deployed,
        pending: &BTreeSet::new(),
        now,
        metrics_usable: true,
        platform: crate::network::platform::PlatformRegions::built_in(),
    };
    plan(
        &input,
        &LatencyPolicy::new(Arc::new(LatencyModel::distance())),
    )
}

#[test]
fn a_small_gain_is_made_once_it_has_lasted_the_stabilization_window() {
    let config = patient_config();
    let mut state = state_with(&config, &[("iad", 100.0), ("gru", 60.0)], 5);
    let start = now();
    for minute in 0..=10u64 {
        let plan = plan_at(
            &config,
            &state,
            &["iad"],
            start + Duration::from_secs(60 * minute),
        );
        if minute < 10 {
            assert!(plan.actions.is_empty(), "acted after {minute} minutes");
            let why = reason(&plan, "gru");
            let so_far = format!("once it has lasted 600 seconds ({} so far)", 60 * minute);
            assert!(why.contains(&so_far), "{why}");
        } else {
            assert_eq!(moves(&plan), ["deploy gru"]);
        }
        state.set_policy_memory(&plan.policy, plan.memory);
    }
}

#[test]
fn a_small_gain_that_lapses_starts_its_wait_again() {
    let config = patient_config();
    let state = state_with(&config, &[("iad", 100.0), ("gru", 60.0)], 5);
    let start = now();
    let waiting = plan_at(&config, &state, &["iad"], start);
    assert!(waiting
        .memory
        .load::<LatencyMemory>()
        .better_since
        .is_some());
    // gru's users are served where they are: nothing better to wait for.
    let settled = plan_at(
        &config,
        &state,
        &["iad", "gru"],
        start + Duration::from_secs(60),
    );
    assert_eq!(settled.memory.load::<LatencyMemory>().better_since, None);
}

#[test]
fn a_gap_in_observation_restarts_the_patient_wait() {
    let config = patient_config();
    let mut state = state_with(&config, &[("iad", 100.0), ("gru", 60.0)], 5);
    let start = now();
    let first = plan_at(&config, &state, &["iad"], start);
    assert_eq!(
        first.memory.load::<LatencyMemory>().better_since,
        Some(start)
    );
    state.set_policy_memory(&first.policy, first.memory);
    // An hour later, with nothing observed in between: no move yet.
    let later = start + Duration::from_secs(3600);
    let plan = plan_at(&config, &state, &["iad"], later);
    assert!(plan.actions.is_empty(), "{plan:#?}");
    assert_eq!(
        plan.memory.load::<LatencyMemory>().better_since,
        Some(later)
    );
}

#[test]
fn a_move_never_counts_on_a_region_the_stabilization_window_holds_back() {
    let config = config();
    // ord is where the users are, but it was removed ten minutes ago.
    let traffic = [("ord", 300.0), ("iad", 10.0), ("sjc", 10.0)];
    let mut state = state_with(&config, &traffic, 5);
    let now = now();
    state.record_action(
        &r("ord"),
        crate::Move::Remove,
        now - Duration::from_secs(600),
    );
    let plan = plan_with(&config, &state, &["iad", "sjc"]);
    assert!(reason(&plan, "ord").contains("stabilization window"));
    // Without ord, iad is the region nearest its users: it must stay.
    assert_eq!(moves(&plan), ["remove sjc"], "{plan:#?}");
}

#[test]
fn a_crowd_in_one_region_does_not_price_out_the_others() {
    let config = with_latency(LatencySettings {
        region_cost_ms: 20.0,
        persist_ticks: 1,
        ..Default::default()
    });
    // Hours of iad traffic, then a crowd at arn six times its size.
    let mut state = state_with(&config, &[("iad", 100.0), ("arn", 0.0)], 5);
    let now = now();
    let mut memory = state.policy_memory(&PolicyName::LATENCY);
    let mut latency: LatencyMemory = memory.load();
    latency.traffic_baseline = Some(TrafficBaseline::start(100.0, now - Duration::from_secs(60)));
    memory.store(&latency);
    state.set_policy_memory(&PolicyName::LATENCY, memory);
    for _ in 0..5 {
        state.record(
            &TrafficSnapshot::new(now, [("iad", 100.0), ("arn", 600.0)]).unwrap(),
            &config,
        );
    }
    let plan = plan_at(&config, &state, &["iad"], now);
    assert_eq!(moves(&plan), ["deploy arn"], "{plan:#?}");

    // Priced against the crowd itself, iad's users are not worth a region.
    let mut spiky = config.clone();
    spiky.policy_settings.set(&LatencySettings {
        baseline_half_life: Duration::ZERO,
        ..config.policy_settings.get()
    });
    let plan = plan_at(&spiky, &state, &["iad"], now);
    assert_eq!(moves(&plan), ["deploy arn", "remove iad"], "{plan:#?}");
}

#[test]
fn a_sudden_rise_counts_in_full_at_once() {
    let config = with_latency(LatencySettings {
        persist_ticks: 5,
        urgent_improvement: 0.8,
        ..Default::default()
    });
    let mut state = state_with(&config, &[("iad", 100.0), ("syd", 0.0)], 5);
    let now = now();
    state.record(
        &TrafficSnapshot::new(now, [("iad", 100.0), ("syd", 60.0)]).unwrap(),
        &config,
    );
    // The short-term average has seen under a third of the jump; counted in
    // full, the gain is urgent on the first tick.
    let plan = plan_at(&config, &state, &["iad"], now);
    assert!(plan.regions[&r("syd")].current < 20.0);
    assert_eq!(moves(&plan), ["deploy syd"], "{plan:#?}");
}

#[test]
fn a_deployed_region_stays_while_its_traffic_fades() {
    let config = config();
    // ord is next to iad: only a crowd there is worth its own region.
    let mut state = state_with(&config, &[("iad", 100.0), ("ord", 200.0)], 20);
    let now = now();
    for _ in 0..8 {
        state.record(
            &TrafficSnapshot::new(now, [("iad", 100.0), ("ord", 3.0)]).unwrap(),
            &config,
        );
    }
    // Its short-term average is down to a few requests; the long-term one
    // still remembers the crowd.
    let plan = plan_at(&config, &state, &["iad", "ord"], now);
    assert!(plan.regions[&r("ord")].current < 20.0);
    assert!(plan.actions.is_empty(), "{plan:#?}");
}

#[test]
fn a_recent_move_is_not_undone_inside_the_stabilization_window() {
    let config = config();
    let mut state = state_with(&config, &[("fra", 200.0), ("ams", 20.0)], 5);
    let ten_minutes_ago = now() - Duration::from_secs(600);
    state.record_action(&r("ams"), crate::Move::Deploy, ten_minutes_ago);
    let plan = plan_with(&config, &state, &["fra", "ams"]);
    assert!(plan.actions.is_empty());
    assert!(reason(&plan, "ams").contains("stabilization window (1200 seconds remaining)"));
}

#[test]
fn no_traffic_means_no_moves() {
    let config = config();
    let state = state_with(&config, &[("fra", 0.0)], 5);
    let plan = plan_with(&config, &state, &["fra", "ams"]);
    assert!(plan.actions.is_empty());
    assert_eq!(reason(&plan, "ams"), "No traffic to place machines by");
}

#[test]
fn max_regions_caps_the_set() {
    let config = PlacerConfig {
        policy: PolicyName::LATENCY,
        max_regions: Some(1),
        ..PlacerConfig::default()
    };
    let traffic = [("iad", 100.0), ("syd", 100.0), ("fra", 100.0)];
    let state = state_with(&config, &traffic, 5);
    let plan = plan_with(&config, &state, &["iad"]);
    assert!(plan.actions.iter().all(|a| a.action != Action::Deploy) || plan.actions.len() == 2);
    let after = plan.actions.iter().fold(1i32, |n, a| {
        if a.action == Action::Deploy {
            n + 1
        } else {
            n - 1
        }
    });
    assert_eq!(after, 1);
}

#[test]
fn a_region_the_backend_cannot_deploy_sits_out_and_its_users_are_served_from_the_next_best() {
    let config = config();
    let traffic = [("iad", 100.0), ("lhr", 60.0), ("cdg", 10.0), ("ams", 5.0)];
    let mut state = state_with(&config, &traffic, 5);
    let refused_at = now() - Duration::from_secs(60);
    state.record_refusal(
        &r("lhr"),
        crate::Move::Deploy,
        "HTTP 422: no capacity",
        refused_at,
    );
    let plan = plan_with(&config, &state, &["iad"]);
    let deployed = moves(&plan);
    assert_eq!(deployed.len(), 1, "{plan:#?}");
    let next_best = deployed[0].strip_prefix("deploy ").unwrap();
    assert!(["cdg", "ams"].contains(&next_best), "{deployed:?}");
    let why = reason(&plan, "lhr");
    assert!(
        why.starts_with(&format!("Region unavailable since {refused_at} (HTTP 422: no capacity); its users are served from {next_best}")),
        "{why}"
    );
}

/// Requests spread evenly over four continents, `scale` per region.
fn spread(scale: f64) -> [(&'static str, f64); 4] {
    [
        ("iad", scale),
        ("fra", scale),
        ("syd", scale),
        ("nrt", scale),
    ]
}

fn regions_after(config: &PlacerConfig, traffic: &[(&str, f64)]) -> usize {
    let state = state_with(config, traffic, 5);
    let plan = plan_with(config, &state, &["iad"]);
    let change = |action: Action| plan.actions.iter().filter(|a| a.action == action).count();
    1 + change(Action::Deploy) - change(Action::Remove)
}

#[test]
fn machine_count_follows_volume_with_the_absolute_floor() {
    let relative = with_latency(LatencySettings {
        persist_ticks: 1,
        min_region_saving: 0.0,
        ..Default::default()
    });
    let floored = with_latency(LatencySettings {
        persist_ticks: 1,
        ..Default::default()
    });
    // The relative price alone is scale-free: a trickle buys as many
    // regions as a peak of the same shape.
    assert_eq!(
        regions_after(&relative, &spread(2.0)),
        regions_after(&relative, &spread(200.0))
    );
    assert!(regions_after(&relative, &spread(2.0)) > 1);
    // With the floor (1000 request·ms by default), the trickle is not worth
    // another machine; the peak is.
    assert_eq!(regions_after(&floored, &spread(2.0)), 1);
    assert_eq!(
        regions_after(&floored, &spread(200.0)),
        regions_after(&relative, &spread(200.0))
    );
}

#[test]
fn a_negative_or_endless_floor_is_refused() {
    for floor in [-1.0, f64::INFINITY, f64::NAN] {
        let settings = LatencySettings {
            min_region_saving: floor,
            ..Default::default()
        };
        let err = crate::policy::SettingsSection::validate(&settings).unwrap_err();
        assert!(err.contains("min_region_saving"), "{err}");
    }
}

/// Traffic gone from iad to Europe: lhr takes over iad's few users.
const MOVED_TO_LHR: [(&str, f64); 2] = [("lhr", 300.0), ("iad", 2.0)];

#[test]
fn with_a_start_up_time_a_region_stays_until_its_successor_has_started() {
    let instant = config();
    let state = state_with(&instant, &MOVED_TO_LHR, 5);
    let plan = plan_with(&instant, &state, &["iad"]);
    assert_eq!(moves(&plan), ["deploy lhr", "remove iad"], "{plan:#?}");

    let mut config = config();
    config.machine_startup = Duration::from_secs(180);
    let mut state = state_with(&config, &MOVED_TO_LHR, 5);
    let start = now();
    let plan = plan_at(&config, &state, &["iad"], start);
    assert_eq!(moves(&plan), ["deploy lhr"], "{plan:#?}");
    assert_eq!(
        reason(&plan, "iad"),
        "To be removed once lhr, which takes over its users, has started (180 seconds remaining)"
    );
    state.record_action(&r("lhr"), crate::Move::Deploy, start);
    state.set_policy_memory(&PolicyName::LATENCY, plan.memory.clone());

    let minute = Duration::from_secs(60);
    let plan = plan_at(&config, &state, &["iad", "lhr"], start + minute);
    assert!(plan.actions.is_empty(), "{plan:#?}");
    assert!(reason(&plan, "iad").ends_with("(120 seconds remaining)"));
    state.set_policy_memory(&PolicyName::LATENCY, plan.memory.clone());

    let plan = plan_at(&config, &state, &["iad", "lhr"], start + 3 * minute);
    assert_eq!(moves(&plan), ["remove iad"], "{plan:#?}");
}

#[test]
fn a_removal_waits_for_no_one_when_its_users_go_to_a_running_region() {
    let mut config = config();
    config.machine_startup = Duration::from_secs(180);
    let mut state = state_with(&config, &MOVED_TO_LHR, 5);
    // lhr was deployed long ago and serves already.
    state.record_action(
        &r("lhr"),
        crate::Move::Deploy,
        now() - Duration::from_secs(7200),
    );
    let plan = plan_with(&config, &state, &["iad", "lhr"]);
    assert_eq!(moves(&plan), ["remove iad"], "{plan:#?}");
}

#[test]
fn a_removal_waiting_for_start_up_does_not_keep_the_policy_moving() {
    // Deciding and waiting are one move: while iad waits, a plan that only
    // differs by iad is no change to make (no streak builds up).
    let mut config = with_latency(LatencySettings {
        persist_ticks: 3,
        ..Default::default()
    });
    config.machine_startup = Duration::from_secs(180);
    let mut state = state_with(&config, &MOVED_TO_LHR, 5);
    let start = now();
    let plan = plan_at(&config, &state, &["iad"], start);
    assert_eq!(moves(&plan), ["deploy lhr"], "{plan:#?}");
    state.record_action(&r("lhr"), crate::Move::Deploy, start);
    state.set_policy_memory(&PolicyName::LATENCY, plan.memory.clone());
    let plan = plan_at(
        &config,
        &state,
        &["iad", "lhr"],
        start + Duration::from_secs(60),
    );
    let memory: LatencyMemory = plan.memory.load();
    assert_eq!(memory.latency_streak, 0);
    assert_eq!(memory.awaiting_startup, BTreeSet::from([r("iad")]));
}
