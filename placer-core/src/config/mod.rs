//! [`PlacerConfig`]: every setting of the placement engine, with the seed's
//! key names, defaults for the keys we added, and validation.
//!
//! YAML parsing lives in one module (`from_yaml`, `from_yaml_with`, behind
//! the default `yaml` feature) so the YAML library can be swapped, or left
//! out, without touching the rest of the engine.

mod builder;
pub mod duration;
mod machines;
mod validate;
#[cfg(feature = "yaml")]
mod yaml;

use std::collections::BTreeSet;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::network::platform::{PlatformRegions, Unavailable};
use crate::policy::{PolicyName, PolicySettings};
use crate::Region;

pub use machines::{MachinesSettings, DEFAULT_HEADROOM, MAX_HEADROOM};
pub use validate::InvalidConfig;
#[cfg(feature = "yaml")]
pub use yaml::{
    from_yaml, from_yaml_with, overrides_from_yaml, ConfigError, ConfigExtension, ConfigOverrides,
};

/// How the engine decides its deploy and remove thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ThresholdMode {
    /// The seed's rule: deploy at `max(traffic_threshold, 1.1 × long)`,
    /// remove at `min(deployment_threshold, 0.9 × long)`.
    #[default]
    Adaptive,
    /// Widens the band when traffic is volatile: with `m` the mean and `cv`
    /// the coefficient of variation of the recent long-term averages and
    /// `f = 1 + cv`, deploy at `max(traffic_threshold, 1.1 × m × f)` and
    /// remove at `min(deployment_threshold, 0.9 × m / f)`; each threshold is
    /// then pushed outwards by 10 % of the gap between them (hysteresis).
    VolatilityAware,
}

/// Every setting of the placement engine.
///
/// The seed's keys keep their names and meaning; keys added since have
/// defaults, so the seed's `config.yml` parses unchanged. Build one with
/// `from_yaml` (the `yaml` feature) or from [`PlacerConfig::default`] and
/// its `with_*` setters ([`with_dry_run`](Self::with_dry_run), …), and
/// check it with [`PlacerConfig::validate`] (the engine refuses an invalid
/// config).
///
/// ```
/// # #[cfg(feature = "yaml")]
/// # fn main() {
/// let config = placer_core::config::from_yaml(
///     "traffic_threshold: 80\ncooldown_period: 10m\nallowed_regions: [iad, fra]\n",
///     "config.yml",
/// )
/// .unwrap();
/// assert_eq!(config.traffic_threshold, 80.0);
/// assert_eq!(config.cooldown_period.as_secs(), 600);
/// assert!(config.dry_run); // safe by default
/// # }
/// # #[cfg(not(feature = "yaml"))]
/// # fn main() {}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct PlacerConfig {
    /// Plan and report, but never change a real deployment. Default `true`.
    pub dry_run: bool,
    /// After any action on a region, no other action on it for this long.
    /// Seconds as a number, or a duration such as `"10m"`. Default 10 s.
    #[serde(with = "duration")]
    pub cooldown_period: Duration,
    /// Data points in the short-term average. Default 5.
    pub short_term_window: usize,
    /// Data points in the long-term average. Default 20.
    pub long_term_window: usize,
    /// Smoothing factor of the short-term average, in (0, 1]. Default 0.3.
    pub alpha_short: f64,
    /// Smoothing factor of the long-term average, in (0, 1]. Default 0.1.
    pub alpha_long: f64,
    /// Deploy to regions whose smoothed traffic reaches this. Default 50.
    pub traffic_threshold: f64,
    /// Remove from regions whose smoothed traffic falls to this. Default 10.
    pub deployment_threshold: f64,
    /// When not empty, the only regions that may be deployed.
    pub allowed_regions: BTreeSet<Region>,
    /// Regions that are never deployed.
    pub excluded_regions: BTreeSet<Region>,
    /// Regions that are never removed, and are deployed when missing.
    pub always_running_regions: BTreeSet<Region>,
    /// The most deploys and removes carried out in one tick. Default 3.
    pub max_actions_per_tick: usize,
    /// Consecutive ticks of smoothed traffic at or above `traffic_threshold`
    /// after which a region is deployed even without a rising trend (and at or
    /// below `deployment_threshold` after which it is removed). 0 turns this
    /// off, leaving the seed's trend-only rule. Default 3.
    pub sustain_ticks: usize,
    /// How thresholds are computed. Default `adaptive`.
    pub thresholds: ThresholdMode,
    /// Which policy proposes moves. Default `threshold`.
    pub policy: PolicyName,
    /// The engine never removes a region when that would leave fewer than
    /// this many deployed. Default 1.
    pub min_regions: usize,
    /// The latency policy never deploys more than this many regions.
    /// Default: no limit.
    pub max_regions: Option<usize>,
    /// How long a newly deployed machine takes to start and pass its health
    /// checks before it serves. Backtests count a new region as serving only
    /// after it (`backtest --startup-ticks` defaults to it, rounded up to
    /// whole ticks). Seconds or a duration such as `"3m"`. Default 0.
    #[serde(with = "duration")]
    pub machine_startup: Duration,
    /// How long a deploy whose outcome is in doubt (its answer was lost)
    /// counts as deployed while the backend's listing does not show it.
    /// Within it the region is neither deployed again nor removed; after
    /// it, with the region still not listed, one more deploy is allowed.
    /// Set it longer than the backend's listing can lag behind a create.
    /// Seconds or a duration such as `"5m"`, from 1 s to 24 h. Default 5
    /// minutes.
    #[serde(with = "duration")]
    pub pending_grace: Duration,
    /// Each built-in policy's settings section (`latency:` for the latency
    /// policy), typed with [`PolicySettings::get`]. The registry says which
    /// sections there are.
    #[serde(flatten)]
    pub policy_settings: PolicySettings,
}

/// The default `pending_grace`: longer than the Machines API's listing has
/// been seen to lag behind a create.
pub const DEFAULT_PENDING_GRACE: Duration = Duration::from_secs(5 * 60);

/// The longest `pending_grace` allowed.
pub const MAX_PENDING_GRACE: Duration = Duration::from_secs(24 * 60 * 60);

impl Default for PlacerConfig {
    fn default() -> Self {
        PlacerConfig {
            dry_run: true,
            cooldown_period: Duration::from_secs(10),
            short_term_window: 5,
            long_term_window: 20,
            alpha_short: 0.3,
            alpha_long: 0.1,
            traffic_threshold: 50.0,
            deployment_threshold: 10.0,
            allowed_regions: BTreeSet::new(),
            excluded_regions: BTreeSet::new(),
            always_running_regions: BTreeSet::new(),
            max_actions_per_tick: 3,
            sustain_ticks: 3,
            thresholds: ThresholdMode::Adaptive,
            policy: PolicyName::THRESHOLD,
            min_regions: 1,
            max_regions: None,
            machine_startup: Duration::ZERO,
            pending_grace: DEFAULT_PENDING_GRACE,
            policy_settings: PolicySettings::default(),
        }
    }
}

impl PlacerConfig {
    /// Region codes written in `allowed_regions`, `excluded_regions` or
    /// `always_running_regions` that are not in Fly's
    /// [catalog](crate::network::geo::catalog), each with the key that lists it.
    /// They are valid codes, but Fly reports no traffic from them and
    /// refuses to deploy them: most likely a typo or a retired region.
    ///
    /// ```
    /// use placer_core::PlacerConfig;
    ///
    /// let mut config = PlacerConfig::default();
    /// config.always_running_regions = ["fra".parse().unwrap(), "sfo".parse().unwrap()].into();
    /// assert_eq!(
    ///     config.uncatalogued_regions(),
    ///     [("always_running_regions", "sfo".parse().unwrap())]
    /// );
    /// ```
    pub fn uncatalogued_regions(&self) -> Vec<(&'static str, Region)> {
        [
            ("allowed_regions", &self.allowed_regions),
            ("excluded_regions", &self.excluded_regions),
            ("always_running_regions", &self.always_running_regions),
        ]
        .into_iter()
        .flat_map(|(key, regions)| {
            regions
                .iter()
                .filter(|region| crate::network::geo::region_info(region).is_none())
                .map(move |region| (key, *region))
        })
        .collect()
    }

    /// True when `region` may be deployed: not excluded, and inside the
    /// allowed list when one is set.
    pub fn may_deploy(&self, region: &Region) -> bool {
        !self.excluded_regions.contains(region)
            && (self.allowed_regions.is_empty() || self.allowed_regions.contains(region))
    }

    /// The regions `allowed_regions` and `always_running_regions` name
    /// that `platform` takes no new machine in, each with the key that
    /// names it and why (an edge region, deprecated, at capacity; a region
    /// `platform` does not know counts as an edge region). The engine never
    /// deploys them; `check-config` warns about them.
    ///
    /// ```
    /// use placer_core::network::platform::{PlatformRegions, Unavailable};
    /// use placer_core::PlacerConfig;
    ///
    /// let config = PlacerConfig::default()
    ///     .with_allowed_regions(["fra".parse().unwrap(), "mad".parse().unwrap()].into());
    /// let found = config.undeployable_regions(PlatformRegions::built_in());
    /// assert_eq!(found, [("allowed_regions", "mad".parse().unwrap(), Unavailable::NotCompute)]);
    /// ```
    pub fn undeployable_regions(
        &self,
        platform: &PlatformRegions,
    ) -> Vec<(&'static str, Region, Unavailable)> {
        let lists = [
            ("allowed_regions", &self.allowed_regions),
            ("always_running_regions", &self.always_running_regions),
        ];
        lists
            .into_iter()
            .flat_map(|(key, regions)| {
                regions.iter().filter_map(move |region| {
                    if platform.is_deployable(region) {
                        return None;
                    }
                    let why = platform
                        .unavailable(region)
                        .unwrap_or(Unavailable::NotCompute);
                    Some((key, *region, why))
                })
            })
            .collect()
    }

    /// Points of history kept per region: enough for both averages.
    pub fn history_capacity(&self) -> usize {
        self.long_term_window.max(self.short_term_window).max(1)
    }

    /// The engine's own keys in a config file. Policies' sections
    /// ([`PolicySettings::keys`]) sit beside them.
    pub const KEYS: &'static [&'static str] = &[
        "dry_run",
        "cooldown_period",
        "short_term_window",
        "long_term_window",
        "alpha_short",
        "alpha_long",
        "traffic_threshold",
        "deployment_threshold",
        "allowed_regions",
        "excluded_regions",
        "always_running_regions",
        "max_actions_per_tick",
        "sustain_ticks",
        "thresholds",
        "policy",
        "min_regions",
        "max_regions",
        "machine_startup",
        "pending_grace",
    ];
}
