//! A dry run learns like a live run: it records everything it observed,
//! the policy's memory included, and differs only in not acting.

use std::collections::BTreeMap;

use async_trait::async_trait;
use futures::executor::block_on;
use placer_core::{
    ActuatorError, InMemoryActuator, MachineCount, Placer, PlacerConfig, Region, RegionActuator,
    TickReport, Timestamp, TrafficSnapshot,
};

/// A real deployment as far as the engine can tell: not a simulation, so a
/// dry run never calls `deploy` or `remove` on it.
struct RealDeployment(InMemoryActuator);

#[async_trait]
impl RegionActuator for RealDeployment {
    async fn deployment(&self) -> Result<BTreeMap<Region, MachineCount>, ActuatorError> {
        self.0.deployment().await
    }
    async fn scale(&self, region: &Region, target: MachineCount) -> Result<(), ActuatorError> {
        self.0.scale(region, target).await
    }
}

fn r(code: &str) -> Region {
    code.parse().unwrap()
}

/// The latency policy with its defaults: a change must stay worth making
/// for `persist_ticks` (3) ticks unless it is urgent.
fn latency(dry_run: bool) -> PlacerConfig {
    PlacerConfig::default()
        .with_policy(placer_core::policy::PolicyName::LATENCY)
        .with_dry_run(dry_run)
}

/// Steady traffic at iad, and a smaller crowd at gru that grows slowly:
/// deploying gru becomes worth it, but never urgent, so the latency policy
/// must remember over several ticks that it stayed worth it.
fn trace() -> Vec<TrafficSnapshot> {
    (0..40)
        .map(|minute| {
            let at = Timestamp::from_unix_seconds(1_800_000_000 + 60 * minute);
            let gru = 8.0 + minute as f64;
            TrafficSnapshot::new(at, [("iad", 200.0), ("gru", gru)]).unwrap()
        })
        .collect()
}

/// What a report planned: `"deploy gru: <reason>"`, in order.
fn planned(report: &TickReport) -> Vec<String> {
    report
        .actions
        .iter()
        .map(|a| {
            format!(
                "{} {}: {}",
                a.decision.action, a.decision.region, a.decision.reason
            )
        })
        .collect()
}

#[test]
fn a_dry_run_plans_what_a_live_run_carries_out() {
    let mut live = Placer::new(latency(false)).unwrap();
    let mut dry = Placer::new(latency(true)).unwrap();
    let live_deployment = InMemoryActuator::new([r("iad")]);
    let dry_deployment = RealDeployment(InMemoryActuator::new([r("iad")]));
    let mut first_action = None;
    for (tick, snapshot) in trace().into_iter().enumerate() {
        let source = placer_core::ScriptedSource::from_snapshots([snapshot.clone()]);
        let live_report = block_on(live.tick(&source, &live_deployment, snapshot.at()));
        let source = placer_core::ScriptedSource::from_snapshots([snapshot.clone()]);
        let dry_report = block_on(dry.tick(&source, &dry_deployment, snapshot.at()));
        assert_eq!(planned(&dry_report), planned(&live_report), "tick {tick}");
        if !live_report.actions.is_empty() {
            first_action = Some(tick);
            break;
        }
    }
    // The move waited for `persist_ticks`: it was not urgent.
    let first_action = first_action.expect("the live run deploys gru");
    assert!(first_action >= 2, "deployed at tick {first_action}");
    // The dry run changed nothing.
    assert_eq!(dry_deployment.0.regions(), [r("iad")].into());
    assert!(dry_deployment.0.calls().is_empty());
}
