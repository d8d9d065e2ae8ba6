//! [`FlySettings`]: which app, which machines, and how to change them.

use std::time::Duration;

use placer_core::AppName;

use crate::{ApiToken, FlyError};

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

/// How a region is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RemovalMode {
    /// Destroy the region's machines (`DELETE …?force=true`). Nothing is left
    /// behind, and nothing is billed.
    #[default]
    Destroy,
    /// Stop the region's machines and mark them parked (metadata
    /// `fly_placer_parked`). A later deploy of the region starts a parked
    /// machine again instead of creating one, which is faster; stopped
    /// machines still cost their root filesystem.
    Stop,
}

/// Everything [`FlyMachinesActuator`](crate::FlyMachinesActuator) needs to
/// know. Plain data: build it with [`FlySettings::new`] and change fields.
///
/// `Debug` output never shows the token (see [`ApiToken`]).
#[derive(Debug, Clone)]
pub struct FlySettings {
    /// Base URL of the Machines API: [`PUBLIC_API_URL`] by default,
    /// [`INTERNAL_API_URL`] from inside Fly's network.
    pub api_url: String,
    /// The Fly app whose machines are placed.
    pub app: AppName,
    /// An app-scoped deploy token (`fly tokens create deploy`).
    pub token: ApiToken,
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
    pub wait_for_start: Option<Duration>,
    /// Also remove machines fly-placer did not create. By default only
    /// machines with metadata `fly_placer=managed` are ever stopped or destroyed.
    pub manage_unmarked: bool,
    /// Timeout of each HTTP request.
    pub request_timeout: Duration,
    /// How long the actuator trusts its own recent changes over a listing
    /// that does not show them yet (the API's listing is eventually
    /// consistent). Within this window a region it just deployed counts as
    /// deployed, and a machine it just destroyed does not.
    pub consistency_window: Duration,
}

impl FlySettings {
    /// Settings for `app` with every other field at its default: public API,
    /// process group `app`, newest healthy machine as template, destroy on
    /// removal, machines started at once without waiting, only marked
    /// machines removed, 30 s request timeout, 60 s consistency window.
    pub fn new(app: AppName, token: ApiToken) -> Self {
        FlySettings {
            api_url: PUBLIC_API_URL.to_owned(),
            app,
            token,
            process_group: "app".to_owned(),
            template_machine: None,
            removal: RemovalMode::Destroy,
            skip_launch: false,
            wait_for_start: None,
            manage_unmarked: false,
            request_timeout: Duration::from_secs(30),
            consistency_window: Duration::from_secs(60),
        }
    }

    /// Checks every field.
    ///
    /// # Errors
    /// [`FlyError::InvalidSettings`] naming the first field at fault.
    pub fn validate(&self) -> Result<(), FlyError> {
        let url = reqwest::Url::parse(&self.api_url).map_err(|err| {
            FlyError::invalid_setting("api_url", format!("{:?} is not a URL: {err}", self.api_url))
        })?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(FlyError::invalid_setting(
                "api_url",
                format!("{:?} must be an http(s) URL with a host", self.api_url),
            ));
        }
        if self.token.is_empty() {
            return Err(FlyError::invalid_setting(
                "token",
                "is empty; create one with `fly tokens create deploy`",
            ));
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
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> FlySettings {
        FlySettings::new("my-app".parse().unwrap(), ApiToken::new("FlyV1 secret"))
    }

    #[test]
    fn defaults_are_valid_and_documented() {
        let s = settings();
        s.validate().unwrap();
        assert_eq!(s.api_url, "https://api.machines.dev");
        assert_eq!(s.process_group, "app");
        assert_eq!(s.removal, RemovalMode::Destroy);
        assert!(!s.skip_launch && !s.manage_unmarked);
        assert_eq!(s.request_timeout, Duration::from_secs(30));
    }

    #[test]
    fn contradictory_or_empty_settings_are_named() {
        let mut s = settings();
        s.skip_launch = true;
        s.wait_for_start = Some(Duration::from_secs(5));
        assert!(s
            .validate()
            .unwrap_err()
            .to_string()
            .contains("wait_for_start"));

        let mut s = settings();
        s.token = ApiToken::new("  ");
        assert!(s.validate().unwrap_err().to_string().contains("`token`"));

        let mut s = settings();
        s.api_url = "ftp://example".into();
        assert!(s.validate().unwrap_err().to_string().contains("api_url"));
    }

    #[test]
    fn debug_output_hides_the_token() {
        let s = FlySettings::new(
            "my-app".parse().unwrap(),
            ApiToken::new("FlyV1 fm2_topsecret"),
        );
        assert!(!format!("{s:?}").contains("topsecret"));
    }
}
