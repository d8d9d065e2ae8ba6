//! [`PrometheusOptions`]: where to ask, as whom, and what.

use std::time::Duration;

use placer_core::{secret::Secret, AppName};
use reqwest::Url;
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
/// options.token = Some(placer_core::secret::Secret::new("FlyV1 fm2_secret"));
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
    /// PromQL with an `{apps}` placeholder, for placing several apps with
    /// one query per tick ([`PrometheusSource::query_apps`](crate::PrometheusSource::query_apps)):
    /// `{apps}` becomes a regular expression matching exactly the apps'
    /// names, for a `=~` matcher; the query must return one series per app
    /// and region, labelled with [`app_label`](Self::app_label) and
    /// [`region_label`](Self::region_label). Unset: the multi-app form of
    /// the default template when `query_template` is the default, else
    /// none (one query per app).
    pub apps_query_template: Option<String>,
    /// Name of the label holding the app's name in the multi-app query
    /// (default `app`).
    pub app_label: String,
    /// Limit for a whole query, from connecting to the last byte of the answer.
    #[serde(with = "placer_core::config::duration")]
    pub timeout: Duration,
    /// The longest multi-app query sent, in bytes of PromQL: more apps than
    /// fit are asked for in several queries
    /// ([`apps_queries`](Self::apps_queries)). Default
    /// [`DEFAULT_MAX_QUERY_BYTES`](crate::DEFAULT_MAX_QUERY_BYTES).
    pub max_query_bytes: usize,
}

impl Default for PrometheusOptions {
    /// No URL, token or app yet; the default query, the `region` label,
    /// a 10 s timeout and multi-app queries of at most 8 KiB.
    fn default() -> Self {
        PrometheusOptions {
            url: None,
            token: None,
            app: None,
            query_template: DEFAULT_QUERY_TEMPLATE.to_owned(),
            region_label: DEFAULT_REGION_LABEL.to_owned(),
            apps_query_template: None,
            app_label: DEFAULT_APP_LABEL.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            max_query_bytes: crate::DEFAULT_MAX_QUERY_BYTES,
        }
    }
}

/// The multi-app form of [`DEFAULT_QUERY_TEMPLATE`]: every app's requests
/// per region over the last 5 minutes, grouped by app and region.
pub const DEFAULT_APPS_QUERY_TEMPLATE: &str =
    "sum by (app, region) (increase(fly_edge_http_responses_count{app=~\"{apps}\"}[5m]))";

/// The placeholder of the apps' regular expression in a multi-app template.
pub const APPS_PLACEHOLDER: &str = "{apps}";

/// The label holding the app's name unless told otherwise.
pub const DEFAULT_APP_LABEL: &str = "app";

/// A regular expression (RE2, as Prometheus reads it) matching exactly the
/// names `apps`, written for a PromQL double-quoted string: each name's
/// regex metacharacters escaped, then backslashes and quotes escaped for
/// the string. Prometheus anchors `=~` matchers at both ends.
///
/// ```
/// use placer_prom::apps_regex;
/// assert_eq!(apps_regex(["shop", "blog-2"]), "shop|blog-2");
/// assert_eq!(apps_regex(["a.b", "c\"d"]), "a\\\\.b|c\\\"d");
/// ```
pub fn apps_regex<'a>(apps: impl IntoIterator<Item = &'a str>) -> String {
    apps.into_iter()
        .map(escaped_app)
        .collect::<Vec<_>>()
        .join("|")
}

/// One name of [`apps_regex`], escaped.
pub(crate) fn escaped_app(app: &str) -> String {
    let mut escaped = String::with_capacity(app.len());
    for c in app.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            escaped.push_str("\\\\");
        } else if c == '"' {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
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

    /// The single-app query for `app` (a name from a list of apps, not yet
    /// an [`AppName`]).
    pub(crate) fn query_for(&self, app: &str) -> String {
        self.query_template.replace(APP_PLACEHOLDER, app)
    }

    /// The multi-app template in force: [`apps_query_template`](Self::apps_query_template),
    /// else [`DEFAULT_APPS_QUERY_TEMPLATE`] when `query_template` is the
    /// default, else none.
    pub fn apps_template(&self) -> Option<&str> {
        match &self.apps_query_template {
            Some(template) => Some(template),
            None if self.query_template == DEFAULT_QUERY_TEMPLATE
                && self.region_label == DEFAULT_REGION_LABEL
                && self.app_label == DEFAULT_APP_LABEL =>
            {
                Some(DEFAULT_APPS_QUERY_TEMPLATE)
            }
            None => None,
        }
    }

    /// The multi-app query for `apps`, if there is a multi-app template.
    pub fn apps_query<'a>(&self, apps: impl IntoIterator<Item = &'a str>) -> Option<String> {
        let template = self.apps_template()?;
        Some(template.replace(APPS_PLACEHOLDER, &apps_regex(apps)))
    }

    /// Checks the parts that do not need the network: an app and a URL are
    /// set, and everything [`validate_section`](Self::validate_section)
    /// checks.
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
        self.validate_section()
    }

    /// Checks what a config section holds, so a config file can be refused
    /// as it is read, even before there is an app or a token: the URL's form
    /// when one is set (`http://` or `https://` with a host), a non-empty
    /// template, a valid label name and a non-zero timeout.
    ///
    /// # Errors
    /// [`PromError::InvalidSettings`] naming the setting at fault.
    pub fn validate_section(&self) -> Result<(), PromError> {
        if let Some(url) = self.url.as_deref().filter(|url| !url.trim().is_empty()) {
            base_url(url)?;
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
        if let Some(template) = &self.apps_query_template {
            if !template.contains(APPS_PLACEHOLDER) {
                return Err(PromError::invalid_settings(
                    "apps_query_template",
                    "the multi-app query template has no {apps} placeholder",
                ));
            }
        }
        if !is_label_name(&self.app_label) {
            return Err(PromError::invalid_settings(
                "app_label",
                format!("{:?} is not a Prometheus label name", self.app_label),
            ));
        }
        if self.timeout.is_zero() {
            return Err(PromError::invalid_settings(
                "timeout",
                "the timeout must be longer than zero",
            ));
        }
        if self.max_query_bytes == 0 {
            return Err(PromError::invalid_settings(
                "max_query_bytes",
                "the longest query must be longer than zero bytes",
            ));
        }
        Ok(())
    }
}

/// `url` read as the base URL of a Prometheus API: `http://` or `https://`
/// with a host. Errors never show the URL's credentials.
pub(crate) fn base_url(url: &str) -> Result<Url, PromError> {
    let url = url.trim();
    let shown = || url_without_credentials(url);
    let base = Url::parse(url).map_err(|e| {
        PromError::invalid_settings("url", format!("{:?} is not a URL: {e}", shown()))
    })?;
    if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
        return Err(PromError::invalid_settings(
            "url",
            format!("{} is not an http:// or https:// URL with a host", shown()),
        ));
    }
    Ok(base)
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

/// `url` without a `user:password@` part, for log lines, reports and
/// errors: a password in the Prometheus URL never leaves the process. The
/// credentials end at the last `@` before the path, query or fragment, as
/// URL parsers read them, so a password with an `@` in it goes whole, and
/// an `@` in the path stays.
///
/// ```
/// use placer_prom::url_without_credentials;
///
/// assert_eq!(
///     url_without_credentials("https://user:pw@example.org/prometheus"),
///     "https://example.org/prometheus"
/// );
/// assert_eq!(url_without_credentials("https://user:p@ss@example.org"), "https://example.org");
/// assert_eq!(url_without_credentials("http://h:9090/a@b?c=d@e"), "http://h:9090/a@b?c=d@e");
/// assert_eq!(url_without_credentials("http://127.0.0.1:8428"), "http://127.0.0.1:8428");
/// ```
pub fn url_without_credentials(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|index| index + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    match authority.rfind('@') {
        Some(at) => format!("{}{}", &url[..scheme_end], &rest[at + 1..]),
        None => url.to_owned(),
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
    fn a_section_is_checked_without_app_or_url_and_url_errors_hide_credentials() {
        let mut section = PrometheusOptions::default();
        section.validate_section().unwrap();
        section.timeout = Duration::ZERO;
        assert!(section
            .validate_section()
            .unwrap_err()
            .to_string()
            .contains("`timeout`"));

        for url in [
            "ftp://user:hunter2@example.org",
            "http://user:hunter2@exa mple.org",
        ] {
            let section = PrometheusOptions {
                url: Some(url.to_owned()),
                ..PrometheusOptions::default()
            };
            let message = section.validate_section().unwrap_err().to_string();
            assert!(message.contains("`url`"), "{message}");
            assert!(!message.contains("hunter2"), "{message}");
        }
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
