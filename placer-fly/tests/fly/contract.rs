//! The Machines API contract: every request placer-fly sends and every
//! answer its fake gives, checked against `tests/contract/fly-machines-api.schema.json`.
//!
//! That file is JSON Schema derived from Fly's published description of the
//! Machines API (Swagger 2.0): `CreateMachineRequest`, `Machine`,
//! `fly.MachineConfig` and what it references, `StopRequest`,
//! `ErrorResponse`, and the inline schemas of the list, metadata and wait
//! paths; its `$comment`s name the source of each definition and the few
//! places it differs from the description. `GET /v1/platform/regions`,
//! which the description leaves out, is there in the shape Fly's Go client
//! reads.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use placer_core::RegionActuator;
use placer_fly::fake::{FakeMachinesApi, Fault, MachineSpec, RecordedRequest};
use placer_fly::{ApiToken, RemovalMode};
use serde_json::{json, Value};

use crate::support::*;

const CONTRACT: &str = include_str!("../contract/fly-machines-api.schema.json");

/// One endpoint of the contract (`x-operations`).
struct Endpoint {
    id: String,
    method: String,
    path: Vec<String>,
    query: BTreeSet<String>,
    query_values: BTreeMap<String, Vec<String>>,
    request: Option<jsonschema::Validator>,
    body_required: bool,
    responses: BTreeMap<u16, jsonschema::Validator>,
}

struct Contract {
    endpoints: Vec<Endpoint>,
    error_statuses: BTreeSet<u16>,
    error_body: jsonschema::Validator,
}

/// A validator for `schema`, which may refer to the contract's definitions.
fn validator(root: &Value, schema: &Value) -> jsonschema::Validator {
    let document = json!({
        "$schema": root["$schema"],
        "definitions": root["definitions"],
        "allOf": [schema],
    });
    jsonschema::draft7::new(&document)
        .unwrap_or_else(|err| panic!("contract schema {schema} does not compile: {err}"))
}

impl Contract {
    fn load() -> Self {
        let root: Value = serde_json::from_str(CONTRACT).expect("the contract is JSON");
        let endpoints = root["x-operations"]
            .as_array()
            .expect("x-operations")
            .iter()
            .map(|op| {
                let strings = |value: &Value| -> Vec<String> {
                    value
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|v| v.as_str().unwrap().to_owned())
                        .collect()
                };
                Endpoint {
                    id: op["operationId"].as_str().unwrap().to_owned(),
                    method: op["method"].as_str().unwrap().to_owned(),
                    path: op["path"]
                        .as_str()
                        .unwrap()
                        .trim_matches('/')
                        .split('/')
                        .map(str::to_owned)
                        .collect(),
                    query: strings(&op["query"]).into_iter().collect(),
                    query_values: op["query_values"]
                        .as_object()
                        .into_iter()
                        .flatten()
                        .map(|(k, v)| (k.clone(), strings(v)))
                        .collect(),
                    request: (!op["request"].is_null()).then(|| validator(&root, &op["request"])),
                    body_required: op["body_required"].as_bool().unwrap(),
                    responses: op["responses"]
                        .as_object()
                        .unwrap()
                        .iter()
                        .map(|(status, schema)| (status.parse().unwrap(), validator(&root, schema)))
                        .collect(),
                }
            })
            .collect();
        let errors = &root["x-undescribed-errors"];
        Contract {
            endpoints,
            error_statuses: errors["statuses"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_u64().unwrap() as u16)
                .collect(),
            error_body: validator(&root, &errors["schema"]),
        }
    }

    fn endpoint(&self, method: &str, path: &str) -> Option<&Endpoint> {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        self.endpoints.iter().find(|e| {
            e.method == method
                && e.path.len() == segments.len()
                && e.path
                    .iter()
                    .zip(&segments)
                    .all(|(pattern, segment)| pattern.starts_with('{') || pattern == segment)
        })
    }

    /// Everything about `request` that breaks the contract; also returns
    /// the endpoint it reached.
    fn violations(&self, request: &RecordedRequest) -> (Option<String>, Vec<String>) {
        let mut problems = Vec::new();
        let (path, query) = request
            .path
            .split_once('?')
            .unwrap_or((request.path.as_str(), ""));
        let Some(endpoint) = self.endpoint(&request.method, path) else {
            return (
                None,
                vec!["the contract describes no such endpoint".to_owned()],
            );
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if !endpoint.query.contains(key) {
                problems.push(format!("query parameter {key:?} is not described"));
            }
            if let Some(allowed) = endpoint.query_values.get(key) {
                if !allowed.iter().any(|a| a == value) {
                    problems.push(format!("{key}={value} is not one of {allowed:?}"));
                }
            }
        }
        match (&endpoint.request, &request.body) {
            (None, Some(body)) => {
                problems.push(format!("sends a body {body} the endpoint does not take"))
            }
            (Some(_), None) if endpoint.body_required => problems.push("sends no body".to_owned()),
            (Some(schema), Some(body)) => {
                problems.extend(
                    schema
                        .iter_errors(body)
                        .map(|e| format!("request body: {e} at {}", e.instance_path())),
                );
                if request.headers.get("content-type").map(String::as_str)
                    != Some("application/json")
                {
                    problems.push("a JSON body without content-type application/json".to_owned());
                }
            }
            _ => {}
        }
        match &request.response {
            None => problems.push("the fake recorded no answer".to_owned()),
            Some(response) => {
                let body = response.body.clone().unwrap_or(Value::Null);
                let schema = match endpoint.responses.get(&response.status) {
                    Some(schema) => Some(schema),
                    None if self.error_statuses.contains(&response.status) => {
                        Some(&self.error_body)
                    }
                    None => {
                        problems.push(format!("status {} is not described", response.status));
                        None
                    }
                };
                if let Some(schema) = schema {
                    if response.status == 204 {
                        if response.body.is_some() {
                            problems.push("a 204 answer with a body".to_owned());
                        }
                    } else {
                        problems.extend(schema.iter_errors(&body).map(|e| {
                            format!("{} answer: {e} at {}", response.status, e.instance_path())
                        }));
                    }
                }
            }
        }
        (Some(endpoint.id.clone()), problems)
    }
}

/// Checks every recorded request and answer; returns the endpoints that
/// answered with success at least once.
fn check_all(contract: &Contract, requests: &[RecordedRequest]) -> BTreeSet<String> {
    let mut reached = BTreeSet::new();
    let mut report = Vec::new();
    for request in requests {
        let (endpoint, problems) = contract.violations(request);
        let answered = request
            .response
            .as_ref()
            .is_some_and(|r| (200..300).contains(&r.status));
        reached.extend(endpoint.filter(|_| answered));
        for problem in problems {
            report.push(format!("{} {}: {problem}", request.method, request.path));
        }
    }
    assert!(
        report.is_empty(),
        "breaks the contract:\n{}",
        report.join("\n")
    );
    reached
}

/// Requests the actuator never sends, made directly so the fake's other
/// answers are checked too.
async fn direct_requests(api: &FakeMachinesApi, running: &str) {
    let http = reqwest::Client::new();
    let auth = placer_fly::authorization_header(&ApiToken::new(TOKEN));
    let base = format!("{}/v1/apps/{APP}/machines", api.base_url());
    for (method, url, authorized) in [
        ("GET", format!("{base}/{running}"), true),
        ("GET", format!("{base}/{running}/metadata"), true),
        ("GET", format!("{base}?include_deleted=true"), true),
        ("GET", format!("{base}?region=iad"), true),
        ("GET", format!("{base}/00000000000000"), true),
        // Not stopped: refused without force.
        ("DELETE", format!("{base}/{running}"), true),
        ("GET", base.clone(), false),
    ] {
        let mut request = http.request(method.parse().unwrap(), &url);
        if authorized {
            request = request.header("authorization", &auth);
        }
        request.send().await.unwrap();
    }
    // Another client's lease, as the API shows it, then gone again.
    let nonce = api
        .hold_lease(running, std::time::Duration::from_secs(60))
        .unwrap();
    for method in ["GET", "DELETE"] {
        http.request(method.parse().unwrap(), format!("{base}/{running}/lease"))
            .header("authorization", &auth)
            .header(placer_fly::LEASE_NONCE_HEADER, &nonce)
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn placer_fly_and_its_fake_keep_to_the_published_api() {
    let contract = Contract::load();
    let api = FakeMachinesApi::start(APP, TOKEN).await.unwrap();
    let template = api.add_machine(
        MachineSpec::new("iad")
            .config_field("stop_config", json!({"signal": "SIGINT", "timeout": "10s"}))
            .config_field("env", json!({"PORT": "8080"}))
            .config_field("restart", json!({"policy": "always"})),
    );

    // Destroy mode: create, wait for it, remove.
    let mut destroying = settings(&api);
    destroying.wait_for_start = Some(Duration::from_secs(30));
    let destroying = actuator(destroying);
    destroying.deploy(&region("fra")).await.unwrap();
    destroying.deploy(&region("cdg")).await.unwrap();
    destroying.remove(&region("fra")).await.unwrap();
    // The platform's regions, for the template's size.
    destroying.platform_regions().await.unwrap();

    // A create that made the machine but answered 500, and its repeat
    // under the same name while the listing lags, refused (409).
    api.set_list_lag(Duration::from_secs(600));
    api.inject_on(
        "POST",
        "/machines",
        Fault::ErrorAfterChange {
            status: 500,
            message: "internal error".into(),
        },
    );
    destroying.deploy(&region("ams")).await.unwrap_err();
    // After a restart, with nothing remembered.
    actuator(settings(&api))
        .deploy(&region("ams"))
        .await
        .unwrap_err();
    api.set_list_lag(Duration::ZERO);

    // Stop mode: park, then start again.
    let mut parking = settings(&api);
    parking.removal = RemovalMode::Stop;
    parking.wait_for_start = Some(Duration::from_secs(30));
    let parking = actuator(parking);
    parking.remove(&region("cdg")).await.unwrap();
    parking.deploy(&region("cdg")).await.unwrap();
    assert_eq!(api.live_regions(), ["ams", "cdg", "iad"]);

    direct_requests(&api, &template).await;

    // The organization's apps, for app name patterns.
    api.add_app("blog");
    let mut listing = settings(&api);
    listing.org = Some("personal".to_owned());
    let org = placer_fly::OrgApps::new(&listing, placer_fly::RequestGate::new()).unwrap();
    assert_eq!(org.names().await.unwrap(), ["blog", APP]);
    listing.org = Some("elsewhere".to_owned());
    let elsewhere = placer_fly::OrgApps::new(&listing, placer_fly::RequestGate::new()).unwrap();
    elsewhere.names().await.unwrap_err();

    let statuses: BTreeSet<u16> = api
        .requests()
        .iter()
        .filter_map(|r| Some(r.response.as_ref()?.status))
        .collect();
    assert!(
        [401, 404, 409, 412, 500]
            .iter()
            .all(|s| statuses.contains(s)),
        "error answers are checked too: {statuses:?}"
    );
    let reached = check_all(&contract, &api.requests());
    let all: BTreeSet<String> = contract.endpoints.iter().map(|e| e.id.clone()).collect();
    assert_eq!(
        reached, all,
        "every endpoint of the contract answered with success"
    );
}

/// The check can fail: bodies that break the description are caught.
#[test]
fn the_contract_catches_misspelt_fields_and_wrong_types() {
    let root: Value = serde_json::from_str(CONTRACT).unwrap();
    let create = validator(
        &root,
        &json!({"$ref": "#/definitions/CreateMachineRequest"}),
    );
    assert!(create
        .is_valid(&json!({"region": "fra", "config": {"image": "x", "metadata": {"a": "b"}}})));
    assert!(
        !create.is_valid(&json!({"regions": "fra"})),
        "misspelt field"
    );
    assert!(
        !create.is_valid(&json!({"config": {"metadata": {"n": 1}}})),
        "metadata values are strings"
    );
    assert!(
        !create.is_valid(&json!({"config": {"guest": {"cpus": "1"}}})),
        "cpus is an integer"
    );
    let stop = validator(&root, &json!({"$ref": "#/definitions/StopRequest"}));
    assert!(stop.is_valid(&json!({"signal": "SIGINT", "timeout": "1m30s"})));
    assert!(stop.is_valid(&json!({"timeout": 5_000_000_000_u64})));
    assert!(!stop.is_valid(&json!({"timeout": "soon"})));
    assert!(!stop.is_valid(&json!({"signal": 2})));
    let machine = validator(&root, &json!({"$ref": "#/definitions/Machine"}));
    assert!(machine
        .is_valid(&json!({"id": "1", "state": "started", "region": "fra", "host_status": "ok"})));
    assert!(!machine.is_valid(&json!({"id": "1", "status": "started"})));
}
