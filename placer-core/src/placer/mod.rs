//! [`Placer`]: the tick orchestrator. Observe, decide, execute, commit.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use crate::config::InvalidConfig;
use crate::forecast::{ForecastSettings, ForecastStatus, WarmStart, BACKFILL_STEP};
use crate::planner::{self, Plan, PlanInput};
use crate::policy::{
    PlacementPolicy, PlanningView, PolicyContext, PolicyEntry, PolicyName, PolicySummary,
};
use crate::{
    network::platform::PlatformRegions, network::LatencyModel, EngineState, MetricsError,
    MetricsSource, PlacerConfig, Region, Timestamp, TrafficSnapshot,
};

mod size;
mod steps;

pub use steps::Execution;

/// The placement engine: a validated config plus the state it has learnt.
///
/// Each [`tick`](Self::tick) fetches traffic from a [`MetricsSource`], asks
/// a [`RegionActuator`](crate::RegionActuator) what is deployed (the actuator is the truth), plans
/// with the configured policy and the shared safety rules, carries the plan
/// out (or, in dry-run, only reports it) and returns a [`TickReport`](crate::TickReport). The
/// caller supplies the time; the engine never reads a clock.
///
/// ```
/// # futures::executor::block_on(async {
/// use placer_core::{InMemoryActuator, Placer, PlacerConfig, ScriptedSource, Timestamp, TrafficSnapshot};
///
/// let config = PlacerConfig::default().with_dry_run(false);
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
#[derive(Clone)]
pub struct Placer {
    config: PlacerConfig,
    /// Shared with whoever asked for [`shared_state`](Self::shared_state)
    /// and copied on the next change while they hold it.
    state: Arc<EngineState>,
    latency_model: Arc<LatencyModel>,
    policy: Arc<dyn PlacementPolicy>,
    /// True when the policy was given by the caller rather than chosen by
    /// the config's `policy:` name.
    custom_policy: bool,
    /// Whether the latest observation carried any region (not persisted:
    /// after a restart nothing is removed before the first observation).
    metrics_usable: bool,
    /// Regions of the latest observation without coordinates in the
    /// platform picture.
    ignored: Vec<Region>,
    /// Which regions take new machines now (not persisted: the actuator
    /// reports it again).
    platform: Arc<PlatformRegions>,
}

impl fmt::Debug for Placer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Placer")
            .field("config", &self.config)
            .field("policy", &self.policy.name())
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl Placer {
    /// An engine with no history, running the policy the config names.
    ///
    /// # Errors
    /// [`InvalidConfig`] when `config` breaks a rule.
    pub fn new(config: PlacerConfig) -> Result<Self, InvalidConfig> {
        Self::with_state(config, EngineState::default())
    }

    /// An engine that resumes from a restored `state` (see
    /// [`EngineState::from_json`]).
    ///
    /// # Errors
    /// [`InvalidConfig`] when `config` breaks a rule.
    pub fn with_state(config: PlacerConfig, state: EngineState) -> Result<Self, InvalidConfig> {
        config.validate()?;
        let latency_model = Arc::new(LatencyModel::distance());
        let policy = built_in(&config, &latency_model);
        Ok(Self::assemble(config, state, latency_model, policy, false))
    }

    /// An engine with no history that runs `policy`, one of your own,
    /// instead of the one the config's `policy:` names. Its memory is kept
    /// in the [state](Self::state) under its [name](PlacementPolicy::name),
    /// so it survives a save and restore like a built-in policy's. Combine
    /// with a restored state through [`with_state`](Self::with_state)'s
    /// sibling [`with_policy_and_state`](Self::with_policy_and_state).
    ///
    /// ```
    /// use placer_core::policy::{PlacementPolicy, PlanningView, PolicyMemory, PolicyName};
    /// use placer_core::{Decision, Execution, Placer, PlacerConfig, Timestamp, TrafficSnapshot};
    ///
    /// /// Never moves anything; counts the ticks it was asked.
    /// struct Patient;
    ///
    /// impl PlacementPolicy for Patient {
    ///     fn name(&self) -> PolicyName {
    ///         PolicyName::new("patient")
    ///     }
    ///     fn propose(&self, _: &PlanningView<'_>, memory: &mut PolicyMemory) -> Vec<Decision> {
    ///         memory.store(&(memory.load::<u32>() + 1));
    ///         Vec::new()
    ///     }
    /// }
    ///
    /// let mut placer = Placer::with_policy(PlacerConfig::default(), Box::new(Patient)).unwrap();
    /// let now = Timestamp::from_unix_seconds(1_800_000_000);
    /// placer.observe(&TrafficSnapshot::new(now, [("fra", 90.0)]).unwrap());
    /// let plan = placer.decide(&["fra".parse().unwrap()].into(), now);
    /// placer.commit(plan, Execution::default());
    /// let asked: u32 = placer.state().policy_memory(&PolicyName::new("patient")).load();
    /// assert_eq!(asked, 1);
    /// ```
    ///
    /// # Errors
    /// [`InvalidConfig`] when `config` breaks a rule (its `policy:` name is
    /// not used).
    pub fn with_policy(
        config: PlacerConfig,
        policy: Box<dyn PlacementPolicy>,
    ) -> Result<Self, InvalidConfig> {
        Self::with_policy_and_state(config, policy, EngineState::default())
    }

    /// Like [`with_policy`](Self::with_policy), resuming from `state`.
    ///
    /// # Errors
    /// [`InvalidConfig`] when `config` breaks a rule.
    pub fn with_policy_and_state(
        config: PlacerConfig,
        policy: Box<dyn PlacementPolicy>,
        state: EngineState,
    ) -> Result<Self, InvalidConfig> {
        config.validate_engine()?;
        let latency_model = Arc::new(LatencyModel::distance());
        Ok(Self::assemble(
            config,
            state,
            latency_model,
            Arc::from(policy),
            true,
        ))
    }

    fn assemble(
        config: PlacerConfig,
        mut state: EngineState,
        latency_model: Arc<LatencyModel>,
        policy: Arc<dyn PlacementPolicy>,
        custom_policy: bool,
    ) -> Self {
        state.set_forecast_used(policy.plans_with_forecasts());
        state.adapt_to(&config);
        Placer {
            config,
            state: Arc::new(state),
            latency_model,
            policy,
            custom_policy,
            metrics_usable: false,
            ignored: Vec::new(),
            platform: Arc::new(PlatformRegions::built_in().clone()),
        }
    }

    /// The config in force.
    pub fn config(&self) -> &PlacerConfig {
        &self.config
    }

    /// The name of the policy that proposes the moves.
    pub fn policy_name(&self) -> PolicyName {
        self.policy.name()
    }

    /// What the policy says about its state (its machine budget and what
    /// is spent of it, say): see [`PlacementPolicy::summary`].
    pub fn policy_summary(&self) -> PolicySummary {
        let memory = self.state.policy_memory(&self.policy.name());
        self.policy.summary(&self.config, &memory)
    }

    /// Replaces the config from the next tick on (hot reload). History is
    /// kept; points beyond the new windows are dropped. A policy given with
    /// [`with_policy`](Self::with_policy) stays.
    ///
    /// # Errors
    /// [`InvalidConfig`] when `config` breaks a rule; the old config stays.
    pub fn set_config(&mut self, config: PlacerConfig) -> Result<(), InvalidConfig> {
        if self.custom_policy {
            config.validate_engine()?;
        } else {
            config.validate()?;
            self.policy = built_in(&config, &self.latency_model);
        }
        Arc::make_mut(&mut self.state).set_forecast_used(self.policy.plans_with_forecasts());
        Arc::make_mut(&mut self.state).adapt_to(&config);
        self.config = config;
        Ok(())
    }

    /// What the engine has learnt so far (persist it to resume later).
    pub fn state(&self) -> &EngineState {
        &self.state
    }

    /// The same state as [`state`](Self::state), shared rather than
    /// borrowed: a reader that keeps it (a status page, a copy to save in
    /// the background) costs no copy until the engine next changes its
    /// state, and then one copy while the reader still holds the old one.
    ///
    /// ```
    /// use placer_core::{Placer, PlacerConfig, Timestamp, TrafficSnapshot};
    ///
    /// let mut placer = Placer::new(PlacerConfig::default()).unwrap();
    /// let now = Timestamp::from_unix_seconds(1_800_000_000);
    /// placer.observe(&TrafficSnapshot::new(now, [("fra", 90.0)]).unwrap());
    /// let shown = placer.shared_state();
    /// placer.observe(&TrafficSnapshot::new(now + std::time::Duration::from_secs(60), [("fra", 95.0)]).unwrap());
    /// // The reader's copy is the state as it was when it was handed out.
    /// assert_eq!(shown.last_observation(), Some(now));
    /// assert_ne!(*shown, *placer.state());
    /// ```
    pub fn shared_state(&self) -> Arc<EngineState> {
        Arc::clone(&self.state)
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
    ///
    /// Traffic is counted where users entered Fly (an edge region); the
    /// planner serves an edge region's users from the nearest region that
    /// takes machines (see
    /// [`PlanningView::home`](crate::policy::PlanningView::home)). Regions
    /// the [platform picture](Self::platform_regions) has no coordinates
    /// for — neither in Fly's [catalog](crate::network::geo::catalog) nor
    /// in the platform's answer (a mislabelled series such as `zzz`) — are
    /// ignored: never recorded, never deployed, and listed in
    /// [`ignored_regions`](Self::ignored_regions).
    ///
    /// ```
    /// use placer_core::{Placer, PlacerConfig, Timestamp, TrafficSnapshot};
    ///
    /// let mut placer = Placer::new(PlacerConfig::default()).unwrap();
    /// let now = Timestamp::from_unix_seconds(1_800_000_000);
    /// placer.observe(&TrafficSnapshot::new(now, [("fra", 90.0), ("zzz", 500.0)]).unwrap());
    /// assert!(placer.state().region(&"zzz".parse().unwrap()).is_none());
    /// assert_eq!(placer.ignored_regions(), ["zzz".parse().unwrap()]);
    /// ```
    pub fn observe(&mut self, snapshot: &TrafficSnapshot) {
        let (known, ignored): (Vec<_>, Vec<_>) = snapshot
            .iter()
            .partition(|(region, _)| self.platform.knows(region));
        self.ignored = ignored.into_iter().map(|(region, _)| *region).collect();
        if self.ignored.is_empty() {
            Arc::make_mut(&mut self.state).record(snapshot, &self.config);
        } else {
            let known = TrafficSnapshot::new(snapshot.at(), known)
                .expect("a part of a valid snapshot is valid");
            Arc::make_mut(&mut self.state).record(&known, &self.config);
        }
        self.metrics_usable = snapshot.len() > self.ignored.len();
    }

    /// Teaches the forecaster past traffic, so that a placer that starts
    /// now forecasts from its first tick rather than after a week of
    /// watching (the service backfills it from Prometheus at start).
    ///
    /// Each snapshot of `history` is fed to the forecaster only: the
    /// regions' histories, averages and streaks, cooldowns, backoffs and
    /// the policy's memory are not touched, and nothing is planned. The
    /// snapshots are taken in time order (they are sorted first);
    /// those not later than the last observation the forecaster learnt
    /// (a restored state already holds them) are skipped, as are regions
    /// that are not Fly regions. Call it before the first
    /// [`tick`](Self::tick) or [`observe`](Self::observe); later ones
    /// supersede any history older than what they observed.
    ///
    /// The returned [`WarmStart`] says how many snapshots were usable,
    /// the span they cover, and whether the engine now forecasts or — with
    /// less history than `forecast.min_history`, `forecast.method: none`,
    /// or a policy that plans on observed traffic only (see
    /// [`PlacementPolicy::plans_with_forecasts`]) — stays reactive (its
    /// reasons then say so).
    ///
    /// ```
    /// use std::time::Duration;
    /// use placer_core::forecast::ForecastStatus;
    /// use placer_core::policy::PolicyName;
    /// use placer_core::{Placer, PlacerConfig, Timestamp, TrafficSnapshot};
    ///
    /// // The latency policy plans with forecasts.
    /// let config = PlacerConfig::default().with_policy(PolicyName::LATENCY);
    /// let mut placer = Placer::new(config.clone()).unwrap();
    /// let start = Timestamp::from_unix_seconds(1_799_020_800);
    /// let week: Vec<TrafficSnapshot> = (0..7 * 24 * 60 + 1)
    ///     .map(|minute| {
    ///         let at = start + Duration::from_secs(60 * minute);
    ///         TrafficSnapshot::new(at, [("fra", 40.0)]).unwrap()
    ///     })
    ///     .collect();
    /// let summary = placer.warm_start(&week);
    /// assert_eq!(summary.used, week.len());
    /// assert!(summary.status.is_forecasting());
    /// // Only the forecaster learnt: no history, no observation yet.
    /// assert_eq!(placer.state().last_observation(), None);
    /// assert!(placer.state().region(&"fra".parse().unwrap()).is_none());
    ///
    /// let mut cold = Placer::new(config).unwrap();
    /// let summary = cold.warm_start(&week[..24 * 60]);
    /// assert!(matches!(summary.status, ForecastStatus::Learning { .. }));
    /// ```
    pub fn warm_start(&mut self, history: &[TrafficSnapshot]) -> WarmStart {
        let mut ordered: Vec<&TrafficSnapshot> = history.iter().collect();
        ordered.sort_by_key(|snapshot| snapshot.at());
        let mut used = 0;
        let mut span: Option<(Timestamp, Timestamp)> = None;
        for snapshot in ordered {
            let known: Vec<(Region, f64)> = snapshot
                .iter()
                .filter(|(region, _)| self.platform.knows(region))
                .map(|(region, requests)| (*region, requests))
                .collect();
            let known = TrafficSnapshot::new(
                snapshot.at(),
                known
                    .iter()
                    .map(|(region, requests)| (region.as_str(), *requests)),
            )
            .expect("a part of a valid snapshot is valid");
            if Arc::make_mut(&mut self.state).learn_forecast(&known, &self.config) {
                used += 1;
                let at = snapshot.at();
                span = Some(span.map_or((at, at), |(first, _)| (first, at)));
            }
        }
        WarmStart {
            given: history.len(),
            used,
            span,
            status: self.state.forecast().status(),
        }
    }

    /// Reads past traffic from `source` and [warm-starts](Self::warm_start)
    /// the forecaster with it: the service does this when an app starts, so
    /// a new placer forecasts from its first tick.
    ///
    /// It asks [`MetricsSource::history`] for the `forecast.warm_start`
    /// before `now` (default 14 days) every [`BACKFILL_STEP`], less what
    /// the forecaster already learnt (a restored state holding the last
    /// hour only reads that hour). Nothing is read when forecasting is off,
    /// `warm_start` is `0` or the policy plans on observed traffic only
    /// (see [`PlacementPolicy::plans_with_forecasts`]). A source that
    /// keeps no history gives an empty answer, and the returned
    /// [`WarmStart`] then says the engine reacts to observed traffic until
    /// it has learnt `forecast.min_history`.
    ///
    /// # Errors
    /// The source's [`MetricsError`]; the engine is unchanged and may
    /// still tick (reactively).
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::time::Duration;
    /// use placer_core::policy::PolicyName;
    /// use placer_core::{MetricsError, MetricsSource, Placer, PlacerConfig, Timestamp, TrafficSnapshot};
    ///
    /// /// 40 requests in fra at every step, as far back as asked.
    /// struct Steady;
    ///
    /// #[async_trait::async_trait]
    /// impl MetricsSource for Steady {
    ///     async fn fetch(&self, at: Timestamp) -> Result<TrafficSnapshot, MetricsError> {
    ///         Ok(TrafficSnapshot::new(at, [("fra", 40.0)]).unwrap())
    ///     }
    ///
    ///     async fn history(&self, start: Timestamp, end: Timestamp, step: Duration)
    ///         -> Result<Vec<TrafficSnapshot>, MetricsError> {
    ///         let mut out = Vec::new();
    ///         let mut at = start;
    ///         while at <= end {
    ///             out.push(self.fetch(at).await?);
    ///             at = at + step;
    ///         }
    ///         Ok(out)
    ///     }
    /// }
    ///
    /// let config = PlacerConfig::default().with_policy(PolicyName::LATENCY);
    /// let mut placer = Placer::new(config).unwrap();
    /// let now = Timestamp::from_unix_seconds(1_800_000_000);
    /// let summary = placer.backfill(&Steady, now).await.unwrap();
    /// assert!(summary.status.is_forecasting());
    /// assert_eq!(summary.given, 14 * 24 * 12 + 1); // 14 days every 5 minutes
    /// # });
    /// ```
    pub async fn backfill<S>(
        &mut self,
        source: &S,
        now: Timestamp,
    ) -> Result<WarmStart, MetricsError>
    where
        S: MetricsSource + ?Sized,
    {
        Arc::make_mut(&mut self.state).adapt_to(&self.config);
        let settings: ForecastSettings = self.config.policy_settings.get();
        let Some(forecaster) = self.state.forecast().forecaster() else {
            return Ok(self.warm_start(&[]));
        };
        let mut start = now - settings.warm_start;
        if let Some(last) = forecaster.last_learned() {
            start = start.max(last + BACKFILL_STEP);
        }
        if settings.warm_start.is_zero() || start > now {
            return Ok(self.warm_start(&[]));
        }
        let history = source.history(start, now, BACKFILL_STEP).await?;
        Ok(self.warm_start(&history))
    }

    /// Forgets what the forecaster learnt, so that the next
    /// [`backfill`](Self::backfill) reads the whole `forecast.warm_start`
    /// window again. For an engine whose warm start was put off while it
    /// ticked on observed traffic (a service starting thousands of apps
    /// warms a few of them each tick): what it observed meanwhile is in the
    /// source's history too, and a backfill after those ticks would read
    /// only what came after them. The rest of the state is kept.
    ///
    /// ```
    /// use placer_core::policy::PolicyName;
    /// use placer_core::{Placer, PlacerConfig, Timestamp, TrafficSnapshot};
    ///
    /// let mut placer = Placer::new(PlacerConfig::default().with_policy(PolicyName::LATENCY)).unwrap();
    /// let at = Timestamp::from_unix_seconds(1_800_000_000);
    /// placer.observe(&TrafficSnapshot::new(at, [("fra", 40.0)]).unwrap());
    /// let learned = |placer: &Placer| placer.state().forecast().forecaster().unwrap().last_learned();
    /// assert_eq!(learned(&placer), Some(at));
    /// placer.restart_forecast();
    /// assert_eq!(learned(&placer), None);
    /// assert_eq!(placer.state().region(&"fra".parse().unwrap()).unwrap().history.len(), 1);
    /// ```
    pub fn restart_forecast(&mut self) {
        Arc::make_mut(&mut self.state).restart_forecast(&self.config);
    }

    /// Whether the engine forecasts traffic, or reacts to observed traffic
    /// only and why (see [`warm_start`](Self::warm_start)).
    pub fn forecast_status(&self) -> ForecastStatus {
        self.state.forecast().status()
    }

    /// Regions of the latest observation whose traffic was ignored because
    /// the platform picture has no coordinates for them, in region order.
    pub fn ignored_regions(&self) -> &[Region] {
        &self.ignored
    }

    /// Step 2 of a tick: what the engine would do with `deployed` at `now`,
    /// given what it has observed. Pure: nothing changes until the plan is
    /// [committed](Self::commit), so a bot may ask as often as it likes.
    ///
    /// Before the first [`observe`](Self::observe) (after a restart, say)
    /// the metrics count as unusable, so nothing is removed.
    ///
    /// `deployed` is what the actuator lists. A region whose deploy is in
    /// doubt (see [`PendingDeploy`](crate::state::PendingDeploy)) counts as
    /// deployed besides, within `pending_grace`: the plan neither deploys
    /// it again nor removes it, and lists it in [`Plan::pending`].
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
        self.with_input(deployed, now, |input| {
            planner::plan(input, self.policy.as_ref())
        })
    }

    /// Calls `look` with the [`PlanningView`] the policy would be handed by
    /// [`decide`](Self::decide) with `deployed` at `now`, and returns what
    /// it returns: a way to unit-test a policy of your own on the engine's
    /// real view, after [observing](Self::observe) the traffic you want.
    ///
    /// ```
    /// use placer_core::policy::{PlacementPolicy, PolicyMemory, ThresholdPolicy};
    /// use placer_core::{Action, Placer, PlacerConfig, Timestamp, TrafficSnapshot};
    ///
    /// let mut placer = Placer::new(PlacerConfig::default().with_sustain_ticks(1)).unwrap();
    /// let now = Timestamp::from_unix_seconds(1_800_000_000);
    /// placer.observe(&TrafficSnapshot::new(now, [("iad", 30.0), ("fra", 90.0)]).unwrap());
    /// let wishes = placer.planning_view(&["iad".parse().unwrap()].into(), now, |view| {
    ///     assert!(view.regions[&"fra".parse().unwrap()].current > 0.0);
    ///     ThresholdPolicy.propose(view, &mut PolicyMemory::default())
    /// });
    /// assert!(wishes.iter().any(|w| w.region.as_str() == "fra" && w.action == Action::Deploy));
    /// ```
    pub fn planning_view<T>(
        &self,
        deployed: &BTreeSet<Region>,
        now: Timestamp,
        look: impl FnOnce(&PlanningView<'_>) -> T,
    ) -> T {
        self.with_input(deployed, now, |input| {
            let regions = planner::region_details(input);
            look(
                &PlanningView::new(
                    input.config,
                    input.state,
                    input.deployed,
                    &regions,
                    input.now,
                )
                .with_platform(input.platform),
            )
        })
    }

    /// Calls `then` with what the planner works from at `now`.
    fn with_input<T>(
        &self,
        deployed: &BTreeSet<Region>,
        now: Timestamp,
        then: impl FnOnce(&PlanInput<'_>) -> T,
    ) -> T {
        // A region whose deploy is in doubt counts as deployed.
        let pending = self.state.pending_regions(deployed, &self.config, now);
        let with_pending;
        let deployed = if pending.is_empty() {
            deployed
        } else {
            with_pending = deployed.union(&pending).copied().collect();
            &with_pending
        };
        // Regions the commit will forget take no part in the decision.
        let pruned;
        let state = if self.state.has_idle(deployed, &self.config, now) {
            let mut state = (*self.state).clone();
            state.forget_idle(deployed, &self.config, now);
            pruned = state;
            &pruned
        } else {
            &*self.state
        };
        then(&PlanInput {
            config: &self.config,
            state,
            deployed,
            pending: &pending,
            now,
            metrics_usable: self.metrics_usable,
            platform: &self.platform,
        })
    }

    /// Plans over `platform`'s regions from the next [`decide`](Self::decide)
    /// on: which take new machines now, and where each is.
    /// [`tick`](Self::tick) sets what the actuator reports
    /// ([`RegionActuator::platform_regions`](crate::RegionActuator::platform_regions)).
    pub fn set_platform_regions(&mut self, platform: Arc<PlatformRegions>) {
        self.platform = platform;
    }

    /// The picture of the platform's regions the engine plans over.
    pub fn platform_regions(&self) -> &Arc<PlatformRegions> {
        &self.platform
    }

    /// Uses `model` for round-trip times in the built-in policies (default:
    /// the distance model; pass a measured matrix for real figures).
    pub fn set_latency_model(&mut self, model: LatencyModel) {
        self.latency_model = Arc::new(model);
        if !self.custom_policy {
            self.policy = built_in(&self.config, &self.latency_model);
        }
    }
}

/// The built-in policy `config` names (a valid config names one).
fn built_in(config: &PlacerConfig, latency_model: &Arc<LatencyModel>) -> Arc<dyn PlacementPolicy> {
    let entry = PolicyEntry::find(config.policy.as_str())
        .expect("a validated config names a registered policy");
    Arc::from(entry.build(&PolicyContext::new(config, latency_model)))
}
