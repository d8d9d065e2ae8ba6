//! Building the traffic source and the actuator the resolved settings ask
//! for. No network call happens here.

use std::sync::Arc;

use placer_core::{InMemoryActuator, MetricsSource, RegionActuator};

use crate::resolve::{DeploymentPlan, Resolved, TrafficPlan};
use crate::SimulatedSource;

/// The traffic source and actuator in use, with words for the log.
pub struct Backends {
    /// Where traffic comes from.
    pub source: Arc<dyn MetricsSource>,
    /// What lists and changes the deployment.
    pub actuator: Arc<dyn RegionActuator>,
    /// The simulation behind `source`, when traffic is simulated (it is told
    /// the deployment after each tick).
    pub simulation: Option<Arc<SimulatedSource>>,
    /// Where traffic comes from, in a few words.
    pub traffic_description: String,
    /// What lists and changes the deployment, in a few words.
    pub deployment_description: String,
    /// Problems met and dealt with while building (logged as warnings).
    pub notices: Vec<String>,
}

impl std::fmt::Debug for Backends {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backends")
            .field("traffic", &self.traffic_description)
            .field("deployment", &self.deployment_description)
            .finish_non_exhaustive()
    }
}

/// A backend that could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The backend is not part of this build.
    #[error("{0}")]
    Unavailable(String),
}

impl Backends {
    /// Builds what `resolved` asks for.
    ///
    /// # Errors
    /// [`BackendError`] naming the setting at fault.
    pub fn build(resolved: &Resolved) -> Result<Backends, BackendError> {
        let mut notices = Vec::new();
        let (source, simulation, traffic_description): (Arc<dyn MetricsSource>, _, _) =
            match &resolved.traffic {
                TrafficPlan::Simulated {
                    seed,
                    seed_configured,
                    regions,
                } => {
                    let simulation = Arc::new(SimulatedSource::new(*seed, regions.iter().cloned()));
                    let how = if *seed_configured {
                        "from simulation.seed"
                    } else {
                        "drawn at start; set simulation.seed to replay"
                    };
                    let line = format!(
                        "built-in simulation (FLY_PROMETHEUS_URL is not set), seed {seed} ({how})"
                    );
                    (simulation.clone(), Some(simulation), line)
                }
                TrafficPlan::Prometheus(plan) => {
                    return Err(BackendError::Unavailable(format!(
                        "{} is set, but this build has no Prometheus source yet",
                        plan.url_from
                    )))
                }
            };
        let (actuator, deployment_description): (Arc<dyn RegionActuator>, String) =
            match &resolved.deployment {
                DeploymentPlan::Simulated {
                    state_file,
                    initial,
                } => {
                    notices.push(format!(
                        "the simulated deployment is kept in memory only in this build, not in {}",
                        state_file.display()
                    ));
                    (
                        Arc::new(InMemoryActuator::new(initial.iter().cloned())),
                        format!(
                            "simulated in {} (dry run without a Fly app and token)",
                            state_file.display()
                        ),
                    )
                }
                DeploymentPlan::Observed(_) | DeploymentPlan::Live(_) => {
                    return Err(BackendError::Unavailable(
                        "this build has no Fly Machines actuator yet".to_owned(),
                    ))
                }
            };
        Ok(Backends {
            source,
            actuator,
            simulation,
            traffic_description,
            deployment_description,
            notices,
        })
    }
}

/// Checks that [`Backends::build`] would accept `resolved`, without opening
/// files or connections (for `check-config`).
///
/// # Errors
/// [`BackendError`] naming the setting at fault.
pub fn check(resolved: &Resolved) -> Result<(), BackendError> {
    if let TrafficPlan::Prometheus(plan) = &resolved.traffic {
        return Err(BackendError::Unavailable(format!(
            "{} is set, but this build has no Prometheus source yet",
            plan.url_from
        )));
    }
    if !matches!(resolved.deployment, DeploymentPlan::Simulated { .. }) {
        return Err(BackendError::Unavailable(
            "this build has no Fly Machines actuator yet".to_owned(),
        ));
    }
    Ok(())
}
