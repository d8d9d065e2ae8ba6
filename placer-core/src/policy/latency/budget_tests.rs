//! The latency policy under a machine budget (`latency.budget`).

use std::time::Duration;

use super::tests::{moves, now, plan_at, reason, with_latency};
use super::{LatencyMemory, LatencySettings, MachineBudget};
use crate::test_support::{r, state_with};
use crate::{Action, Move, PlacerConfig};

const MINUTE: Duration = Duration::from_secs(60);

/// The latency policy acting on the first tick, with a daily budget of
/// `machine_hours` whose period starts at [`now`].
fn budgeted(machine_hours: f64) -> PlacerConfig {
    with_latency(LatencySettings {
        persist_ticks: 1,
        budget: Some(MachineBudget {
            machine_hours,
            starts: now(),
            ..MachineBudget::default()
        }),
        ..LatencySettings::default()
    })
}

fn unbudgeted() -> PlacerConfig {
    let mut config = budgeted(1.0);
    config.policy_settings.set(&LatencySettings {
        budget: None,
        ..config.policy_settings.get()
    });
    config
}

#[test]
fn the_budget_caps_the_regions_planned() {
    let traffic = [("iad", 100.0), ("syd", 100.0), ("fra", 100.0)];
    let state = state_with(&unbudgeted(), &traffic, 5);
    let free = plan_at(&unbudgeted(), &state, &["iad"], now());
    assert!(moves(&free).contains(&"deploy syd".to_owned()), "{free:#?}");
    // One machine-day pays for one region: nothing is added.
    let plan = plan_at(&budgeted(24.0), &state, &["iad"], now());
    assert!(
        plan.actions.iter().all(|a| a.action != Action::Deploy),
        "{plan:#?}"
    );
    assert!(plan.memory.load::<LatencyMemory>().machine_time.is_some());
}

#[test]
fn until_the_budget_pays_for_the_better_set_it_only_moves_towards_it() {
    // The users are in Sydney, Tokyo and Singapore; the one machine is in
    // iad. The best single region is sin, the best pair syd and nrt. Two
    // regions all day are six minutes more than 47.9 machine-hours.
    let config = budgeted(47.9);
    let traffic = [("syd", 100.0), ("nrt", 100.0), ("sin", 100.0), ("iad", 5.0)];
    let mut state = state_with(&config, &traffic, 5);
    let mut deployed = vec!["iad".to_owned()];
    for minute in 0..=6u32 {
        let at = now() + minute * MINUTE;
        let codes: Vec<&str> = deployed.iter().map(String::as_str).collect();
        let plan = plan_at(&config, &state, &codes, at);
        for action in &plan.actions {
            // The single machine goes to one of the pair, not to sin where
            // the window would then hold it.
            assert!(
                ["syd", "nrt", "iad"].contains(&action.region.as_str()),
                "{plan:#?}"
            );
            state.record_action(&action.region, action.action, at);
            match action.action {
                Move::Deploy => deployed.push(action.region.to_string()),
                _ => deployed.retain(|code| code != action.region.as_str()),
            }
        }
        assert_eq!(
            deployed.len(),
            if minute < 6 { 1 } else { 2 },
            "minute {minute}"
        );
        if minute < 6 {
            let waiting = if deployed == ["syd"] { "nrt" } else { "syd" };
            let left = 360 - 60 * minute;
            assert_eq!(
                reason(&plan, waiting),
                format!("Wanted, but the machine budget pays for 2 regions only in {left} seconds")
            );
        }
        state.set_policy_memory(&plan.policy, plan.memory);
    }
    deployed.sort();
    assert_eq!(deployed, ["nrt", "syd"]);
}

#[test]
fn over_budget_it_cuts_back_at_once_and_says_why() {
    let traffic = [
        ("iad", 100.0),
        ("fra", 100.0),
        ("syd", 100.0),
        ("gru", 50.0),
    ];
    let config = budgeted(24.0);
    let state = state_with(&config, &traffic, 5);
    let plan = plan_at(&config, &state, &["iad", "fra", "syd"], now());
    let cut: Vec<_> = plan
        .actions
        .iter()
        .filter(|a| a.action == Action::Remove)
        .collect();
    assert_eq!(cut.len(), 2, "{plan:#?}");
    assert!(
        plan.actions.iter().all(|a| a.action == Action::Remove),
        "{plan:#?}"
    );
    for action in cut {
        assert_eq!(
            action.reason.to_string(),
            "The machine budget left in this period pays for only 1 region until it ends"
        );
    }
}

#[test]
fn a_change_larger_than_one_tick_never_runs_more_regions_than_the_budget_pays_for() {
    // Two regions' worth a day; the users moved from iad and fra to
    // Sydney and Tokyo. At most three actions a tick, deploys first: both
    // deploys now would leave three regions running.
    let config = budgeted(48.0);
    let traffic = [("syd", 200.0), ("nrt", 100.0), ("iad", 1.0), ("fra", 1.0)];
    let state = state_with(&config, &traffic, 5);
    let plan = plan_at(&config, &state, &["iad", "fra"], now());
    let mut done = moves(&plan);
    done.sort();
    assert_eq!(
        done,
        ["deploy syd", "remove fra", "remove iad"],
        "{plan:#?}"
    );
    assert_eq!(
        reason(&plan, "nrt"),
        "The machine budget left in this period pays for only 2 regions until it ends"
    );
    let next = plan_at(&config, &state, &["syd"], now() + MINUTE);
    assert_eq!(moves(&next), ["deploy nrt"], "{next:#?}");
}

#[test]
fn a_region_the_budget_took_away_comes_back_once_it_is_paid_for() {
    let config = budgeted(47.9);
    let traffic = [("iad", 100.0), ("syd", 60.0)];
    let mut state = state_with(&config, &traffic, 5);
    let cut = plan_at(&config, &state, &["iad", "syd"], now());
    assert_eq!(moves(&cut), ["remove syd"], "{cut:#?}");
    assert!(cut
        .memory
        .load::<LatencyMemory>()
        .budget_removed
        .contains(&r("syd")));
    state.record_action(&r("syd"), crate::Move::Remove, now());
    state.set_policy_memory(&cut.policy, cut.memory);
    for minute in 1..=6u32 {
        let plan = plan_at(&config, &state, &["iad"], now() + minute * MINUTE);
        if minute < 6 {
            assert!(plan.actions.is_empty(), "minute {minute}: {plan:#?}");
        } else {
            // Six minutes after it went, well inside the stabilization window.
            assert_eq!(moves(&plan), ["deploy syd"], "{plan:#?}");
        }
        state.set_policy_memory(&plan.policy, plan.memory);
    }
}

#[test]
fn state_files_from_before_the_budget_still_load() {
    let memory: LatencyMemory =
        serde_json::from_str(r#"{"latency_streak": 2, "better_since": null}"#).unwrap();
    assert_eq!(memory.latency_streak, 2);
    assert_eq!(memory.machine_time, None);
    assert!(memory.budget_removed.is_empty());
}

#[test]
fn the_summary_says_when_the_budgets_period_ends_once_spending_is_counted() {
    use crate::policy::PlacementPolicy;
    let config = budgeted(24.0);
    let policy =
        super::LatencyPolicy::new(std::sync::Arc::new(crate::network::LatencyModel::distance()));
    let before = policy.summary(&config, &crate::policy::PolicyMemory::default());
    assert_eq!(before.budget.unwrap().period_end, None);
    let state = state_with(&config, &[("iad", 100.0)], 5);
    let plan = plan_at(&config, &state, &["iad"], now() + MINUTE);
    let summary = policy.summary(&config, &plan.memory);
    let budget = summary.budget.unwrap();
    // The daily period started at `now`.
    assert_eq!(budget.period_end, Some(now() + 24 * 60 * MINUTE));
    assert_eq!(budget.machine_hours, 24.0);
}
