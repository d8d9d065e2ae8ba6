//! The [`RegionActuator`] trait: what is deployed, and changing it.

use std::collections::BTreeSet;

use async_trait::async_trait;

use crate::Region;

/// Anything that can list the regions an app runs in and add or remove one.
///
/// The actuator is the source of truth about what is deployed: the engine asks
/// it at every tick and never keeps its own guess.
///
/// Implementations: `placer_fly::FlyMachinesActuator` (the Fly Machines API),
/// `placer_fly::DryRunActuator` (a simulation kept in a state file), and
/// [`InMemoryActuator`](crate::InMemoryActuator) in this crate.
#[async_trait]
pub trait RegionActuator: Send + Sync {
    /// The regions where the app currently runs.
    ///
    /// # Errors
    /// [`ActuatorError`] when the deployment cannot be read.
    async fn deployed_regions(&self) -> Result<BTreeSet<Region>, ActuatorError>;

    /// Starts running the app in `region`. Deploying a region that is already
    /// deployed must succeed without creating anything (a retried tick must
    /// never deploy twice).
    ///
    /// # Errors
    /// [`ActuatorError`] when the region could not be deployed.
    async fn deploy(&self, region: &Region) -> Result<(), ActuatorError>;

    /// Stops running the app in `region`.
    ///
    /// # Errors
    /// [`ActuatorError`] when the region could not be removed, including when
    /// the actuator refuses (for example, to keep the app's last machine).
    async fn remove(&self, region: &Region) -> Result<(), ActuatorError>;

    /// True when this actuator only simulates a deployment and never touches
    /// real infrastructure.
    ///
    /// With `dry_run: true` the engine calls [`deploy`](Self::deploy) and
    /// [`remove`](Self::remove) only on simulating actuators, so a real
    /// deployment is never changed in dry-run. The default is `false`.
    fn is_simulation(&self) -> bool {
        false
    }
}

/// Why a [`RegionActuator`] call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ActuatorError {
    /// The backend failed or refused the request.
    #[error("{backend} failed{}: {source}", region_suffix(.region))]
    Backend {
        /// Which kind of actuator failed, e.g. `"fly"`.
        backend: &'static str,
        /// The region at stake, if any.
        region: Option<Region>,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The actuator refused the change to keep the app safe.
    #[error("refused to change {region}: {reason}")]
    Refused {
        /// The region at stake.
        region: Region,
        /// Why the change was refused.
        reason: String,
    },
}

fn region_suffix(region: &Option<Region>) -> String {
    match region {
        Some(region) => format!(" for region {region}"),
        None => String::new(),
    }
}

impl ActuatorError {
    /// Wraps any error from a backend.
    pub fn backend(
        backend: &'static str,
        region: Option<&Region>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        ActuatorError::Backend {
            backend,
            region: region.cloned(),
            source: source.into(),
        }
    }
}
