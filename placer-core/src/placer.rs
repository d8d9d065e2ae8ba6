//! [`Placer`]: the tick orchestrator. Observe, record, plan, apply, report.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::config::{InvalidConfig, PolicyKind};
use crate::planner::{self, Plan, PlanInput};
use crate::policy::{LatencyPolicy, PlacementPolicy, ThresholdPolicy};
use crate::report::{ActionOutcome, FailedStage, Outcome, TickError, TickReport};
use crate::{
    Action, Decision, EngineState, LatencyModel, MetricsSource, Move, PlacerConfig, Region,
    RegionActuator, Timestamp, TrafficSnapshot,
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
    /// Whether the latest observation carried any region (not persisted:
    /// after a restart nothing is removed before the first observation).
    metrics_usable: bool,
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
            metrics_usable: false,
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

    /// Step 1 of a tick: records a successful observation (history,
    /// averages, streaks). A snapshot without any region counts as no usable
    /// metrics for the next [`decide`](Self::decide): nothing is removed on it.
    ///
    /// ```
    /// use placer_core::{Placer, PlacerConfig, Timestamp, TrafficSnapshot};
    ///
    /// let mut placer = Placer::new(PlacerConfig::default()).unwrap();
    /// let now = Timestamp::from_unix_seconds(1_800_000_000);
    /// placer.observe(&TrafficSnapshot::new(now, [("fra", 90.0)]).unwrap());
    /// assert_eq!(placer.state().last_observation(), Some(now));
    /// ```
    pub fn observe(&mut self, snapshot: &TrafficSnapshot) {
        self.state.record(snapshot, &self.config);
        self.metrics_usable = !snapshot.is_empty();
    }

    /// Step 2 of a tick: what the engine would do with `deployed` at `now`,
    /// given what it has observed. Pure: nothing changes until the plan is
    /// [committed](Self::commit), so a bot may ask as often as it likes.
    ///
    /// Before the first [`observe`](Self::observe) (after a restart, say)
    /// the metrics count as unusable, so nothing is removed.
    ///
    /// ```
    /// use placer_core::{Move, Placer, PlacerConfig, Timestamp, TrafficSnapshot};
    ///
    /// let mut placer = Placer::new(PlacerConfig::default()).unwrap();
    /// let mut now = Timestamp::from_unix_seconds(1_800_000_000);
    /// for _ in 0..3 {
    ///     placer.observe(&TrafficSnapshot::new(now, [("iad", 30.0), ("fra", 90.0)]).unwrap());
    ///     now = now + std::time::Duration::from_secs(60);
    /// }
    /// let deployed = ["iad".parse().unwrap()].into();
    /// let plan = placer.decide(&deployed, now);
    /// assert_eq!(plan.actions[0].region.as_str(), "fra");
    /// assert_eq!(plan.actions[0].action, Move::Deploy);
    /// // Asking again gives the same answer: deciding changed nothing.
    /// assert_eq!(placer.decide(&deployed, now), plan);
    /// ```
    pub fn decide(&self, deployed: &BTreeSet<Region>, now: Timestamp) -> Plan {
        self.plan(deployed, now, self.metrics_usable)
    }

    /// Like [`decide`](Self::decide), saying whether the latest observation
    /// carried usable metrics (`false`: nothing is removed).
    pub fn plan(&self, deployed: &BTreeSet<Region>, now: Timestamp, metrics_usable: bool) -> Plan {
        // Regions the commit will forget take no part in the decision.
        let pruned;
        let state = if self.state.has_idle(deployed, &self.config, now) {
            let mut state = self.state.clone();
            state.forget_idle(deployed, &self.config, now);
            pruned = state;
            &pruned
        } else {
            &self.state
        };
        let input = PlanInput {
            config: &self.config,
            state,
            deployed,
            now,
            metrics_usable,
        };
        planner::plan(&input, self.policy().as_ref())
    }

    /// Step 3 of a tick: records what came of `plan`. Regions idle for their
    /// whole history are forgotten, the policy keeps the memory it planned
    /// with, and each action carried out ([`Outcome::Ok`]) starts its
    /// region's cooldown.
    ///
    /// Commit every plan you decided on, acted or not: that is how the
    /// policy learns (how long a better placement has lasted, the usual
    /// traffic, the machine time spent). An action that was not carried out
    /// ([`Outcome::DryRun`], [`Outcome::Error`]) changed nothing, so it
    /// starts no cooldown.
    ///
    /// ```
    /// use placer_core::{ActionOutcome, Outcome, Placer, PlacerConfig, Timestamp, TrafficSnapshot};
    ///
    /// let mut placer = Placer::new(PlacerConfig::default()).unwrap();
    /// let mut now = Timestamp::from_unix_seconds(1_800_000_000);
    /// for _ in 0..3 {
    ///     placer.observe(&TrafficSnapshot::new(now, [("iad", 30.0), ("fra", 90.0)]).unwrap());
    ///     now = now + std::time::Duration::from_secs(60);
    /// }
    /// let plan = placer.decide(&["iad".parse().unwrap()].into(), now);
    /// // The bot deploys fra itself, then tells the engine.
    /// let done: Vec<ActionOutcome> = plan
    ///     .actions
    ///     .iter()
    ///     .map(|decision| ActionOutcome::new(decision.clone(), Outcome::Ok))
    ///     .collect();
    /// placer.commit(&plan, &done);
    /// let fra = placer.state().region(&"fra".parse().unwrap()).unwrap();
    /// assert_eq!(fra.last_action.unwrap().at, now);
    /// ```
    pub fn commit(&mut self, plan: &Plan, outcomes: &[ActionOutcome]) {
        self.state
            .forget_idle(&plan.deployed, &self.config, plan.at);
        self.state.set_policy_memory(plan.memory.clone());
        for done in outcomes.iter().filter(|o| o.outcome == Outcome::Ok) {
            self.state
                .record_action(&done.decision.region, done.decision.action.into(), plan.at);
        }
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

    /// Runs one tick at `now`: [observes](Self::observe) a snapshot from
    /// `source`, [decides](Self::decide) against what `actuator` reports as
    /// deployed, carries the plan out and [commits](Self::commit) what
    /// came of it.
    ///
    /// A failed fetch or listing ends the tick with no action and an error
    /// in the report. One region's failed action does not stop the others.
    ///
    /// In dry-run, deploy and remove are only called on actuators that are
    /// [simulations](RegionActuator::is_simulation). Everything observed is
    /// recorded as in a live run, the policy's memory included, so a dry run
    /// plans what a live run would carry out. Its planned actions start no
    /// cooldown: the deployment did not change, so the next tick again
    /// shows what live would do from the real deployment.
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
                let error = TickError::new(FailedStage::FetchingTraffic, err);
                return TickReport::failed(now, dry_run, policy, current.as_ref(), error);
            }
        };
        self.observe(&snapshot);
        let deployed = match actuator.deployed_regions().await {
            Ok(deployed) => deployed,
            Err(err) => {
                let error = TickError::new(FailedStage::ListingDeployment, err);
                return TickReport::failed(now, dry_run, policy, None, error);
            }
        };
        let plan = self.decide(&deployed, now);

        let execute = !dry_run || actuator.is_simulation();
        let mut updated = deployed.clone();
        let mut outcomes = Vec::with_capacity(plan.actions.len());
        let mut skipped = Vec::new();
        for planned in &plan.actions {
            let would_remain = updated.len().saturating_sub(1);
            if planned.action == Move::Remove && would_remain < self.config.min_regions {
                // A deploy this removal counted on failed.
                skipped.push(Decision::new(
                    planned.region,
                    Action::Remove,
                    planner::too_few_regions(&self.config),
                ));
                continue;
            }
            let outcome = if execute {
                let result = match planned.action {
                    Move::Deploy => actuator.deploy(&planned.region).await,
                    Move::Remove => actuator.remove(&planned.region).await,
                };
                match result {
                    Ok(()) => Outcome::Ok,
                    Err(err) => Outcome::Error(err.to_string()),
                }
            } else {
                Outcome::DryRun
            };
            if !matches!(outcome, Outcome::Error(_)) {
                match planned.action {
                    Move::Deploy => updated.insert(planned.region),
                    Move::Remove => updated.remove(&planned.region),
                };
            }
            outcomes.push(ActionOutcome::new(planned.clone(), outcome));
        }
        self.commit(&plan, &outcomes);

        let done = |action: Move| -> Vec<Region> {
            let mut regions: Vec<Region> = outcomes
                .iter()
                .filter(|o| o.decision.action == action && !matches!(o.outcome, Outcome::Error(_)))
                .map(|o| o.decision.region)
                .collect();
            regions.sort();
            regions
        };
        skipped.extend(plan.skipped);
        skipped.sort_by_key(|skip| skip.region);
        TickReport {
            deployed: done(Move::Deploy),
            removed: done(Move::Remove),
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
