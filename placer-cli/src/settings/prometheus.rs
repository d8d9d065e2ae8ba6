//! The `prometheus:` section: where real traffic comes from.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The `prometheus:` section. Unset keys take placer-prom's defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrometheusSection {
    /// Base URL of the Prometheus API, e.g.
    /// `https://api.fly.io/prometheus/<org-slug>`. `FLY_PROMETHEUS_URL` wins
    /// over it. With neither, traffic is simulated.
    pub url: Option<String>,
    /// PromQL with an `{app}` placeholder, returning one series per region.
    pub query_template: Option<String>,
    /// The label that holds the region code. Default `region`.
    pub region_label: Option<String>,
    /// Limit for one query. Default 10 s.
    #[serde(with = "placer_core::config::duration::option")]
    pub timeout: Option<Duration>,
}
