//! The `simulation:` section: the built-in traffic used when no Prometheus
//! is configured.

use std::collections::BTreeSet;

use placer_core::Region;
use serde::{Deserialize, Serialize};

/// The regions the simulation sends traffic from unless told otherwise: the
/// ones the seed project's mock generator used, with sjc for its sfo (not a Fly region).
pub const DEFAULT_SIMULATED_REGIONS: &[&str] =
    &["ams", "cdg", "fra", "iad", "lhr", "nrt", "sin", "sjc"];

/// The `simulation:` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimulationSection {
    /// Seed of the random traffic: the same seed gives the same traffic.
    /// Unset: a new seed at every start (logged, to replay a run).
    pub seed: Option<u64>,
    /// Regions the simulated traffic comes from.
    pub regions: Vec<Region>,
    /// Regions deployed when the simulated (dry-run) deployment starts, with
    /// no state file yet. Unset: the engine's `always_running_regions`.
    pub initial_deployment: Option<BTreeSet<Region>>,
    /// How many apps to simulate (`sim-1` … `sim-N`), each with its own
    /// traffic, deployment and state, when the file has no `apps:` section.
    /// Unset or 1: one app, as always.
    pub apps: Option<usize>,
}

impl Default for SimulationSection {
    fn default() -> Self {
        SimulationSection {
            seed: None,
            regions: DEFAULT_SIMULATED_REGIONS
                .iter()
                .map(|code| code.parse().expect("built-in region codes are valid"))
                .collect(),
            initial_deployment: None,
            apps: None,
        }
    }
}
