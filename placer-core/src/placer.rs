//! [`Placer`]: the tick orchestrator. Observe, record, plan, apply, report.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::config::{InvalidConfig, PolicyKind};
use crate::planner::{self, Plan, PlanInput};
use crate::policy::{LatencyPolicy, PlacementPolicy, ThresholdPolicy};
use crate::report::{Action, ActionOutcome, FailedStage, Outcome, Skipped, TickReport};
use crate::{
    EngineState, LatencyModel, MetricsSource, PlacerConfig, Region, RegionActuator, Timestamp,
};

/// The placement engine: a validated config plus the state it has learnt.
///
/// Each [`tick`](Self::tick) fetches traffic from a [`MetricsSource`], asks
/// a [`RegionActuator`] what is deployed (the actuator is the truth), plans
/// with the configured policy and the shared safety rules, carries the plan
/// out (or, in dry-run, only reports it) and returns a [`TickReport`]. The
/// caller supplies the time; the engine never reads a clock.
///
/// ```
/// # futures::executor::block_on(async {
/// use placer_core::{InMemoryActuator, Placer, PlacerConfig, ScriptedSource, Timestamp, TrafficSnapshot};
///
/// let config = PlacerConfig { dry_run: false, ..PlacerConfig::default() };
/// let mut placer = Placer::new(config).unwrap();
/// let actuator = InMemoryActuator::new(["iad".parse().unwrap()]);
/// let source = ScriptedSource::new();
/// let mut now = Timestamp::from_unix_seconds(1_800_000_000);
/// for _ in 0..5 {
///     source.push(TrafficSnapshot::new(now, [("iad", 30.0), ("fra", 90.0)]).unwrap());
///     placer.tick(&source, &actuator, now).await;
///     now = now + std::time::Duration::from_secs(60);
/// }
/// // Busy, steady fra traffic got a machine.
/// assert!(actuator.regions().contains(&"fra".parse().unwrap()));
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct Placer {
    config: PlacerConfig,
    state: EngineState,
    latency_model: Arc<LatencyModel>,
}

impl Placer {
    /// An engine with no history.
    ///
    /// # Errors
    /// [`InvalidConfig`] when `config` breaks a rule.
    pub fn new(config: PlacerConfig) -> Result<Self, InvalidConfig> {
        Self::with_state(config, EngineState::default())
    }

    /// An engine that resumes from a restored `state`.
    ///
    /// # Errors
    /// [`InvalidConfig`] when `config` breaks a rule.
    pub fn with_state(config: PlacerConfig, mut state: EngineState) -> Result<Self, InvalidConfig> {
        config.validate()?;
        state.adapt_to(&config);
        Ok(Placer {
            config,
            state,
            latency_model: Arc::new(LatencyModel::distance()),
        })
    }

    /// The config in force.
    pub fn config(&self) -> &PlacerConfig {
        &self.config
    }

    /// Replaces the config from the next tick on (hot reload). History is
    /// kept; points beyond the new windows are dropped.
    ///
    /// # Errors
    /// [`InvalidConfig`] when `config` breaks a rule; the old config stays.
    pub fn set_config(&mut self, config: PlacerConfig) -> Result<(), InvalidConfig> {
        config.validate()?;
        self.state.adapt_to(&config);
        self.config = config;
        Ok(())
    }

    /// What the engine has learnt so far (persist it to resume later).
    pub fn state(&self) -> &EngineState {
        &self.state
    }

    /// Plans against `deployed` at `now` without observing or acting.
    pub fn plan(&self, deployed: &BTreeSet<Region>, now: Timestamp, metrics_usable: bool) -> Plan {
        let input = PlanInput {
            config: &self.config,
            state: &self.state,
            deployed,
            now,
            metrics_usable,
        };
        planner::plan(&input, self.policy().as_ref())
    }

    /// Uses `model` for round-trip times in the latency policy (default:
    /// the distance model; pass a measured matrix for real figures).
    pub fn set_latency_model(&mut self, model: LatencyModel) {
        self.latency_model = Arc::new(model);
    }

    fn policy(&self) -> Box<dyn PlacementPolicy> {
        match self.config.policy {
            PolicyKind::Threshold => Box::new(ThresholdPolicy),
            PolicyKind::Latency => Box::new(LatencyPolicy::new(Arc::clone(&self.latency_model))),
        }
    }

    /// Runs one tick at `now`.
    ///
    /// A failed fetch or listing ends the tick with no action and an error
    /// in the report. One region's failed action does not stop the others.
    /// In dry-run, deploy and remove are only called on actuators that are
    /// [simulations](RegionActuator::is_simulation).
    pub async fn tick<S, A>(&mut self, source: &S, actuator: &A, now: Timestamp) -> TickReport
    where
        S: MetricsSource + ?Sized,
        A: RegionActuator + ?Sized,
    {
        let dry_run = self.config.dry_run;
        let policy = self.config.policy;
        let snapshot = match source.fetch(now).await {
            Ok(snapshot) => snapshot,
            Err(err) => {
                let current = actuator.deployed_regions().await.ok();
                return TickReport::failed(
                    now,
                    dry_run,
                    policy,
                    current.as_ref(),
                    FailedStage::FetchingTraffic,
                    err,
                );
            }
        };
        self.state.record(&snapshot, &self.config);
        let deployed = match actuator.deployed_regions().await {
            Ok(deployed) => deployed,
            Err(err) => {
                return TickReport::failed(
                    now,
                    dry_run,
                    policy,
                    None,
                    FailedStage::ListingDeployment,
                    err,
                );
            }
        };
        self.state.forget_idle(&deployed, &self.config, now);
        let plan = self.plan(&deployed, now, !snapshot.is_empty());

        let execute = !dry_run || actuator.is_simulation();
        if execute {
            self.state.set_policy_memory(plan.memory.clone());
        }
        let mut updated = deployed.clone();
        let mut outcomes = Vec::with_capacity(plan.actions.len());
        let mut skipped = plan.skipped;
        for planned in plan.actions {
            let would_remain = updated.len().saturating_sub(1);
            if planned.action == Action::Remove && would_remain < self.config.min_regions {
                // A deploy this removal counted on failed.
                skipped.push(Skipped {
                    region: planned.region,
                    action: Action::Remove,
                    reason: planner::too_few_regions(&self.config),
                });
                continue;
            }
            let outcome = if execute {
                let result = match planned.action {
                    Action::Deploy => actuator.deploy(&planned.region).await,
                    _ => actuator.remove(&planned.region).await,
                };
                match result {
                    Ok(()) => {
                        self.state
                            .record_action(&planned.region, planned.action, now);
                        Outcome::Ok
                    }
                    Err(err) => Outcome::Error(err.to_string()),
                }
            } else {
                Outcome::DryRun
            };
            if !matches!(outcome, Outcome::Error(_)) {
                if planned.action == Action::Deploy {
                    updated.insert(planned.region);
                } else {
                    updated.remove(&planned.region);
                }
            }
            outcomes.push(ActionOutcome {
                region: planned.region,
                action: planned.action,
                reason: planned.reason,
                outcome,
            });
        }

        let done = |action: Action| -> Vec<Region> {
            let mut regions: Vec<Region> = outcomes
                .iter()
                .filter(|o| o.action == action && !matches!(o.outcome, Outcome::Error(_)))
                .map(|o| o.region)
                .collect();
            regions.sort();
            regions
        };
        skipped.sort_by_key(|skip| skip.region);
        TickReport {
            deployed: done(Action::Deploy),
            removed: done(Action::Remove),
            skipped,
            current_deployment: deployed.into_iter().collect(),
            updated_deployment: updated.into_iter().collect(),
            at: now,
            dry_run,
            policy,
            regions: plan.regions,
            actions: outcomes,
            error: None,
        }
    }
}
