//! The HTTP API: `POST /trigger`, `GET /health`, `/metrics`, `/state`,
//! `/traffic`, the status page at `/` with its document at `/api/status`,
//! and the list of endpoints at `/api`.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
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
        .fallback(not_found)
        .with_state(service)
}

async fn index() -> Json<serde_json::Value> {
    Json(json!({
        "name": "fly-placer",
        "version": env!("CARGO_PKG_VERSION"),
        "endpoints": {
            "POST /trigger": "run a tick now and return its report",
            "GET /health": "config, mode, and the latest tick",
            "GET /metrics": "Prometheus metrics",
            "GET /state": "deployment, cooldowns and traffic memory",
            "GET /traffic": "latest requests per region",
            "GET /": "the status page (HTML)",
            "GET /api/status": "what the status page shows: regions, recent ticks, mode",
            "GET /api": "this list",
        }
    }))
}

async fn page() -> Html<&'static str> {
    Html(page::html())
}

/// `?app=NAME` picks an app of several.
#[derive(Debug, serde::Deserialize)]
struct AppQuery {
    app: Option<String>,
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
/// not be read (the report says why).
async fn trigger(State(service): State<Arc<Service>>, headers: HeaderMap) -> Response {
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
    match service.tick_now().await {
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
    }
}

async fn health(State(service): State<Arc<Service>>) -> Response {
    Json(service.health()).into_response()
}

async fn metrics(State(service): State<Arc<Service>>) -> Response {
    (
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        service.metrics().render(),
    )
        .into_response()
}

async fn state(State(service): State<Arc<Service>>) -> Response {
    Json(service.state()).into_response()
}

async fn traffic(State(service): State<Arc<Service>>) -> Response {
    Json(service.traffic()).into_response()
}

async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        &"no such endpoint; GET /api lists them",
    )
}

fn error(status: StatusCode, message: &dyn std::fmt::Display) -> Response {
    (status, Json(json!({ "error": message.to_string() }))).into_response()
}
