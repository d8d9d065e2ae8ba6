//! Tick orchestration against mocked sources and actuators.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use futures::executor::block_on;
use mockall::{predicate::eq, Sequence};
use placer_core::conformance::{MockActuator, MockSource};
use placer_core::{
    report::FailedStage, Action, ActuatorError, EngineState, InMemoryActuator, MetricsError,
    Outcome, Placer, PlacerConfig, Region, ScriptedSource, Timestamp, TrafficSnapshot,
};

/// A mocked actuator that takes the end of every tick.
fn mock_actuator() -> MockActuator {
    let mut actuator = MockActuator::new();
    actuator.expect_tick_finished().return_const(());
    actuator
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
    let mut actuator = mock_actuator();
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
    let mut actuator = mock_actuator();
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
    let mut actuator = mock_actuator();
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
        matches!(&fra.outcome, Outcome::Failed(e) if e.to_string().contains("capacity")),
        "{fra:?}"
    );
    assert!(report.has_failed_actions());
}

#[test]
fn dry_run_never_calls_a_real_actuator_to_change_anything() {
    let config = PlacerConfig::default().with_sustain_ticks(1);
    assert!(config.dry_run);
    let source = busy_fra_source(3);
    let mut actuator = mock_actuator();
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

/// A live engine acting on one region per tick.
fn one_action_per_tick() -> PlacerConfig {
    let mut config = live().with_sustain_ticks(1);
    config.max_actions_per_tick = 1;
    config
}

fn unavailable(region: &Region) -> ActuatorError {
    ActuatorError::region_unavailable("fly", region, "HTTP 422: insufficient capacity")
}

/// An actuator whose deployment is `deployed`, that cannot deploy syd and
/// notes the minute of each attempt in `syd_attempts`.
fn syd_at_capacity(
    deployed: &Arc<Mutex<BTreeSet<Region>>>,
    minute: &Arc<Mutex<i64>>,
    syd_attempts: &Arc<Mutex<Vec<i64>>>,
) -> MockActuator {
    let mut actuator = mock_actuator();
    let listing = deployed.clone();
    actuator
        .expect_deployed_regions()
        .returning(move || Ok(listing.lock().unwrap().clone()));
    actuator.expect_is_simulation().return_const(false);
    let (deploying, minute, attempts) = (deployed.clone(), minute.clone(), syd_attempts.clone());
    actuator.expect_deploy().returning(move |region| {
        if *region == r("syd") {
            attempts.lock().unwrap().push(*minute.lock().unwrap());
            return Err(unavailable(region));
        }
        deploying.lock().unwrap().insert(*region);
        Ok(())
    });
    actuator.expect_remove().never();
    actuator
}

#[test]
fn a_region_the_backend_cannot_deploy_frees_the_action_slot() {
    let deployed = Arc::new(Mutex::new(set(&["iad"])));
    let minute = Arc::new(Mutex::new(0));
    let attempts = Arc::new(Mutex::new(Vec::new()));
    let actuator = syd_at_capacity(&deployed, &minute, &attempts);
    let mut source = MockSource::new();
    source.expect_fetch().returning(|at| {
        Ok(TrafficSnapshot::new(at, [("iad", 40.0), ("syd", 400.0), ("nrt", 300.0)]).unwrap())
    });
    let mut placer = Placer::new(one_action_per_tick()).unwrap();

    let first = block_on(placer.tick(&source, &actuator, at(0)));
    assert!(
        first.has_failed_actions(),
        "syd, the busiest, was tried first"
    );
    *minute.lock().unwrap() = 1;
    let second = block_on(placer.tick(&source, &actuator, at(1)));
    assert_eq!(second.deployed, vec![r("nrt")]);
    assert!(!second.has_failed_actions());
    assert_eq!(*attempts.lock().unwrap(), vec![0]);
    let syd = second
        .skipped
        .iter()
        .find(|s| s.region == r("syd"))
        .unwrap();
    assert_eq!(syd.reason.class(), "unavailable");
    assert_eq!(
        syd.reason.to_string(),
        format!(
            "Region unavailable since {} (HTTP 422: insufficient capacity); \
             its users are served from nrt; deploy tried again after {}",
            at(0),
            at(2)
        )
    );
}

#[test]
fn a_region_the_backend_cannot_deploy_backs_off_doubling_across_a_restart() {
    let deployed = Arc::new(Mutex::new(set(&["iad"])));
    let minute = Arc::new(Mutex::new(0));
    let attempts = Arc::new(Mutex::new(Vec::new()));
    let actuator = syd_at_capacity(&deployed, &minute, &attempts);
    let mut source = MockSource::new();
    source
        .expect_fetch()
        .returning(|at| Ok(TrafficSnapshot::new(at, [("iad", 40.0), ("syd", 400.0)]).unwrap()));
    let config = one_action_per_tick();
    let mut placer = Placer::new(config.clone()).unwrap();
    for m in 0..=30 {
        if m == 7 {
            // A restart: the backoff comes back with the saved state.
            let saved = placer.state().to_json();
            assert!(saved.contains("\"backoffs\""), "{saved}");
            let state = EngineState::from_json(&saved).unwrap();
            placer = Placer::with_state(config.clone(), state).unwrap();
        }
        *minute.lock().unwrap() = m;
        block_on(placer.tick(&source, &actuator, at(m)));
    }
    // Two minutes, then four, then eight, then sixteen.
    assert_eq!(*attempts.lock().unwrap(), vec![0, 2, 6, 14, 30]);
    assert_eq!(*deployed.lock().unwrap(), set(&["iad"]));
}

#[test]
fn a_refused_removal_is_a_skip_and_is_not_asked_for_every_tick() {
    let mut actuator = mock_actuator();
    actuator
        .expect_deployed_regions()
        .returning(|| Ok(set(&["iad", "fra"])));
    actuator.expect_is_simulation().return_const(false);
    actuator.expect_deploy().never();
    let minute = Arc::new(Mutex::new(0));
    let calls = Arc::new(Mutex::new(Vec::new()));
    let (now, noted) = (minute.clone(), calls.clone());
    actuator.expect_remove().returning(move |region| {
        noted.lock().unwrap().push(*now.lock().unwrap());
        Err(ActuatorError::Refused {
            region: *region,
            reason: "fra runs machine(s) 3d8d that fly-placer did not create".into(),
        })
    });
    let mut source = MockSource::new();
    source
        .expect_fetch()
        .returning(|at| Ok(TrafficSnapshot::new(at, [("iad", 400.0), ("fra", 0.0)]).unwrap()));
    let mut placer = Placer::new(one_action_per_tick()).unwrap();
    let mut reports = Vec::new();
    for m in 0..=3 {
        *minute.lock().unwrap() = m;
        reports.push(block_on(placer.tick(&source, &actuator, at(m))));
    }
    let first = &reports[0];
    assert_eq!(
        first.actions[0].outcome,
        Outcome::Skipped("fra runs machine(s) 3d8d that fly-placer did not create".into())
    );
    assert!(!first.has_failed_actions());
    assert!(first.removed.is_empty());
    assert_eq!(first.updated_deployment, vec![r("fra"), r("iad")]);
    let quiet = &reports[1];
    assert!(quiet.actions.is_empty(), "{:?}", quiet.actions);
    let fra = quiet.skipped.iter().find(|s| s.region == r("fra")).unwrap();
    assert_eq!(fra.reason.class(), "removal_refused");
    assert!(fra.reason.to_string().contains("did not create"), "{fra:?}");
    // Asked again once the backoff is over.
    assert_eq!(*calls.lock().unwrap(), vec![0, 2]);
}

#[test]
fn a_busy_region_is_skipped_this_tick_and_asked_for_again_at_the_next() {
    let mut actuator = mock_actuator();
    actuator
        .expect_deployed_regions()
        .returning(|| Ok(set(&["iad", "fra"])));
    actuator.expect_is_simulation().return_const(false);
    actuator.expect_deploy().never();
    let minute = Arc::new(Mutex::new(0));
    let calls = Arc::new(Mutex::new(Vec::new()));
    let (now, noted) = (minute.clone(), calls.clone());
    actuator.expect_remove().returning(move |region| {
        noted.lock().unwrap().push(*now.lock().unwrap());
        Err(ActuatorError::busy(
            region,
            "being changed by another client",
        ))
    });
    let mut source = MockSource::new();
    source
        .expect_fetch()
        .returning(|at| Ok(TrafficSnapshot::new(at, [("iad", 400.0), ("fra", 0.0)]).unwrap()));
    let mut placer = Placer::new(one_action_per_tick()).unwrap();
    let mut reports = Vec::new();
    for m in 0..=3 {
        *minute.lock().unwrap() = m;
        reports.push(block_on(placer.tick(&source, &actuator, at(m))));
    }
    let first = &reports[0];
    assert_eq!(
        first.actions[0].outcome,
        Outcome::Skipped("being changed by another client".into())
    );
    assert!(!first.has_failed_actions());
    // No backoff: every tick asks again.
    assert_eq!(*calls.lock().unwrap(), vec![0, 1, 2, 3]);
    assert_eq!(placer.state().backoffs().count(), 0);
}

#[test]
fn traffic_from_a_region_fly_does_not_have_is_ignored() {
    let mut actuator = mock_actuator();
    actuator
        .expect_deployed_regions()
        .returning(|| Ok(set(&["iad"])));
    actuator.expect_is_simulation().return_const(false);
    actuator.expect_deploy().never();
    actuator.expect_remove().never();
    let mut source = MockSource::new();
    source
        .expect_fetch()
        .returning(|at| Ok(TrafficSnapshot::new(at, [("iad", 40.0), ("zzz", 900.0)]).unwrap()));
    let mut placer = Placer::new(one_action_per_tick()).unwrap();
    for m in 0..5 {
        let report = block_on(placer.tick(&source, &actuator, at(m)));
        assert_eq!(report.ignored_regions, vec![r("zzz")]);
        assert!(!report.regions.contains_key(&r("zzz")));
    }
    assert!(placer.state().region(&r("zzz")).is_none());
}

#[test]
fn the_actuator_is_told_once_when_each_tick_is_done_with_it() {
    // Two quiet ticks, one that deploys, one whose listing fails, one
    // whose traffic fails.
    let mut source = MockSource::new();
    let mut fetches = 0;
    source.expect_fetch().times(5).returning(move |at| {
        fetches += 1;
        if fetches == 5 {
            return Err(MetricsError::backend("prometheus", "down"));
        }
        Ok(TrafficSnapshot::new(at, [("iad", 40.0), ("fra", 400.0)]).unwrap())
    });
    let mut actuator = MockActuator::new();
    actuator.expect_is_simulation().return_const(false);
    actuator.expect_remove().never();
    let mut order = Sequence::new();
    let listed = [
        Ok(set(&["iad"])),
        Ok(set(&["iad"])),
        Ok(set(&["iad"])),
        Err("timed out"),
        Ok(set(&["iad", "fra"])),
    ];
    for (tick, listing) in listed.into_iter().enumerate() {
        actuator
            .expect_deployed_regions()
            .times(1)
            .in_sequence(&mut order)
            .returning(move || {
                listing
                    .clone()
                    .map_err(|err| ActuatorError::backend("fly", None, err))
            });
        if tick == 2 {
            actuator
                .expect_deploy()
                .with(eq(r("fra")))
                .times(1)
                .in_sequence(&mut order)
                .returning(|_| Ok(()));
        }
        actuator
            .expect_tick_finished()
            .times(1)
            .in_sequence(&mut order)
            .return_const(());
    }

    let mut placer = Placer::new(live()).unwrap();
    let mut deployed_at = None;
    for minute in 0..5 {
        let report = block_on(placer.tick(&source, &actuator, at(minute)));
        if report.deployed == [r("fra")] {
            deployed_at = Some(minute);
        }
    }
    assert_eq!(deployed_at, Some(2), "the third tick deploys fra");
}

#[test]
fn a_region_the_in_memory_actuator_fails_is_backed_off_from() {
    let mut placer = Placer::new(live().with_sustain_ticks(1)).unwrap();
    let actuator = InMemoryActuator::new([r("iad")]);
    actuator.fail_region(r("fra"));
    let source = ScriptedSource::new();
    for minute in 0..2 {
        source.push(TrafficSnapshot::new(at(minute), [("iad", 30.0), ("fra", 90.0)]).unwrap());
    }
    let report = block_on(placer.tick(&source, &actuator, at(0)));
    assert!(report.has_failed_actions(), "{report:?}");
    let backoff = placer
        .state()
        .held_back(&r("fra"), placer_core::Move::Deploy, at(1))
        .expect("fra sits out its backoff");
    assert_eq!(backoff.refusals, 1);
    // The next tick does not ask for fra again.
    let report = block_on(placer.tick(&source, &actuator, at(1)));
    assert!(report.actions.is_empty(), "{report:?}");
    assert_eq!(actuator.calls().len(), 1);
}

#[test]
fn a_scale_that_fails_says_so_in_its_regions_machines() {
    use placer_core::config::MachinesSettings;
    let mut config = live();
    config
        .policy_settings
        .set(&MachinesSettings::default().with_requests_per_machine(Some(100.0)));
    let mut placer = Placer::new(config).unwrap();
    let actuator = InMemoryActuator::new([r("iad")]);
    actuator.fail_region(r("iad"));
    let source =
        ScriptedSource::from_snapshots([TrafficSnapshot::new(at(0), [("iad", 380.0)]).unwrap()]);
    let report = block_on(placer.tick(&source, &actuator, at(0)));
    let machines = report.regions[&r("iad")].machines.clone().expect("sized");
    assert_eq!((machines.running, machines.target), (1, 5));
    assert!(
        machines.reason.contains("scaling to") && machines.reason.contains("deploy failed"),
        "{}",
        machines.reason
    );
}
