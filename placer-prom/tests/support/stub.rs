//! A local HTTP stub (wiremock, on 127.0.0.1) standing in for a Prometheus API.

use std::collections::BTreeMap;

use placer_core::Timestamp;
use placer_prom::{PrometheusOptions, PrometheusSource};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

pub const INSTANT_PATH: &str = "/prometheus/acme/api/v1/query";
pub const RANGE_PATH: &str = "/prometheus/acme/api/v1/query_range";

pub fn at() -> Timestamp {
    Timestamp::from_unix_seconds(1_795_819_800)
}

pub fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

pub fn settings(server: &MockServer) -> PrometheusOptions {
    PrometheusOptions::new(
        format!("{}/prometheus/acme", server.uri()),
        "shop".parse().unwrap(),
    )
}

pub fn source(settings: PrometheusOptions) -> PrometheusSource {
    PrometheusSource::new(settings).unwrap()
}

pub async fn answer(server: &MockServer, at_path: &str, response: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path(at_path))
        .respond_with(response)
        .mount(server)
        .await;
}

/// A stub that answers every POST to `at_path` with `response`.
pub async fn stub_answering(at_path: &str, response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    answer(&server, at_path, response).await;
    server
}

pub fn json(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body, "application/json")
}

pub fn form(request: &Request) -> BTreeMap<String, String> {
    let body = String::from_utf8(request.body.clone()).unwrap();
    reqwest::Url::parse(&format!("http://form.invalid/?{body}"))
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

pub async fn only_request(server: &MockServer) -> Request {
    let mut requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1, "expected exactly one request");
    requests.remove(0)
}
