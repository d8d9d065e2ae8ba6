//! The plans [`resolve`](super::resolve) makes for the traffic source and
//! the deployment: what each backend is built from.

use std::collections::BTreeSet;
use std::path::PathBuf;

use placer_core::{secret::Secret, AppName, Region};
use placer_fly::FlyOptions;
use placer_prom::PrometheusOptions;

/// Where traffic comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum TrafficPlan {
    /// The built-in simulation.
    Simulated {
        /// The seed in use.
        seed: u64,
        /// Whether the seed came from the config (else it was drawn at start).
        seed_configured: bool,
        /// Regions the traffic comes from.
        regions: Vec<Region>,
    },
    /// A Prometheus API.
    Prometheus(Box<PrometheusPlan>),
}

/// How to reach Prometheus.
#[derive(Debug, Clone, PartialEq)]
pub struct PrometheusPlan {
    /// Base URL.
    pub url: String,
    /// Where the URL came from (`FLY_PROMETHEUS_URL` or `prometheus.url`).
    pub url_from: &'static str,
    /// The app whose traffic is queried.
    pub app: AppName,
    /// The token sent, if any.
    pub token: Option<Secret>,
    /// The `prometheus:` section (URL, app and token are the fields above).
    pub section: PrometheusOptions,
}

/// What lists and changes the deployment.
#[derive(Debug, Clone, PartialEq)]
pub enum DeploymentPlan {
    /// Dry run without Fly credentials: a simulated deployment kept in a
    /// state file, changed by the plans as if they were carried out.
    Simulated {
        /// The state file.
        state_file: PathBuf,
        /// Regions deployed when there is no state file yet.
        initial: BTreeSet<Region>,
    },
    /// Dry run with Fly credentials: the real deployment is listed at each
    /// tick and never changed; planned actions are only reported.
    Observed(FlyPlan),
    /// Live: machines are created and removed through the Machines API.
    Live(FlyPlan),
}

/// How to reach the Machines API.
#[derive(Debug, Clone, PartialEq)]
pub struct FlyPlan {
    /// The app placed.
    pub app: AppName,
    /// Where the app name came from.
    pub app_from: &'static str,
    /// The token.
    pub token: Secret,
    /// The `fly:` section (app and token are the fields above).
    pub section: FlyOptions,
}
