//! The `state:` section: where engine state is kept and, with a shared
//! store, how the leader is elected.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use placer_core::secret::Secret;

/// How long a leader's lease lasts unless told otherwise.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(15);

/// Time allowed for one request to the state store unless told otherwise.
pub const DEFAULT_STORE_TIMEOUT: Duration = Duration::from_secs(5);

/// The `state:` section. Every key is optional: without it, state is kept
/// in files in the data directory, as before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StateSection {
    /// `file:DIR` or `etcd://HOST:PORT[,HOST:PORT…]/PREFIX` (`etcds://` for
    /// TLS). `PLACER_STATE_URL` wins over it. Default: `file:` the data
    /// directory.
    pub url: Option<String>,
    /// User for etcd's authentication.
    pub username: Option<String>,
    /// Its password. `PLACER_STATE_PASSWORD` wins over it; prefer the
    /// variable, so the secret stays out of files.
    pub password: Option<Secret>,
    /// CA certificate (PEM) of the etcd cluster; turns TLS on.
    pub ca_file: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS, with `key_file`.
    pub cert_file: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    pub key_file: Option<PathBuf>,
    /// Use TLS (also on with `etcds://` or `ca_file`).
    pub tls: bool,
    /// How long the leader's lease lasts without renewal: a failover takes
    /// at most this plus one tick. Default 15 s; at least 2 s.
    #[serde(with = "placer_core::config::duration")]
    pub lease_ttl: Duration,
    /// Time allowed for one request to the store. Default 5 s.
    #[serde(with = "placer_core::config::duration")]
    pub timeout: Duration,
    /// This placer's name in the election (shown by `/health` and in a
    /// follower's answers). Default: `FLY_MACHINE_ID`, else host name and
    /// process id.
    pub identity: Option<String>,
}

impl Default for StateSection {
    fn default() -> Self {
        StateSection {
            url: None,
            username: None,
            password: None,
            ca_file: None,
            cert_file: None,
            key_file: None,
            tls: false,
            lease_ttl: DEFAULT_LEASE_TTL,
            timeout: DEFAULT_STORE_TIMEOUT,
            identity: None,
        }
    }
}
