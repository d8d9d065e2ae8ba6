//! A policy written outside placer-core, through the public API only: it
//! runs through ticks, and its memory survives a save and restore of the
//! engine state.

use std::fmt;

use futures::executor::block_on;
use placer_core::policy::{PlacementPolicy, PlanningView, PolicyMemory, PolicyName, PolicyReason};
use placer_core::{
    Action, Decision, EngineState, InMemoryActuator, Placer, PlacerConfig, Reason, Region,
    ScriptedSource, Timestamp, TrafficSnapshot,
};
use serde::{Deserialize, Serialize};

/// Runs the app only where the most traffic came from, once that region has
/// led for `patience` ticks in a row.
struct FollowTheLeader {
    patience: u32,
}

/// What the policy remembers between ticks.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
struct Leadership {
    leader: Option<Region>,
    ticks: u32,
}

/// The policy's own reasons.
#[derive(Debug, Clone, PartialEq)]
enum LeaderReason {
    Leads { ticks: u32 },
    NotLeading,
}

impl fmt::Display for LeaderReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LeaderReason::Leads { ticks } => write!(f, "Led for {ticks} ticks"),
            LeaderReason::NotLeading => f.write_str("Not the leader"),
        }
    }
}

impl PolicyReason for LeaderReason {
    fn class(&self) -> &'static str {
        match self {
            LeaderReason::Leads { .. } => "leads",
            LeaderReason::NotLeading => "not_leading",
        }
    }
}

impl PlacementPolicy for FollowTheLeader {
    fn name(&self) -> PolicyName {
        PolicyName::new("follow-the-leader")
    }

    fn propose(&self, view: &PlanningView<'_>, memory: &mut PolicyMemory) -> Vec<Decision> {
        let mut leadership: Leadership = memory.load();
        let leader = view
            .regions
            .iter()
            .filter(|(_, detail)| detail.requests > 0.0)
            .max_by(|a, b| a.1.requests.total_cmp(&b.1.requests))
            .map(|(region, _)| *region);
        if leader == leadership.leader {
            leadership.ticks += 1;
        } else {
            leadership = Leadership { leader, ticks: 1 };
        }
        let settled = leadership.ticks >= self.patience;
        let decisions = view
            .regions
            .iter()
            .map(|(region, detail)| {
                let leads = Some(*region) == leadership.leader;
                let action = match (leads, detail.deployed) {
                    (true, false) if settled => Action::Deploy,
                    (false, true) if settled => Action::Remove,
                    _ => Action::None,
                };
                let reason = if leads {
                    LeaderReason::Leads {
                        ticks: leadership.ticks,
                    }
                } else {
                    LeaderReason::NotLeading
                };
                Decision::new(*region, action, Reason::policy(reason))
            })
            .collect();
        memory.store(&leadership);
        decisions
    }
}

fn r(code: &str) -> Region {
    code.parse().unwrap()
}

fn at(minute: i64) -> Timestamp {
    Timestamp::from_unix_seconds(1_800_000_000 + 60 * minute)
}

fn live() -> PlacerConfig {
    PlacerConfig::default()
        .with_dry_run(false)
        .with_cooldown_period(std::time::Duration::ZERO)
}

fn name() -> PolicyName {
    PolicyName::new("follow-the-leader")
}

#[test]
fn a_policy_of_ones_own_runs_through_ticks_and_keeps_its_memory_across_a_restart() {
    let policy = || Box::new(FollowTheLeader { patience: 3 });
    let mut placer = Placer::with_policy(live(), policy()).unwrap();
    let actuator = InMemoryActuator::new([r("iad")]);
    let source = ScriptedSource::new();
    for minute in 0..2 {
        source.push(TrafficSnapshot::new(at(minute), [("iad", 10.0), ("syd", 90.0)]).unwrap());
        let report = block_on(placer.tick(&source, &actuator, at(minute)));
        assert!(report.is_ok());
        assert_eq!(report.policy, name());
        assert!(
            report.actions.is_empty(),
            "minute {minute}: not settled yet"
        );
    }
    let remembered: Leadership = placer.state().policy_memory(&name()).load();
    assert_eq!(
        remembered,
        Leadership {
            leader: Some(r("syd")),
            ticks: 2
        }
    );

    // Save, restart, restore: the memory is still there.
    let saved = placer.state().to_json();
    let restored = EngineState::from_json(&saved).unwrap();
    let mut placer = Placer::with_policy_and_state(live(), policy(), restored).unwrap();
    assert_eq!(
        placer.state().policy_memory(&name()).load::<Leadership>(),
        remembered
    );

    // The third tick in a row settles it: syd is deployed, iad removed.
    source.push(TrafficSnapshot::new(at(2), [("iad", 10.0), ("syd", 90.0)]).unwrap());
    let report = block_on(placer.tick(&source, &actuator, at(2)));
    assert_eq!(report.deployed, [r("syd")]);
    assert_eq!(report.removed, [r("iad")]);
    let syd = &report.actions[0].decision;
    assert_eq!(syd.reason.to_string(), "Led for 3 ticks");
    assert_eq!(syd.reason.class(), "leads");
    assert_eq!(
        syd.reason.policy_reason::<LeaderReason>(),
        Some(&LeaderReason::Leads { ticks: 3 })
    );
    assert_eq!(actuator.regions(), [r("syd")].into());
}

#[test]
fn the_step_api_asks_without_changing_anything() {
    let mut placer =
        Placer::with_policy(live(), Box::new(FollowTheLeader { patience: 1 })).unwrap();
    placer.observe(&TrafficSnapshot::new(at(0), [("iad", 10.0), ("syd", 90.0)]).unwrap());
    let deployed = [r("iad")].into();
    let plan = placer.decide(&deployed, at(0));
    assert_eq!(placer.decide(&deployed, at(0)), plan);
    assert!(placer.state().policy_memory(&name()).is_empty());
    placer.commit(plan, Default::default());
    assert_eq!(
        placer
            .state()
            .policy_memory(&name())
            .load::<Leadership>()
            .ticks,
        1
    );
}
