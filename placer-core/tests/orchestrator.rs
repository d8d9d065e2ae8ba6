//! Tick orchestration against mocked sources and actuators.

use std::collections::BTreeSet;

use async_trait::async_trait;
use futures::executor::block_on;
use mockall::{mock, predicate::eq, Sequence};
use placer_core::{
    Action, ActuatorError, FailedStage, InMemoryActuator, MetricsError, MetricsSource, Outcome,
    Placer, PlacerConfig, Region, RegionActuator, ScriptedSource, Timestamp, TrafficSnapshot,
};

mock! {
    Source {}
    #[async_trait]
    impl MetricsSource for Source {
        async fn fetch(&self, at: Timestamp) -> Result<TrafficSnapshot, MetricsError>;
    }
}

mock! {
    Actuator {}
    #[async_trait]
    impl RegionActuator for Actuator {
        async fn deployed_regions(&self) -> Result<BTreeSet<Region>, ActuatorError>;
        async fn deploy(&self, region: &Region) -> Result<(), ActuatorError>;
        async fn remove(&self, region: &Region) -> Result<(), ActuatorError>;
        fn is_simulation(&self) -> bool;
    }
}

fn r(code: &str) -> Region {
    code.parse().unwrap()
}

fn set(codes: &[&str]) -> BTreeSet<Region> {
    codes.iter().map(|c| r(c)).collect()
}

fn at(minute: i64) -> Timestamp {
    Timestamp::from_unix_seconds(1_800_000_000 + 60 * minute)
}

fn live() -> PlacerConfig {
    PlacerConfig::default().with_dry_run(false)
}

fn busy_fra_source(times: usize) -> MockSource {
    let mut source = MockSource::new();
    source
        .expect_fetch()
        .times(times)
        .returning(|at| Ok(TrafficSnapshot::new(at, [("iad", 40.0), ("fra", 400.0)]).unwrap()));
    source
}

#[test]
fn fetch_failure_means_no_actions_and_an_error_in_the_report() {
    let mut source = MockSource::new();
    source
        .expect_fetch()
        .returning(|_| Err(MetricsError::backend("prometheus", "connection refused")));
    let mut actuator = MockActuator::new();
    actuator
        .expect_deployed_regions()
        .returning(|| Ok(set(&["iad", "fra"])));
    actuator.expect_deploy().never();
    actuator.expect_remove().never();
    actuator.expect_is_simulation().return_const(false);

    let mut placer = Placer::new(live()).unwrap();
    let report = block_on(placer.tick(&source, &actuator, at(0)));
    assert_eq!(report.failed_stage(), Some(FailedStage::FetchingTraffic));
    let error = report.error.as_ref().unwrap().to_string();
    assert!(error.contains("connection refused"), "{error}");
    assert_eq!(report.current_deployment, vec![r("fra"), r("iad")]);
    assert_eq!(report.updated_deployment, report.current_deployment);
    assert!(
        placer.state().last_observation().is_none(),
        "a failed fetch adds nothing"
    );
}

#[test]
fn listing_failure_means_no_actions() {
    let source = busy_fra_source(1);
    let mut actuator = MockActuator::new();
    actuator
        .expect_deployed_regions()
        .returning(|| Err(ActuatorError::backend("fly", None, "502 bad gateway")));
    actuator.expect_deploy().never();
    actuator.expect_remove().never();
    actuator.expect_is_simulation().return_const(false);
    let mut placer = Placer::new(live()).unwrap();
    let report = block_on(placer.tick(&source, &actuator, at(0)));
    assert_eq!(report.failed_stage(), Some(FailedStage::ListingDeployment));
    assert!(report
        .error
        .unwrap()
        .to_string()
        .contains("502 bad gateway"));
}

#[test]
fn one_failed_region_does_not_stop_the_others() {
    let config = PlacerConfig::default()
        .with_dry_run(false)
        .with_sustain_ticks(1);
    let mut source = MockSource::new();
    source.expect_fetch().returning(|at| {
        Ok(TrafficSnapshot::new(at, [("iad", 40.0), ("fra", 400.0), ("sin", 300.0)]).unwrap())
    });
    let mut actuator = MockActuator::new();
    actuator
        .expect_deployed_regions()
        .returning(|| Ok(set(&["iad"])));
    actuator.expect_is_simulation().return_const(false);
    let mut order = Sequence::new();
    actuator
        .expect_deploy()
        .with(eq(r("fra")))
        .times(1)
        .in_sequence(&mut order)
        .returning(|region| Err(ActuatorError::backend("fly", Some(region), "capacity")));
    actuator
        .expect_deploy()
        .with(eq(r("sin")))
        .times(1)
        .in_sequence(&mut order)
        .returning(|_| Ok(()));
    actuator.expect_remove().never();

    let mut placer = Placer::new(config).unwrap();
    let report = block_on(placer.tick(&source, &actuator, at(0)));
    assert_eq!(report.deployed, vec![r("sin")]);
    assert_eq!(report.updated_deployment, vec![r("iad"), r("sin")]);
    let fra = report
        .actions
        .iter()
        .find(|a| a.decision.region == r("fra"))
        .unwrap();
    assert!(
        matches!(&fra.outcome, Outcome::Error(m) if m.contains("capacity")),
        "{fra:?}"
    );
    assert!(report.has_failed_actions());
}

#[test]
fn dry_run_never_calls_a_real_actuator_to_change_anything() {
    let config = PlacerConfig::default().with_sustain_ticks(1);
    assert!(config.dry_run);
    let source = busy_fra_source(3);
    let mut actuator = MockActuator::new();
    actuator
        .expect_deployed_regions()
        .returning(|| Ok(set(&["iad"])));
    actuator.expect_is_simulation().return_const(false);
    actuator.expect_deploy().never();
    actuator.expect_remove().never();
    let mut placer = Placer::new(config).unwrap();
    for minute in 0..3 {
        let report = block_on(placer.tick(&source, &actuator, at(minute)));
        // Planned, reported, not carried out, and planned again next tick.
        assert_eq!(report.deployed, vec![r("fra")]);
        assert_eq!(report.actions[0].outcome, Outcome::DryRun);
        assert_eq!(report.updated_deployment, vec![r("fra"), r("iad")]);
    }
}

#[test]
fn dry_run_drives_a_simulating_actuator() {
    let config = PlacerConfig::default().with_sustain_ticks(1);
    let actuator = InMemoryActuator::new([r("iad")]);
    let source = ScriptedSource::from_snapshots(
        (0..2).map(|m| TrafficSnapshot::new(at(m), [("iad", 40.0), ("fra", 400.0)]).unwrap()),
    );
    let mut placer = Placer::new(config).unwrap();
    let first = block_on(placer.tick(&source, &actuator, at(0)));
    assert_eq!(first.actions[0].outcome, Outcome::Ok);
    assert_eq!(actuator.regions(), set(&["fra", "iad"]));
    let second = block_on(placer.tick(&source, &actuator, at(1)));
    assert_eq!(second.current_deployment, vec![r("fra"), r("iad")]);
    assert!(second.actions.is_empty());
}

#[test]
fn successful_actions_start_the_cooldown() {
    let config = PlacerConfig::default()
        .with_dry_run(false)
        .with_sustain_ticks(1)
        .with_cooldown_period(std::time::Duration::from_secs(300));
    let actuator = InMemoryActuator::new([r("iad")]);
    let source = ScriptedSource::new();
    let mut placer = Placer::new(config).unwrap();
    source.push(TrafficSnapshot::new(at(0), [("iad", 40.0), ("fra", 400.0)]).unwrap());
    block_on(placer.tick(&source, &actuator, at(0)));
    assert!(actuator.regions().contains(&r("fra")));
    // fra's traffic vanishes right after: the cooldown holds the machine.
    for minute in 1..=4 {
        source.push(TrafficSnapshot::new(at(minute), [("iad", 40.0)]).unwrap());
        let report = block_on(placer.tick(&source, &actuator, at(minute)));
        let fra = report.skipped.iter().find(|s| s.region == r("fra"));
        if let Some(skip) = fra.filter(|s| s.action == Action::Remove) {
            assert!(
                skip.reason.to_string().starts_with("Cooldown period"),
                "{skip:?}"
            );
        }
        assert!(report.removed.is_empty());
    }
    source.push(TrafficSnapshot::new(at(6), [("iad", 40.0)]).unwrap());
    let report = block_on(placer.tick(&source, &actuator, at(6)));
    assert_eq!(report.removed, vec![r("fra")]);
}
