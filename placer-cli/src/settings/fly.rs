//! The `fly:` section: which app is placed and how its machines change.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How a region is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RemovalSetting {
    /// Destroy the region's machines.
    Destroy,
    /// Stop them (a later deploy starts them again, faster).
    Stop,
}

/// The `fly:` section. Unset keys take placer-fly's defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FlySection {
    /// The app to place. `PLACER_APP` wins over it, and it wins over
    /// `FLY_APP_NAME` (which Fly sets to the placer's own app on Fly).
    pub app: Option<String>,
    /// Machines API base URL. Default `https://api.machines.dev`.
    pub api_url: Option<String>,
    /// Process group whose machines are placed. Default `app`.
    pub process_group: Option<String>,
    /// Machine whose config new regions copy. Default: the newest healthy
    /// machine of the process group.
    pub template_machine: Option<String>,
    /// `destroy` (default) or `stop`.
    pub removal: Option<RemovalSetting>,
    /// Create machines stopped; Fly's proxy starts them on demand.
    pub skip_launch: bool,
    /// Wait up to this long for a new machine to start.
    #[serde(with = "placer_core::config::duration::option")]
    pub wait_for_start: Option<Duration>,
    /// Also remove machines fly-placer did not create.
    pub manage_unmarked: bool,
    /// Timeout of each Machines API request. Default 30 s.
    #[serde(with = "placer_core::config::duration::option")]
    pub request_timeout: Option<Duration>,
    /// Retries of failed Machines API calls.
    pub retry: RetrySection,
    /// Client-side limit on Machines API calls.
    pub rate_limit: RateLimitSection,
}

/// `fly.retry`: unset keys take placer-fly's defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetrySection {
    /// Attempts per call, the first included.
    pub max_attempts: Option<u32>,
    /// Delay before the first retry; doubles for each further one.
    #[serde(with = "placer_core::config::duration::option")]
    pub base_delay: Option<Duration>,
    /// Longest delay between two attempts.
    #[serde(with = "placer_core::config::duration::option")]
    pub max_delay: Option<Duration>,
    /// Longest time one tick may spend retrying.
    #[serde(with = "placer_core::config::duration::option")]
    pub tick_budget: Option<Duration>,
}

/// `fly.rate_limit`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitSection {
    /// Sustained Machines API requests per second. Default 5.
    pub requests_per_second: f64,
    /// Requests allowed at once after a quiet spell. Default 10.
    pub burst: u32,
}

impl Default for RateLimitSection {
    fn default() -> Self {
        RateLimitSection {
            requests_per_second: 5.0,
            burst: 10,
        }
    }
}
