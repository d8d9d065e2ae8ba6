//! The `service:` section: where the HTTP API listens, how often it ticks,
//! where it keeps its files.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use placer_core::secret::Secret;

/// The address the API listens on unless told otherwise: loopback only.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 8000);

/// Time between two periodic ticks unless told otherwise.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);

/// The data directory unless told otherwise (the seed's `data/`).
pub const DEFAULT_DATA_DIR: &str = "data";

/// The `service:` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceSection {
    /// Address of the HTTP API. Anything but loopback requires a trigger
    /// token. Default `127.0.0.1:8000`.
    pub listen: SocketAddr,
    /// Time between periodic ticks; `0` turns the loop off (ticks then only
    /// run on `POST /trigger`). Default 60 s.
    #[serde(with = "placer_core::config::duration")]
    pub interval: Duration,
    /// Directory for the engine state and the dry-run deployment. Default
    /// `data`.
    pub data_dir: PathBuf,
    /// Bearer token required by `POST /trigger`. `PLACER_TRIGGER_TOKEN`
    /// wins over it; prefer the variable, so the secret stays out of files.
    pub trigger_token: Option<Secret>,
    /// With app name patterns in `apps:`, how often the organization's
    /// apps are listed again: new matching apps are picked up, deleted
    /// ones dropped. Default 5 minutes.
    #[serde(with = "placer_core::config::duration")]
    pub apps_refresh: Duration,
    /// How many of the latest ticks each app keeps for the status page's
    /// list of decisions (`GET /api/status`'s `recent_ticks`): their time,
    /// actions and error, about 100 bytes a tick without actions. Default
    /// 20; `0` keeps none.
    pub recent_ticks: usize,
}

/// How many recent ticks each app keeps unless told otherwise.
pub const DEFAULT_RECENT_TICKS: usize = 20;

/// How often the organization's apps are listed unless told otherwise.
pub const DEFAULT_APPS_REFRESH: Duration = Duration::from_secs(300);

impl Default for ServiceSection {
    fn default() -> Self {
        ServiceSection {
            listen: DEFAULT_LISTEN,
            interval: DEFAULT_INTERVAL,
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            trigger_token: None,
            apps_refresh: DEFAULT_APPS_REFRESH,
            recent_ticks: DEFAULT_RECENT_TICKS,
        }
    }
}
