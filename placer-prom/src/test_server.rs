//! [`FakePrometheus`]: a small Prometheus HTTP API on 127.0.0.1 for tests
//! (feature `test-server`), so tests of programs built on this crate need
//! neither a real server nor hand-written stubs.
//!
//! It answers instant (`/api/v1/query`) and range (`/api/v1/query_range`)
//! queries, sent as `GET` or `POST` forms under any path prefix, with the
//! per-region rates it was given: one series per region, labelled `region`,
//! each with the same value at every step. It records every query, can
//! require a token, and can answer the next queries with any status and body.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use placer_core::{MetricsSource, Timestamp};
//! use placer_prom::test_server::FakePrometheus;
//! use placer_prom::{PrometheusOptions, PrometheusSource};
//!
//! let server = FakePrometheus::start().await.unwrap();
//! server.set_rates([("iad", 12.0), ("fra", 3.0)]);
//! let source =
//!     PrometheusSource::new(PrometheusOptions::new(server.url(), "shop".parse().unwrap())).unwrap();
//! let snapshot = source.fetch(Timestamp::from_unix_seconds(1_800_000_000)).await.unwrap();
//! assert_eq!(snapshot.total(), 15.0);
//! assert!(server.queries()[0].query.contains(r#"app="shop""#));
//! # }
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::Response;
use axum::Router;
use serde_json::{json, Value};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A query the server received.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedQuery {
    /// `query` or `query_range`.
    pub kind: &'static str,
    /// The request path, e.g. `/prometheus/acme/api/v1/query`.
    pub path: String,
    /// The PromQL sent.
    pub query: String,
    /// Every form (or URL query) parameter, `query` included.
    pub params: BTreeMap<String, String>,
    /// Whether an `Authorization` header came with it (its value is never
    /// recorded).
    pub authorized: bool,
}

#[derive(Debug, Default)]
struct ServerState {
    rates: BTreeMap<String, f64>,
    token: Option<String>,
    replies: VecDeque<(u16, String)>,
    queries: Vec<RecordedQuery>,
}

type Shared = Arc<Mutex<ServerState>>;

fn lock(state: &Shared) -> std::sync::MutexGuard<'_, ServerState> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A Prometheus HTTP API on a free port of 127.0.0.1, serving rates set by
/// the test. It stops when dropped.
pub struct FakePrometheus {
    addr: SocketAddr,
    state: Shared,
    shutdown: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
}

impl std::fmt::Debug for FakePrometheus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakePrometheus")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl FakePrometheus {
    /// Starts the server on the current tokio runtime, with no series yet.
    ///
    /// # Errors
    /// When no loopback port can be bound.
    pub async fn start() -> std::io::Result<Self> {
        let state = Shared::default();
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let router = Router::new().fallback(handle).with_state(state.clone());
        let (shutdown, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let serve = axum::serve(listener, router).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(err) = serve.await {
                tracing::warn!(%err, "fake Prometheus stopped with an error");
            }
        });
        Ok(FakePrometheus {
            addr,
            state,
            shutdown: Some(shutdown),
            server,
        })
    }

    /// The base URL to put in [`PrometheusOptions::url`](crate::PrometheusOptions::url).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Replaces the series: one per region, with this value at every step.
    pub fn set_rates<'a>(&self, rates: impl IntoIterator<Item = (&'a str, f64)>) {
        lock(&self.state).rates = rates
            .into_iter()
            .map(|(region, rate)| (region.to_owned(), rate))
            .collect();
    }

    /// Requires `Authorization: <value>` (e.g. `Bearer abc`); other requests
    /// get HTTP 401.
    pub fn require_authorization(&self, value: &str) {
        lock(&self.state).token = Some(value.to_owned());
    }

    /// Answers the next query with `status` and `body` (JSON or not) instead
    /// of the series; several calls queue several answers.
    pub fn reply_once(&self, status: u16, body: impl Into<String>) {
        lock(&self.state).replies.push_back((status, body.into()));
    }

    /// Every query received so far, in order.
    pub fn queries(&self) -> Vec<RecordedQuery> {
        lock(&self.state).queries.clone()
    }
}

impl Drop for FakePrometheus {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        self.server.abort();
    }
}

async fn handle(State(state): State<Shared>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    let kind = if path.ends_with("/api/v1/query_range") {
        "query_range"
    } else if path.ends_with("/api/v1/query") {
        "query"
    } else {
        return reply(404, error_body("bad_data", "unknown endpoint"));
    };
    let body = to_bytes(body, 1 << 20).await.unwrap_or_default();
    let mut params = form(parts.uri.query().unwrap_or(""));
    params.extend(form(&String::from_utf8_lossy(&body)));
    let presented = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);

    let mut state = lock(&state);
    state.queries.push(RecordedQuery {
        kind,
        path,
        query: params.get("query").cloned().unwrap_or_default(),
        params: params.clone(),
        authorized: presented.is_some(),
    });
    if let Some(expected) = &state.token {
        if presented.as_deref() != Some(expected.as_str()) {
            return reply(401, "Unauthorized".to_owned());
        }
    }
    if let Some((status, body)) = state.replies.pop_front() {
        return reply(status, body);
    }
    if params
        .get("query")
        .is_none_or(|query| query.trim().is_empty())
    {
        return reply(400, error_body("bad_data", "missing query"));
    }
    let number = |name: &str| params.get(name).and_then(|v| v.parse::<f64>().ok());
    let data = if kind == "query" {
        let at = number("time").unwrap_or(0.0);
        let result: Vec<Value> = state
            .rates
            .iter()
            .map(|(region, rate)| json!({"metric": {"region": region}, "value": [at, rate.to_string()]}))
            .collect();
        json!({"resultType": "vector", "result": result})
    } else {
        let (Some(start), Some(end), Some(step)) = (number("start"), number("end"), number("step"))
        else {
            return reply(
                400,
                error_body("bad_data", "start, end and step are required"),
            );
        };
        if step <= 0.0 || end < start {
            return reply(400, error_body("bad_data", "invalid range"));
        }
        let steps = ((end - start) / step).floor() as u64;
        let result: Vec<Value> = state
            .rates
            .iter()
            .map(|(region, rate)| {
                let values: Vec<Value> = (0..=steps)
                    .map(|n| json!([start + n as f64 * step, rate.to_string()]))
                    .collect();
                json!({"metric": {"region": region}, "values": values})
            })
            .collect();
        json!({"resultType": "matrix", "result": result})
    };
    reply(200, json!({"status": "success", "data": data}).to_string())
}

fn error_body(error_type: &str, message: &str) -> String {
    json!({"status": "error", "errorType": error_type, "error": message}).to_string()
}

fn form(text: &str) -> BTreeMap<String, String> {
    reqwest::Url::parse(&format!("http://form.invalid/?{text}"))
        .map(|url| url.query_pairs().into_owned().collect())
        .unwrap_or_default()
}

fn reply(status: u16, body: String) -> Response {
    let json = body.trim_start().starts_with('{');
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(
            header::CONTENT_TYPE,
            if json {
                "application/json"
            } else {
                "text/plain"
            },
        )
        .body(Body::from(body))
        .unwrap_or_default()
}
