//! What the source sends to a Prometheus API, and how it reads good
//! answers, checked against a local HTTP stub on 127.0.0.1.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use placer_core::{
    conformance, secret::Secret, MetricsError, MetricsSource, Timestamp, TrafficSnapshot,
};
use placer_prom::{PromError, PrometheusOptions, PrometheusSource};
use support::stub::*;
use wiremock::MockServer;

#[tokio::test]
async fn instant_queries_post_the_rendered_query_and_time_as_a_form() {
    let server = stub_answering(INSTANT_PATH, json(fixture("vector_prometheus.json"))).await;

    let outcome = source(settings(&server)).query_instant(at()).await.unwrap();
    assert_eq!(outcome.snapshot.total(), 132.5);

    let request = only_request(&server).await;
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(
        request.headers.get("content-type").unwrap(),
        "application/x-www-form-urlencoded"
    );
    assert!(
        request.headers.get("authorization").is_none(),
        "no token, no header"
    );
    insta::assert_snapshot!(String::from_utf8(request.body.clone()).unwrap());
    assert_eq!(
        form(&request),
        BTreeMap::from([
            (
                "query".to_owned(),
                r#"sum by (region) (increase(fly_edge_http_responses_count{app="shop"}[5m]))"#
                    .to_owned()
            ),
            ("time".to_owned(), "1795819800.000".to_owned()),
        ])
    );
}

#[tokio::test]
async fn fly_tokens_are_sent_as_given_and_other_tokens_as_bearer() {
    for (token, header) in [
        ("FlyV1 fm2_abc,fm2_def", "FlyV1 fm2_abc,fm2_def"),
        ("personal123", "Bearer personal123"),
    ] {
        let server = stub_answering(INSTANT_PATH, json(fixture("vector_prometheus.json"))).await;
        let mut settings = settings(&server);
        settings.token = Some(Secret::new(token));
        source(settings).query_instant(at()).await.unwrap();
        let request = only_request(&server).await;
        assert_eq!(request.headers.get("authorization").unwrap(), header);
    }
}

#[tokio::test]
async fn partial_answers_are_shown_by_query_instant_and_refused_by_fetch() {
    let server = stub_answering(
        INSTANT_PATH,
        json(fixture("vector_partial_with_warnings.json")),
    )
    .await;
    let source = source(settings(&server));

    let outcome = source.query_instant(at()).await.unwrap();
    assert!(outcome.partial);
    assert_eq!(outcome.warnings.len(), 1);
    assert_eq!(outcome.snapshot.at(), at());

    let err = source.fetch(at()).await.unwrap_err();
    assert!(
        matches!(
            err,
            MetricsError::Backend {
                backend: "prometheus",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("partial"), "{err}");
}

#[tokio::test]
async fn fetch_meets_the_source_contract() {
    let server = stub_answering(INSTANT_PATH, json(fixture("vector_prometheus.json"))).await;
    let source = source(settings(&server));
    let expected =
        TrafficSnapshot::new(at(), [("fra", 40.0), ("iad", 80.0), ("syd", 12.5)]).unwrap();
    conformance::fetch_reports_expected_traffic(&source, at(), &expected).await;
    conformance::repeated_fetches_agree(&source, at()).await;
}

#[tokio::test]
async fn range_queries_post_start_end_and_step_and_give_a_snapshot_per_step() {
    let server = stub_answering(RANGE_PATH, json(fixture("matrix_victoria_metrics.json"))).await;
    let start = Timestamp::from_unix_seconds(1_795_819_200);
    let end = Timestamp::from_unix_seconds(1_795_819_800);

    let snapshots = source(settings(&server))
        .query_range(start, end, Duration::from_secs(300))
        .await
        .unwrap();
    let times: Vec<Timestamp> = snapshots.iter().map(|s| s.at()).collect();
    assert_eq!(times, [start, start + Duration::from_secs(300), end]);
    assert!(snapshots.iter().all(|s| s.total() == 120.0));

    let sent = form(&only_request(&server).await);
    assert_eq!(sent["start"], "1795819200.000");
    assert_eq!(sent["end"], "1795819800.000");
    assert_eq!(sent["step"], "300.000");
    insta::assert_yaml_snapshot!(sent);
}

#[tokio::test]
async fn range_arguments_are_checked_before_anything_is_sent() {
    let server = MockServer::start().await;
    let source = source(settings(&server));
    let later = at() + Duration::from_secs(60);
    let err = source
        .query_range(later, at(), Duration::from_secs(60))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            PromError::InvalidArgument {
                argument: "start",
                ..
            }
        ),
        "{err:?}"
    );
    let err = source
        .query_range(at(), later, Duration::ZERO)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            PromError::InvalidArgument {
                argument: "step",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn result_types_that_do_not_fit_the_call_are_refused() {
    let server = stub_answering(INSTANT_PATH, json(fixture("matrix_victoria_metrics.json"))).await;
    answer(&server, RANGE_PATH, json(fixture("vector_prometheus.json"))).await;
    let source = source(settings(&server));
    let err = source.query_instant(at()).await.unwrap_err();
    assert!(
        matches!(err, PromError::UnexpectedResultType { .. }),
        "{err:?}"
    );
    let err = source
        .query_range(
            at(),
            at() + Duration::from_secs(600),
            Duration::from_secs(60),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, PromError::UnexpectedResultType { .. }),
        "{err:?}"
    );
}

#[test]
fn unusable_settings_are_refused_naming_the_setting() {
    let app = || "shop".parse().unwrap();
    for (url, expected) in [
        ("ftp://127.0.0.1/prom", "url"),
        ("not a url", "url"),
        ("", "url"),
    ] {
        match PrometheusSource::new(PrometheusOptions::new(url, app())) {
            Err(PromError::InvalidSettings { setting, .. }) => {
                assert_eq!(setting, expected, "{url}")
            }
            other => panic!("{url}: expected InvalidSettings, got {other:?}"),
        }
    }
    let mut settings = PrometheusOptions::new("http://127.0.0.1:9", app());
    settings.token = Some(Secret::new("bad\ntoken-secret"));
    let err = PrometheusSource::new(settings).unwrap_err();
    assert!(
        matches!(
            err,
            PromError::InvalidSettings {
                setting: "token",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!err.to_string().contains("token-secret"), "{err}");
}
