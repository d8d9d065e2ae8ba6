//! A change of a deployed region's machine count is an action of its own:
//! in the report's `resized`, in the state's last action, counted as failed
//! when it fails, and absent without a `machines:` section.

use futures::executor::block_on;
use placer_core::config::MachinesSettings;
use placer_core::{
    Change, InMemoryActuator, MachineCount, Outcome, Placer, PlacerConfig, Region, ScriptedSource,
    Timestamp, TrafficSnapshot,
};

fn r(code: &str) -> Region {
    code.parse().unwrap()
}

fn at(minute: i64) -> Timestamp {
    Timestamp::from_unix_seconds(1_800_000_000 + 60 * minute)
}

/// Live, one observation enough, 100 requests a machine.
fn sized() -> PlacerConfig {
    let mut config = PlacerConfig::default()
        .with_dry_run(false)
        .with_max_actions_per_tick(10);
    config
        .policy_settings
        .set(&MachinesSettings::default().with_requests_per_machine(Some(100.0)));
    config
}

fn iad_at(requests: f64) -> ScriptedSource {
    ScriptedSource::from_snapshots([TrafficSnapshot::new(at(0), [("iad", requests)]).unwrap()])
}

#[test]
fn a_resize_is_reported_beside_deploys_and_removes() {
    let mut placer = Placer::new(sized()).unwrap();
    let actuator = InMemoryActuator::new([r("iad")]);
    let report = block_on(placer.tick(&iad_at(380.0), &actuator, at(0)));
    // The seed's lists keep their meaning: no region was added or removed.
    assert!(report.deployed.is_empty() && report.removed.is_empty());
    assert!(report.actions.is_empty());
    let resized = report
        .resized
        .clone()
        .expect("a machines: section reports resizes");
    assert_eq!(resized.len(), 1, "{resized:?}");
    let iad = &resized[0];
    assert_eq!(iad.region, r("iad"));
    assert_eq!(
        (iad.from, iad.to),
        (MachineCount::ONE, MachineCount::new(5, 0))
    );
    assert_eq!(iad.outcome, Outcome::Ok);
    assert!(iad.is_up());
    assert!(
        iad.reason.starts_with("5 machines for 380 requests"),
        "{}",
        iad.reason
    );
    assert!(report.decided_anything());
    assert_eq!(actuator.machines()[&r("iad")], MachineCount::new(5, 0));

    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(
        json["resized"][0]["from"],
        serde_json::json!({"running": 1, "standby": 0})
    );
    assert_eq!(json["resized"][0]["outcome"], "ok");

    // Recorded as what it is: a resize, not a deploy.
    let last = placer
        .state()
        .region(&r("iad"))
        .unwrap()
        .last_action
        .unwrap();
    assert_eq!((last.action, last.at), (Change::Resize, at(0)));
}

#[test]
fn a_failed_resize_is_a_failed_action() {
    let mut placer = Placer::new(sized()).unwrap();
    let actuator = InMemoryActuator::new([r("iad")]);
    actuator.fail_region(r("iad"));
    let report = block_on(placer.tick(&iad_at(380.0), &actuator, at(0)));
    let resized = report.resized.clone().unwrap();
    assert!(
        matches!(resized[0].outcome, Outcome::Failed(_)),
        "{resized:?}"
    );
    assert!(report.has_failed_actions());
    assert_eq!(report.failed_actions(), 1);
    // Nothing was changed, so nothing is recorded.
    let last = placer.state().region(&r("iad")).and_then(|s| s.last_action);
    assert_eq!(last, None);
}

#[test]
fn a_dry_run_resize_is_planned_not_carried_out() {
    let mut config = sized().with_dry_run(true);
    config.policy_settings.set(
        &MachinesSettings::default()
            .with_requests_per_machine(Some(100.0))
            .with_standby_per_region(1),
    );
    let mut placer = Placer::new(config).unwrap();
    let actuator = placer_core::wrap::ReadOnly(InMemoryActuator::new([r("iad")]));
    let report = block_on(placer.tick(&iad_at(380.0), &actuator, at(0)));
    let resized = report.resized.clone().unwrap();
    assert_eq!(resized[0].outcome, Outcome::DryRun);
    assert_eq!(resized[0].to, MachineCount::new(5, 1));
    assert_eq!(
        resized[0].counts(),
        "from 1 running, 0 standby to 5 running, 1 standby"
    );
    assert!(!report.has_failed_actions());
    assert!(placer
        .state()
        .region(&r("iad"))
        .unwrap()
        .last_action
        .is_none());
}

#[test]
fn without_a_machines_section_the_report_has_no_resized_key() {
    let mut placer = Placer::new(PlacerConfig::default().with_dry_run(false)).unwrap();
    let actuator = InMemoryActuator::new([r("iad")]);
    let report = block_on(placer.tick(&iad_at(380.0), &actuator, at(0)));
    assert_eq!(report.resized, None);
    let json = serde_json::to_value(&report).unwrap();
    assert!(json.get("resized").is_none(), "{json}");
}

#[test]
fn a_failed_tick_with_a_machines_section_has_an_empty_resized_list() {
    let mut placer = Placer::new(sized()).unwrap();
    let actuator = InMemoryActuator::new([r("iad")]);
    let source = ScriptedSource::new();
    source.push_failure("connection refused");
    let report = block_on(placer.tick(&source, &actuator, at(0)));
    assert!(report.error.is_some());
    assert_eq!(report.resized, Some(Vec::new()));
}

#[test]
fn an_empty_machines_section_turns_sizing_on_with_its_defaults() {
    let empty = placer_core::config::from_yaml("dry_run: false\nmachines: {}\n", "c.yml").unwrap();
    let mut placer = Placer::new(empty).unwrap();
    assert!(placer.sizes_machines());
    let actuator = InMemoryActuator::new([r("iad")]);
    let report = block_on(placer.tick(&iad_at(380.0), &actuator, at(0)));
    // One running machine a region (min_per_region), nothing to resize, but
    // counts are reported.
    assert_eq!(report.resized, Some(Vec::new()));
    let iad = report.regions[&r("iad")]
        .machines
        .clone()
        .expect("counts shown");
    assert_eq!((iad.running, iad.target, iad.target_standby), (1, 1, 0));

    // The same defaults written out are the same section; no section is
    // one machine a region with nothing reported, as before.
    let written =
        placer_core::config::from_yaml("machines:\n  min_per_region: 1\n", "c.yml").unwrap();
    assert!(Placer::new(written).unwrap().sizes_machines());
    let none = placer_core::config::from_yaml("dry_run: false\n", "c.yml").unwrap();
    assert!(!Placer::new(none).unwrap().sizes_machines());
}
