//! `PrometheusSource` against a real Prometheus, started on a free loopback
//! port over a temporary TSDB backfilled with `promtool`.

mod support;

use std::path::Path;
use std::process::Command;

use placer_core::conformance;
use placer_prom::{PromError, PrometheusSource};
use support::backend::{locate, BackendProcess};
use support::checks;
use support::traffic::{KnownTraffic, APP};

/// The seed project's query: `sum` over a range vector, which PromQL rejects.
const SEED_QUERY: &str = "sum(fly_edge_http_responses_count{app=\"{app}\"}[5m]) by (region)";

/// A configuration that scrapes nothing: the only data is the backfill.
const CONFIG: &str = "global:\n  scrape_interval: 1m\nscrape_configs: []\n";

/// Writes the history as OpenMetrics and turns it into TSDB blocks. The
/// samples end hours ago, so the blocks lie wholly before the head.
fn backfill(promtool: &Path, dir: &Path, traffic: &KnownTraffic) {
    let input = dir.join("history.om");
    std::fs::write(&input, traffic.openmetrics()).unwrap();
    let output = Command::new(promtool)
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&input)
        .arg(dir.join("data"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run promtool: {e}"));
    assert!(
        output.status.success(),
        "promtool failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

async fn start_prometheus(traffic: &KnownTraffic) -> BackendProcess {
    let prometheus = locate("prometheus", "prometheus");
    let promtool = locate("promtool", "prometheus");
    let dir = tempfile::tempdir().unwrap();
    backfill(&promtool, dir.path(), traffic);
    let config = dir.path().join("prometheus.yml");
    std::fs::write(&config, CONFIG).unwrap();
    let data = dir.path().join("data");
    BackendProcess::start("prometheus", dir, "/-/ready", |port| {
        let mut command = Command::new(&prometheus);
        command
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn");
        command
    })
    .await
}

fn source_with(server: &BackendProcess, app: &str, template: Option<&str>) -> PrometheusSource {
    let mut settings = checks::settings_for(server, app);
    if let Some(template) = template {
        settings.query_template = template.to_owned();
    }
    PrometheusSource::new(settings).unwrap()
}

/// One server for the whole file: each check below runs against it in turn.
#[ignore = "needs prometheus"]
#[tokio::test]
async fn prometheus_reports_exact_requests_per_region() {
    let traffic = KnownTraffic::new();
    let server = start_prometheus(&traffic).await;

    checks::server_reports_the_known_traffic(&server, &traffic).await;
    seed_query_is_rejected_with_a_clear_error(&server, &traffic).await;
    infinite_values_are_refused(&server, &traffic).await;
}

async fn seed_query_is_rejected_with_a_clear_error(
    server: &BackendProcess,
    traffic: &KnownTraffic,
) {
    let source = source_with(server, APP, Some(SEED_QUERY));
    match source.query_instant(traffic.query_time()).await {
        Err(PromError::Api {
            error_type,
            message,
            http_status,
        }) => {
            assert_eq!(error_type, "bad_data");
            assert_eq!(http_status, Some(400));
            assert!(
                message.contains(
                    "expected type instant vector in aggregation expression, got range vector"
                ),
                "{message}"
            );
        }
        other => panic!("Prometheus should reject the seed's query, got {other:?}"),
    }
    let err = conformance::failing_backend_is_an_error(&source, traffic.query_time()).await;
    assert!(err.to_string().contains("bad_data"), "{err}");
}

/// Prometheus passes `+Inf` through where VictoriaMetrics would drop it.
async fn infinite_values_are_refused(server: &BackendProcess, traffic: &KnownTraffic) {
    let template =
        "sum by (region) (increase(fly_edge_http_responses_count{app=\"{app}\"}[5m])) / 0";
    let err = source_with(server, APP, Some(template))
        .query_instant(traffic.query_time())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PromError::InvalidValue { value, .. } if value == "+Inf"),
        "{err:?}"
    );
}
