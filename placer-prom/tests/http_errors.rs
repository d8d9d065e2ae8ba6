//! Error paths against a local HTTP stub on 127.0.0.1: every failure is a
//! typed error for the tick, never an empty snapshot.

mod support;

use std::time::{Duration, Instant};

use placer_core::{conformance, secret::Secret};
use placer_prom::{PromError, PrometheusOptions};
use support::stub::*;
use wiremock::ResponseTemplate;

#[tokio::test]
async fn unauthorized_is_an_http_error_that_never_shows_the_token() {
    let server = stub_answering(
        INSTANT_PATH,
        ResponseTemplate::new(401).set_body_string("unauthorized"),
    )
    .await;
    let mut settings = settings(&server);
    settings.token = Some(Secret::new("FlyV1 fm2_topsecret"));
    let source = source(settings);

    match source.query_instant(at()).await {
        Err(PromError::Http {
            status: 401,
            message,
            endpoint,
        }) => {
            assert_eq!(message, "unauthorized");
            assert!(endpoint.ends_with("/prometheus/acme"), "{endpoint}");
        }
        other => panic!("expected HTTP 401, got {other:?}"),
    }
    conformance::errors_do_not_reveal(&source, at(), "fm2_topsecret").await;
    assert!(!format!("{source:?}").contains("fm2_topsecret"));
}

#[tokio::test]
async fn a_server_error_carries_its_status_and_body() {
    let server = stub_answering(
        INSTANT_PATH,
        ResponseTemplate::new(500).set_body_string("vmselect: storage node unavailable"),
    )
    .await;
    let source = source(settings(&server));
    let err = source.query_instant(at()).await.unwrap_err();
    assert!(
        matches!(err, PromError::Http { status: 500, .. }),
        "{err:?}"
    );
    insta::assert_snapshot!(err.to_string().replace(&server.uri(), "http://STUB"));

    conformance::failing_backend_is_an_error(&source, at()).await;
}

#[tokio::test]
async fn a_json_error_with_an_http_status_is_an_api_error() {
    let server = stub_answering(
        INSTANT_PATH,
        ResponseTemplate::new(400).set_body_raw(
            fixture("error_prometheus_bad_data.json"),
            "application/json",
        ),
    )
    .await;
    match source(settings(&server)).query_instant(at()).await {
        Err(PromError::Api {
            error_type,
            http_status,
            ..
        }) => {
            assert_eq!(error_type, "bad_data");
            assert_eq!(http_status, Some(400));
        }
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn status_error_in_a_200_answer_is_an_api_error() {
    let server = stub_answering(
        INSTANT_PATH,
        json(fixture("error_victoria_metrics_422.json")),
    )
    .await;
    let err = source(settings(&server))
        .query_instant(at())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PromError::Api { error_type, http_status: None, .. } if error_type == "422"),
        "{err:?}"
    );
}

#[tokio::test]
async fn malformed_json_is_a_decode_error() {
    let server = stub_answering(
        INSTANT_PATH,
        json(r#"{"status":"success","data":{"resultTy"#.into()),
    )
    .await;
    let source = source(settings(&server));
    let err = source.query_instant(at()).await.unwrap_err();
    assert!(matches!(err, PromError::Decode { .. }), "{err:?}");
    assert!(
        err.to_string().contains("column"),
        "the position is named: {err}"
    );
    conformance::failing_backend_is_an_error(&source, at()).await;
}

#[tokio::test]
async fn a_slow_server_times_out_after_the_configured_limit() {
    let server = stub_answering(
        INSTANT_PATH,
        json(fixture("vector_prometheus.json")).set_delay(Duration::from_secs(3)),
    )
    .await;
    let mut settings = settings(&server);
    settings.timeout = Duration::from_millis(300);
    let source = source(settings);

    let started = Instant::now();
    let err = source.query_instant(at()).await.unwrap_err();
    assert!(
        matches!(err, PromError::Timeout { after, .. } if after == Duration::from_millis(300)),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    assert!(err.to_string().contains("300ms"), "{err}");
}

#[tokio::test]
async fn an_empty_result_is_an_error_not_an_empty_snapshot() {
    let server = stub_answering(INSTANT_PATH, json(fixture("vector_empty.json"))).await;
    let source = source(settings(&server));
    let err = source.query_instant(at()).await.unwrap_err();
    assert!(
        matches!(err, PromError::NoRegionSeries { unlabelled: 0, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(r#"app="shop""#),
        "the query is named: {err}"
    );
    conformance::failing_backend_is_an_error(&source, at()).await;
}

#[tokio::test]
async fn only_unlabelled_series_is_an_error_too() {
    let server = stub_answering(
        INSTANT_PATH,
        json(fixture("vector_without_region_label.json")),
    )
    .await;
    let err = source(settings(&server))
        .query_instant(at())
        .await
        .unwrap_err();
    assert!(
        matches!(err, PromError::NoRegionSeries { unlabelled: 1, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn nan_traffic_fails_the_tick() {
    let server = stub_answering(INSTANT_PATH, json(fixture("vector_nan.json"))).await;
    let source = source(settings(&server));
    let err = conformance::failing_backend_is_an_error(&source, at()).await;
    assert!(err.to_string().contains("NaN"), "{err}");
}

#[tokio::test]
async fn an_unreachable_server_is_a_transport_error() {
    // Bind and release a port so that nothing listens on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let settings =
        PrometheusOptions::new(format!("http://127.0.0.1:{port}"), "shop".parse().unwrap());
    let source = source(settings);
    let err = source.query_instant(at()).await.unwrap_err();
    assert!(matches!(err, PromError::Transport { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
    assert!(
        err.to_string().contains("refused"),
        "the cause is named: {err}"
    );
    conformance::failing_backend_is_an_error(&source, at()).await;
}
