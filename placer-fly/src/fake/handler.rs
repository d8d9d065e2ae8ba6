//! HTTP side of the fake: records, injects faults, checks the token, routes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};
use tokio::time::Instant;

use super::model::{FakeState, Reply};
use super::{lock, Fault, RecordedRequest, RecordedResponse};

type Shared = Arc<Mutex<FakeState>>;

/// Request bodies larger than this are refused.
const MAX_BODY: usize = 1 << 20;
/// Headers kept in recordings: the ones that are part of the API contract.
const RECORDED_HEADERS: [&str; 4] = [
    "accept",
    "authorization",
    "content-type",
    crate::LEASE_NONCE_HEADER,
];

pub(super) fn router(state: Shared) -> Router {
    Router::new().fallback(handle).with_state(state)
}

async fn handle(State(state): State<Shared>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let method = parts.method.as_str().to_owned();
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or("").to_owned();
    let body = match to_bytes(body, MAX_BODY).await {
        Ok(bytes) => bytes,
        Err(_) => return respond(Reply::error(413, "request body too large")),
    };
    let json = parse_body(&body);
    let nonce = parts
        .headers
        .get(crate::LEASE_NONCE_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);

    let (fault, authorized, seq, delay) = {
        let mut state = lock(&state);
        state.in_flight += 1;
        state.most_in_flight = state.most_in_flight.max(state.in_flight);
        state.next_seq += 1;
        let seq = state.next_seq;
        state.requests.push(RecordedRequest {
            method: method.clone(),
            path: if query.is_empty() {
                path.clone()
            } else {
                format!("{path}?{query}")
            },
            headers: recorded_headers(&parts.headers),
            body: json.clone(),
            received: Instant::now(),
            response: None,
            seq,
        });
        let authorized = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            == Some(state.expected_authorization.as_str());
        let fault = state.take_fault(&method, &path);
        (fault, authorized, seq, state.answer_delay)
    };
    // Counted as in flight until answered, or until the client hangs up.
    let _answering = Answering(Arc::clone(&state));
    let request = Incoming {
        method: &method,
        path: &path,
        query: &query,
        body: json.as_ref(),
        nonce: nonce.as_deref(),
    };
    let reply = answer(&state, fault, authorized, &request).await;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    record_response(&state, seq, &reply);
    respond(reply)
}

/// A request being answered: counted in [`FakeState::in_flight`] while it lives.
struct Answering(Shared);

impl Drop for Answering {
    fn drop(&mut self) {
        lock(&self.0).in_flight -= 1;
    }
}

/// What the fake reads of a request.
struct Incoming<'a> {
    method: &'a str,
    path: &'a str,
    query: &'a str,
    body: Option<&'a Value>,
    /// The `fly-machine-lease-nonce` header.
    nonce: Option<&'a str>,
}

async fn answer(
    state: &Shared,
    fault: Option<Fault>,
    authorized: bool,
    request: &Incoming<'_>,
) -> Reply {
    let mut error_after = None;
    let slow = match fault {
        Some(Fault::TooManyRequests { retry_after_secs }) => {
            let mut reply = Reply::error(429, "rate limit exceeded, slow down");
            reply.retry_after = Some(retry_after_secs);
            return reply;
        }
        Some(Fault::Error { status, message }) => return Reply::error(status, &message),
        Some(Fault::ErrorWithStatus {
            status,
            code,
            message,
        }) => return Reply::json(status, json!({ "error": message, "status": code })),
        Some(Fault::Slow(delay)) => Some(delay),
        Some(Fault::ErrorAfterChange { status, message }) => {
            error_after = Some(Reply::error(status, &message));
            None
        }
        None => None,
    };
    let reply = if authorized {
        match throttled(state, request) {
            Some(reply) => reply,
            None => route(state, request).await,
        }
    } else {
        Reply::error(401, "unauthorized: missing or invalid token")
    };
    if let Some(delay) = slow {
        tokio::time::sleep(delay).await;
    }
    error_after.unwrap_or(reply)
}

/// Keeps the answer with its request, for checks of what the fake returns.
fn record_response(state: &Shared, seq: u64, reply: &Reply) {
    let mut state = lock(state);
    if let Some(request) = state.requests.iter_mut().rev().find(|r| r.seq == seq) {
        request.response = Some(RecordedResponse {
            status: reply.status,
            body: reply
                .body
                .clone()
                .or_else(|| Some(json!({ "unparsed": reply.text.clone()? }))),
        });
    }
}

/// The action a request counts as in Fly's limits, and what it is counted
/// on: the app (the organization for its apps) and, for a get of one
/// machine, the machine.
fn action_of<'a>(request: &Incoming<'a>) -> Option<(&'a str, &'static str, Option<&'a str>)> {
    let segments: Vec<&str> = request.path.trim_matches('/').split('/').collect();
    if let (&["v1", "apps"], "GET") = (segments.as_slice(), request.method) {
        // The fake holds one organization: one bucket.
        return Some(("", "list_apps", None));
    }
    let ["v1", "apps", app, "machines", rest @ ..] = segments.as_slice() else {
        return None;
    };
    let action = match (request.method, rest) {
        ("GET", []) => "list",
        ("POST", []) => "create",
        ("GET", [id]) => return Some((app, "get", Some(id))),
        ("POST", [_]) => "update",
        ("DELETE", [_]) => "destroy",
        ("POST", [_, "stop"]) => "stop",
        ("POST", [_, "start"]) => "start",
        ("GET", [_, "wait"]) => "wait",
        ("GET", [_, "metadata"]) => "get_metadata",
        (_, [_, "metadata", _]) => "update_metadata",
        ("GET", [_, "lease"]) => "get_lease",
        ("POST", [_, "lease"]) => "acquire_lease",
        ("DELETE", [_, "lease"]) => "release_lease",
        _ => return None,
    };
    Some((app, action, None))
}

/// The 429 of a request beyond Fly's limits, when the fake enforces them.
fn throttled(state: &Shared, request: &Incoming<'_>) -> Option<Reply> {
    let (scope, action, machine) = action_of(request)?;
    let retry_after = lock(state).over_limit(scope, action, machine)?;
    let mut reply = Reply::error(
        429,
        &format!("rate limit exceeded for {action}; retry after {retry_after} s"),
    );
    reply.retry_after = Some(retry_after);
    Some(reply)
}

async fn route(state: &Shared, request: &Incoming<'_>) -> Reply {
    let Incoming {
        method,
        path,
        query,
        body,
        nonce,
    } = *request;
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let params = query_params(query);
    if let (&["v1", "apps"], "GET") = (segments.as_slice(), method) {
        return lock(state).list_apps(params.get("org_slug").map(String::as_str));
    }
    if let (&["v1", "platform", "regions"], "GET") = (segments.as_slice(), method) {
        return lock(state).platform_regions(params.get("size").map(String::as_str));
    }
    let ["v1", "apps", app, "machines", rest @ ..] = segments.as_slice() else {
        return Reply::error(404, "not found");
    };
    if !lock(state).apps.contains_key(*app) {
        return Reply::error(404, &format!("app {app} not found"));
    }
    // Every call below is about this app's machines.
    let lock = |state| scoped(state, app);
    // Changes to a machine another client holds the lease of are refused.
    if let (true, [id, ..]) = (method != "GET", rest) {
        let lease_call = rest.get(1) == Some(&"lease");
        if !lease_call {
            if let Some(refusal) = lock(state).lease_refusal(id, nonce) {
                return refusal;
            }
        }
    }
    match (method, rest) {
        ("GET", []) => lock(state).list(
            params.get("include_deleted").is_some_and(|v| v == "true"),
            params.get("region").map(String::as_str),
        ),
        ("POST", []) => lock(state).create(body),
        ("GET", [id]) => lock(state).get(id),
        ("DELETE", [id]) => {
            lock(state).destroy(id, params.get("force").is_some_and(|v| v == "true"))
        }
        ("POST", [id, "stop"]) => lock(state).stop(id, body),
        ("POST", [id, "start"]) => lock(state).start(id),
        ("GET", [id, "wait"]) => wait(state, app, id, &params).await,
        ("GET", [id, "metadata"]) => lock(state).metadata(id),
        ("POST", [id, "metadata", key]) => {
            match body.and_then(|b| b.get("value")).and_then(Value::as_str) {
                Some(value) => lock(state).set_metadata(id, key, Some(value.to_owned())),
                None => Reply::error(400, "body must be {\"value\": \"...\"}"),
            }
        }
        ("DELETE", [id, "metadata", key]) => lock(state).set_metadata(id, key, None),
        ("GET", [id, "lease"]) => lock(state).show_lease(id),
        ("POST", [id, "lease"]) => {
            lock(state).acquire_lease(id, body, nonce, "fly-placer@example.com")
        }
        ("DELETE", [id, "lease"]) => lock(state).release_lease(id, nonce),
        _ => Reply::error(404, "not found"),
    }
}

/// `GET …/wait`: holds the request until the machine reaches `state`
/// (default `started`) or `timeout` seconds (default 60) pass, at most the
/// longest wait (60 s, as Fly: "This request will block for up to 60
/// seconds").
async fn wait(state: &Shared, app: &str, id: &str, params: &BTreeMap<String, String>) -> Reply {
    let target = params.get("state").map(String::as_str).unwrap_or("started");
    if !matches!(target, "started" | "stopped" | "destroyed") {
        return Reply::error(400, &format!("invalid state {target:?}"));
    }
    let timeout = match params.get("timeout").map(|t| t.parse::<u64>()) {
        None => 60,
        Some(Ok(seconds)) => seconds,
        Some(Err(_)) => return Reply::error(400, "timeout must be a whole number of seconds"),
    };
    let longest = lock(state).max_wait;
    let deadline = Instant::now() + Duration::from_secs(timeout).min(longest);
    loop {
        let reached = scoped(state, app).reached(id, target);
        match reached {
            None => return Reply::error(404, "machine not found"),
            Some(true) => return Reply::ok(),
            Some(false) => {}
        }
        if Instant::now() >= deadline {
            return Reply::error(
                408,
                &format!("machine did not reach state {target} in time"),
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The state, about `app`'s machines.
fn scoped<'a>(state: &'a Shared, app: &str) -> std::sync::MutexGuard<'a, FakeState> {
    let mut guard = lock(state);
    guard.scope = app.to_owned();
    guard
}

fn respond(reply: Reply) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = match (reply.body, reply.text) {
        (Some(body), _) => (status, axum::Json(body)).into_response(),
        (None, Some(text)) => (status, text).into_response(),
        (None, None) => (status, Body::empty()).into_response(),
    };
    if let Some(seconds) = reply.retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

fn parse_body(body: &[u8]) -> Option<Value> {
    if body.is_empty() {
        return None;
    }
    Some(
        serde_json::from_slice(body)
            .unwrap_or_else(|_| serde_json::json!({ "unparsed": String::from_utf8_lossy(body) })),
    )
}

fn recorded_headers(headers: &HeaderMap) -> BTreeMap<String, String> {
    RECORDED_HEADERS
        .iter()
        .filter_map(|name| {
            let value = headers.get(*name)?.to_str().unwrap_or("<not text>");
            let value = if *name == "authorization" {
                redact_authorization(value)
            } else {
                value.to_owned()
            };
            Some(((*name).to_owned(), value))
        })
        .collect()
}

/// Keeps the scheme (`Bearer`, `FlyV1`) and hides the rest.
fn redact_authorization(value: &str) -> String {
    match value.split_once(' ') {
        Some((scheme, _)) => format!("{scheme} [redacted]"),
        None => "[redacted]".to_owned(),
    }
}

fn query_params(query: &str) -> BTreeMap<String, String> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((key, value)) => (key.to_owned(), value.to_owned()),
            None => (pair.to_owned(), String::new()),
        })
        .collect()
}
