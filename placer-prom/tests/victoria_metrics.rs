//! `PrometheusSource` against a real VictoriaMetrics (what Fly.io runs),
//! started on a free loopback port with a temporary data directory.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use placer_prom::{PromError, PrometheusOptions, PrometheusSource};
use support::backend::{locate, BackendProcess};
use support::checks;
use support::traffic::{KnownTraffic, APP, SERIES_COUNT};

/// The seed project's query.
const SEED_QUERY: &str = "sum(fly_edge_http_responses_count{app=\"{app}\"}[5m]) by (region)";

async fn start_victoria_metrics() -> BackendProcess {
    let binary = locate("victoria-metrics", "victoria-metrics");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    BackendProcess::start("victoria-metrics", dir, "/health", |port| {
        let mut command = Command::new(&binary);
        command
            .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
            .arg(format!("-storageDataPath={}", data.display()))
            // Fresh samples are hidden for 30 s by default; ours are old,
            // but the tests should not depend on that.
            .arg("-search.latencyOffset=0s")
            .arg("-search.disableCache")
            .arg("-loggerLevel=WARN");
        command
    })
    .await
}

/// Imports the known history and waits until every series is searchable.
async fn load(server: &BackendProcess, traffic: &KnownTraffic) {
    let client = reqwest::Client::new();
    let response = client
        .post(format!("{}/api/v1/import/prometheus", server.url()))
        .body(traffic.prometheus_text())
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "import failed: {response:?}\n{}",
        server.log_text()
    );
    // Makes the imported samples searchable now rather than within a second.
    client
        .get(format!("{}/internal/force_flush", server.url()))
        .send()
        .await
        .unwrap();

    let deadline = Instant::now() + Duration::from_secs(20);
    let query_time = traffic.query_time().unix_seconds().to_string();
    loop {
        let body: serde_json::Value = client
            .post(format!("{}/api/v1/query", server.url()))
            .form(&[
                ("query", "count(fly_edge_http_responses_count)"),
                ("time", &query_time),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let count = body["data"]["result"][0]["value"][1]
            .as_str()
            .unwrap_or("0")
            .to_owned();
        if count == SERIES_COUNT.to_string() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "imported series never became visible: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// One server for the whole file: each check below runs against it in turn.
#[ignore = "needs victoria-metrics"]
#[tokio::test]
async fn victoria_metrics_reports_exact_requests_per_region() {
    let server = start_victoria_metrics().await;
    let traffic = KnownTraffic::new();
    load(&server, &traffic).await;

    checks::server_reports_the_known_traffic(&server, &traffic).await;
    let outcome =
        checks::instant_query_reports_exact_counts_and_the_unlabelled_series(&server, &traffic)
            .await;
    assert!(outcome.warnings.is_empty(), "{:?}", outcome.warnings);
    seed_query_reports_lifetime_totals_not_requests(&server, &traffic).await;
    syntax_errors_are_api_errors(&server, &traffic).await;
}

/// VictoriaMetrics (and so Fly.io) accepts the seed's query, which Prometheus
/// rejects, but it means the counters' lifetime totals, not the requests of
/// the last five minutes.
async fn seed_query_reports_lifetime_totals_not_requests(
    server: &BackendProcess,
    traffic: &KnownTraffic,
) {
    let mut settings = PrometheusOptions::new(server.url(), APP.parse().unwrap());
    settings.query_template = SEED_QUERY.to_owned();
    let at = traffic.query_time();
    let outcome = PrometheusSource::new(settings)
        .unwrap()
        .query_instant(at)
        .await
        .unwrap();
    assert_eq!(outcome.snapshot, traffic.lifetime_totals(at));
    assert_ne!(outcome.snapshot, traffic.expected_requests(at));
}

async fn syntax_errors_are_api_errors(server: &BackendProcess, traffic: &KnownTraffic) {
    let mut settings = PrometheusOptions::new(server.url(), APP.parse().unwrap());
    settings.query_template = "sum(".to_owned();
    let err = PrometheusSource::new(settings)
        .unwrap()
        .query_instant(traffic.query_time())
        .await
        .unwrap_err();
    assert!(matches!(err, PromError::Api { .. }), "{err:?}");
    assert!(err.to_string().contains("sum("), "{err}");
}
