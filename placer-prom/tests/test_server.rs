//! The `test-server` feature's [`FakePrometheus`] against this crate's
//! source: what other crates' tests rely on when they use it.

use std::time::Duration;

use placer_core::{conformance, secret::Secret, Timestamp, TrafficSnapshot};
use placer_prom::test_server::FakePrometheus;
use placer_prom::{PromError, PrometheusOptions, PrometheusSource};

fn at() -> Timestamp {
    Timestamp::from_unix_seconds(1_795_819_800)
}

fn source(server: &FakePrometheus) -> PrometheusSource {
    let mut options = PrometheusOptions::new(
        format!("{}/prometheus/acme", server.url()),
        "shop".parse().unwrap(),
    );
    options.token = Some(Secret::new("FlyV1 fm2_secret"));
    PrometheusSource::new(options).unwrap()
}

#[tokio::test]
async fn instant_queries_get_the_rates_set_and_pass_the_conformance_checks() {
    let server = FakePrometheus::start().await.unwrap();
    server.set_rates([("iad", 12.0), ("fra", 3.5)]);
    server.require_authorization("FlyV1 fm2_secret");
    let source = source(&server);
    let expected = TrafficSnapshot::new(at(), [("iad", 12.0), ("fra", 3.5)]).unwrap();
    conformance::fetch_reports_expected_traffic(&source, at(), &expected).await;
    conformance::repeated_fetches_agree(&source, at()).await;
    let queries = server.queries();
    assert!(queries.iter().all(|q| q.kind == "query" && q.authorized));
    assert_eq!(queries[0].path, "/prometheus/acme/api/v1/query");
    assert_eq!(queries[0].params["time"], "1795819800.000");
}

#[tokio::test]
async fn range_queries_get_one_snapshot_per_step() {
    let server = FakePrometheus::start().await.unwrap();
    server.set_rates([("syd", 7.0)]);
    let history = source(&server)
        .query_range(
            at() - Duration::from_secs(600),
            at(),
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    assert_eq!(history.len(), 11);
    assert!(history.iter().all(|snapshot| snapshot.total() == 7.0));
    assert_eq!(server.queries()[0].kind, "query_range");
}

#[tokio::test]
async fn injected_answers_and_a_wrong_token_are_errors() {
    let server = FakePrometheus::start().await.unwrap();
    server.set_rates([("iad", 1.0)]);
    server.reply_once(503, "overloaded");
    server.reply_once(502, "bad gateway");
    let source = source(&server);
    let err = source.query_instant(at()).await.unwrap_err();
    assert!(
        matches!(err, PromError::Http { status: 503, .. }),
        "{err:?}"
    );
    conformance::errors_do_not_reveal(&source, at(), "fm2_secret").await;

    server.require_authorization("Bearer other");
    let err = source.query_instant(at()).await.unwrap_err();
    assert!(err.to_string().contains("401"), "{err}");
}
