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

/// A source that keeps `retention` of history before `now`, like Fly's
/// Prometheus (about 15 days).
struct Retaining {
    inner: DailySource,
    oldest: Timestamp,
}

#[async_trait]
impl MetricsSource for Retaining {
    async fn fetch(&self, at: Timestamp) -> Result<TrafficSnapshot, MetricsError> {
        self.inner.fetch(at).await
    }

    async fn history(
        &self,
        start: Timestamp,
        end: Timestamp,
        step: Duration,
    ) -> Result<Vec<TrafficSnapshot>, MetricsError> {
        let all = self.inner.history(start, end, step).await?;
        Ok(all.into_iter().filter(|s| s.at() >= self.oldest).collect())
    }
}

#[test]
fn history_learnt_beyond_the_sources_retention_is_kept_and_said_where_it_came_from() {
    // Four weeks of seasonal buckets, so that more than two weeks is kept.
    let mut settings: ForecastSettings = latency().policy_settings.get();
    settings.warm_start = 14 * DAY;
    let config = config_with(settings);
    let source = Retaining {
        inner: DailySource::default(),
        oldest: now() - 14 * DAY,
    };
    let mut placer = Placer::new(config.clone()).unwrap();
    block_on(placer.backfill(&source, now())).unwrap();
    let sources = placer.state().forecast().history_sources();
    assert_eq!(sources.observed_secs, 0, "{sources}");
    let backfilled = sources.backfilled_secs;
    assert!(backfilled >= 13 * 86_400, "{sources}");

    // Three days of ticks every five minutes, saved and restored each day.
    let mut at = now();
    let mut state = placer.state().to_json();
    for _day in 0..3 {
        let mut placer =
            Placer::with_state(config.clone(), EngineState::from_json(&state).unwrap()).unwrap();
        // A restart backfills only the gap since what the state holds.
        block_on(placer.backfill(&source, at)).unwrap();
        for _ in 0..24 * 12 {
            at = at + BACKFILL_STEP;
            placer.observe(&DailySource::at(at));
        }
        state = placer.state().to_json();
    }
    let restored = EngineState::from_json(&state).unwrap();
    let placer = Placer::with_state(config, restored).unwrap();
    let sources = placer.state().forecast().history_sources();
    // What Prometheus gave at the first start, plus three days observed:
    // more than the source keeps, and nothing read twice.
    assert_eq!(sources.backfilled_secs, backfilled, "{sources}");
    assert_eq!(sources.observed_secs, 3 * 86_400, "{sources}");
    let learned = match placer.forecast_status() {
        ForecastStatus::Forecasting { learned_secs } => learned_secs,
        other => panic!("{other:?}"),
    };
    assert!(learned > 16 * 86_400, "{learned}");
    let asked = source.inner.asked();
    for pair in asked.windows(2) {
        assert!(
            pair[1].0 > pair[0].1 - BACKFILL_STEP,
            "read twice: {asked:?}"
        );
    }
}

#[test]
fn a_state_saved_without_history_sources_still_restores_its_forecaster() {
    let source = DailySource::default();
    let mut placer = Placer::new(latency()).unwrap();
    block_on(placer.backfill(&source, now())).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&placer.state().to_json()).unwrap();
    let forecast = json
        .as_object_mut()
        .and_then(|state| state.get_mut("forecast"))
        .and_then(|forecast| forecast.as_object_mut())
        .expect("the state keeps its forecaster");
    assert!(forecast.remove("sources").is_some(), "{forecast:?}");
    let state = EngineState::from_json(&json.to_string()).unwrap();
    let restored = Placer::with_state(latency(), state).unwrap();
    assert!(restored.forecast_status().is_forecasting());
    assert_eq!(
        restored.state().forecast().history_sources(),
        Default::default()
    );
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
