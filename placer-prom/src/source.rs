//! [`PrometheusSource`]: the [`MetricsSource`] that asks a Prometheus API.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use placer_core::{MetricsError, MetricsSource, Timestamp, TrafficSnapshot};
use reqwest::header::{HeaderValue, AUTHORIZATION};
use reqwest::Url;

use crate::response::api_error;
use crate::{
    parse_response, ParsedResponse, PromError, PrometheusOptions, QueryOutcome, ResultType,
};

/// How much of an error body goes into [`PromError::Http`].
const ERROR_BODY_LIMIT: usize = 512;

/// Per-region request counts from a Prometheus-compatible HTTP API, such as
/// Fly.io's (`https://api.fly.io/prometheus/<org>`, VictoriaMetrics
/// underneath), a VictoriaMetrics server or a plain Prometheus.
///
/// Queries are sent as `POST` forms, so long templates never hit URL length
/// limits. Every failure is an error, never an empty snapshot; see
/// [`query_instant`](Self::query_instant) and [`query_range`](Self::query_range).
/// Cloning is cheap and shares the connection pool.
#[derive(Clone)]
pub struct PrometheusSource {
    client: reqwest::Client,
    settings: PrometheusOptions,
    query: String,
    pub(crate) instant_url: Url,
    range_url: Url,
    /// The base URL without credentials, for messages.
    endpoint: String,
    authorization: Option<HeaderValue>,
}

impl PrometheusSource {
    /// Checks `settings` and builds a source with its own HTTP client
    /// (rustls, the configured timeout).
    ///
    /// # Errors
    /// [`PromError::InvalidSettings`] for a URL that is not `http(s)://`, an
    /// empty template, a bad label name, a zero timeout or a token that
    /// cannot be sent in a header.
    pub fn new(settings: PrometheusOptions) -> Result<Self, PromError> {
        settings.validate()?;
        let base = crate::options::base_url(settings.url.as_deref().unwrap_or_default())?;
        let authorization = match &settings.token {
            Some(token) if !token.is_empty() => {
                let mut value = HeaderValue::from_str(&crate::options::authorization_header(token))
                    .map_err(|_| {
                        PromError::invalid_settings(
                            "token",
                            "the token contains characters that cannot be sent in an HTTP header",
                        )
                    })?;
                value.set_sensitive(true);
                Some(value)
            }
            _ => None,
        };
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .user_agent(concat!("fly-placer/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| PromError::invalid_settings("timeout", e.without_url().to_string()))?;
        Ok(PrometheusSource {
            client,
            query: settings.query(),
            instant_url: api_url(&base, "query"),
            range_url: api_url(&base, "query_range"),
            endpoint: display_url(&base),
            authorization,
            settings,
        })
    }

    /// The settings this source was built from.
    pub fn settings(&self) -> &PrometheusOptions {
        &self.settings
    }

    /// The same source for `app`: the single-app template with `app` filled
    /// in, sharing this source's connection pool. A placer of several apps
    /// reads one app's past traffic through it.
    pub fn for_app(&self, app: placer_core::AppName) -> PrometheusSource {
        let mut settings = self.settings.clone();
        settings.app = Some(app);
        PrometheusSource {
            query: settings.query(),
            settings,
            ..self.clone()
        }
    }

    /// The PromQL this source sends (template with the app filled in).
    pub fn query(&self) -> &str {
        &self.query
    }

    /// Runs the query at `at` (`/api/v1/query`) and returns the snapshot with
    /// the server's warnings, its partial flag and any series that lacked the
    /// region label.
    ///
    /// A partial answer is returned with `partial: true`; the
    /// [`MetricsSource`] implementation refuses it instead.
    ///
    /// # Errors
    /// Any [`PromError`]: transport failures, timeouts, HTTP and Prometheus
    /// errors, undecodable bodies, unusable values, and
    /// [`PromError::NoRegionSeries`] when nothing carries the region label.
    pub async fn query_instant(&self, at: Timestamp) -> Result<QueryOutcome, PromError> {
        let form = [("query", self.query.clone()), ("time", unix_seconds(at))];
        let parsed = self.post(&self.instant_url, &form).await?;
        let outcome = QueryOutcome::from_instant(parsed, at)?;
        if outcome.snapshot.is_empty() {
            return Err(self.no_region_series(outcome.unlabelled.len()));
        }
        report(&self.query, &outcome.warnings, &outcome.unlabelled);
        Ok(outcome)
    }

    /// Runs the query over `[start, end]` every `step` (`/api/v1/query_range`)
    /// and returns one snapshot per evaluation step that has data, in time
    /// order, each stamped with the time the server evaluated it at.
    ///
    /// Steps where no series has a sample are left out rather than reported
    /// as zero traffic. Warnings and unlabelled series are logged
    /// (`tracing`, target `placer_prom`).
    ///
    /// # Errors
    /// [`PromError::InvalidArgument`] when `start > end` or `step` is under a
    /// millisecond; [`PromError::PartialResponse`] for a partial answer;
    /// otherwise as [`query_instant`](Self::query_instant).
    pub async fn query_range(
        &self,
        start: Timestamp,
        end: Timestamp,
        step: Duration,
    ) -> Result<Vec<TrafficSnapshot>, PromError> {
        if start > end {
            return Err(PromError::InvalidArgument {
                argument: "start",
                problem: format!("start {start} is after end {end}"),
            });
        }
        if step < Duration::from_millis(1) {
            return Err(PromError::InvalidArgument {
                argument: "step",
                problem: format!("a step of {step:?} is shorter than a millisecond"),
            });
        }
        let form = [
            ("query", self.query.clone()),
            ("start", unix_seconds(start)),
            ("end", unix_seconds(end)),
            ("step", duration_seconds(step)),
        ];
        let parsed = self.post(&self.range_url, &form).await?;
        if parsed.result_type != ResultType::Matrix {
            return Err(PromError::UnexpectedResultType {
                expected: "matrix",
                found: parsed.result_type,
            });
        }
        if parsed.partial {
            return Err(PromError::PartialResponse {
                query: self.query.clone(),
            });
        }
        if parsed.snapshots.is_empty() {
            return Err(self.no_region_series(parsed.unlabelled.len()));
        }
        report(&self.query, &parsed.warnings, &parsed.unlabelled);
        Ok(parsed.snapshots)
    }

    async fn post(&self, url: &Url, form: &[(&str, String)]) -> Result<ParsedResponse, PromError> {
        let body = self.post_raw(url, form).await?;
        parse_response(&body, &self.settings.region_label)
    }

    pub(crate) async fn post_raw(
        &self,
        url: &Url,
        form: &[(&str, String)],
    ) -> Result<Vec<u8>, PromError> {
        let mut request = self.client.post(url.clone()).form(form);
        if let Some(authorization) = &self.authorization {
            request = request.header(AUTHORIZATION, authorization.clone());
        }
        let response = request.send().await.map_err(|e| self.client_error(e))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| self.client_error(e))?;
        if !status.is_success() {
            // Prometheus explains most failures (400, 422, 503) in JSON.
            if let Some((error_type, message)) = api_error(&body) {
                return Err(PromError::Api {
                    error_type,
                    message,
                    http_status: Some(status.as_u16()),
                });
            }
            return Err(PromError::Http {
                status: status.as_u16(),
                endpoint: self.endpoint.clone(),
                message: error_message(status, &body),
            });
        }
        Ok(body.to_vec())
    }

    fn client_error(&self, err: reqwest::Error) -> PromError {
        if err.is_timeout() {
            PromError::Timeout {
                endpoint: self.endpoint.clone(),
                after: self.settings.timeout,
            }
        } else {
            PromError::Transport {
                endpoint: self.endpoint.clone(),
                source: crate::error::TransportError::new(err),
            }
        }
    }

    fn no_region_series(&self, unlabelled: usize) -> PromError {
        PromError::NoRegionSeries {
            query: self.query.clone(),
            region_label: self.settings.region_label.clone(),
            unlabelled,
        }
    }
}

#[async_trait]
impl MetricsSource for PrometheusSource {
    /// The instant query at `at`. Partial answers are refused: a region whose
    /// data is missing would look idle and could be removed.
    async fn fetch(&self, at: Timestamp) -> Result<TrafficSnapshot, MetricsError> {
        let outcome = self.query_instant(at).await?;
        if outcome.partial {
            return Err(PromError::PartialResponse {
                query: self.query.clone(),
            }
            .into());
        }
        Ok(outcome.snapshot)
    }

    /// [`query_history`](Self::query_history) over `[start, end]` every
    /// `step`, in as many range queries as the server's point limit needs.
    /// A range in which the app has no series at all (it is new, or the
    /// server keeps less) is an empty history, not an error.
    async fn history(
        &self,
        start: Timestamp,
        end: Timestamp,
        step: Duration,
    ) -> Result<Vec<TrafficSnapshot>, MetricsError> {
        match self.query_history(start, end, step, |_, _| {}).await {
            Ok(snapshots) => Ok(snapshots),
            Err(PromError::NoRegionSeries { unlabelled: 0, .. }) => Ok(Vec::new()),
            Err(err) => Err(err.into()),
        }
    }
}

impl fmt::Debug for PrometheusSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrometheusSource")
            .field("endpoint", &self.endpoint)
            .field("query", &self.query)
            .field("region_label", &self.settings.region_label)
            .field("timeout", &self.settings.timeout)
            .field("authenticated", &self.authorization.is_some())
            .finish()
    }
}

/// Logs what came with a successful answer, so it is never lost silently.
pub(crate) fn report(query: &str, warnings: &[String], unlabelled: &[crate::UnlabelledSeries]) {
    for warning in warnings {
        tracing::warn!(target: "placer_prom", %query, "server warning: {warning}");
    }
    for series in unlabelled {
        tracing::warn!(target: "placer_prom", %query, "series without region label ignored: {series}");
    }
}

/// `<base>/api/v1/<endpoint>`, keeping any path prefix such as `/prometheus/<org>`.
fn api_url(base: &Url, endpoint: &str) -> Url {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.pop_if_empty().extend(["api", "v1", endpoint]);
    }
    url
}

/// The URL without user, password, query or fragment: safe to print.
fn display_url(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.as_str().trim_end_matches('/').to_owned()
}

/// Unix seconds with millisecond precision, as the API's `time` parameters take them.
pub(crate) fn unix_seconds(at: Timestamp) -> String {
    let millis = at.unix_millis();
    format!("{}.{:03}", millis.div_euclid(1000), millis.rem_euclid(1000))
}

/// A step in seconds with millisecond precision.
fn duration_seconds(step: Duration) -> String {
    format!("{}.{:03}", step.as_secs(), step.subsec_millis())
}

fn error_message(status: reqwest::StatusCode, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return status
            .canonical_reason()
            .unwrap_or("no reason given")
            .to_owned();
    }
    match text.char_indices().nth(ERROR_BODY_LIMIT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_sent_as_seconds_with_millis() {
        assert_eq!(
            unix_seconds(Timestamp::from_unix_millis(1_700_000_000_250)),
            "1700000000.250"
        );
        assert_eq!(unix_seconds(Timestamp::from_unix_millis(-1500)), "-2.500");
        assert_eq!(duration_seconds(Duration::from_millis(60_500)), "60.500");
    }

    #[test]
    fn api_paths_keep_the_org_prefix() {
        let base = Url::parse("https://api.fly.io/prometheus/personal/").unwrap();
        assert_eq!(
            api_url(&base, "query").as_str(),
            "https://api.fly.io/prometheus/personal/api/v1/query"
        );
        let bare = Url::parse("http://127.0.0.1:9090").unwrap();
        assert_eq!(
            api_url(&bare, "query_range").as_str(),
            "http://127.0.0.1:9090/api/v1/query_range"
        );
    }

    #[test]
    fn printed_urls_drop_credentials() {
        let url = Url::parse("https://user:pw@example.test/prometheus/org?x=1").unwrap();
        assert_eq!(display_url(&url), "https://example.test/prometheus/org");
    }

    #[test]
    fn error_bodies_are_cut_short() {
        let long = "x".repeat(2000);
        let message = error_message(reqwest::StatusCode::BAD_GATEWAY, long.as_bytes());
        assert_eq!(message.chars().count(), ERROR_BODY_LIMIT + 1);
        assert_eq!(
            error_message(reqwest::StatusCode::BAD_GATEWAY, b" "),
            "Bad Gateway"
        );
    }
}
