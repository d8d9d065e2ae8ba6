//! The `notify:` section: webhooks that are sent a JSON document for each
//! action a tick carried out and each tick that failed, for every app of
//! the process (the section is global: `apps:` entries hold engine keys
//! only).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How long one delivery may take unless told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Attempts at one delivery unless told otherwise.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

/// The wait before the first retry unless told otherwise; it doubles at
/// each retry, up to [`MAX_BACKOFF`].
pub const DEFAULT_BACKOFF: Duration = Duration::from_secs(1);

/// The longest wait between two attempts, however many there are.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Documents waiting for each webhook unless told otherwise.
pub const DEFAULT_QUEUE: usize = 1000;

/// The `notify:` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifySection {
    /// Where the documents are posted (`http://` or `https://`), each its
    /// own queue. Empty: no notifications.
    pub webhooks: Vec<WebhookUrl>,
    /// Whether the events of dry-run ticks are sent too (marked
    /// `"dry_run": true`). Default true.
    pub dry_run: bool,
    /// The longest one request may take, answer included. Default 10 s.
    #[serde(with = "placer_core::config::duration")]
    pub timeout: Duration,
    /// Attempts at delivering one document (the first included) before it
    /// is given up. Default 5.
    pub max_attempts: u32,
    /// The wait before the first retry; it doubles at each retry (at most
    /// 5 minutes). Default 1 s.
    #[serde(with = "placer_core::config::duration")]
    pub backoff: Duration,
    /// The most documents waiting for one webhook: when it is full the
    /// oldest is dropped. Default 1000.
    pub queue: usize,
}

impl Default for NotifySection {
    fn default() -> Self {
        NotifySection {
            webhooks: Vec::new(),
            dry_run: true,
            timeout: DEFAULT_TIMEOUT,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            backoff: DEFAULT_BACKOFF,
            queue: DEFAULT_QUEUE,
        }
    }
}

impl NotifySection {
    /// Rules the types cannot express.
    ///
    /// # Errors
    /// [`NotifyProblem`] for the first rule broken.
    pub fn check(&self) -> Result<(), NotifyProblem> {
        if let Some((index, refused)) = self
            .webhooks
            .iter()
            .enumerate()
            .find_map(|(index, url)| Some((index, url.refused()?)))
        {
            return Err(NotifyProblem::Webhook {
                index,
                message: refused.to_string(),
            });
        }
        let key = |key, message| Err(NotifyProblem::Key { key, message });
        if self.timeout.is_zero() {
            return key("timeout", "must be above 0");
        }
        if self.max_attempts == 0 {
            return key("max_attempts", "must be at least 1");
        }
        if self.queue == 0 {
            return key("queue", "must be at least 1");
        }
        Ok(())
    }
}

/// What [`NotifySection::check`] found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyProblem {
    /// The `index`-th (from 0) entry of `webhooks` is not a webhook URL.
    Webhook {
        /// Its place in the list.
        index: usize,
        /// Why (never the URL).
        message: String,
    },
    /// A key of the section (`timeout`, …) has a value it cannot have.
    Key {
        /// The key within the section.
        key: &'static str,
        /// What is wrong.
        message: &'static str,
    },
}

/// A webhook's URL. It may carry credentials — a user and password, or a
/// token in its path or query as Slack's incoming webhooks do — so it
/// shows only its scheme and host (and port): in `Debug`, `Display` and
/// when serialized (for `check-config` and logs). The whole URL is reached
/// through [`expose`](Self::expose), for the one place that sends to it.
///
/// Read from the file, a text that is not an `http://` or `https://` URL
/// is kept as refused, so that [`NotifySection::check`] can name its
/// entry and line; a checked config holds none.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookUrl {
    url: Result<reqwest::Url, WebhookUrlError>,
}

impl WebhookUrl {
    /// The whole URL, credentials included: only to send to it. `None` for
    /// a refused text (never in a checked config).
    pub fn expose(&self) -> Option<&reqwest::Url> {
        self.url.as_ref().ok()
    }

    /// Why the text read was refused, if it was.
    pub fn refused(&self) -> Option<&WebhookUrlError> {
        self.url.as_ref().err()
    }

    /// Scheme and host, with the port when it is not the scheme's own
    /// (`https://hooks.slack.com`); `[invalid]` for a refused text.
    pub fn shown(&self) -> String {
        let Ok(url) = &self.url else {
            return "[invalid]".to_owned();
        };
        let host = url.host_str().unwrap_or_default();
        match url.port() {
            Some(port) => format!("{}://{host}:{port}", url.scheme()),
            None => format!("{}://{host}", url.scheme()),
        }
    }
}

impl std::str::FromStr for WebhookUrl {
    type Err = WebhookUrlError;

    /// Reads an `http://` or `https://` URL with a host. The error never
    /// repeats the text, which may hold a credential.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let url = reqwest::Url::parse(text.trim()).map_err(|_| WebhookUrlError::NotAUrl)?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(WebhookUrlError::Scheme(url.scheme().to_owned()));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(WebhookUrlError::NoHost);
        }
        Ok(WebhookUrl { url: Ok(url) })
    }
}

/// Why a webhook URL was refused. It never holds the URL (which may hold a
/// credential).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookUrlError {
    /// The text is not a URL.
    #[error("not a URL (write http://HOST/… or https://HOST/…)")]
    NotAUrl,
    /// Another scheme than `http` and `https`.
    #[error("must be an http:// or https:// URL, not {0}://")]
    Scheme(String),
    /// No host to send to.
    #[error("has no host")]
    NoHost,
}

impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebhookUrl({})", self.shown())
    }
}

impl fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown())
    }
}

/// Serialized for showing, as [`shown`](WebhookUrl::shown): it does not
/// read back as the same URL.
impl Serialize for WebhookUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.shown())
    }
}

/// Any text is taken; one that is not a webhook URL is kept as refused
/// (see [`WebhookUrl::refused`]).
impl<'de> Deserialize<'de> for WebhookUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(text
            .parse()
            .unwrap_or_else(|refused| WebhookUrl { url: Err(refused) }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_shows_its_scheme_and_host_only() {
        let url: WebhookUrl =
            "https://user:hunter2@hooks.example.com/services/T0/B0/hunter3?token=hunter4"
                .parse()
                .unwrap();
        assert_eq!(url.shown(), "https://hooks.example.com");
        assert_eq!(url.to_string(), "https://hooks.example.com");
        assert_eq!(format!("{url:?}"), "WebhookUrl(https://hooks.example.com)");
        assert_eq!(
            serde_json::to_string(&url).unwrap(),
            "\"https://hooks.example.com\""
        );
        assert!(url.expose().unwrap().as_str().contains("hunter3"));
        let local: WebhookUrl = "http://127.0.0.1:9000/hook".parse().unwrap();
        assert_eq!(local.shown(), "http://127.0.0.1:9000");
    }

    #[test]
    fn only_http_and_https_urls_with_a_host_are_taken() {
        for (text, expected) in [
            (
                "ftp://me:hunter2@example.com/",
                WebhookUrlError::Scheme("ftp".into()),
            ),
            (
                "file:///etc/hunter2",
                WebhookUrlError::Scheme("file".into()),
            ),
            ("hooks.example.com/hunter2", WebhookUrlError::NotAUrl),
            ("http://", WebhookUrlError::NotAUrl),
        ] {
            let err = text.parse::<WebhookUrl>().unwrap_err();
            assert_eq!(err, expected, "{text}");
            assert!(!err.to_string().contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn the_defaults_send_dry_runs_and_retry_a_few_times() {
        let section = NotifySection::default();
        assert!(section.webhooks.is_empty());
        assert!(section.dry_run);
        assert_eq!(section.max_attempts, DEFAULT_MAX_ATTEMPTS);
        assert!(section.check().is_ok());
        let broken = NotifySection {
            queue: 0,
            ..NotifySection::default()
        };
        assert_eq!(
            broken.check(),
            Err(NotifyProblem::Key {
                key: "queue",
                message: "must be at least 1"
            })
        );
    }
}
