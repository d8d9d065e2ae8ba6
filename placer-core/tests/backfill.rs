//! `Placer::backfill`: what a starting placer reads of its source's past
//! traffic, and what it makes of it.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use futures::executor::block_on;
use placer_core::forecast::{ForecastSettings, ForecastStatus, BACKFILL_STEP};
use placer_core::policy::PolicyName;
use placer_core::TrafficSnapshot;
use placer_core::{EngineState, MetricsError, MetricsSource, Placer, PlacerConfig, Timestamp};

const DAY: Duration = Duration::from_secs(86_400);

/// Answers every history request with fra busy in the day (UTC 08–18) and
/// quiet at night, and notes what was asked.
#[derive(Default)]
struct DailySource {
    asked: Mutex<Vec<(Timestamp, Timestamp, Duration)>>,
    failing: bool,
}

impl DailySource {
    fn failing() -> Self {
        DailySource {
            failing: true,
            ..DailySource::default()
        }
    }

    fn asked(&self) -> Vec<(Timestamp, Timestamp, Duration)> {
        self.asked.lock().unwrap().clone()
    }

    fn at(at: Timestamp) -> TrafficSnapshot {
        let hour = at.unix_seconds().rem_euclid(86_400) / 3600;
        let fra = if (8..18).contains(&hour) { 400.0 } else { 5.0 };
        TrafficSnapshot::new(at, [("fra", fra), ("iad", 20.0)]).unwrap()
    }
}

#[async_trait]
impl MetricsSource for DailySource {
    async fn fetch(&self, at: Timestamp) -> Result<TrafficSnapshot, MetricsError> {
        Ok(Self::at(at))
    }

    async fn history(
        &self,
        start: Timestamp,
        end: Timestamp,
        step: Duration,
    ) -> Result<Vec<TrafficSnapshot>, MetricsError> {
        self.asked.lock().unwrap().push((start, end, step));
        if self.failing {
            return Err(MetricsError::backend("daily", "connection refused"));
        }
        let mut out = Vec::new();
        let mut at = start;
        while at <= end {
            out.push(Self::at(at));
            at = at + step;
        }
        Ok(out)
    }
}

fn now() -> Timestamp {
    Timestamp::from_unix_seconds(1_800_000_000)
}

/// The default config with the latency policy, which plans with forecasts.
fn latency() -> PlacerConfig {
    PlacerConfig::default().with_policy(PolicyName::LATENCY)
}

fn config_with(settings: ForecastSettings) -> PlacerConfig {
    let mut config = latency();
    config.policy_settings.set(&settings);
    config
}

#[test]
fn a_new_placer_reads_the_warm_start_span_and_forecasts_at_once() {
    let source = DailySource::default();
    let mut placer = Placer::new(latency()).unwrap();
    let summary = block_on(placer.backfill(&source, now())).unwrap();
    assert_eq!(source.asked(), [(now() - 14 * DAY, now(), BACKFILL_STEP)]);
    assert_eq!(summary.given, 14 * 24 * 12 + 1);
    assert_eq!(summary.used, summary.given);
    assert!(summary.status.is_forecasting(), "{summary}");
    assert_eq!(placer.forecast_status(), summary.status);
    // The forecaster learnt the day's shape: fra is expected busy at noon
    // and quiet at night.
    // Noon UTC on the day after `now`.
    let midnight = now().unix_seconds().div_euclid(86_400) * 86_400;
    let noon = Timestamp::from_unix_seconds(midnight + 86_400 + 12 * 3600);
    let fra = "fra".parse().unwrap();
    let forecast = placer.state().forecast();
    let busy = forecast
        .peak(&fra, noon, noon + Duration::from_secs(600))
        .unwrap();
    let night = noon + Duration::from_secs(12 * 3600);
    let quiet = forecast
        .peak(&fra, night, night + Duration::from_secs(600))
        .unwrap();
    assert!(busy.expected > 10.0 * quiet.expected, "{busy:?} {quiet:?}");
    // Only the forecaster learnt: the engine has observed nothing yet.
    assert_eq!(placer.state().last_observation(), None);
}

#[test]
fn a_restored_placer_reads_only_what_it_has_not_learnt() {
    let source = DailySource::default();
    let mut placer = Placer::new(latency()).unwrap();
    block_on(placer.backfill(&source, now())).unwrap();
    let saved = placer.state().to_json();

    // Two hours later, another placer goes on from the saved state.
    let later = now() + Duration::from_secs(2 * 3600);
    let state = EngineState::from_json(&saved).unwrap();
    let mut restored = Placer::with_state(latency(), state).unwrap();
    let summary = block_on(restored.backfill(&source, later)).unwrap();
    assert_eq!(
        source.asked()[1],
        (now() + BACKFILL_STEP, later, BACKFILL_STEP),
        "{summary}"
    );
    assert_eq!(summary.used, 2 * 12);
    assert!(summary.status.is_forecasting());
}

#[test]
fn nothing_is_read_with_forecasting_off_or_no_warm_start() {
    let source = DailySource::default();
    let off = config_with(ForecastSettings::default().with_method("none".to_owned()));
    let mut placer = Placer::new(off).unwrap();
    let summary = block_on(placer.backfill(&source, now())).unwrap();
    assert_eq!(summary.status, ForecastStatus::Off);

    let no_warm_start = config_with(ForecastSettings::default().with_warm_start(Duration::ZERO));
    let mut placer = Placer::new(no_warm_start).unwrap();
    let summary = block_on(placer.backfill(&source, now())).unwrap();
    assert!(
        matches!(
            summary.status,
            ForecastStatus::Learning {
                learned_secs: 0,
                ..
            }
        ),
        "{summary}"
    );
    // The threshold policy (the default) plans on observed traffic only:
    // no forecaster, nothing read.
    let mut placer = Placer::new(PlacerConfig::default()).unwrap();
    let summary = block_on(placer.backfill(&source, now())).unwrap();
    assert_eq!(summary.status, ForecastStatus::Unused);
    assert_eq!(source.asked(), []);
}

#[test]
fn a_source_without_history_leaves_the_engine_reactive_and_saying_so() {
    /// A source that keeps no history: the trait's default.
    struct NowOnly;

    #[async_trait]
    impl MetricsSource for NowOnly {
        async fn fetch(&self, at: Timestamp) -> Result<TrafficSnapshot, MetricsError> {
            Ok(DailySource::at(at))
        }
    }

    let mut placer = Placer::new(latency()).unwrap();
    let summary = block_on(placer.backfill(&NowOnly, now())).unwrap();
    assert_eq!(summary.used, 0);
    assert!(!summary.status.is_forecasting());
    assert!(
        summary.to_string().contains("reacting to observed traffic"),
        "{summary}"
    );
}

#[test]
fn a_failing_source_is_an_error_and_changes_nothing() {
    let source = DailySource::failing();
    let mut placer = Placer::new(latency()).unwrap();
    let before = placer.state().to_json();
    let err = block_on(placer.backfill(&source, now())).unwrap_err();
    assert!(err.to_string().contains("connection refused"), "{err}");
    assert_eq!(placer.state().to_json(), before);
    assert!(!placer.forecast_status().is_forecasting());
}
