//! The HTTP API: `POST /trigger`, `GET /health`, `/metrics`, `/state`,
//! `/traffic`, `/apps`, the status page at `/` with its document at
//! `/api/status`, and the list of endpoints at `/api`.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::runtime::TickError;
use crate::service::metrics::CONTENT_TYPE;
use crate::service::{page, Service};

/// The API's routes, answering from `service`.
pub fn router(service: Arc<Service>) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/api", get(index))
        .route("/api/status", get(page_document))
        .route("/trigger", post(trigger))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/state", get(state))
        .route("/traffic", get(traffic))
        .route("/apps", get(apps))
        .fallback(not_found)
        .with_state(service)
}

async fn index() -> Json<serde_json::Value> {
    Json(json!({
        "name": "fly-placer",
        "version": env!("CARGO_PKG_VERSION"),
        "endpoints": {
            "POST /trigger": "run a tick now and return its report (several apps: every app's, keyed by app; ?app=NAME: one)",
            "GET /health": "config, mode, and the latest tick (?app=NAME: one app)",
            "GET /metrics": "Prometheus metrics",
            "GET /state": "deployment, cooldowns and traffic memory (?app=NAME: one app)",
            "GET /traffic": "latest requests per region (?app=NAME: one app)",
            "GET /apps": "the apps placed",
            "GET /": "the status page (HTML)",
            "GET /api/status": "what the status page shows: regions, recent ticks, mode (?app=NAME: one app)",
            "GET /api": "this list",
        }
    }))
}

async fn page() -> Html<&'static str> {
    Html(page::html())
}

async fn page_document(
    State(service): State<Arc<Service>>,
    Query(query): Query<AppQuery>,
) -> Response {
    match page::document(&service, query.app.as_deref()) {
        Some(document) => Json(document).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            &format!("no app named {:?}", query.app.unwrap_or_default()),
        ),
    }
}

/// Runs a tick (or joins the one running) and returns its report: 200 when
/// the tick observed and planned, 502 when traffic or the deployment could
/// not be read (the report says why). On a follower (shared state store):
/// 409 with `{"error", "leader"}` naming the leader; 503 when the leader
/// could not read its stored state.
///
/// With several apps, a trigger without `?app=` ticks all of them and
/// answers an object keyed by app: 200 when every tick observed and
/// planned, 502 otherwise.
/// One app's answer in `POST /trigger`'s object keyed by app.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum AppTick<'a> {
    /// The tick's report.
    Report(&'a placer_core::TickReport),
    /// Why the tick did not run.
    Failed { error: String },
}

async fn trigger(
    State(service): State<Arc<Service>>,
    Query(query): Query<AppQuery>,
    headers: HeaderMap,
) -> Response {
    if let Some(expected) = service.trigger_token() {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().split_once(' '))
            // The scheme name is case-insensitive (RFC 9110).
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        if !presented.is_some_and(|token| expected.matches(token)) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                Json(json!({
                    "error": "POST /trigger needs the header `Authorization: Bearer <PLACER_TRIGGER_TOKEN>`"
                })),
            )
                .into_response();
        }
    }
    if let Err(not_leader) = service.leadership().term() {
        service.refresh_from_store().await;
        return not_leader_response(&not_leader);
    }
    let result = match (&query.app, service.is_many()) {
        (Some(app), _) => match service.tick_app(app).await {
            Ok(result) => result,
            Err(err) => return error(StatusCode::NOT_FOUND, &err),
        },
        (None, false) => service.tick_now().await,
        (None, true) => {
            let results = service.tick_all().await;
            let all_ok = results
                .values()
                .all(|result| result.as_ref().is_ok_and(|report| report.is_ok()));
            // Written straight from the reports: with many apps, a JSON
            // tree of them all would take many times the text's size.
            let body: std::collections::BTreeMap<&str, AppTick<'_>> = results
                .iter()
                .map(|(app, result)| {
                    let tick = match result {
                        Ok(report) => AppTick::Report(report),
                        Err(err) => AppTick::Failed {
                            error: err.to_string(),
                        },
                    };
                    (app.as_str(), tick)
                })
                .collect();
            let status = if all_ok {
                StatusCode::OK
            } else {
                StatusCode::BAD_GATEWAY
            };
            return (status, Json(body)).into_response();
        }
    };
    match result {
        Ok(report) => {
            let status = if report.is_ok() {
                StatusCode::OK
            } else {
                StatusCode::BAD_GATEWAY
            };
            (status, Json(report.as_ref().clone())).into_response()
        }
        Err(err @ TickError::ShuttingDown) => error(StatusCode::SERVICE_UNAVAILABLE, &err),
        Err(err @ TickError::Crashed(_)) => error(StatusCode::INTERNAL_SERVER_ERROR, &err),
        // Only the leader ticks; the answer names it, so the caller can go
        // there (on Fly: the `fly-force-instance-id` header).
        Err(TickError::NotLeader(not_leader)) => not_leader_response(&not_leader),
        Err(err @ TickError::StateUnavailable(_)) => error(StatusCode::SERVICE_UNAVAILABLE, &err),
    }
}

/// `?app=NAME`: one app of several.
#[derive(Debug, Deserialize)]
struct AppQuery {
    app: Option<String>,
}

/// One app's document when asked for one (or when there is one), else
/// every app's keyed by name.
/// One app's document, or every app's (written straight from the
/// documents: with many apps a JSON tree of them would take many times
/// the text's size).
fn per_app<T: serde::Serialize, A: serde::Serialize>(
    service: &Service,
    query: &AppQuery,
    one: impl Fn(Option<&str>) -> Result<T, crate::service::UnknownApp>,
    all: impl Fn() -> A,
) -> Response {
    if query.app.is_none() && service.is_many() {
        return Json(all()).into_response();
    }
    match one(query.app.as_deref()) {
        Ok(document) => Json(document).into_response(),
        Err(err) => error(StatusCode::NOT_FOUND, &err),
    }
}

/// `GET /health` of every app (its keys in the order they always had).
#[derive(serde::Serialize)]
struct AllHealth {
    apps: std::collections::BTreeMap<String, crate::service::Health>,
    failed_apps: std::collections::BTreeMap<String, String>,
    status: &'static str,
    version: &'static str,
}

async fn health(State(service): State<Arc<Service>>, Query(query): Query<AppQuery>) -> Response {
    per_app(
        &service,
        &query,
        |app| service.health_of(app),
        || {
            let apps = service.health_all();
            let failed = service.failed_apps();
            let degraded = !failed.is_empty() || apps.values().any(|health| health.status != "ok");
            AllHealth {
                apps,
                failed_apps: failed,
                status: if degraded { "degraded" } else { "ok" },
                version: env!("CARGO_PKG_VERSION"),
            }
        },
    )
}

async fn apps(State(service): State<Arc<Service>>) -> Response {
    Json(json!({
        "apps": service.app_names(),
        "failed_apps": service.failed_apps(),
    }))
    .into_response()
}

async fn metrics(State(service): State<Arc<Service>>) -> Response {
    (
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        service.metrics().render(),
    )
        .into_response()
}

async fn state(State(service): State<Arc<Service>>, Query(query): Query<AppQuery>) -> Response {
    per_app(
        &service,
        &query,
        |app| service.state_of(app),
        || service.state_all(),
    )
}

async fn traffic(State(service): State<Arc<Service>>, Query(query): Query<AppQuery>) -> Response {
    per_app(
        &service,
        &query,
        |app| service.traffic_of(app),
        || service.traffic_all(),
    )
}

async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        &"no such endpoint; GET /api lists them",
    )
}

/// 409 naming the leader, so the caller can go there (on Fly: the
/// `fly-force-instance-id` header).
fn not_leader_response(not_leader: &crate::state_store::NotLeader) -> Response {
    (
        StatusCode::CONFLICT,
        Json(json!({
            "error": not_leader.to_string(),
            "leader": not_leader.leader,
        })),
    )
        .into_response()
}

fn error(status: StatusCode, message: &dyn std::fmt::Display) -> Response {
    (status, Json(json!({ "error": message.to_string() }))).into_response()
}
