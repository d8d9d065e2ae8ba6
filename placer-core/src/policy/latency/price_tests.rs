//! The region price: per machine, spending a budget, and the legacy one.

use std::time::Duration;

use super::super::tests::{now, plan_at, with_latency};
use super::*;
use crate::test_support::state_with;
use crate::PlacerConfig;

const MINUTE: Duration = Duration::from_secs(60);

fn priced(settings: LatencySettings) -> PlacerConfig {
    with_latency(LatencySettings {
        persist_ticks: 1,
        ..settings
    })
}

fn price_in(plan: &crate::planner::Plan) -> PriceInForce {
    plan.memory
        .load::<LatencyMemory>()
        .price
        .expect("a price is kept")
}

#[test]
fn the_long_run_mean_weighs_by_time_and_ignores_a_clock_going_back() {
    let start = Timestamp::from_unix_seconds(0);
    let traffic = LongRunTraffic::start(start)
        .update(100.0, start + 3 * HOUR)
        .update(400.0, start + 4 * HOUR);
    assert!((traffic.mean() - 175.0).abs() < 1.0, "{traffic:?}");
    assert_eq!(traffic.update(9000.0, start + HOUR), traffic);
    // A two-day gap counts as one day.
    let after_gap = LongRunTraffic::start(start).update(50.0, start + 2 * DAY);
    assert_eq!(after_gap.seconds, DAY.as_secs_f64());
}

#[test]
fn a_per_machine_price_is_the_ms_times_the_long_run_traffic_and_stays_put_for_the_day() {
    let config = priced(LatencySettings {
        price_ms: Some(4.0),
        ..LatencySettings::default()
    });
    let busy = [("iad", 300.0), ("fra", 100.0)];
    let mut state = state_with(&config, &busy, 5);
    let mut memory = LatencyMemory {
        long_run: Some(LongRunTraffic {
            request_seconds: 200.0 * DAY.as_secs_f64(),
            seconds: DAY.as_secs_f64(),
            at: now() - MINUTE,
        }),
        ..LatencyMemory::default()
    };
    let mut prices = Vec::new();
    for minute in 0..3u32 {
        state.set_policy_memory(&crate::policy::PolicyName::LATENCY, {
            let mut stored = crate::policy::PolicyMemory::default();
            stored.store(&memory);
            stored
        });
        let plan = plan_at(&config, &state, &["iad"], now() + minute * MINUTE);
        memory = plan.memory.load();
        prices.push(price_in(&plan));
    }
    // A day of 200 requests, then minutes of 400: about 200.
    let first = &prices[0];
    assert!((first.region_price - 4.0 * 200.0).abs() < 10.0, "{first:?}");
    assert!(matches!(
        first.basis,
        PriceBasis::PerMachine { price_ms, .. } if price_ms == 4.0
    ));
    // Within the day, the price does not move with the traffic.
    assert!(prices.iter().all(|p| p == first), "{prices:#?}");
    // The next day it is set again.
    let tomorrow = MachineBudget::default().period_start(now()) + DAY + MINUTE;
    let mut stored = crate::policy::PolicyMemory::default();
    stored.store(&memory);
    state.set_policy_memory(&crate::policy::PolicyName::LATENCY, stored);
    let next = price_in(&plan_at(&config, &state, &["iad"], tomorrow));
    assert_eq!(next.since, tomorrow);
    assert_ne!(next.region_price, first.region_price);
}

#[test]
fn a_price_of_more_ms_per_machine_runs_fewer_regions() {
    let traffic = [("iad", 100.0), ("syd", 100.0), ("fra", 100.0)];
    let regions_at = |price_ms: f64| {
        let config = priced(LatencySettings {
            price_ms: Some(price_ms),
            urgent_improvement: 0.01,
            ..LatencySettings::default()
        });
        let state = state_with(&config, &traffic, 5);
        let plan = plan_at(&config, &state, &["iad"], now());
        plan.actions
            .iter()
            .filter(|a| a.action == crate::Action::Deploy)
            .count()
    };
    assert_eq!(regions_at(1.0), 2);
    assert_eq!(regions_at(1000.0), 0);
}

#[test]
fn a_spending_price_plans_to_spend_what_is_left_and_is_kept_for_an_hour() {
    // Three equal crowds far apart: two machines on average pay for two
    // of them.
    let config = priced(LatencySettings {
        target_machines: Some(2.0),
        urgent_improvement: 0.01,
        ..LatencySettings::default()
    });
    let traffic = [("iad", 100.0), ("syd", 100.0), ("fra", 100.0)];
    let state = state_with(&config, &traffic, 5);
    let plan = plan_at(&config, &state, &["iad"], now());
    let deploys: Vec<_> = plan
        .actions
        .iter()
        .filter(|a| a.action == crate::Action::Deploy)
        .collect();
    // What is left of the week pays for more than the one region that runs,
    // but not for every crowd's own region for the rest of the week.
    assert!((1..=2).contains(&deploys.len()), "{plan:#?}");
    let price = price_in(&plan);
    assert!(
        matches!(price.basis, PriceBasis::Spending { forecast: false, left_machine_hours, .. } if left_machine_hours > 0.0 && left_machine_hours <= 2.0 * 168.0),
        "{price:?}"
    );
    let mut later = state.clone();
    later.set_policy_memory(&plan.policy, plan.memory.clone());
    let kept = price_in(&plan_at(&config, &later, &["iad"], now() + 30 * MINUTE));
    assert_eq!(kept, price);
    let again = price_in(&plan_at(&config, &later, &["iad"], now() + 61 * MINUTE));
    assert_eq!(again.since, now() + 61 * MINUTE);
}

#[test]
fn a_target_of_machines_is_a_weekly_budget_without_a_ceiling() {
    let budget = target_budget(3.0);
    assert_eq!(budget.machine_hours, 3.0 * 168.0);
    assert_eq!(budget.period, WEEK);
    // 1970-01-05 was a Monday.
    let monday = budget.period_start(Timestamp::from_unix_seconds(20_454 * 24 * 3600));
    assert_eq!(monday.unix_seconds().div_euclid(86_400).rem_euclid(7), 4);
    let config = priced(LatencySettings {
        target_machines: Some(2.0),
        ..LatencySettings::default()
    });
    let settings: LatencySettings = config.policy_settings.get();
    assert!(settings.budget.is_none());
    assert_eq!(
        spending_budget(&settings).map(|b| b.machine_hours),
        Some(2.0 * 168.0)
    );
}

#[test]
fn the_legacy_price_is_not_kept_but_reported_from_the_usual_traffic() {
    let config = priced(LatencySettings::default());
    let state = state_with(&config, &[("iad", 300.0)], 5);
    let plan = plan_at(&config, &state, &["iad"], now());
    let memory: LatencyMemory = plan.memory.load();
    assert_eq!(memory.price, None);
    assert_eq!(memory.long_run, None);
    let price = usual_price(&config.policy_settings.get(), &memory).unwrap();
    assert_eq!(price.region_price, (5.0 * 300.0f64).max(1000.0));
    assert!(price.describe().contains("legacy"), "{}", price.describe());
}

#[test]
fn only_one_way_of_setting_the_price_is_accepted() {
    use crate::policy::SettingsSection;
    let both = LatencySettings {
        price_ms: Some(3.0),
        target_machines: Some(2.0),
        ..LatencySettings::default()
    };
    assert_eq!(
        both.validate().unwrap_err(),
        "target_machines cannot be set together with price_ms: keep one"
    );
    let negative = LatencySettings {
        price_ms: Some(-1.0),
        ..LatencySettings::default()
    };
    assert!(negative.validate().is_err());
}

#[test]
fn a_budget_is_a_ceiling_and_sets_no_price() {
    use crate::policy::SettingsSection;
    // The legacy price stays in force under a budget, and a fixed price
    // may be set beside one.
    let config = priced(LatencySettings {
        budget: Some(MachineBudget::new(48.0).with_starts(now())),
        ..LatencySettings::default()
    });
    let traffic = [("iad", 300.0), ("fra", 100.0)];
    let state = state_with(&config, &traffic, 5);
    let plan = plan_at(&config, &state, &["iad"], now());
    let memory: LatencyMemory = plan.memory.load();
    assert_eq!(memory.price, None);
    assert!(usual_price(&config.policy_settings.get(), &memory).is_some());
    let both = LatencySettings {
        budget: Some(MachineBudget::new(48.0)),
        price_ms: Some(3.0),
        ..LatencySettings::default()
    };
    assert_eq!(both.validate(), Ok(()));
}
