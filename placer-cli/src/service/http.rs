//! The HTTP API: `POST /trigger`, `GET /health`, `/metrics`, `/state`,
//! `/traffic`, `/apps`, the status page at `/` with its document at
//! `/api/status`, the fleet page (`/` with several apps) with its document
//! at `/api/fleet`, and the list of endpoints at `/api`.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Query, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::runtime::TickError;
use crate::service::metrics::CONTENT_TYPE;
use crate::service::{json_body, overview, page, Service};

/// The API's routes, answering from `service`.
pub fn router(service: Arc<Service>) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/api", get(index))
        .route("/api/status", get(page_document))
        .route("/api/fleet", get(fleet_document))
        .route("/trigger", post(trigger))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/state", get(state))
        .route("/traffic", get(traffic))
        .route("/apps", get(apps))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
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
            "GET /": "the status page (HTML): with several apps, the fleet page (?app=NAME: one app's page)",
            "GET /api/status": "what the status page shows: regions, recent ticks, mode (?app=NAME: one app)",
            "GET /api/fleet": "what the fleet page shows: one row per app",
            "GET /api": "this list",
        }
    }))
}

/// One app's page; with several apps and no `?app=`, the fleet page. The
/// page reads the query itself, so any query string is answered.
async fn page(
    State(service): State<Arc<Service>>,
    RawQuery(query): RawQuery,
) -> Html<&'static str> {
    let names_an_app = query
        .as_deref()
        .unwrap_or_default()
        .split('&')
        .any(|pair| pair.split_once('=').map_or(pair, |(key, _)| key) == "app");
    if !names_an_app && service.runners_read().len() + service.failed_apps().len() > 1 {
        return Html(page::fleet_html());
    }
    Html(page::html())
}

async fn fleet_document(State(service): State<Arc<Service>>) -> Response {
    Json(overview::document(&service)).into_response()
}

async fn page_document(State(service): State<Arc<Service>>, query: AppQuery) -> Response {
    match page::document(&service, query.app.as_deref()) {
        Some(document) => Json(document).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            &format!("no app named {:?}", query.app.unwrap_or_default()),
        ),
    }
}

/// One app's answer in `POST /trigger`'s object keyed by app.
struct AppTick(crate::runtime::TickResult);

impl serde::Serialize for AppTick {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Ok(report) => report.serialize(serializer),
            Err(err) => json!({ "error": err.to_string() }).serialize(serializer),
        }
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
async fn trigger(
    State(service): State<Arc<Service>>,
    query: AppQuery,
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
            let status = if all_ok {
                StatusCode::OK
            } else {
                StatusCode::BAD_GATEWAY
            };
            let reports = results
                .into_iter()
                .map(|(app, result)| (app, AppTick(result)));
            return json_body::response(status, json_body::object(reports));
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

/// `?app=NAME`: one app of several. A query string that cannot be read
/// (`?app=a&app=b`) is answered 400 with a JSON error, like every other
/// error of the API.
#[derive(Debug, Deserialize)]
struct AppQuery {
    app: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for AppQuery {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<AppQuery>::from_request_parts(parts, state).await {
            Ok(Query(query)) => Ok(query),
            Err(rejection) => Err(error(
                StatusCode::BAD_REQUEST,
                &format!("cannot read the query string: {}", rejection.body_text()),
            )),
        }
    }
}

/// One app's document when asked for one (or when there is one), else
/// every app's keyed by name, written one app at a time.
fn per_app<T: serde::Serialize, A>(
    service: &Service,
    query: &AppQuery,
    one: impl Fn(Option<&str>) -> Result<T, crate::service::UnknownApp>,
    all: impl FnOnce() -> A,
) -> Response
where
    A: Iterator<Item = (String, T)> + Send + 'static,
{
    if query.app.is_none() && service.is_many() {
        return json_body::response(StatusCode::OK, json_body::object(all()));
    }
    match one(query.app.as_deref()) {
        Ok(document) => Json(document).into_response(),
        Err(err) => error(StatusCode::NOT_FOUND, &err),
    }
}

/// `GET /health`: one app's document, or every app's under `apps` with the
/// apps that could not start, the overall status and the version (the
/// keys in the order they always had).
async fn health(State(service): State<Arc<Service>>, query: AppQuery) -> Response {
    if query.app.is_some() || !service.is_many() {
        return match service.health_of(query.app.as_deref()) {
            Ok(document) => Json(document).into_response(),
            Err(err) => error(StatusCode::NOT_FOUND, &err),
        };
    }
    let failed = service.failed_apps();
    let degraded = Arc::new(std::sync::atomic::AtomicBool::new(!failed.is_empty()));
    let seen = Arc::clone(&degraded);
    let apps = service.health_all().inspect(move |(_, health)| {
        if health.status != "ok" {
            seen.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    });
    let chunks = json_body::raw(r#"{"apps":"#)
        .chain(json_body::object(apps))
        .chain(json_body::raw(r#","failed_apps":"#))
        .chain(json_body::value(move || failed))
        .chain(json_body::raw(r#","status":"#))
        .chain(json_body::value(move || {
            if degraded.load(std::sync::atomic::Ordering::Relaxed) {
                "degraded"
            } else {
                "ok"
            }
        }))
        .chain(json_body::raw(r#","version":"#))
        .chain(json_body::value(|| env!("CARGO_PKG_VERSION")))
        .chain(json_body::raw("}"));
    json_body::response(StatusCode::OK, chunks)
}

async fn apps(State(service): State<Arc<Service>>) -> Response {
    Json(json!({
        "apps": service.app_names(),
        "failed_apps": service.failed_apps(),
    }))
    .into_response()
}

/// The metrics, compressed with gzip when the scraper accepts it (as
/// Prometheus and VictoriaMetrics do). With many apps the text is tens of
/// MiB, so it is never held whole: it is compressed as it is written, and a
/// scraper that does not take gzip gets it unpacked piece by piece as the
/// response is sent.
async fn metrics(State(service): State<Arc<Service>>, headers: HeaderMap) -> Response {
    let gzip = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(accepts_gzip);
    let vary = (header::VARY, "Accept-Encoding");
    let apps = service.app_names();
    service.metrics().observe_service(
        apps.iter().map(String::as_str),
        service.interval(),
        service.leadership().term().is_ok(),
    );
    if gzip {
        let body = service.metrics().render_gzip();
        let headers = [
            (header::CONTENT_TYPE, CONTENT_TYPE),
            (header::CONTENT_ENCODING, "gzip"),
            vary,
        ];
        return (headers, body).into_response();
    }
    let headers = [(header::CONTENT_TYPE, CONTENT_TYPE), vary];
    let compressed = service.metrics().render_gzip();
    (headers, unpacked(compressed)).into_response()
}

/// The text of gzip `compressed`, unpacked a piece at a time as the body
/// is sent.
fn unpacked(compressed: Vec<u8>) -> axum::body::Body {
    const PIECE: usize = 64 * 1024;
    let mut text = flate2::read::GzDecoder::new(std::io::Cursor::new(compressed));
    let pieces = std::iter::from_fn(move || {
        let mut piece = vec![0; PIECE];
        match std::io::Read::read(&mut text, &mut piece) {
            Ok(0) => None,
            Ok(read) => {
                piece.truncate(read);
                Some(Ok(axum::body::Bytes::from(piece)))
            }
            Err(err) => Some(Err(err)),
        }
    });
    axum::body::Body::from_stream(futures::stream::iter(pieces))
}

/// Whether an `Accept-Encoding` value accepts gzip (RFC 9110, 12.5.3):
/// named (`gzip`, `x-gzip`) or, when not named, through `*`, with a
/// weight above zero.
fn accepts_gzip(value: &str) -> bool {
    let weight = |names: &[&str]| {
        value.split(',').find_map(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            if !names.iter().any(|n| name.eq_ignore_ascii_case(n)) {
                return None;
            }
            let q = parts
                .filter_map(|parameter| parameter.split_once('='))
                .find(|(key, _)| key.trim().eq_ignore_ascii_case("q"))
                .map_or(Some(1.0), |(_, q)| q.trim().parse::<f64>().ok());
            Some(q.unwrap_or(0.0))
        })
    };
    weight(&["gzip", "x-gzip"])
        .or_else(|| weight(&["*"]))
        .is_some_and(|q| q > 0.0)
}

async fn state(State(service): State<Arc<Service>>, query: AppQuery) -> Response {
    per_app(
        &service,
        &query,
        |app| service.state_of(app),
        || service.state_all(),
    )
}

async fn traffic(State(service): State<Arc<Service>>, query: AppQuery) -> Response {
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

/// 405 with a JSON body saying which method the endpoint takes.
async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    let (allowed, message) = if uri.path() == "/trigger" {
        (
            "POST",
            format!("{method} /trigger is not allowed; use POST /trigger"),
        )
    } else {
        (
            "GET",
            format!("{method} {} is not allowed; use GET", uri.path()),
        )
    };
    let mut response = error(StatusCode::METHOD_NOT_ALLOWED, &message);
    response
        .headers_mut()
        .insert(header::ALLOW, header::HeaderValue::from_static(allowed));
    response
}

/// 409 naming the leader, so the caller can go there (on Fly: the
/// `fly-force-instance-id` header).
fn not_leader_response(not_leader: &crate::store::NotLeader) -> Response {
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

#[cfg(test)]
mod tests {
    use super::accepts_gzip;

    #[test]
    fn gzip_is_accepted_when_named_or_starred_with_a_weight() {
        for accepted in [
            "gzip",
            "GZIP",
            "deflate, gzip;q=0.5",
            "x-gzip",
            "*",
            "br, *;q=0.1",
            "gzip; q=1",
        ] {
            assert!(accepts_gzip(accepted), "{accepted:?}");
        }
        for refused in [
            "",
            "identity",
            "br, deflate",
            "gzip;q=0",
            "gzip;q=0.0, *",
            "*;q=0",
            "gzip;q=x",
        ] {
            assert!(!accepts_gzip(refused), "{refused:?}");
        }
    }
}
