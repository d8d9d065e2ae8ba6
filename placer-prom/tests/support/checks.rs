//! Checks every Prometheus-compatible server must pass with the known
//! traffic loaded: the same exact figures from VictoriaMetrics and from
//! Prometheus.

use std::time::Duration;

use placer_core::AppName;
use placer_core::{conformance, Timestamp, TrafficSnapshot};
use placer_prom::{PrometheusOptions, PrometheusSource, QueryOutcome};

use super::backend::BackendProcess;
use super::traffic::{KnownTraffic, APP};

/// Default settings for `app` on `server`.
pub fn settings_for(server: &BackendProcess, app: &str) -> PrometheusOptions {
    let app: AppName = app.parse().unwrap();
    PrometheusOptions::new(server.url(), app)
}

/// A source with default settings for `app` on `server`.
pub fn source_for(server: &BackendProcess, app: &str) -> PrometheusSource {
    PrometheusSource::new(settings_for(server, app)).unwrap()
}

/// Runs every shared check against `server`.
pub async fn server_reports_the_known_traffic(server: &BackendProcess, traffic: &KnownTraffic) {
    instant_query_reports_exact_counts_and_the_unlabelled_series(server, traffic).await;
    range_query_reports_exact_counts_for_every_step(server, traffic).await;
    fetch_meets_the_source_contract(server, traffic).await;
    an_app_without_traffic_is_an_error(server, traffic).await;
    history_reads_every_step_and_nothing_where_there_is_none(server, traffic).await;
}

/// The instant answer, after checking its exact counts and the series
/// without a region label.
pub async fn instant_query_reports_exact_counts_and_the_unlabelled_series(
    server: &BackendProcess,
    traffic: &KnownTraffic,
) -> QueryOutcome {
    let at = traffic.query_time();
    let outcome = source_for(server, APP).query_instant(at).await.unwrap();
    assert_eq!(outcome.snapshot, traffic.expected_requests(at));
    assert!(!outcome.partial);
    // The series without a region label is reported with its own increase.
    assert_eq!(outcome.unlabelled.len(), 1, "{:?}", outcome.unlabelled);
    let value: f64 = outcome.unlabelled[0].latest_value.parse().unwrap();
    assert_eq!(value, traffic.expected_unlabelled(at));
    outcome
}

async fn range_query_reports_exact_counts_for_every_step(
    server: &BackendProcess,
    traffic: &KnownTraffic,
) {
    let (start, end, step) = traffic.range();
    let snapshots = source_for(server, APP)
        .query_range(start, end, step)
        .await
        .unwrap();
    let expected: Vec<TrafficSnapshot> = (0..)
        .map(|k| start + step * k)
        .take_while(|t: &Timestamp| *t <= end)
        .map(|t| traffic.expected_requests(t))
        .collect();
    assert_eq!(expected.len(), 11);
    assert_eq!(snapshots, expected);
    // The windows really differ, so a step mix-up could not go unnoticed.
    assert!(expected
        .windows(2)
        .any(|pair| pair[0].total() != pair[1].total()));
}

async fn fetch_meets_the_source_contract(server: &BackendProcess, traffic: &KnownTraffic) {
    let source = source_for(server, APP);
    let at = traffic.query_time() - Duration::from_secs(120);
    conformance::fetch_reports_expected_traffic(&source, at, &traffic.expected_requests(at)).await;
    conformance::repeated_fetches_agree(&source, at).await;
}

async fn an_app_without_traffic_is_an_error(server: &BackendProcess, traffic: &KnownTraffic) {
    let source = source_for(server, "no-such-app");
    let err = conformance::failing_backend_is_an_error(&source, traffic.query_time()).await;
    assert!(err.to_string().contains("no-such-app"), "{err}");
}

/// `MetricsSource::history` (what a starting placer learns its forecasts
/// from) answers the range query's exact counts at every step, for the app
/// `for_app` names; an app without any series has an empty history, not an
/// error; so does a range before any sample.
async fn history_reads_every_step_and_nothing_where_there_is_none(
    server: &BackendProcess,
    traffic: &KnownTraffic,
) {
    use placer_core::MetricsSource;

    let (start, end, step) = traffic.range();
    let expected: Vec<TrafficSnapshot> = (0..)
        .map(|k| start + step * k)
        .take_while(|t: &Timestamp| *t <= end)
        .map(|t| traffic.expected_requests(t))
        .collect();
    let ghost = source_for(server, "no-such-app");
    assert_eq!(ghost.history(start, end, step).await.unwrap(), []);
    let shop = ghost.for_app(APP.parse().unwrap());
    assert!(
        shop.query().contains(&format!("app=\"{APP}\"")),
        "{}",
        shop.query()
    );
    assert_eq!(shop.history(start, end, step).await.unwrap(), expected);
    let long_before = start - Duration::from_secs(30 * 86_400);
    let nothing = shop
        .history(long_before, long_before + Duration::from_secs(3600), step)
        .await
        .unwrap();
    assert_eq!(nothing, []);
}
