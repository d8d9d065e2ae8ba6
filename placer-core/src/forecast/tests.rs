//! The forecaster in the engine state: learning, size, persistence.

use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::policy::PolicyName;
use crate::{network::geo, EngineState, Placer, PlacerConfig, Region, Timestamp, TrafficSnapshot};

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);

/// Monday 2027-01-04 00:00 UTC.
fn monday() -> Timestamp {
    Timestamp::from_unix_seconds(1_799_020_800)
}

/// Office traffic in `region`: `peak` from 09:00 to 17:00 UTC on weekdays,
/// a trickle otherwise.
fn office(at: Timestamp, peak: f64) -> f64 {
    let secs = at.unix_seconds();
    let weekday = (secs.div_euclid(86_400) + 3).rem_euclid(7);
    let hour = secs.rem_euclid(86_400) / 3600;
    if weekday < 5 && (9..17).contains(&hour) {
        peak
    } else {
        peak * 0.03
    }
}

fn fra() -> Region {
    "fra".parse().unwrap()
}

fn learn_weeks(forecaster: &mut SeasonalForecaster, days: u64) {
    for minute in 0..days * 24 * 60 {
        let at = monday() + MINUTE * minute as u32;
        let snapshot = TrafficSnapshot::new(at, [("fra", office(at, 300.0))]).unwrap();
        assert!(forecaster.learn(&snapshot));
    }
}

#[test]
fn after_a_week_a_weekday_morning_is_forecast_from_the_same_weekday() {
    let mut forecaster = SeasonalForecaster::new(HOUR);
    learn_weeks(&mut forecaster, 8);
    // Tuesday of the second week, 08:00–09:30.
    let tuesday = monday() + 8 * DAY;
    let forecast = forecaster
        .peak(&fra(), tuesday + 8 * HOUR, tuesday + 9 * HOUR + 30 * MINUTE)
        .unwrap();
    assert!((forecast.expected - 300.0).abs() < 3.0, "{forecast:?}");
    assert_eq!(forecast.basis, ForecastBasis::SameHourOfWeek { weeks: 1 });
    assert!(forecast.low <= forecast.expected && forecast.expected <= forecast.high);
    assert!(forecast.trust > 0.9, "{forecast:?}");
    assert_eq!(
        forecast.to_string(),
        "expected 300 requests from 09:30 UTC, as last Tuesday"
    );
    // The first Saturday was a weekday shape; the second one is known quiet.
    let saturday = monday() + 12 * DAY;
    let forecast = forecaster
        .peak(&fra(), saturday + 9 * HOUR, saturday + 12 * HOUR)
        .unwrap();
    assert!(forecast.expected < 20.0, "{forecast:?}");
}

#[test]
fn a_forecast_that_keeps_being_wrong_loses_trust() {
    let mut forecaster = SeasonalForecaster::new(HOUR);
    learn_weeks(&mut forecaster, 14);
    let start = monday() + 14 * DAY;
    let trusted = forecaster.peak(&fra(), start, start + HOUR).unwrap().trust;
    assert!(trusted > 0.9, "{trusted}");
    // The office closes for good: flat traffic for half a day.
    for minute in 0..12 * 60 {
        let at = start + MINUTE * minute;
        forecaster.learn(&TrafficSnapshot::new(at, [("fra", 150.0)]).unwrap());
    }
    let later = start + 12 * HOUR;
    let forecast = forecaster.peak(&fra(), later, later + HOUR).unwrap();
    assert_eq!(forecast.trust, 0.0, "{forecast:?}");
}

#[test]
fn observations_out_of_order_are_not_learnt() {
    let mut forecaster = SeasonalForecaster::new(HOUR);
    let at = monday() + HOUR;
    assert!(forecaster.learn(&TrafficSnapshot::new(at, [("fra", 5.0)]).unwrap()));
    assert!(!forecaster.learn(&TrafficSnapshot::new(at, [("fra", 9.0)]).unwrap()));
    assert!(!forecaster.learn(&TrafficSnapshot::new(monday(), [("fra", 9.0)]).unwrap()));
    assert_eq!(forecaster.last_learned(), Some(at));
}

/// Every catalogued region, up to 35 of them.
fn regions() -> Vec<Region> {
    geo::catalog()
        .iter()
        .map(|info| info.code)
        .take(35)
        .collect()
}

#[test]
fn a_week_of_traffic_in_35_regions_keeps_the_whole_engine_state_within_64_kib() {
    let regions = regions();
    assert_eq!(regions.len(), 35);
    let config = PlacerConfig::default().with_policy(PolicyName::LATENCY);
    let mut placer = Placer::new(config).unwrap();
    let mut deployed: std::collections::BTreeSet<Region> = [regions[0]].into();
    let week = 7 * 24 * 60 + 30;
    for minute in 0..week {
        let at = monday() + MINUTE * minute;
        // Every region busy at its own hours, with uneven values so the
        // history holds long decimals.
        let counts = regions.iter().enumerate().map(|(index, region)| {
            let shifted = at + HOUR * (index as u32 % 24);
            let noise = ((minute * 7919 + index as u32 * 104_729) % 1000) as f64 / 3000.0;
            (
                region.as_str(),
                office(shifted, 20.0 + 9.7 * index as f64) * (1.0 + noise),
            )
        });
        let snapshot = TrafficSnapshot::new(at, counts).unwrap();
        placer.observe(&snapshot);
        // Planning every tick costs a week of solves; the policy's memory is
        // as large after a day of them as after a week.
        if minute + 24 * 60 >= week {
            let plan = placer.decide(&deployed, at);
            let done: Vec<_> = plan
                .actions
                .iter()
                .map(|decision| crate::ActionOutcome::new(decision.clone(), crate::Outcome::Ok))
                .collect();
            for decision in &plan.actions {
                match decision.action {
                    crate::Move::Deploy => deployed.insert(decision.region),
                    crate::Move::Remove => deployed.remove(&decision.region),
                };
            }
            placer.commit(plan, done.into());
        }
    }
    assert!(placer.forecast_status().is_forecasting());
    let json = placer.state().to_json();
    println!(
        "engine state after a week in 35 regions: {} bytes",
        json.len()
    );
    assert!(
        json.len() <= 64 * 1024,
        "engine state is {} bytes, more than 64 KiB",
        json.len()
    );
    let restored = EngineState::from_json(&json).unwrap();
    let config = placer.config().clone();
    let again = Placer::with_state(config, restored).unwrap();
    assert_eq!(again.state().to_json(), json);
    assert!(again.forecast_status().is_forecasting());
}

/// The default config with the latency policy, which plans with forecasts.
fn latency_config() -> PlacerConfig {
    PlacerConfig::default().with_policy(PolicyName::LATENCY)
}

#[test]
fn a_policy_that_does_not_plan_with_forecasts_keeps_no_forecaster() {
    // The threshold policy (the default) over a week of traffic in every
    // region: no forecaster is kept, so its state stays small.
    let regions: Vec<Region> = geo::catalog().iter().map(|info| info.code).collect();
    let mut placer = Placer::new(PlacerConfig::default()).unwrap();
    let week = 7 * 24 * 60;
    let history: Vec<TrafficSnapshot> = (0..week)
        .step_by(5)
        .map(|minute| {
            let counts = regions.iter().map(|region| (region.as_str(), 50.0));
            TrafficSnapshot::new(monday() + MINUTE * minute, counts).unwrap()
        })
        .collect();
    let summary = placer.warm_start(&history);
    assert_eq!(summary.used, 0);
    assert_eq!(summary.status, ForecastStatus::Unused);
    assert!(
        summary.to_string().contains("observed traffic only"),
        "{summary}"
    );
    for snapshot in history.iter().rev().take(60).rev() {
        placer.observe(
            &TrafficSnapshot::new(
                snapshot.at() + 7 * 24 * 60 * MINUTE,
                snapshot.iter().map(|(r, v)| (r.as_str(), v)),
            )
            .unwrap(),
        );
    }
    assert!(placer.state().forecast().forecaster().is_none());
    let json = placer.state().to_json();
    assert!(json.len() <= 16 * 1024, "{} bytes", json.len());

    // Switched to the latency policy, the engine starts learning.
    placer.set_config(latency_config()).unwrap();
    assert!(matches!(
        placer.forecast_status(),
        ForecastStatus::Learning { .. }
    ));
    // Its new forecaster has learnt nothing, so past traffic is news to it.
    assert_eq!(placer.warm_start(&history).used, history.len());
    let later = history.last().unwrap().at() + 8 * 24 * 60 * MINUTE;
    placer.observe(&TrafficSnapshot::new(later, [("fra", 9.0)]).unwrap());
    assert!(placer.state().forecast().forecaster().is_some());
}

fn saved_state_json(version: u32, bucket_secs: u64) -> String {
    let mut config = latency_config();
    config.policy_settings.set(&ForecastSettings {
        bucket: Duration::from_secs(bucket_secs),
        ..ForecastSettings::default()
    });
    let mut placer = Placer::new(config).unwrap();
    for minute in 0..90 {
        let at = monday() + MINUTE * minute;
        placer.observe(&TrafficSnapshot::new(at, [("fra", 40.0)]).unwrap());
    }
    let mut value: serde_json::Value = serde_json::from_str(&placer.state().to_json()).unwrap();
    value["forecast"]["version"] = version.into();
    value.to_string()
}

#[test]
fn a_saved_forecaster_of_another_version_or_bucket_starts_afresh() {
    let config = latency_config();
    let learned = |json: &str| {
        let state = EngineState::from_json(json).unwrap();
        let placer = Placer::with_state(config.clone(), state).unwrap();
        let forecaster = placer.state().forecast().forecaster().unwrap();
        (forecaster.learned(), placer.state().last_observation())
    };
    let (kept, _) = learned(&saved_state_json(1, 3600));
    assert_eq!(kept, 89 * MINUTE);
    // Another version, or buckets of two hours: the rest of the state is
    // restored, the forecaster starts afresh.
    for json in [saved_state_json(99, 3600), saved_state_json(1, 7200)] {
        let (learned, last) = learned(&json);
        assert_eq!(learned, Duration::ZERO);
        assert!(last.is_some());
    }
    let mut garbled: serde_json::Value = serde_json::from_str(&saved_state_json(1, 3600)).unwrap();
    garbled["forecast"]["model"]["regions"]["fra"]["week"] = "%%%".into();
    assert_eq!(learned(&garbled.to_string()).0, Duration::ZERO);
    garbled["forecast"] = "something else".into();
    assert_eq!(learned(&garbled.to_string()).0, Duration::ZERO);
}

#[test]
fn forecasting_can_be_switched_off() {
    let mut config = latency_config();
    config.policy_settings.set(&ForecastSettings {
        method: NO_FORECAST.to_owned(),
        ..ForecastSettings::default()
    });
    let mut placer = Placer::new(config).unwrap();
    let history: Vec<_> = (0..2 * 24 * 60)
        .map(|minute| TrafficSnapshot::new(monday() + MINUTE * minute, [("fra", 9.0)]).unwrap())
        .collect();
    let summary = placer.warm_start(&history);
    assert_eq!(summary.used, 0);
    assert_eq!(summary.status, ForecastStatus::Off);
    assert!(!placer.state().to_json().contains("forecast"));
    assert!(
        summary.to_string().contains("forecasting is off"),
        "{summary}"
    );
}

#[test]
fn warm_start_skips_what_was_learnt_and_touches_nothing_else() {
    let mut placer = Placer::new(latency_config()).unwrap();
    let at = |minute: u32| monday() + MINUTE * minute;
    placer.observe(&TrafficSnapshot::new(at(100), [("fra", 9.0)]).unwrap());
    let before = placer.state().region(&fra()).cloned();
    let mut history: Vec<_> = (0..200)
        .map(|minute| TrafficSnapshot::new(at(minute), [("fra", 9.0), ("zzz", 3.0)]).unwrap())
        .collect();
    history.reverse();
    let summary = placer.warm_start(&history);
    assert_eq!(summary.given, 200);
    assert_eq!(summary.used, 99);
    assert_eq!(summary.span, Some((at(101), at(199))));
    assert!(matches!(summary.status, ForecastStatus::Learning { .. }));
    assert_eq!(placer.state().region(&fra()).cloned(), before);
    assert_eq!(placer.state().last_observation(), Some(at(100)));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Whatever traffic it learnt, a forecaster restored from its saved
    /// form forecasts exactly as the original, and keeps doing so as both
    /// learn the same next observations.
    #[test]
    fn a_restored_forecaster_forecasts_the_same(
        steps in proptest::collection::vec((1u32..400, 0.0f64..5000.0, 0.0f64..50.0), 1..300),
        windows in proptest::collection::vec((0u32..20_000, 0u32..600), 1..8),
    ) {
        let settings = ForecastSettings { bucket: HOUR, ..ForecastSettings::default() };
        let mut original = SeasonalForecaster::new(HOUR);
        let mut at = monday();
        for (gap, fra_count, nrt_count) in &steps {
            at = at + MINUTE * *gap;
            let snapshot = TrafficSnapshot::new(at, [("fra", *fra_count), ("nrt", *nrt_count)]).unwrap();
            original.learn(&snapshot);
        }
        let json = serde_json::to_string(&original.save()).unwrap();
        let saved: serde_json::Value = serde_json::from_str(&json).unwrap();
        let mut restored = registry::ForecasterEntry::find("seasonal").unwrap().restore(&settings, &saved).unwrap();
        prop_assert_eq!(restored.save(), original.save());
        let mut original: Box<dyn Forecaster> = Box::new(original);
        for round in 0..2 {
            for (offset, length) in &windows {
                let from = at + MINUTE * *offset;
                let until = from + MINUTE * *length;
                for region in [fra(), "nrt".parse().unwrap(), "syd".parse().unwrap()] {
                    prop_assert_eq!(original.peak(&region, from, until), restored.peak(&region, from, until));
                }
            }
            let next = TrafficSnapshot::new(at + HOUR * (round + 1), [("fra", 77.0)]).unwrap();
            original.learn(&next);
            restored.learn(&next);
        }
    }
}
