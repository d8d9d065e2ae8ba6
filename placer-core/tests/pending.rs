//! Deploys in doubt: a deploy whose answer was lost keeps its region
//! pending — counted as deployed, neither deployed again nor removed — until
//! the listing shows it or `pending_grace` passes.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use futures::executor::block_on;
use placer_core::policy::{PlacementPolicy, PlanningView, PolicyMemory, PolicyName};
use placer_core::{
    Action, ActuatorError, Decision, EngineState, MachineCount, Move, Outcome, Placer,
    PlacerConfig, Reason, Region, RegionActuator, ScriptedSource, Timestamp, TrafficSnapshot,
};

fn r(code: &str) -> Region {
    code.parse().unwrap()
}

fn at(minute: u64) -> Timestamp {
    Timestamp::from_unix_seconds(1_800_000_000) + Duration::from_secs(60 * minute)
}

/// A backend whose creates may be carried out but answered as lost, and
/// whose listing shows a new machine only once the test says so.
#[derive(Default)]
struct LostAnswers {
    inner: Mutex<Backend>,
}

#[derive(Default)]
struct Backend {
    /// Machines per region, as they really are.
    machines: BTreeMap<Region, usize>,
    /// Regions whose machines the listing shows.
    listed: BTreeSet<Region>,
    /// Whether a deploy creates the machine before its answer is lost.
    creates: bool,
    /// Whether a deploy answers in doubt (else it answers Ok, listed at once).
    loses_answers: bool,
    deploys: usize,
}

impl LostAnswers {
    fn new(listed: &[&str], creates: bool) -> Self {
        let backend = Backend {
            machines: listed.iter().map(|code| (r(code), 1)).collect(),
            listed: listed.iter().map(|code| r(code)).collect(),
            creates,
            loses_answers: true,
            ..Backend::default()
        };
        LostAnswers {
            inner: Mutex::new(backend),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Backend> {
        self.inner.lock().unwrap()
    }

    /// The listing catches up with every machine.
    fn catch_up(&self) {
        let mut backend = self.lock();
        backend.listed = backend.machines.keys().copied().collect();
    }

    fn machines(&self, code: &str) -> usize {
        self.lock().machines.get(&r(code)).copied().unwrap_or(0)
    }

    fn deploys(&self) -> usize {
        self.lock().deploys
    }
}

#[async_trait]
impl RegionActuator for LostAnswers {
    async fn deployment(&self) -> Result<BTreeMap<Region, MachineCount>, ActuatorError> {
        Ok(self
            .lock()
            .listed
            .iter()
            .map(|region| (*region, MachineCount::ONE))
            .collect())
    }

    async fn scale(&self, region: &Region, target: MachineCount) -> Result<(), ActuatorError> {
        if target.is_deployed() {
            self.deploy_one(region)
        } else {
            self.remove_one(region)
        }
    }
}

impl LostAnswers {
    fn deploy_one(&self, region: &Region) -> Result<(), ActuatorError> {
        let mut backend = self.lock();
        backend.deploys += 1;
        if backend.loses_answers {
            if backend.creates {
                *backend.machines.entry(*region).or_default() += 1;
            }
            return Err(ActuatorError::in_doubt("lossy", region, "HTTP 500"));
        }
        *backend.machines.entry(*region).or_default() += 1;
        backend.listed.insert(*region);
        Ok(())
    }

    fn remove_one(&self, region: &Region) -> Result<(), ActuatorError> {
        let mut backend = self.lock();
        backend.machines.remove(region);
        backend.listed.remove(region);
        Ok(())
    }
}

fn live() -> PlacerConfig {
    PlacerConfig::default()
        .with_dry_run(false)
        .with_sustain_ticks(1)
        .with_cooldown_period(Duration::from_secs(3600))
        .with_pending_grace(Duration::from_secs(5 * 60))
}

/// Busy fra, quiet iad, every minute from `from` to `to`.
fn busy_fra(source: &ScriptedSource, minute: u64) {
    source.push(TrafficSnapshot::new(at(minute), [("iad", 30.0), ("fra", 400.0)]).unwrap());
}

fn tick(placer: &mut Placer, actuator: &LostAnswers, minute: u64) -> placer_core::TickReport {
    let source = ScriptedSource::new();
    busy_fra(&source, minute);
    block_on(placer.tick(&source, actuator, at(minute)))
}

#[test]
fn a_deploy_in_doubt_is_pending_until_the_listing_shows_it() {
    let actuator = LostAnswers::new(&["iad"], true);
    let mut placer = Placer::new(live()).unwrap();

    let first = tick(&mut placer, &actuator, 0);
    assert_eq!(first.actions.len(), 1, "{first:?}");
    assert!(
        matches!(&first.actions[0].outcome, Outcome::Failed(err) if err.may_have_taken_effect())
    );
    assert_eq!(first.pending, [r("fra")]);
    assert_eq!(first.current_deployment, [r("iad")]);
    assert_eq!(
        first.updated_deployment,
        [r("iad")],
        "not listed, not deployed"
    );
    let pending = placer
        .state()
        .pending_deploy(&r("fra"), placer.config(), at(0));
    assert_eq!(pending.unwrap().since, at(0));

    // The listing lags: fra counts as deployed and is not deployed again.
    for minute in 1..4 {
        let report = tick(&mut placer, &actuator, minute);
        assert!(report.actions.is_empty(), "{report:?}");
        assert_eq!(report.pending, [r("fra")]);
        let fra = report
            .skipped
            .iter()
            .find(|s| s.region == r("fra"))
            .unwrap();
        assert_eq!(fra.reason.class(), "deploy_pending", "{}", fra.reason);
        assert!(report.regions[&r("fra")].deployed);
    }
    assert_eq!(actuator.deploys(), 1);

    // The listing shows it: no longer pending, its cooldown runs from the
    // deploy.
    actuator.catch_up();
    let report = tick(&mut placer, &actuator, 4);
    assert!(report.actions.is_empty(), "{report:?}");
    assert!(report.pending.is_empty());
    assert_eq!(report.current_deployment, [r("fra"), r("iad")]);
    assert_eq!(placer.state().pending_deploys().count(), 0);
    let fra = placer.state().region(&r("fra")).unwrap();
    assert_eq!(fra.last_action.unwrap().at, at(0));
    assert_eq!(fra.last_action.unwrap().action, Action::Deploy);
    assert_eq!(actuator.machines("fra"), 1);
}

#[test]
fn after_the_grace_period_one_more_deploy_is_allowed() {
    // The lost creates did not happen.
    let actuator = LostAnswers::new(&["iad"], false);
    let mut placer = Placer::new(live()).unwrap();
    tick(&mut placer, &actuator, 0);
    for minute in 1..5 {
        let report = tick(&mut placer, &actuator, minute);
        assert!(report.actions.is_empty(), "minute {minute}: {report:?}");
    }
    assert_eq!(actuator.deploys(), 1);

    // Five minutes on, the grace period is over: one more deploy, which
    // answers this time.
    actuator.lock().loses_answers = false;
    let report = tick(&mut placer, &actuator, 5);
    assert_eq!(report.deployed, [r("fra")], "{report:?}");
    assert!(report.pending.is_empty());
    assert_eq!(placer.state().pending_deploys().count(), 0);
    assert_eq!(actuator.deploys(), 2);
    assert_eq!(actuator.machines("fra"), 1);
    let report = tick(&mut placer, &actuator, 6);
    assert!(report.actions.is_empty(), "{report:?}");
}

#[test]
fn a_second_deploy_in_doubt_starts_a_new_grace_period() {
    let actuator = LostAnswers::new(&["iad"], false);
    let mut placer = Placer::new(live()).unwrap();
    tick(&mut placer, &actuator, 0);
    let again = tick(&mut placer, &actuator, 5);
    assert_eq!(again.actions.len(), 1, "{again:?}");
    assert_eq!(again.pending, [r("fra")]);
    let pending = placer
        .state()
        .pending_deploy(&r("fra"), placer.config(), at(5));
    assert_eq!(pending.unwrap().since, at(5));
    assert!(tick(&mut placer, &actuator, 9).actions.is_empty());
    assert_eq!(actuator.deploys(), 2);
}

#[test]
fn a_restored_state_keeps_the_region_pending() {
    let actuator = LostAnswers::new(&["iad"], true);
    let mut placer = Placer::new(live()).unwrap();
    tick(&mut placer, &actuator, 0);
    let saved = placer.state().to_json();
    assert!(saved.contains("\"pending\""), "{saved}");

    let restored = EngineState::from_json(&saved).unwrap();
    let mut restarted = Placer::with_state(live(), restored).unwrap();
    let report = tick(&mut restarted, &actuator, 1);
    assert!(report.actions.is_empty(), "{report:?}");
    assert_eq!(report.pending, [r("fra")]);
    assert_eq!(actuator.machines("fra"), 1);
}

#[test]
fn a_dry_run_leaves_nothing_pending() {
    let actuator = LostAnswers::new(&["iad"], true);
    let mut placer = Placer::new(live().with_dry_run(true)).unwrap();
    let report = tick(&mut placer, &actuator, 0);
    assert_eq!(report.actions[0].outcome, Outcome::DryRun);
    assert!(report.pending.is_empty());
    assert_eq!(placer.state().pending_deploys().count(), 0);
    assert_eq!(actuator.deploys(), 0);
}

#[test]
fn a_failure_that_changed_nothing_leaves_nothing_pending() {
    let actuator = placer_core::InMemoryActuator::new([r("iad")]);
    actuator.refuse_region(
        r("fra"),
        1,
        ActuatorError::backend("bot", Some(&r("fra")), "HTTP 400"),
    );
    let mut placer = Placer::new(live()).unwrap();
    let source = ScriptedSource::new();
    busy_fra(&source, 0);
    let report = block_on(placer.tick(&source, &actuator, at(0)));
    assert!(matches!(report.actions[0].outcome, Outcome::Failed(_)));
    assert!(report.pending.is_empty());
    assert_eq!(placer.state().pending_deploys().count(), 0);
}

/// Proposes to remove every deployed region.
struct Evict;

impl PlacementPolicy for Evict {
    fn name(&self) -> PolicyName {
        PolicyName::new("evict")
    }

    fn propose(&self, view: &PlanningView<'_>, _: &mut PolicyMemory) -> Vec<Decision> {
        view.deployed
            .iter()
            .map(|region| Decision::new(*region, Action::Remove, Reason::NoData))
            .collect()
    }
}

#[test]
fn a_pending_region_is_not_removed_nor_counted_towards_min_regions() {
    let actuator = LostAnswers::new(&["iad", "cdg"], true);
    let mut placer = Placer::new(live()).unwrap();
    tick(&mut placer, &actuator, 0);
    assert_eq!(placer.state().pending_deploys().count(), 1);

    let state = placer.state().clone();
    let mut evicting = Placer::with_policy_and_state(live(), Box::new(Evict), state).unwrap();
    let source = ScriptedSource::new();
    busy_fra(&source, 1);
    let report = block_on(evicting.tick(&source, &actuator, at(1)));
    let removals: Vec<_> = report
        .actions
        .iter()
        .filter(|a| a.decision.action == Move::Remove)
        .collect();
    // Of iad and cdg one goes: fra, which may have no machine yet, does not
    // count as the region that stays.
    assert_eq!(removals.len(), 1, "{report:?}");
    assert_ne!(removals[0].decision.region, r("fra"));
    let fra = report
        .skipped
        .iter()
        .find(|s| s.region == r("fra"))
        .unwrap();
    assert_eq!(fra.action, Action::Remove);
    assert!(matches!(fra.reason, Reason::DeployPending { since, .. } if since == at(0)));
    assert!(fra.reason.to_string().starts_with("Deploy in doubt since"));
    assert_eq!(actuator.machines("fra"), 1);
    assert_eq!(actuator.lock().listed.len(), 1);
}
