//! The latency policy with forecasts: ahead of a ramp, reactive without
//! history or with forecasting off.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::forecast::{ForecastSettings, ForecastStatus, NO_FORECAST};
use crate::policy::PolicyName;
use crate::{
    ActionOutcome, Move, Outcome, Placer, PlacerConfig, Region, Timestamp, TrafficSnapshot,
};

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);

/// Monday 2027-01-04 00:00 UTC.
fn monday() -> Timestamp {
    Timestamp::from_unix_seconds(1_799_020_800)
}

/// `iad` busy all day; `nrt` busy from 09:00 to 17:00 UTC on weekdays and
/// nearly quiet otherwise.
fn traffic(at: Timestamp) -> TrafficSnapshot {
    let secs = at.unix_seconds();
    let weekday = (secs.div_euclid(86_400) + 3).rem_euclid(7);
    let hour = secs.rem_euclid(86_400) / 3600;
    let nrt = if weekday < 5 && (9..17).contains(&hour) {
        300.0
    } else {
        3.0
    };
    TrafficSnapshot::new(at, [("iad", 200.0), ("nrt", nrt)]).unwrap()
}

fn config(method: &str) -> PlacerConfig {
    let mut config = PlacerConfig::default().with_policy(PolicyName::LATENCY);
    config.machine_startup = 3 * MINUTE;
    config.policy_settings.set(&ForecastSettings {
        method: method.to_owned(),
        ..ForecastSettings::default()
    });
    config
}

fn nrt() -> Region {
    "nrt".parse().unwrap()
}

/// Ticks every minute from `from` to `until`, carrying out each plan;
/// returns when `nrt` was deployed, and the reason given.
fn run(placer: &mut Placer, from: Timestamp, until: Timestamp) -> Option<(Timestamp, String)> {
    let mut deployed: BTreeSet<Region> = ["iad".parse().unwrap()].into();
    let mut now = from;
    while now <= until {
        placer.observe(&traffic(now));
        let plan = placer.decide(&deployed, now);
        let done: Vec<ActionOutcome> = plan
            .actions
            .iter()
            .map(|decision| ActionOutcome::new(decision.clone(), Outcome::Ok))
            .collect();
        for decision in &plan.actions {
            if decision.region == nrt() && decision.action == Move::Deploy {
                return Some((now, decision.reason.to_string()));
            }
            match decision.action {
                Move::Deploy => deployed.insert(decision.region),
                Move::Remove => deployed.remove(&decision.region),
            };
        }
        placer.commit(plan, done.into());
        now = now + MINUTE;
    }
    None
}

fn week_of_history() -> Vec<TrafficSnapshot> {
    (0..8 * 24 * 60)
        .map(|minute| traffic(monday() + MINUTE * minute))
        .collect()
}

#[test]
fn with_a_week_of_history_a_morning_ramp_gets_its_machine_before_it_starts() {
    let mut placer = Placer::new(config("seasonal")).unwrap();
    let summary = placer.warm_start(&week_of_history());
    assert!(summary.status.is_forecasting(), "{summary}");
    // Tuesday of the second week; nrt's office opens at 09:00.
    let tuesday = monday() + 8 * DAY;
    let (at, reason) =
        run(&mut placer, tuesday + 8 * HOUR, tuesday + 10 * HOUR).expect("nrt is deployed");
    // Serving (three minutes of start-up) by 09:00.
    assert!(at + 3 * MINUTE <= tuesday + 9 * HOUR, "deployed at {at}");
    assert!(
        reason.starts_with("Deployed ahead of its traffic: expected "),
        "{reason}"
    );
    assert!(reason.ends_with("UTC, as last Tuesday"), "{reason}");
}

#[test]
fn without_history_or_with_forecasting_off_the_policy_reacts_and_says_so() {
    let tuesday = monday() + 8 * DAY;
    for method in ["seasonal", NO_FORECAST] {
        let mut placer = Placer::new(config(method)).unwrap();
        if method == NO_FORECAST {
            let summary = placer.warm_start(&week_of_history());
            assert_eq!(summary.status, ForecastStatus::Off);
        }
        let (at, reason) = run(&mut placer, tuesday + 8 * HOUR, tuesday + 10 * HOUR)
            .expect("nrt is deployed once its traffic comes");
        assert!(at >= tuesday + 9 * HOUR, "{method}: deployed at {at}");
        assert!(reason.starts_with("Saves "), "{reason}");
    }
    let placer = Placer::new(config("seasonal")).unwrap();
    assert!(matches!(
        placer.forecast_status(),
        ForecastStatus::Learning { .. }
    ));
    assert!(placer
        .forecast_status()
        .to_string()
        .contains("reacting to observed traffic"));
}
