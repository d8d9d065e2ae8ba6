//! Requests and error paths against a local HTTP stub on 127.0.0.1.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use placer_core::{conformance, ApiToken, MetricsError, MetricsSource, Timestamp, TrafficSnapshot};
use placer_prom::{PromError, PrometheusSettings, PrometheusSource};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const INSTANT_PATH: &str = "/prometheus/acme/api/v1/query";
const RANGE_PATH: &str = "/prometheus/acme/api/v1/query_range";

fn at() -> Timestamp {
    Timestamp::from_unix_seconds(1_795_819_800)
}

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

fn settings(server: &MockServer) -> PrometheusSettings {
    PrometheusSettings::new(
        format!("{}/prometheus/acme", server.uri()),
        "shop".parse().unwrap(),
    )
}

fn source(settings: PrometheusSettings) -> PrometheusSource {
    PrometheusSource::new(settings).unwrap()
}

async fn answer(server: &MockServer, at_path: &str, response: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path(at_path))
        .respond_with(response)
        .mount(server)
        .await;
}

fn json(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body, "application/json")
}

fn form(request: &Request) -> BTreeMap<String, String> {
    let body = String::from_utf8(request.body.clone()).unwrap();
    reqwest::Url::parse(&format!("http://form.invalid/?{body}"))
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

async fn only_request(server: &MockServer) -> Request {
    let mut requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1, "expected exactly one request");
    requests.remove(0)
}

#[tokio::test]
async fn instant_queries_post_the_rendered_query_and_time_as_a_form() {
    let server = MockServer::start().await;
    answer(
        &server,
        INSTANT_PATH,
        json(fixture("vector_prometheus.json")),
    )
    .await;

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
        let server = MockServer::start().await;
        answer(
            &server,
            INSTANT_PATH,
            json(fixture("vector_prometheus.json")),
        )
        .await;
        let mut settings = settings(&server);
        settings.token = Some(ApiToken::new(token));
        source(settings).query_instant(at()).await.unwrap();
        let request = only_request(&server).await;
        assert_eq!(request.headers.get("authorization").unwrap(), header);
    }
}

#[tokio::test]
async fn unauthorized_is_an_http_error_that_never_shows_the_token() {
    let server = MockServer::start().await;
    answer(
        &server,
        INSTANT_PATH,
        ResponseTemplate::new(401).set_body_string("unauthorized"),
    )
    .await;
    let mut settings = settings(&server);
    settings.token = Some(ApiToken::new("FlyV1 fm2_topsecret"));
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
    let server = MockServer::start().await;
    answer(
        &server,
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
    let server = MockServer::start().await;
    answer(
        &server,
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
    let server = MockServer::start().await;
    answer(
        &server,
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
    let server = MockServer::start().await;
    answer(
        &server,
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
    let server = MockServer::start().await;
    answer(
        &server,
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
    let server = MockServer::start().await;
    answer(&server, INSTANT_PATH, json(fixture("vector_empty.json"))).await;
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
    let server = MockServer::start().await;
    answer(
        &server,
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
    let server = MockServer::start().await;
    answer(&server, INSTANT_PATH, json(fixture("vector_nan.json"))).await;
    let source = source(settings(&server));
    let err = conformance::failing_backend_is_an_error(&source, at()).await;
    assert!(err.to_string().contains("NaN"), "{err}");
}

#[tokio::test]
async fn partial_answers_are_shown_by_query_instant_and_refused_by_fetch() {
    let server = MockServer::start().await;
    answer(
        &server,
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
    let server = MockServer::start().await;
    answer(
        &server,
        INSTANT_PATH,
        json(fixture("vector_prometheus.json")),
    )
    .await;
    let source = source(settings(&server));
    let expected =
        TrafficSnapshot::new(at(), [("fra", 40.0), ("iad", 80.0), ("syd", 12.5)]).unwrap();
    conformance::fetch_reports_expected_traffic(&source, at(), &expected).await;
    conformance::repeated_fetches_agree(&source, at()).await;
}

#[tokio::test]
async fn range_queries_post_start_end_and_step_and_give_a_snapshot_per_step() {
    let server = MockServer::start().await;
    answer(
        &server,
        RANGE_PATH,
        json(fixture("matrix_victoria_metrics.json")),
    )
    .await;
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
    let server = MockServer::start().await;
    answer(
        &server,
        INSTANT_PATH,
        json(fixture("matrix_victoria_metrics.json")),
    )
    .await;
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

#[tokio::test]
async fn an_unreachable_server_is_a_transport_error() {
    // Bind and release a port so that nothing listens on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let settings =
        PrometheusSettings::new(format!("http://127.0.0.1:{port}"), "shop".parse().unwrap());
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

#[test]
fn unusable_settings_are_refused_naming_the_setting() {
    let app = || "shop".parse().unwrap();
    for (url, expected) in [
        ("ftp://127.0.0.1/prom", "url"),
        ("not a url", "url"),
        ("", "url"),
    ] {
        match PrometheusSource::new(PrometheusSettings::new(url, app())) {
            Err(PromError::InvalidSettings { setting, .. }) => {
                assert_eq!(setting, expected, "{url}")
            }
            other => panic!("{url}: expected InvalidSettings, got {other:?}"),
        }
    }
    let mut settings = PrometheusSettings::new("http://127.0.0.1:9", app());
    settings.token = Some(ApiToken::new("bad\ntoken-secret"));
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
