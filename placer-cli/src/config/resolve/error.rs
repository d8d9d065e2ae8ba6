//! Why the settings cannot be resolved: each message says what to set.

use std::net::SocketAddr;

use placer_core::app_name::AppNameError;

use crate::config::environment::{APP_NAME_VAR, PLACER_APP_VAR, TRIGGER_TOKEN_VAR};
use crate::store::StateUrlError;

/// Settings that cannot work together, or something required that is
/// missing; each message says what to set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    /// Live mode without an app or a token.
    #[error(
        "{at} is false, so fly-placer would change real machines, but {} {} not set; set {} (or put `dry_run: true` back)",
        .missing.join(" and "),
        if .missing.len() == 1 { "is" } else { "are" },
        .missing.join(" and ")
    )]
    LiveNeedsFly {
        /// Where `dry_run: false` is written (`file:line: dry_run`).
        at: String,
        /// What is missing, by the variable that provides it.
        missing: Vec<String>,
    },
    /// On a Fly machine, `FLY_APP_NAME` names the placer's own app.
    #[error(
        "{APP_NAME_VAR}={app} is the app this machine belongs to (Fly sets it), not necessarily the app to place; set {PLACER_APP_VAR} or `fly.app` to the app whose machines fly-placer should place"
    )]
    OwnAppOnFly {
        /// The value of `FLY_APP_NAME`.
        app: String,
    },
    /// A Prometheus URL without an app to query.
    #[error(
        "{at} is set, but there is no app whose traffic to query: set {PLACER_APP_VAR} (or `fly.app` in the config; off Fly, {APP_NAME_VAR})"
    )]
    PrometheusWithoutApp {
        /// Where the URL came from: the variable, or `file:line:
        /// prometheus.url`.
        at: String,
    },
    /// Listening beyond loopback with an unguarded `POST /trigger`.
    #[error(
        "{from}: listening on {listen}, which is reachable from other machines, needs a bearer token for POST /trigger: set {TRIGGER_TOKEN_VAR} (or `service.trigger_token`), or listen on 127.0.0.1"
    )]
    TriggerTokenRequired {
        /// The address.
        listen: SocketAddr,
        /// Where it came from (see [`Resolved::listen_from`]).
        from: String,
    },
    /// The app name is not a Fly app name.
    #[error("{from}: {source}")]
    AppName {
        /// Where the name came from (`PLACER_APP`, `FLY_APP_NAME`, the
        /// `apps:` section).
        from: &'static str,
        /// What is wrong with it.
        #[source]
        source: AppNameError,
    },
    /// The state URL cannot be used.
    #[error("{from}: {source}")]
    StateUrl {
        /// `PLACER_STATE_URL`, or `file:line: state.url`.
        from: String,
        /// What is wrong.
        #[source]
        source: StateUrlError,
    },
    /// A `file:` state URL and the data directory disagree.
    #[error("{from} keeps state in {state_dir}, but the data directory is {data_dir} (from --data-dir or PLACER_DATA_DIR); set only one of them")]
    StateDirConflict {
        /// Where the state URL came from.
        from: String,
        /// The URL's directory.
        state_dir: String,
        /// The data directory.
        data_dir: String,
    },
}
