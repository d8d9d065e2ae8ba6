//! The steps after deciding: [`Placer::execute`] a plan, [`Placer::commit`]
//! what came of it, and [`Placer::tick`], which is all four steps in order.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::Placer;
use crate::planner::{self, Plan};
use crate::report::{
    ActionOutcome, FailedStage, MachineDetail, Outcome, ResizeOutcome, TickError, TickReport,
};
use crate::sizing::Resize;
use crate::{
    Action, ActuatorError, Decision, MachineCount, MetricsSource, Move, Region, RegionActuator,
    Timestamp,
};

/// What came of carrying out a [`Plan`]: what [`Placer::execute`] returns
/// and [`Placer::commit`] records.
///
/// A bot that carries a plan out by other means than a [`RegionActuator`]
/// builds one from its outcomes with [`Execution::new`] (or `From` a
/// `Vec<ActionOutcome>`).
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct Execution {
    /// Each action attempted (or, in dry-run, planned), in the plan's
    /// order, with its outcome.
    pub actions: Vec<ActionOutcome>,
    /// Removals of the plan not attempted, with the reason: a deploy they
    /// counted on to keep `min_regions` failed.
    pub held_back: Vec<Decision>,
    /// Regions whose change was [skipped](Outcome::Skipped) because someone
    /// else was changing them ([`ActuatorError::Busy`]): unlike a refusal,
    /// asked for again at the next tick, with no backoff.
    pub busy: BTreeSet<Region>,
    /// The count changes of the plan's [sizing](Placer::size) attempted
    /// (or, in dry-run, planned), with their outcome.
    pub resizes: Vec<(Resize, Outcome)>,
}

impl Execution {
    /// The outcomes of a plan's actions, none held back.
    pub fn new(actions: Vec<ActionOutcome>) -> Self {
        Execution {
            actions,
            held_back: Vec::new(),
            busy: BTreeSet::new(),
            resizes: Vec::new(),
        }
    }

    /// The deployment after these outcomes, starting from `deployed`: what
    /// was carried out (or, in dry-run, would have been) applied to it.
    pub fn updated(&self, deployed: &BTreeSet<Region>) -> BTreeSet<Region> {
        let mut updated = deployed.clone();
        for done in &self.actions {
            if done.outcome.changes_deployment() {
                apply(&mut updated, &done.decision);
            }
        }
        updated
    }
}

impl From<Vec<ActionOutcome>> for Execution {
    fn from(actions: Vec<ActionOutcome>) -> Self {
        Execution::new(actions)
    }
}

/// What an actuator's answer means for the tick; a busy region is noted.
fn outcome_of(
    result: Result<(), ActuatorError>,
    region: &Region,
    busy: &mut BTreeSet<Region>,
) -> Outcome {
    match result {
        Ok(()) => Outcome::Ok,
        Err(ActuatorError::Refused { reason, .. }) => Outcome::Skipped(reason),
        Err(ActuatorError::Busy { reason, .. }) => {
            busy.insert(*region);
            Outcome::Skipped(reason)
        }
        Err(err) => Outcome::Failed(err),
    }
}

fn apply(deployed: &mut BTreeSet<Region>, decision: &Decision<Move>) {
    match decision.action {
        Move::Deploy => deployed.insert(decision.region),
        Move::Remove => deployed.remove(&decision.region),
    };
}

impl Placer {
    /// Step 3 of a tick: carries `plan` out with `actuator`, one action
    /// after the other; changes nothing in the engine.
    ///
    /// - In dry-run (`dry_run: true`, the library's default) `deploy` and
    ///   `remove` are called only on an actuator that is a
    ///   [simulation](RegionActuator::is_simulation); with a real one every
    ///   action is [`Outcome::DryRun`].
    /// - A failed action does not stop the others. An
    ///   [`ActuatorError::Refused`] change is [`Outcome::Skipped`], any
    ///   other error [`Outcome::Failed`].
    /// - A removal that would leave fewer than `min_regions` regions,
    ///   because a deploy it counted on failed, is not attempted: it is
    ///   [held back](Execution::held_back).
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use placer_core::{InMemoryActuator, Outcome, Placer, PlacerConfig, Timestamp, TrafficSnapshot};
    ///
    /// let mut placer = Placer::new(PlacerConfig::default().with_sustain_ticks(1)).unwrap();
    /// let now = Timestamp::from_unix_seconds(1_800_000_000);
    /// placer.observe(&TrafficSnapshot::new(now, [("iad", 30.0), ("fra", 90.0)]).unwrap());
    /// let actuator = InMemoryActuator::new(["iad".parse().unwrap()]);
    /// let plan = placer.decide(&actuator.regions(), now);
    /// let execution = placer.execute(&plan, &actuator).await;
    /// // Dry run (the default), but the in-memory actuator is a simulation:
    /// // the deploy is carried out on it.
    /// assert_eq!(execution.actions[0].outcome, Outcome::Ok);
    /// assert!(actuator.regions().contains(&"fra".parse().unwrap()));
    /// # });
    /// ```
    pub async fn execute<A>(&self, plan: &Plan, actuator: &A) -> Execution
    where
        A: RegionActuator + ?Sized,
    {
        let carry_out = !self.config.dry_run || actuator.is_simulation();
        // A pending region may have no machine: no removal counts on it.
        let mut deployed = plan.listed();
        let mut execution = Execution::default();
        for planned in &plan.actions {
            let would_remain = deployed.len().saturating_sub(1);
            if planned.action == Move::Remove && would_remain < self.config.min_regions {
                // A deploy this removal counted on failed.
                execution.held_back.push(Decision::new(
                    planned.region,
                    Action::Remove,
                    planner::too_few_regions(&self.config),
                ));
                continue;
            }
            let outcome = if carry_out {
                // With a `machines:` section a deploy is created with its
                // count, and a removal takes every machine of ours.
                let result = match (&plan.machines, planned.action) {
                    (None, Move::Deploy) => actuator.deploy(&planned.region).await,
                    (None, Move::Remove) => actuator.remove(&planned.region).await,
                    (Some(machines), Move::Deploy) => {
                        let target = machines.target(&planned.region);
                        actuator.scale(&planned.region, target).await
                    }
                    (Some(_), Move::Remove) => {
                        actuator.scale(&planned.region, MachineCount::NONE).await
                    }
                };
                outcome_of(result, &planned.region, &mut execution.busy)
            } else {
                Outcome::DryRun
            };
            if outcome.changes_deployment() {
                apply(&mut deployed, planned);
            }
            execution
                .actions
                .push(ActionOutcome::new(planned.clone(), outcome));
        }
        for resize in plan.machines.iter().flat_map(|machines| &machines.resizes) {
            let outcome = if carry_out {
                let result = actuator.scale(&resize.region, resize.to).await;
                outcome_of(result, &resize.region, &mut execution.busy)
            } else {
                Outcome::DryRun
            };
            execution.resizes.push((resize.clone(), outcome));
        }
        execution
    }

    /// Step 4 of a tick: records what came of `plan` and reports the tick.
    ///
    /// Regions idle for their whole history are forgotten, the policy keeps
    /// the memory it planned with, and each action carried out
    /// ([`Outcome::Ok`]) starts its region's cooldown. A deploy that failed
    /// with [`ActuatorError::RegionUnavailable`] puts its region in a
    /// backoff, and a change refused on purpose ([`Outcome::Skipped`], not
    /// [busy](Execution::busy)) is not asked for again for a while (see
    /// [`RegionBackoff`](crate::state::RegionBackoff)). An action not carried out
    /// ([`Outcome::DryRun`], or [`Outcome::Failed`] otherwise) changed
    /// nothing, so it starts no cooldown.
    ///
    /// A deploy that failed [in doubt](ActuatorError::may_have_taken_effect)
    /// makes its region *pending* (see
    /// [`PendingDeploy`](crate::state::PendingDeploy)): counted as deployed,
    /// neither deployed again nor removed, until a listing shows it — its
    /// cooldown then runs from the deploy — or `pending_grace` has passed,
    /// after which one more deploy is allowed. The report lists the regions
    /// pending after the tick in [`TickReport::pending`].
    ///
    /// Commit every plan you decided on, acted or not: that is how the
    /// policy learns (how long a better placement has lasted, the usual
    /// traffic, the machine time spent). The report is the one
    /// [`tick`](Self::tick) returns for the same steps.
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
    /// // The bot deploys fra by its own means, then tells the engine.
    /// let done: Vec<ActionOutcome> = plan
    ///     .actions
    ///     .iter()
    ///     .map(|decision| ActionOutcome::new(decision.clone(), Outcome::Ok))
    ///     .collect();
    /// let report = placer.commit(plan, done.into());
    /// assert_eq!(report.updated_deployment.len(), 2);
    /// let fra = placer.state().region(&"fra".parse().unwrap()).unwrap();
    /// assert_eq!(fra.last_action.unwrap().at, now);
    /// ```
    pub fn commit(&mut self, plan: Plan, execution: Execution) -> TickReport {
        let state = Arc::make_mut(&mut self.state);
        let listed = plan.listed();
        state.forget_idle(&plan.deployed, &self.config, plan.at);
        state.set_policy_memory(&plan.policy, plan.memory);
        state.settle_pending(&listed, &self.config, plan.at);
        let mut done = BTreeSet::new();
        for outcome in &execution.actions {
            let Decision { region, action, .. } = &outcome.decision;
            match &outcome.outcome {
                Outcome::Ok => {
                    state.record_action(region, *action, plan.at);
                    done.insert(*region);
                }
                Outcome::Skipped(_) if execution.busy.contains(region) => {}
                Outcome::Skipped(reason) => {
                    state.record_refusal(region, *action, reason.as_str(), plan.at);
                }
                Outcome::Failed(err) => {
                    if let (Move::Deploy, Some((_, reason))) = (action, err.unavailable_region()) {
                        state.record_refusal(region, Move::Deploy, reason, plan.at);
                    }
                    if *action == Move::Deploy && err.may_have_taken_effect() {
                        state.record_pending(region, plan.at);
                    }
                }
                Outcome::DryRun => {}
            }
        }
        let mut carried_out = plan.deployed.clone();
        for outcome in &execution.actions {
            if outcome.outcome == Outcome::Ok {
                apply(&mut carried_out, &outcome.decision);
            }
        }
        state.settle_backoffs(&carried_out, &done, plan.at);
        for (resize, outcome) in &execution.resizes {
            if *outcome == Outcome::Ok {
                state.record_resize(&resize.region, plan.at, resize.is_up());
            }
        }
        let mut regions = plan.regions;
        if let Some(machines) = &plan.machines {
            machine_details(&mut regions, machines, &execution);
        }
        let resized = plan.machines.as_ref().map(|machines| {
            execution
                .resizes
                .iter()
                .map(|(resize, outcome)| {
                    let reason = machines
                        .targets
                        .get(&resize.region)
                        .map(ToString::to_string)
                        .unwrap_or_default();
                    ResizeOutcome::new(
                        resize.region,
                        resize.from,
                        resize.to,
                        reason,
                        outcome.clone(),
                    )
                })
                .collect()
        });

        let updated = execution.updated(&listed);
        let pending: Vec<Region> = state
            .pending_regions(&updated, &self.config, plan.at)
            .into_iter()
            .collect();
        let done = |action: Move| -> Vec<Region> {
            let mut regions: Vec<Region> = execution
                .actions
                .iter()
                .filter(|o| o.decision.action == action && o.outcome.changes_deployment())
                .map(|o| o.decision.region)
                .collect();
            regions.sort();
            regions
        };
        let mut skipped = execution.held_back.clone();
        skipped.extend(plan.skipped);
        skipped.sort_by_key(|skip| skip.region);
        TickReport {
            deployed: done(Move::Deploy),
            removed: done(Move::Remove),
            skipped,
            current_deployment: listed.into_iter().collect(),
            updated_deployment: updated.into_iter().collect(),
            pending,
            at: plan.at,
            dry_run: self.config.dry_run,
            policy: plan.policy,
            regions,
            actions: execution.actions,
            resized,
            error: None,
            ignored_regions: self.ignored.clone(),
            forecast: self
                .policy
                .plans_with_forecasts()
                .then(|| self.forecast_status()),
        }
    }

    /// Runs one tick at `now`, the four steps in order:
    /// [observe](Self::observe) a snapshot from `source`,
    /// [decide](Self::decide) against what `actuator` reports as deployed
    /// and over the regions it says take machines
    /// ([`platform_regions`](RegionActuator::platform_regions), asked after
    /// the listing and before the observation),
    /// [execute](Self::execute) the plan with `actuator` and
    /// [commit](Self::commit) what came of it. A bot that drives the steps
    /// itself the same way gets the same decisions and the same report.
    ///
    /// A failed fetch or listing ends the tick with no action and an error
    /// in the report. One region's failed action does not stop the others.
    /// A deploy refused with [`ActuatorError::RegionUnavailable`] puts its
    /// region in a backoff (it sits out the next ticks, leaving its action
    /// slot to others); a change refused with [`ActuatorError::Refused`] is
    /// reported as [`Outcome::Skipped`], not as an error, and is not asked
    /// for again until its own backoff ends (see
    /// [`RegionBackoff`](crate::state::RegionBackoff)).
    ///
    /// In dry-run, deploy and remove are only called on actuators that are
    /// [simulations](RegionActuator::is_simulation). Everything observed is
    /// recorded as in a live run, the policy's memory included, so a dry run
    /// plans what a live run would carry out. Its planned actions start no
    /// cooldown: the deployment did not change, so the next tick again
    /// shows what live would do from the real deployment.
    ///
    /// At the end it calls the actuator's
    /// [`tick_finished`](RegionActuator::tick_finished).
    pub async fn tick<S, A>(&mut self, source: &S, actuator: &A, now: Timestamp) -> TickReport
    where
        S: MetricsSource + ?Sized,
        A: RegionActuator + ?Sized,
    {
        let report = self.run_tick(source, actuator, now).await;
        actuator.tick_finished();
        report
    }

    async fn run_tick<S, A>(&mut self, source: &S, actuator: &A, now: Timestamp) -> TickReport
    where
        S: MetricsSource + ?Sized,
        A: RegionActuator + ?Sized,
    {
        let dry_run = self.config.dry_run;
        let policy = self.policy.name();
        let snapshot = match source.fetch(now).await {
            Ok(snapshot) => snapshot,
            Err(err) => {
                let current = actuator.deployed_regions().await.ok();
                let error = TickError::new(FailedStage::FetchingTraffic, err);
                let mut report = TickReport::failed(now, dry_run, policy, current.as_ref(), error);
                report.resized = self.sizes_machines().then(Vec::new);
                return report;
            }
        };
        let sizes = self.sizes_machines();
        let listed = if sizes {
            actuator.deployment().await
        } else {
            actuator.deployed_regions().await.map(|regions| {
                regions
                    .into_iter()
                    .map(|region| (region, MachineCount::ONE))
                    .collect()
            })
        };
        // After the listing (an actuator may reuse it to read the platform)
        // and before the observation, so that it already knows a region the
        // platform lists but the built-in catalog lacks.
        if listed.is_ok() {
            if let Some(platform) = actuator.platform_regions().await {
                self.set_platform_regions(platform);
            }
        }
        self.observe(&snapshot);
        let deployment = match listed {
            Ok(deployment) => deployment,
            Err(err) => {
                let error = TickError::new(FailedStage::ListingDeployment, err);
                let mut report = TickReport::failed(now, dry_run, policy, None, error);
                report.resized = sizes.then(Vec::new);
                return report;
            }
        };
        let deployed: BTreeSet<Region> = deployment
            .iter()
            .filter(|(_, count)| count.is_deployed())
            .map(|(region, _)| *region)
            .collect();
        let mut plan = self.decide(&deployed, now);
        if sizes {
            self.size(&mut plan, &deployment);
        }
        let execution = self.execute(&plan, actuator).await;
        self.commit(plan, execution)
    }
}

/// Each region's machines in the report: the listing, the target, and why.
fn machine_details(
    regions: &mut std::collections::BTreeMap<Region, crate::RegionDetail>,
    machines: &crate::sizing::MachinePlan,
    execution: &Execution,
) {
    let touched: BTreeSet<Region> = machines
        .current
        .keys()
        .chain(machines.targets.keys())
        .copied()
        .collect();
    for region in touched {
        let Some(detail) = regions.get_mut(&region) else {
            continue;
        };
        let current = machines.current.get(&region).copied().unwrap_or_default();
        let removed = execution
            .actions
            .iter()
            .any(|done| done.decision.region == region && done.decision.action == Move::Remove);
        let target = match machines.targets.get(&region) {
            Some(target) if !removed => target.count,
            _ => MachineCount::NONE,
        };
        let mut reason = match machines.targets.get(&region) {
            Some(target) if !removed => target.to_string(),
            _ => "not deployed".to_owned(),
        };
        if let Some(held) = machines.held.get(&region) {
            reason = format!("{reason}; {held}");
        }
        // A change of count that was not carried out says why, so a failed
        // scale does not read as one still to come.
        let unfinished = execution
            .resizes
            .iter()
            .find(|(resize, outcome)| resize.region == region && *outcome != Outcome::Ok);
        if let Some((resize, outcome)) = unfinished {
            let what = match outcome {
                Outcome::DryRun => "dry run".to_owned(),
                Outcome::Failed(err) => format!("failed: {err}"),
                Outcome::Skipped(why) => format!("skipped: {why}"),
                Outcome::Ok => unreachable!("filtered out above"),
            };
            reason = format!("{reason}; scaling to {}: {what}", resize.to);
        }
        detail.machines = Some(Box::new(MachineDetail {
            running: current.running,
            standby: current.standby,
            target: target.running,
            target_standby: target.standby,
            reason,
        }));
    }
}
