//! The environment variables fly-placer reads, captured once at start.

use placer_core::secret::Secret;

/// Fly token for the Machines API, and for Prometheus unless
/// [`PROMETHEUS_TOKEN_VAR`] is set.
pub const API_TOKEN_VAR: &str = "FLY_API_TOKEN";
/// Base URL of the Prometheus API. Unset: simulated traffic.
pub const PROMETHEUS_URL_VAR: &str = "FLY_PROMETHEUS_URL";
/// The app to place (the seed's variable). On a Fly machine, Fly sets it to
/// the machine's own app.
pub const APP_NAME_VAR: &str = "FLY_APP_NAME";
/// The app to place; wins over `fly.app` and [`APP_NAME_VAR`].
pub const PLACER_APP_VAR: &str = "PLACER_APP";
/// A token for Prometheus only (e.g. a read-only org token).
pub const PROMETHEUS_TOKEN_VAR: &str = "PLACER_PROMETHEUS_TOKEN";
/// Bearer token for `POST /trigger`; wins over `service.trigger_token`.
pub const TRIGGER_TOKEN_VAR: &str = "PLACER_TRIGGER_TOKEN";
/// Where state is kept (`file:DIR`, `etcd://…`); wins over `state.url`.
pub const STATE_URL_VAR: &str = "PLACER_STATE_URL";
/// Password for the state store; wins over `state.password`.
pub const STATE_PASSWORD_VAR: &str = "PLACER_STATE_PASSWORD";
/// Set by Fly on its machines; tells that [`APP_NAME_VAR`] names the
/// machine's own app.
pub const FLY_MACHINE_ID_VAR: &str = "FLY_MACHINE_ID";

/// What the environment says, read once. `Debug` never shows a token.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    /// `FLY_API_TOKEN`.
    pub api_token: Option<Secret>,
    /// `PLACER_PROMETHEUS_TOKEN`.
    pub prometheus_token: Option<Secret>,
    /// `FLY_PROMETHEUS_URL`.
    pub prometheus_url: Option<String>,
    /// `FLY_APP_NAME`.
    pub fly_app_name: Option<String>,
    /// `PLACER_APP`.
    pub placer_app: Option<String>,
    /// `PLACER_TRIGGER_TOKEN`.
    pub trigger_token: Option<Secret>,
    /// Whether `FLY_MACHINE_ID` is set (running on a Fly machine).
    pub on_fly_machine: bool,
    /// `FLY_MACHINE_ID`.
    pub machine_id: Option<String>,
    /// `PLACER_STATE_URL`, kept as a secret since it may hold a password.
    pub state_url: Option<Secret>,
    /// `PLACER_STATE_PASSWORD`.
    pub state_password: Option<Secret>,
    /// This process as `<host name>-<process id>` (the default name in a
    /// leader election); not read from the variables.
    pub host_identity: Option<String>,
}

impl Environment {
    /// Reads the process environment. Blank values count as unset.
    pub fn from_process() -> Self {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|host| host.trim().to_owned())
            .filter(|host| !host.is_empty())
            .unwrap_or_else(|| "fly-placer".to_owned());
        Environment {
            host_identity: Some(format!("{host}-{}", std::process::id())),
            ..Environment::from_lookup(|name| std::env::var(name).ok())
        }
    }

    /// Reads variables through `lookup` (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let text = |name: &str| {
            lookup(name)
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
        };
        Environment {
            api_token: text(API_TOKEN_VAR).map(Secret::new),
            prometheus_token: text(PROMETHEUS_TOKEN_VAR).map(Secret::new),
            prometheus_url: text(PROMETHEUS_URL_VAR),
            fly_app_name: text(APP_NAME_VAR),
            placer_app: text(PLACER_APP_VAR),
            trigger_token: text(TRIGGER_TOKEN_VAR).and_then(Secret::non_empty),
            on_fly_machine: text(FLY_MACHINE_ID_VAR).is_some(),
            machine_id: text(FLY_MACHINE_ID_VAR),
            state_url: text(STATE_URL_VAR).map(Secret::new),
            state_password: text(STATE_PASSWORD_VAR).and_then(Secret::non_empty),
            host_identity: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn blank_variables_are_unset_and_tokens_stay_hidden() {
        let vars = HashMap::from([
            (API_TOKEN_VAR, "FlyV1 secret-value"),
            (APP_NAME_VAR, "  "),
            (TRIGGER_TOKEN_VAR, "t0k"),
            (STATE_URL_VAR, "etcd://u:pw-in-url@127.0.0.1:2379/p"),
            (STATE_PASSWORD_VAR, "st4te-pw"),
        ]);
        let env = Environment::from_lookup(|name| vars.get(name).map(|v| v.to_string()));
        assert!(env.api_token.is_some());
        assert!(env.fly_app_name.is_none());
        assert!(!env.on_fly_machine);
        let debug = format!("{env:?}");
        assert!(
            !debug.contains("secret-value")
                && !debug.contains("t0k")
                && !debug.contains("st4te-pw")
                && !debug.contains("pw-in-url"),
            "{debug}"
        );
    }
}
