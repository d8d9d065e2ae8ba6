//! Building the traffic source and the actuator the resolved settings ask
//! for. Nothing here sends a request; opening the dry-run state file is the
//! only file access.

pub mod apps_traffic;
pub mod dry_run;

use std::sync::Arc;

use placer_core::wrap::{RateLimited, RateLimiter, ReadOnly, Retrying};
use placer_core::{MetricsSource, RegionActuator};
use placer_fly::{
    FlyError, FlyMachinesActuator, FlyOptions, PlatformRegionsCache, RequestCounter, RequestGate,
    TokioTimer,
};
use placer_prom::{PromError, PrometheusSource};

use dry_run::{DryRunActuator, DryRunError};

use crate::config::resolve::{DeploymentPlan, FlyPlan, PrometheusPlan, Resolved, TrafficPlan};
use placer_lab::{DeployedRegions, SimulatedSource};

/// The traffic source and actuator in use, with words for the log.
pub struct Backends {
    /// Where traffic comes from.
    pub source: Arc<dyn MetricsSource>,
    /// What lists and changes the deployment.
    pub actuator: Arc<dyn RegionActuator>,
    /// Where traffic comes from, in a few words.
    pub traffic_description: String,
    /// What lists and changes the deployment, in a few words.
    pub deployment_description: String,
    /// Problems met and dealt with while building, such as a corrupt
    /// dry-run state file that was moved aside (logged as errors).
    pub recovered: Vec<String>,
    /// The simulated deployment, when [`actuator`](Self::actuator) is one,
    /// so it can be kept in a shared state store too.
    pub simulation: Option<Arc<DryRunActuator>>,
    /// How the Machines API actuator's requests were answered, when the
    /// deployment is a Fly app's.
    pub api_requests: Option<placer_fly::RequestCounter>,
}

impl std::fmt::Debug for Backends {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backends")
            .field("traffic", &self.traffic_description)
            .field("deployment", &self.deployment_description)
            .finish_non_exhaustive()
    }
}

/// What the Machines API actuators of every app in one process share: one
/// token and one organization, so one set of Fly's per-app, per-action
/// buckets (each held back by a 429's `Retry-After` for its app and action
/// only), one cap on requests in flight (`fly.max_in_flight`) and the
/// optional client-wide cap on calls (`fly.rate_limit`, none unless set),
/// of the file's top level.
///
/// The platform's regions are read once per guest size and refresh for
/// every app, not once per app. It also carries the one Prometheus query
/// all apps' traffic comes from, when there is one.
#[derive(Debug, Clone)]
pub struct SharedLimits {
    /// Fly's per-app limits and the cap on requests in flight.
    pub gate: RequestGate,
    /// The optional client-wide cap on actuator calls.
    pub limiter: RateLimiter,
    /// Every app's traffic from one query per tick.
    pub traffic: Option<Arc<crate::backends::apps_traffic::AppsTraffic>>,
    /// The platform's regions as read last, for every app.
    pub platform: PlatformRegionsCache,
}

impl SharedLimits {
    /// Limits as the `fly:` section sets them.
    pub fn new(fly: &FlyOptions) -> Self {
        SharedLimits {
            gate: RequestGate::with_max_in_flight(fly.max_in_flight),
            limiter: RateLimiter::new(
                fly.rate_limit.limiter_rate(),
                fly.rate_limit.burst,
                Arc::new(TokioTimer::new()),
            ),
            traffic: None,
            platform: PlatformRegionsCache::new(),
        }
    }
}

/// A backend that could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// A Prometheus setting is invalid.
    #[error("Prometheus ({url_from}): {source}")]
    Prometheus {
        /// Where the URL came from.
        url_from: &'static str,
        /// What is wrong.
        #[source]
        source: PromError,
    },
    /// A Fly setting is invalid.
    #[error("Fly app {app} ({app_from}): {source}")]
    Fly {
        /// The app.
        app: placer_core::AppName,
        /// Where the app name came from.
        app_from: &'static str,
        /// What is wrong (boxed: Fly's errors are large, and this one is
        /// rare).
        #[source]
        source: Box<FlyError>,
    },
    /// The dry-run state file cannot be used.
    #[error(transparent)]
    DryRun(#[from] DryRunError),
}

impl Backends {
    /// Builds what `resolved` asks for. Simulated traffic reads the
    /// deployment from `deployed`.
    ///
    /// # Errors
    /// [`BackendError`] naming the setting at fault.
    ///
    /// With `shared` limits (several apps in one process), the Machines API
    /// actuator draws on them instead of limits of its own.
    pub fn build(
        resolved: &Resolved,
        deployed: &DeployedRegions,
        shared: Option<&SharedLimits>,
    ) -> Result<Backends, BackendError> {
        let mut recovered = Vec::new();
        let (source, traffic_description): (Arc<dyn MetricsSource>, _) = match &resolved.traffic {
            TrafficPlan::Simulated {
                seed,
                seed_configured,
                regions,
            } => {
                let simulation =
                    SimulatedSource::new(*seed, regions.iter().copied(), deployed.clone());
                let how = if *seed_configured {
                    "from simulation.seed"
                } else {
                    "drawn at start; set simulation.seed to replay"
                };
                let line = format!(
                    "built-in simulation (FLY_PROMETHEUS_URL is not set), seed {seed} ({how})"
                );
                (Arc::new(simulation), line)
            }
            TrafficPlan::Prometheus(plan) if shared.is_some_and(|s| s.traffic.is_some()) => {
                let apps = shared
                    .and_then(|shared| shared.traffic.clone())
                    .expect("checked by the guard");
                let line = format!(
                    "Prometheus at {} (from {}), app {}, one query per tick for every app",
                    placer_prom::url_without_credentials(&plan.url),
                    plan.url_from,
                    plan.app
                );
                let source = crate::backends::apps_traffic::AppTraffic {
                    apps,
                    app: plan.app.clone(),
                };
                (Arc::new(source), line)
            }
            TrafficPlan::Prometheus(plan) => {
                let source = prometheus_source(plan)?;
                let line = format!(
                    "Prometheus at {} (from {}), app {}",
                    placer_prom::url_without_credentials(&plan.url),
                    plan.url_from,
                    plan.app
                );
                (Arc::new(source), line)
            }
        };
        let mut simulation = None;
        let mut api_requests = None;
        let (actuator, deployment_description): (Arc<dyn RegionActuator>, String) =
            match &resolved.deployment {
                DeploymentPlan::Simulated {
                    state_file,
                    initial,
                } => {
                    let actuator = Arc::new(DryRunActuator::open(state_file, initial.clone())?);
                    if let Some(problem) = actuator.recovered_from() {
                        recovered.push(problem.to_string());
                    }
                    let line = format!(
                        "simulated in {} (dry run without a Fly app and token)",
                        state_file.display()
                    );
                    simulation = Some(Arc::clone(&actuator));
                    (actuator, line)
                }
                DeploymentPlan::Observed(plan) => {
                    let (actuator, counter) = fly_actuator(plan, shared)?;
                    api_requests = Some(counter);
                    let line = format!(
                        "Fly app {} ({}), observed only: dry run, nothing is changed",
                        plan.app, plan.app_from
                    );
                    (Arc::new(ReadOnly(actuator)), line)
                }
                DeploymentPlan::Live(plan) => {
                    let (actuator, counter) = fly_actuator(plan, shared)?;
                    api_requests = Some(counter);
                    let line = format!(
                        "Fly app {} ({}), live: machines are created and removed",
                        plan.app, plan.app_from
                    );
                    (Arc::new(actuator), line)
                }
            };
        Ok(Backends {
            source,
            actuator,
            traffic_description,
            deployment_description,
            recovered,
            simulation,
            api_requests,
        })
    }
}

/// What keeps `standby_per_region` standbys (the `machines:` section's)
/// from working with the app's template machine: its services' autostart
/// or autostop off (see [`placer_fly::standby_warnings`]). Reads the
/// machines from the Machines API, so only for a deployment on Fly and when
/// standbys are asked for; a listing that fails is a warning of its own.
pub async fn standby_warnings(resolved: &Resolved, standby_per_region: u32) -> Vec<String> {
    let plan = match &resolved.deployment {
        DeploymentPlan::Observed(plan) | DeploymentPlan::Live(plan) => plan,
        DeploymentPlan::Simulated { .. } => return Vec::new(),
    };
    if standby_per_region == 0 {
        return Vec::new();
    }
    let actuator = match fly_actuator(plan, None) {
        Ok((actuator, _)) => actuator,
        Err(err) => {
            return vec![format!(
                "cannot check the template machine for standbys: {err}"
            )]
        }
    };
    match actuator.inner().inner().standby_warnings(standby_per_region).await {
        Ok(warnings) => warnings,
        Err(err) => vec![format!(
            "cannot check the template machine for standbys (machines.standby_per_region > 0): {err}"
        )],
    }
}

/// Checks that [`Backends::build`] would accept `resolved`, without opening
/// files or connections (for `check-config`).
///
/// # Errors
/// [`BackendError`] naming the setting at fault.
pub fn check(resolved: &Resolved) -> Result<(), BackendError> {
    if let TrafficPlan::Prometheus(plan) = &resolved.traffic {
        prometheus_source(plan)?;
    }
    match &resolved.deployment {
        DeploymentPlan::Observed(plan) | DeploymentPlan::Live(plan) => {
            fly_actuator(plan, None)?;
        }
        DeploymentPlan::Simulated { .. } => {}
    }
    Ok(())
}

pub(crate) fn prometheus_source(plan: &PrometheusPlan) -> Result<PrometheusSource, BackendError> {
    let mut options = plan.section.clone();
    options.url = Some(plan.url.clone());
    options.app = Some(plan.app.clone());
    options.token = plan.token.clone();
    PrometheusSource::new(options).map_err(|source| BackendError::Prometheus {
        url_from: plan.url_from,
        source,
    })
}

/// The Machines API actuator with the configured retries and the optional
/// client-wide cap (Fly's per-app limits are kept inside it), and the
/// counter of its requests' answers.
fn fly_actuator(
    plan: &FlyPlan,
    shared: Option<&SharedLimits>,
) -> Result<(Retrying<RateLimited<FlyMachinesActuator>>, RequestCounter), BackendError> {
    let failed = |source| BackendError::Fly {
        app: plan.app.clone(),
        app_from: plan.app_from,
        source: Box::new(source),
    };
    let options = fly_options(plan);
    let timer = Arc::new(TokioTimer::new());
    let limited = match shared {
        Some(shared) => RateLimited::with_limiter(
            FlyMachinesActuator::with_gate(options.clone(), shared.gate.clone())
                .map_err(failed)?
                .sharing_platform_regions(shared.platform.clone()),
            shared.limiter.clone(),
        ),
        None => RateLimited::new(
            FlyMachinesActuator::with_gate(
                options.clone(),
                RequestGate::with_max_in_flight(options.max_in_flight),
            )
            .map_err(failed)?,
            options.rate_limit.limiter_rate(),
            options.rate_limit.burst,
            timer.clone(),
        ),
    };
    let counter = limited.inner().request_counter();
    Ok((Retrying::new(limited, options.retry, timer), counter))
}

/// The `fly:` section with the app and token in force.
pub fn fly_options(plan: &FlyPlan) -> FlyOptions {
    let mut options = plan.section.clone();
    options.app = Some(plan.app.clone());
    options.token = Some(plan.token.clone());
    options
}
