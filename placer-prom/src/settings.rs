//! [`PrometheusSettings`]: where to ask, as whom, and what.

use std::time::Duration;

use placer_core::{AppName, Secret};

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
/// Plain data: build it with [`new`](Self::new), adjust fields, then hand it
/// to [`PrometheusSource::new`](crate::PrometheusSource::new), which checks
/// it. `Debug` output never shows the token ([`Secret`] redacts itself).
///
/// ```
/// use std::time::Duration;
/// use placer_prom::{PrometheusSettings, DEFAULT_QUERY_TEMPLATE};
///
/// let mut settings = PrometheusSettings::new(
///     "https://api.fly.io/prometheus/personal",
///     "shop".parse().unwrap(),
/// );
/// assert_eq!(settings.query_template, DEFAULT_QUERY_TEMPLATE);
/// assert_eq!(settings.region_label, "region");
/// assert_eq!(settings.timeout, Duration::from_secs(10));
/// assert_eq!(
///     settings.query(),
///     r#"sum by (region) (increase(fly_edge_http_responses_count{app="shop"}[5m]))"#
/// );
///
/// settings.token = Some(placer_core::Secret::new("FlyV1 fm2_secret"));
/// assert!(!format!("{settings:?}").contains("fm2_secret"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct PrometheusSettings {
    /// Base URL of the Prometheus-compatible API, without `/api/v1/...`,
    /// e.g. `https://api.fly.io/prometheus/<org-slug>`.
    pub url: String,
    /// Access token; `None` sends no `Authorization` header (a local
    /// Prometheus). Tokens starting with `FlyV1 ` are sent as they are, any
    /// other as `Bearer <token>`.
    pub token: Option<Secret>,
    /// The app whose traffic is measured; fills `{app}` in the template.
    pub app: AppName,
    /// PromQL with an `{app}` placeholder. It must return one series per
    /// region, each carrying the region code in [`region_label`](Self::region_label).
    pub query_template: String,
    /// Name of the label holding the region code (default `region`).
    pub region_label: String,
    /// Limit for a whole query, from connecting to the last byte of the answer.
    pub timeout: Duration,
}

impl PrometheusSettings {
    /// Settings for `app` at `url` with no token, the default query, the
    /// `region` label and a 10 s timeout.
    pub fn new(url: impl Into<String>, app: AppName) -> Self {
        PrometheusSettings {
            url: url.into(),
            token: None,
            app,
            query_template: DEFAULT_QUERY_TEMPLATE.to_owned(),
            region_label: DEFAULT_REGION_LABEL.to_owned(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The PromQL sent to the server: the template with `{app}` replaced.
    ///
    /// Safe against injection because an [`AppName`] holds only lowercase
    /// letters, digits and dashes.
    pub fn query(&self) -> String {
        self.query_template
            .replace(APP_PLACEHOLDER, self.app.as_str())
    }

    /// Checks the parts that do not need the network: a non-empty template,
    /// a valid label name and a non-zero timeout. The URL is checked by
    /// [`PrometheusSource::new`](crate::PrometheusSource::new).
    ///
    /// # Errors
    /// [`PromError::InvalidSettings`] naming the setting at fault.
    pub fn validate(&self) -> Result<(), PromError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> PrometheusSettings {
        PrometheusSettings::new("http://127.0.0.1:9090", "shop".parse().unwrap())
    }

    #[test]
    fn every_placeholder_is_filled() {
        let mut s = settings();
        s.query_template = "a{app=\"{app}\"} / b{app=\"{app}\"}".into();
        assert_eq!(s.query(), "a{app=\"shop\"} / b{app=\"shop\"}");
    }

    #[test]
    fn defaults_pass_validation() {
        settings().validate().unwrap();
    }

    #[test]
    fn rejects_bad_label_empty_template_and_zero_timeout() {
        let mut s = settings();
        s.region_label = "fly-region".into();
        let err = s.validate().unwrap_err();
        assert!(err.to_string().contains("region_label"), "{err}");
        assert!(err.to_string().contains("fly-region"), "{err}");

        let mut s = settings();
        s.query_template = "  ".into();
        assert!(s
            .validate()
            .unwrap_err()
            .to_string()
            .contains("query_template"));

        let mut s = settings();
        s.timeout = Duration::ZERO;
        assert!(s.validate().unwrap_err().to_string().contains("timeout"));
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
}
