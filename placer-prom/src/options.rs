//! [`PrometheusOptions`]: where to ask, as whom, and what.

use std::time::Duration;

use placer_core::{AppName, Secret};
use serde::{Deserialize, Serialize};

use crate::PromError;

/// The query used unless another is configured: requests per region over the
/// last five minutes, summed over every status code and edge instance.
///
/// `{app}` is replaced by the [`AppName`]. `increase` turns the ever-growing
/// counter into "requests in the window"; `sum by (region)` leaves one series
/// per region. The seed project's `sum(...[5m]) by (region)` applies `sum` to
/// a range vector, which PromQL rejects.
pub const DEFAULT_QUERY_TEMPLATE: &str =
    "sum by (region) (increase(fly_edge_http_responses_count{app=\"{app}\"}[5m]))";

/// The label that carries the region code in the default query's result.
pub const DEFAULT_REGION_LABEL: &str = "region";

/// How long a query may take, connection and body included, by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The placeholder in a query template that is replaced by the app name.
pub const APP_PLACEHOLDER: &str = "{app}";

/// Everything a [`PrometheusSource`](crate::PrometheusSource) needs to know.
///
/// Plain data that reads from and writes to a config section (`serde`;
/// every key optional, the timeout as seconds or text such as `"3s"`): build
/// it with [`new`](Self::new) or deserialize it, adjust fields, then hand it
/// to [`PrometheusSource::new`](crate::PrometheusSource::new), which checks
/// it. The token and the app are never read from or written to the section:
/// the program sets them (the app is the one being placed, the token comes
/// from the environment). `Debug` output never shows the token ([`Secret`]
/// redacts itself).
///
/// ```
/// use std::time::Duration;
/// use placer_prom::{PrometheusOptions, DEFAULT_QUERY_TEMPLATE};
///
/// let mut options = PrometheusOptions::new(
///     "https://api.fly.io/prometheus/personal",
///     "shop".parse().unwrap(),
/// );
/// assert_eq!(options.query_template, DEFAULT_QUERY_TEMPLATE);
/// assert_eq!(options.region_label, "region");
/// assert_eq!(options.timeout, Duration::from_secs(10));
/// assert_eq!(
///     options.query(),
///     r#"sum by (region) (increase(fly_edge_http_responses_count{app="shop"}[5m]))"#
/// );
///
/// options.token = Some(placer_core::Secret::new("FlyV1 fm2_secret"));
/// assert!(!format!("{options:?}").contains("fm2_secret"));
///
/// let section: PrometheusOptions = serde_json::from_str(r#"{"timeout": 3}"#).unwrap();
/// assert_eq!(section.timeout, Duration::from_secs(3));
/// assert_eq!(section.url, None);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrometheusOptions {
    /// Base URL of the Prometheus-compatible API, without `/api/v1/...`,
    /// e.g. `https://api.fly.io/prometheus/<org-slug>`. Required by the
    /// source.
    pub url: Option<String>,
    /// Access token; `None` sends no `Authorization` header (a local
    /// Prometheus). Tokens starting with `FlyV1 ` are sent as they are, any
    /// other as `Bearer <token>`. Never (de)serialized.
    #[serde(skip)]
    pub token: Option<Secret>,
    /// The app whose traffic is measured; fills `{app}` in the template.
    /// Required by the source; never (de)serialized.
    #[serde(skip)]
    pub app: Option<AppName>,
    /// PromQL with an `{app}` placeholder. It must return one series per
    /// region, each carrying the region code in [`region_label`](Self::region_label).
    pub query_template: String,
    /// Name of the label holding the region code (default `region`).
    pub region_label: String,
    /// Limit for a whole query, from connecting to the last byte of the answer.
    #[serde(with = "placer_core::config::duration")]
    pub timeout: Duration,
}

impl Default for PrometheusOptions {
    /// No URL, token or app yet; the default query, the `region` label and
    /// a 10 s timeout.
    fn default() -> Self {
        PrometheusOptions {
            url: None,
            token: None,
            app: None,
            query_template: DEFAULT_QUERY_TEMPLATE.to_owned(),
            region_label: DEFAULT_REGION_LABEL.to_owned(),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl PrometheusOptions {
    /// Options for `app` at `url` with no token, the default query, the
    /// `region` label and a 10 s timeout.
    pub fn new(url: impl Into<String>, app: AppName) -> Self {
        PrometheusOptions {
            url: Some(url.into()),
            app: Some(app),
            ..PrometheusOptions::default()
        }
    }

    /// The PromQL sent to the server: the template with `{app}` replaced
    /// (by nothing while no app is set).
    ///
    /// Safe against injection because an [`AppName`] holds only lowercase
    /// letters, digits and dashes.
    pub fn query(&self) -> String {
        let app = self.app.as_ref().map_or("", AppName::as_str);
        self.query_template.replace(APP_PLACEHOLDER, app)
    }

    /// Checks the parts that do not need the network: an app and a URL are
    /// set, a non-empty template, a valid label name and a non-zero timeout.
    /// The URL's form is checked by
    /// [`PrometheusSource::new`](crate::PrometheusSource::new).
    ///
    /// # Errors
    /// [`PromError::InvalidSettings`] naming the setting at fault.
    pub fn validate(&self) -> Result<(), PromError> {
        if self.url.as_deref().is_none_or(|url| url.trim().is_empty()) {
            return Err(PromError::invalid_settings("url", "the URL is not set"));
        }
        if self.app.is_none() {
            return Err(PromError::invalid_settings(
                "app",
                "no app whose traffic to query is set",
            ));
        }
        if self.query_template.trim().is_empty() {
            return Err(PromError::invalid_settings(
                "query_template",
                "the query template is empty",
            ));
        }
        if !is_label_name(&self.region_label) {
            return Err(PromError::invalid_settings(
                "region_label",
                format!(
                    "{:?} is not a Prometheus label name (letters, digits and '_', not starting with a digit)",
                    self.region_label
                ),
            ));
        }
        if self.timeout.is_zero() {
            return Err(PromError::invalid_settings(
                "timeout",
                "the timeout must be longer than zero",
            ));
        }
        Ok(())
    }
}

/// The `Authorization` header for `token`: Fly macaroons (`FlyV1 …`) and
/// values that already say `Bearer ` go as they are, anything else as
/// `Bearer <token>` (Fly's Prometheus takes both kinds of Fly token).
pub(crate) fn authorization_header(token: &Secret) -> String {
    let token = token.expose();
    if token.starts_with("FlyV1 ") || token.starts_with("Bearer ") {
        token.to_owned()
    } else {
        format!("Bearer {token}")
    }
}

/// Prometheus label names: `[a-zA-Z_][a-zA-Z0-9_]*`.
fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `url` without a `user:password@` part, for log lines and reports: a
/// password in the Prometheus URL never leaves the process.
///
/// ```
/// assert_eq!(
///     placer_prom::url_without_credentials("https://user:pw@example.org/prometheus"),
///     "https://example.org/prometheus"
/// );
/// assert_eq!(placer_prom::url_without_credentials("http://127.0.0.1:8428"), "http://127.0.0.1:8428");
/// ```
pub fn url_without_credentials(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}{}", &url[..scheme_end + 3], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> PrometheusOptions {
        PrometheusOptions::new("http://127.0.0.1:9090", "shop".parse().unwrap())
    }

    #[test]
    fn every_placeholder_is_filled() {
        let mut s = options();
        s.query_template = "a{app=\"{app}\"} / b{app=\"{app}\"}".into();
        assert_eq!(s.query(), "a{app=\"shop\"} / b{app=\"shop\"}");
    }

    #[test]
    fn defaults_pass_validation() {
        options().validate().unwrap();
    }

    #[test]
    fn rejects_bad_label_empty_template_zero_timeout_and_missing_parts() {
        let mut s = options();
        s.region_label = "fly-region".into();
        let err = s.validate().unwrap_err();
        assert!(err.to_string().contains("region_label"), "{err}");
        assert!(err.to_string().contains("fly-region"), "{err}");

        let mut s = options();
        s.query_template = "  ".into();
        assert!(s
            .validate()
            .unwrap_err()
            .to_string()
            .contains("query_template"));

        let mut s = options();
        s.timeout = Duration::ZERO;
        assert!(s.validate().unwrap_err().to_string().contains("timeout"));

        let mut s = options();
        s.app = None;
        assert!(s.validate().unwrap_err().to_string().contains("app"));
        let s = PrometheusOptions::default();
        assert!(s.validate().unwrap_err().to_string().contains("url"));
    }

    #[test]
    fn label_names_follow_prometheus_rules() {
        for ok in ["region", "_r", "fly_region2", "R"] {
            assert!(is_label_name(ok), "{ok}");
        }
        for bad in ["", "2region", "re-gion", "région", "a b"] {
            assert!(!is_label_name(bad), "{bad}");
        }
    }

    #[test]
    fn the_token_is_sent_as_fly_expects_and_never_written() {
        assert_eq!(
            authorization_header(&Secret::new("FlyV1 fm2_x")),
            "FlyV1 fm2_x"
        );
        assert_eq!(authorization_header(&Secret::new("abc")), "Bearer abc");
        let mut s = options();
        s.token = Some(Secret::new("FlyV1 fm2_topsecret"));
        let written = serde_json::to_string(&s).unwrap();
        assert!(
            !written.contains("topsecret") && !written.contains("token"),
            "{written}"
        );
        let err = serde_json::from_str::<PrometheusOptions>(r#"{"token": "x"}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `token`"), "{err}");
    }
}
