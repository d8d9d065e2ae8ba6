//! [`PromError`]: everything that can go wrong between a query and a snapshot.

use std::time::Duration;

use placer_core::{region::RegionError, MetricsError, Region, Timestamp};

use crate::ResultType;

/// Why a Prometheus query did not produce usable traffic counts.
///
/// Every variant is an error for the tick: the source never turns a failure
/// into an empty snapshot, which would read as "no traffic anywhere".
/// Messages name the endpoint, the query or the series at fault, and never
/// contain the access token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PromError {
    /// A setting is unusable; nothing was sent.
    #[error("invalid Prometheus setting `{setting}`: {problem}")]
    InvalidSettings {
        /// Which setting, e.g. `url` or `region_label`.
        setting: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// An argument of a query call is unusable; nothing was sent.
    #[error("invalid {argument} for a range query: {problem}")]
    InvalidArgument {
        /// Which argument, e.g. `step`.
        argument: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// The server could not be reached, or the connection broke.
    #[error("could not reach {endpoint}: {source}{}", root_cause(source))]
    Transport {
        /// The endpoint that was called (credentials and query removed).
        endpoint: String,
        /// The HTTP client's error (its URL removed), with its causes.
        #[source]
        source: TransportError,
    },
    /// No complete answer arrived within the configured timeout.
    #[error("{endpoint} did not answer within {}", humanize(*.after))]
    Timeout {
        /// The endpoint that was called.
        endpoint: String,
        /// The timeout that ran out.
        after: Duration,
    },
    /// The server answered with an HTTP error status and no Prometheus error.
    #[error("{endpoint} answered HTTP {status}: {message}")]
    Http {
        /// The HTTP status code, e.g. 401 or 502.
        status: u16,
        /// The endpoint that was called.
        endpoint: String,
        /// The start of the response body (or the status' reason).
        message: String,
    },
    /// The server answered with a Prometheus error
    /// (`{"status":"error","errorType":...,"error":...}`), e.g. a PromQL
    /// syntax error (`bad_data`) or a query timeout on the server.
    #[error("the server rejected the query ({error_type}{}): {message}", http_status.map(|s| format!(", HTTP {s}")).unwrap_or_default())]
    Api {
        /// Prometheus' error type, e.g. `bad_data`, `execution`, `timeout`.
        error_type: String,
        /// Prometheus' explanation.
        message: String,
        /// The HTTP status the error came with, when it was not 200.
        http_status: Option<u16>,
    },
    /// The body is not a Prometheus API answer.
    #[error("response is not a valid Prometheus API answer: {problem}")]
    Decode {
        /// What could not be read, with its position when known.
        problem: String,
    },
    /// The answer has a result type this query cannot use.
    #[error("expected a {expected} result, got a {found} result; check the query template")]
    UnexpectedResultType {
        /// What the call needs, e.g. `vector or scalar`.
        expected: &'static str,
        /// What the server returned.
        found: ResultType,
    },
    /// A region's value is not a usable request count (`NaN`, `+Inf`,
    /// `-Inf`, negative, or not a number at all).
    #[error("series {series} has value {value:?} at {at}, which is not a request count")]
    InvalidValue {
        /// The series' labels, as `{name="value",...}`.
        series: String,
        /// When the value was sampled.
        at: Timestamp,
        /// The value as the server sent it.
        value: String,
    },
    /// A series' region label holds something that is not a region code.
    #[error("series {series} has no usable region in label `{label}`: {source}")]
    InvalidRegion {
        /// The series' labels.
        series: String,
        /// The region label's name.
        label: String,
        /// Why the value is not a region.
        #[source]
        source: RegionError,
    },
    /// Two series name the same region at the same time; the query must
    /// aggregate down to one series per region (e.g. `sum by (region)`).
    #[error("region {region} appears in more than one series at {at}; the query must return one series per region, e.g. with `sum by (region)`")]
    DuplicateRegion {
        /// The repeated region.
        region: Region,
        /// The sample time.
        at: Timestamp,
    },
    /// The answer holds no series with a region label at all. Reported as an
    /// error because an empty snapshot would read as zero traffic everywhere;
    /// usually the app name, the metric or the region label is wrong.
    #[error("query returned no series with a `{region_label}` label ({unlabelled} series without it); check the app name, the metric and the region label: {query}")]
    NoRegionSeries {
        /// The query that was sent.
        query: String,
        /// The region label looked for.
        region_label: String,
        /// Number of series that lacked the label.
        unlabelled: usize,
    },
    /// The query asking for this app among others failed; every app of it
    /// gets this error ([`PrometheusSource::query_apps`](crate::PrometheusSource::query_apps)).
    #[error("the traffic query for this app and {} others failed: {message}", apps.saturating_sub(1))]
    AppsQueryFailed {
        /// How many apps the query asked for.
        apps: usize,
        /// Why it failed.
        message: String,
    },
    /// The server flagged its answer as partial (VictoriaMetrics' `isPartial`):
    /// some storage nodes did not answer, so counts may be too low.
    #[error("the answer to {query} is partial (some storage nodes did not respond); counts may be too low")]
    PartialResponse {
        /// The query that was sent.
        query: String,
    },
}

impl PromError {
    pub(crate) fn invalid_settings(setting: &'static str, problem: impl Into<String>) -> Self {
        PromError::InvalidSettings {
            setting,
            problem: problem.into(),
        }
    }

    pub(crate) fn decode(problem: impl Into<String>) -> Self {
        PromError::Decode {
            problem: problem.into(),
        }
    }
}

impl From<PromError> for MetricsError {
    fn from(err: PromError) -> Self {
        MetricsError::backend("prometheus", err)
    }
}

/// What the HTTP client said when a request got no answer: its message and
/// its chain of causes ([`source`](std::error::Error::source)), without tying
/// this crate's API to the client library or its version.
#[derive(Debug)]
pub struct TransportError(Box<dyn std::error::Error + Send + Sync>);

impl TransportError {
    /// Wraps the client's error, its URL removed (the URL is named
    /// separately, without credentials).
    pub(crate) fn new(err: reqwest::Error) -> Self {
        TransportError(Box::new(err.without_url()))
    }
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// The innermost cause in parentheses (e.g. "Connection refused"), which the
/// client's own message ("error sending request") leaves out.
fn root_cause(err: &TransportError) -> String {
    let mut root: Option<&dyn std::error::Error> = None;
    let mut next = std::error::Error::source(err);
    while let Some(inner) = next {
        root = Some(inner);
        next = inner.source();
    }
    root.map_or_else(String::new, |root| format!(" ({root})"))
}

fn humanize(duration: Duration) -> String {
    if duration.subsec_millis() == 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{}ms", duration.as_millis())
    }
}
