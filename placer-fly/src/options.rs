//! [`FlyOptions`]: which app, which machines, how to change them, and how
//! hard to press the API.

use std::fmt;
use std::time::Duration;

use placer_core::wrap::RetryPolicy;
use placer_core::AppName;
use serde::{Deserialize, Deserializer, Serialize};

use crate::{ApiLimits, ApiToken, FlyError};

/// The public Machines API endpoint.
pub const PUBLIC_API_URL: &str = "https://api.machines.dev";

/// The Machines API endpoint as seen from inside Fly's private network.
pub const INTERNAL_API_URL: &str = "http://_api.internal:4280";

/// The metadata key and value that mark machines created by fly-placer.
pub const MANAGED_KEY: &str = "fly_placer";
/// See [`MANAGED_KEY`].
pub const MANAGED_VALUE: &str = "managed";
/// The metadata key Fly uses for a machine's process group.
pub const PROCESS_GROUP_KEY: &str = "fly_process_group";
/// The metadata key fly-placer sets on machines it stopped in
/// [`RemovalMode::Stop`], so they no longer count as deployed.
pub const PARKED_KEY: &str = "fly_placer_parked";

/// The metadata key fly-placer sets on the machines it creates to say
/// their role in their region: [`ROLE_RUNNING`] or [`ROLE_STANDBY`].
/// Machines without it (created before standbys existed, or by someone
/// else) are running ones.
pub const ROLE_KEY: &str = "fly_placer_role";
/// See [`ROLE_KEY`]: a machine meant to run.
pub const ROLE_RUNNING: &str = "running";
/// See [`ROLE_KEY`]: a machine created stopped, for Fly's proxy to start
/// when the region's running machines are over their soft limit.
pub const ROLE_STANDBY: &str = "standby";

/// How a region is removed (`destroy` or `stop` in a config file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RemovalMode {
    /// Destroy the region's machines: stop each one the way its config's
    /// `stop_config` says, wait until it is stopped, then `DELETE` it; only a
    /// machine that is not stopped within
    /// [`force_destroy_after`](FlyOptions::force_destroy_after) is destroyed
    /// with `force=true`. Nothing is left behind, and nothing is billed.
    #[default]
    Destroy,
    /// Stop the region's machines and mark them parked (metadata
    /// `fly_placer_parked`). A later deploy of the region starts a parked
    /// machine again instead of creating one, which is faster; stopped
    /// machines still cost their root filesystem.
    Stop,
}

/// An optional client-wide cap on actuator calls, shared by every app of a
/// process, for [`RateLimited`](placer_core::wrap::RateLimited).
///
/// Fly's own limits are per app and action, and
/// [`FlyOptions::api_limits`] keeps to them; this cap is only for whoever
/// wants fewer calls in all (a token shared with other tools, say). Without
/// `requests_per_second` there is no cap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitOptions {
    /// Sustained calls per second of every app together; `None` (the
    /// default): no cap.
    pub requests_per_second: Option<f64>,
    /// Calls allowed at once after a quiet spell.
    pub burst: u32,
}

impl Default for RateLimitOptions {
    /// No cap; bursts of 10 once a rate is set.
    fn default() -> Self {
        RateLimitOptions {
            requests_per_second: None,
            burst: 10,
        }
    }
}

impl RateLimitOptions {
    /// The rate as [`RateLimiter`](placer_core::wrap::RateLimiter) reads it:
    /// 0 for no cap.
    pub fn limiter_rate(&self) -> f64 {
        self.requests_per_second.unwrap_or(0.0)
    }
}

/// Everything [`FlyMachinesActuator`](crate::FlyMachinesActuator) needs to
/// know, and what its wrappers should do. Plain data that reads from and
/// writes to a config section (`serde`; every key optional, durations as
/// seconds or text such as `"30s"`): build it with [`FlyOptions::new`] or
/// deserialize it, then change fields.
///
/// The token is never read from or written to a config file: set it from
/// the environment. `Debug` output never shows it (see [`ApiToken`]).
///
/// ```
/// use std::time::Duration;
/// use placer_fly::{ApiToken, FlyOptions, RemovalMode};
///
/// let options: FlyOptions =
///     serde_json::from_str(r#"{"app": "shop", "removal": "stop", "request_timeout": "5s"}"#).unwrap();
/// assert_eq!(options.removal, RemovalMode::Stop);
/// assert_eq!(options.request_timeout, Duration::from_secs(5));
/// assert_eq!(options.process_group, "app");
///
/// let options = FlyOptions::new("shop".parse().unwrap(), ApiToken::new("FlyV1 fm2_x"));
/// options.validate().unwrap();
/// assert!(!format!("{options:?}").contains("fm2_x"));
/// ```
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FlyOptions {
    /// The Fly app whose machines are placed. Required by the actuator; a
    /// blank value in a file counts as unset.
    #[serde(deserialize_with = "blank_is_none")]
    pub app: Option<AppName>,
    /// An app-scoped deploy token (`fly tokens create deploy`). Required by
    /// the actuator; never (de)serialized.
    #[serde(skip)]
    pub token: Option<ApiToken>,
    /// Base URL of the Machines API: [`PUBLIC_API_URL`] by default,
    /// [`INTERNAL_API_URL`] from inside Fly's network.
    pub api_url: String,
    /// The process group whose machines are placed (`config.metadata.fly_process_group`).
    pub process_group: String,
    /// The machine whose config is cloned into new regions. `None`: the
    /// newest healthy machine of the process group.
    pub template_machine: Option<String>,
    /// How regions are removed.
    pub removal: RemovalMode,
    /// Create machines stopped (`skip_launch`), so Fly's proxy starts them
    /// when requests arrive.
    pub skip_launch: bool,
    /// After creating a machine, wait until it is `started`, at most this
    /// long. Cannot be combined with `skip_launch`.
    #[serde(with = "placer_core::config::duration::option")]
    pub wait_for_start: Option<Duration>,
    /// How long removal waits for a machine it stopped to reach `stopped`
    /// before destroying it with `force=true` (a warning in the log says
    /// so). Make it longer than the app's `stop_config.timeout` (Fly's
    /// `kill_timeout`), or machines are killed before their shutdown is
    /// over. Zero: destroy with `force=true` at once, without stopping first.
    #[serde(with = "placer_core::config::duration")]
    pub force_destroy_after: Duration,
    /// Also remove machines fly-placer did not create. By default only
    /// machines with metadata `fly_placer=managed` are ever stopped or destroyed.
    pub manage_unmarked: bool,
    /// Timeout of each HTTP request.
    #[serde(with = "placer_core::config::duration")]
    pub request_timeout: Duration,
    /// How long the actuator trusts its own recent changes over a listing
    /// that does not show them yet (the API's listing is eventually
    /// consistent). Within this window a region it just deployed counts as
    /// deployed, and a machine it just destroyed does not. Not a config key.
    #[serde(skip)]
    pub consistency_window: Duration,
    /// How failed calls are retried ([`Retrying`](placer_core::wrap::Retrying)).
    pub retry: RetryPolicy,
    /// Fly's Machines API limits per app and action (and per machine for
    /// getting one machine), kept by the client: Fly's published numbers
    /// unless set.
    pub api_limits: ApiLimits,
    /// An optional cap on actuator calls of every app together
    /// ([`RateLimited`](placer_core::wrap::RateLimited)); none by default.
    /// A process placing several apps with one token shares it among them.
    pub rate_limit: RateLimitOptions,
    /// The Fly organization (slug) whose apps are listed to match app
    /// name patterns (`GET /v1/apps?org_slug=`). Only needed for patterns.
    #[serde(deserialize_with = "blank_is_none_string")]
    pub org: Option<String>,
    /// The most Machines API requests in flight at once, shared by every
    /// app a process places ([`RequestGate::with_max_in_flight`](crate::RequestGate::with_max_in_flight)).
    pub max_in_flight: usize,
    /// How often the platform's regions (`GET /v1/platform/regions`:
    /// which regions take machines of the app's size, which are deprecated
    /// or full) are read again; in between the actuator answers from what
    /// it read last. A create refused for the region's capacity makes the
    /// next tick read them again sooner.
    #[serde(with = "placer_core::config::duration")]
    pub platform_regions_refresh: Duration,
}

impl fmt::Debug for FlyOptions {
    /// Every field, with `api_url` shown without the user name and password
    /// it may hold and the token as `ApiToken(***)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let FlyOptions {
            app,
            token,
            api_url,
            process_group,
            template_machine,
            removal,
            skip_launch,
            wait_for_start,
            force_destroy_after,
            manage_unmarked,
            request_timeout,
            consistency_window,
            retry,
            api_limits,
            rate_limit,
            org,
            max_in_flight,
            platform_regions_refresh,
        } = self;
        f.debug_struct("FlyOptions")
            .field("app", app)
            .field("token", token)
            .field("api_url", &without_credentials(api_url))
            .field("process_group", process_group)
            .field("template_machine", template_machine)
            .field("removal", removal)
            .field("skip_launch", skip_launch)
            .field("wait_for_start", wait_for_start)
            .field("force_destroy_after", force_destroy_after)
            .field("manage_unmarked", manage_unmarked)
            .field("request_timeout", request_timeout)
            .field("consistency_window", consistency_window)
            .field("retry", retry)
            .field("api_limits", api_limits)
            .field("rate_limit", rate_limit)
            .field("org", org)
            .field("max_in_flight", max_in_flight)
            .field("platform_regions_refresh", platform_regions_refresh)
            .finish()
    }
}

/// `url` without the user name and password it may hold (a text that is
/// not a URL is returned as it is: it cannot be used to send anything).
pub(crate) fn without_credentials(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) if !parsed.username().is_empty() || parsed.password().is_some() => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

impl Default for FlyOptions {
    /// No app and no token yet; public API, process group `app`, newest
    /// healthy machine as template, destroy on removal (forced after 60 s
    /// not stopping), machines started at
    /// once without waiting, only marked machines removed, 30 s request
    /// timeout, 60 s consistency window, the default retries, Fly's
    /// published per-app limits, no client-wide cap, and the platform's
    /// regions read again hourly.
    fn default() -> Self {
        FlyOptions {
            app: None,
            token: None,
            api_url: PUBLIC_API_URL.to_owned(),
            process_group: "app".to_owned(),
            template_machine: None,
            removal: RemovalMode::Destroy,
            skip_launch: false,
            wait_for_start: None,
            manage_unmarked: false,
            force_destroy_after: Duration::from_secs(60),
            request_timeout: Duration::from_secs(30),
            consistency_window: Duration::from_secs(60),
            retry: RetryPolicy::default(),
            api_limits: ApiLimits::default(),
            rate_limit: RateLimitOptions::default(),
            org: None,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            platform_regions_refresh: DEFAULT_PLATFORM_REGIONS_REFRESH,
        }
    }
}

/// How often the platform's regions are read unless told otherwise.
pub const DEFAULT_PLATFORM_REGIONS_REFRESH: Duration = Duration::from_secs(3600);

/// Machines API requests in flight at once unless told otherwise: as many
/// as the apps a service ticks at once, so that with Fly's limits kept per
/// app the listings of many apps go out together.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 64;

impl FlyOptions {
    /// Options for `app` with `token` and every other field at its default.
    pub fn new(app: AppName, token: ApiToken) -> Self {
        FlyOptions {
            app: Some(app),
            token: Some(token),
            ..FlyOptions::default()
        }
    }

    /// The app, once [`validate`](Self::validate) passed.
    pub(crate) fn app_name(&self) -> &str {
        self.app.as_ref().map_or("", AppName::as_str)
    }

    /// Checks every field: an app and a token are set, and everything
    /// [`validate_section`](Self::validate_section) checks.
    ///
    /// # Errors
    /// [`FlyError::InvalidSettings`] naming the first field at fault.
    pub fn validate(&self) -> Result<(), FlyError> {
        if self.app.is_none() {
            return Err(FlyError::invalid_setting("app", "is not set"));
        }
        if self.token.as_ref().is_none_or(ApiToken::is_empty) {
            return Err(FlyError::invalid_setting(
                "token",
                "is empty; create one with `fly tokens create deploy`",
            ));
        }
        self.validate_section()
    }

    /// Checks the fields a config section holds, so a config file can be
    /// refused as it is read, even before there is an app or a token.
    /// Errors never show credentials written into `api_url`.
    ///
    /// # Errors
    /// [`FlyError::InvalidSettings`] naming the first field at fault.
    pub fn validate_section(&self) -> Result<(), FlyError> {
        let url = reqwest::Url::parse(&self.api_url)
            .map_err(|err| FlyError::invalid_setting("api_url", format!("is not a URL: {err}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(FlyError::invalid_setting(
                "api_url",
                format!(
                    "{:?} must be an http(s) URL with a host",
                    without_credentials(url.as_str())
                ),
            ));
        }
        let rate = &self.rate_limit;
        if rate
            .requests_per_second
            .is_some_and(|rate| !(rate.is_finite() && rate > 0.0))
        {
            return Err(FlyError::invalid_setting(
                "rate_limit.requests_per_second",
                "must be a number above 0 (leave it out for no cap)",
            ));
        }
        let limits = &self.api_limits;
        for (field, rate) in [
            ("api_limits.requests_per_second", limits.requests_per_second),
            (
                "api_limits.get_requests_per_second",
                limits.get_requests_per_second,
            ),
        ] {
            if !rate.is_finite() || rate < 0.0 {
                return Err(FlyError::invalid_setting(
                    field,
                    "must be a number, 0 for no limit",
                ));
            }
        }
        if self.max_in_flight == 0 {
            return Err(FlyError::invalid_setting(
                "max_in_flight",
                "must be at least 1",
            ));
        }
        if let Some(org) = &self.org {
            if !org
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(FlyError::invalid_setting(
                    "org",
                    format!("{org:?} is not an organization slug (letters, digits, - and _)"),
                ));
            }
        }
        if self.process_group.trim().is_empty() {
            return Err(FlyError::invalid_setting("process_group", "is empty"));
        }
        if let Some(template) = &self.template_machine {
            if template.is_empty() || !template.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(FlyError::invalid_setting(
                    "template_machine",
                    format!("{template:?} is not a machine id (letters and digits)"),
                ));
            }
        }
        if self.skip_launch && self.wait_for_start.is_some() {
            return Err(FlyError::invalid_setting(
                "wait_for_start",
                "cannot wait for machines created stopped (skip_launch); set one of them only",
            ));
        }
        if self.wait_for_start == Some(Duration::ZERO) {
            return Err(FlyError::invalid_setting(
                "wait_for_start",
                "must be longer than zero",
            ));
        }
        if self.request_timeout.is_zero() {
            return Err(FlyError::invalid_setting(
                "request_timeout",
                "must be longer than zero",
            ));
        }
        if self.platform_regions_refresh.is_zero() {
            return Err(FlyError::invalid_setting(
                "platform_regions_refresh",
                "must be longer than zero",
            ));
        }
        Ok(())
    }
}

/// Reads an optional app name; blank text is `None` and surrounding
/// whitespace is dropped, as the config file always allowed.
fn blank_is_none<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<AppName>, D::Error> {
    let text: Option<String> = Option::deserialize(deserializer)?;
    match text.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(name) => AppName::new(name)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

fn blank_is_none_string<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    let text: Option<String> = Option::deserialize(deserializer)?;
    Ok(text
        .map(|text| text.trim().to_owned())
        .filter(|text| !text.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> FlyOptions {
        FlyOptions::new("my-app".parse().unwrap(), ApiToken::new("FlyV1 secret"))
    }

    #[test]
    fn defaults_are_valid_and_documented() {
        let s = options();
        s.validate().unwrap();
        assert_eq!(s.api_url, "https://api.machines.dev");
        assert_eq!(s.process_group, "app");
        assert_eq!(s.removal, RemovalMode::Destroy);
        assert!(!s.skip_launch && !s.manage_unmarked);
        assert_eq!(s.request_timeout, Duration::from_secs(30));
        assert_eq!(s.force_destroy_after, Duration::from_secs(60));
        assert_eq!(s.consistency_window, Duration::from_secs(60));
        assert_eq!(s.retry, RetryPolicy::default());
        assert_eq!(s.rate_limit, RateLimitOptions::default());
        assert_eq!(s.rate_limit.requests_per_second, None, "no cap");
        assert_eq!(s.api_limits, ApiLimits::default());
        assert_eq!(s.platform_regions_refresh, Duration::from_secs(3600));
    }

    #[test]
    fn contradictory_missing_or_empty_settings_are_named() {
        let mut s = options();
        s.skip_launch = true;
        s.wait_for_start = Some(Duration::from_secs(5));
        assert!(s
            .validate()
            .unwrap_err()
            .to_string()
            .contains("wait_for_start"));

        let mut s = options();
        s.token = Some(ApiToken::new("  "));
        assert!(s.validate().unwrap_err().to_string().contains("`token`"));
        s.token = None;
        assert!(s.validate().unwrap_err().to_string().contains("`token`"));

        let mut s = options();
        s.app = None;
        assert!(s.validate().unwrap_err().to_string().contains("`app`"));

        let mut s = options();
        s.api_url = "ftp://example".into();
        assert!(s.validate().unwrap_err().to_string().contains("api_url"));
    }

    #[test]
    fn a_section_is_checked_without_app_or_token_and_url_errors_hide_credentials() {
        let mut section = FlyOptions::default();
        section.validate_section().unwrap();
        section.request_timeout = Duration::ZERO;
        assert!(section
            .validate_section()
            .unwrap_err()
            .to_string()
            .contains("`request_timeout`"));
        let section = FlyOptions {
            platform_regions_refresh: Duration::ZERO,
            ..FlyOptions::default()
        };
        assert!(section
            .validate_section()
            .unwrap_err()
            .to_string()
            .contains("`platform_regions_refresh`"));

        for url in [
            "ftp://user:hunter2@example.org",
            "http://user:hunter2@exa mple.org",
        ] {
            let section = FlyOptions {
                api_url: url.to_owned(),
                ..FlyOptions::default()
            };
            let message = section.validate_section().unwrap_err().to_string();
            assert!(message.contains("`api_url`"), "{message}");
            assert!(!message.contains("hunter2"), "{message}");
        }
    }

    #[test]
    fn debug_output_hides_the_token() {
        let s = FlyOptions::new(
            "my-app".parse().unwrap(),
            ApiToken::new("FlyV1 fm2_topsecret"),
        );
        assert!(!format!("{s:?} {s:#?}").contains("topsecret"));
    }

    #[test]
    fn reads_every_key_and_never_the_token() {
        let s: FlyOptions = serde_json::from_str(
            r#"{"app": " shop ", "api_url": "http://127.0.0.1:1", "process_group": "web",
                "template_machine": "abc123", "removal": "stop", "skip_launch": true,
                "manage_unmarked": true, "request_timeout": 5, "force_destroy_after": "2m",
                "retry": {"max_attempts": 2, "base_delay": "1s", "max_delay": "3s", "tick_budget": "20s"},
                "rate_limit": {"requests_per_second": 2, "burst": 3},
                "platform_regions_refresh": "10m"}"#,
        )
        .unwrap();
        assert_eq!(s.app.as_ref().map(AppName::as_str), Some("shop"));
        assert_eq!(s.removal, RemovalMode::Stop);
        assert_eq!(s.request_timeout, Duration::from_secs(5));
        assert_eq!(s.force_destroy_after, Duration::from_secs(120));
        assert_eq!(s.retry.max_attempts, 2);
        assert_eq!(s.retry.tick_budget, Duration::from_secs(20));
        assert_eq!(s.retry.jitter, RetryPolicy::default().jitter);
        assert_eq!(s.rate_limit.burst, 3);
        assert_eq!(s.rate_limit.requests_per_second, Some(2.0));
        assert_eq!(s.platform_regions_refresh, Duration::from_secs(600));
        assert!(s.token.is_none());
        let limited: FlyOptions =
            serde_json::from_str(r#"{"api_limits": {"requests_per_second": 0.5}}"#).unwrap();
        assert_eq!(limited.api_limits.requests_per_second, 0.5);
        assert_eq!(limited.api_limits.burst, 3);
        let mut wrong = FlyOptions::default();
        wrong.rate_limit.requests_per_second = Some(0.0);
        assert!(wrong
            .validate_section()
            .unwrap_err()
            .to_string()
            .contains("rate_limit.requests_per_second"));

        let err = serde_json::from_str::<FlyOptions>(r#"{"token": "x"}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `token`"), "{err}");
        let blank: FlyOptions = serde_json::from_str(r#"{"app": "  "}"#).unwrap();
        assert!(blank.app.is_none());
        let bad = serde_json::from_str::<FlyOptions>(r#"{"app": "Shop"}"#).unwrap_err();
        assert!(bad.to_string().contains("'S'"), "{bad}");

        let written = serde_json::to_string(&options()).unwrap();
        assert!(
            !written.contains("secret") && !written.contains("token"),
            "{written}"
        );
    }
}
