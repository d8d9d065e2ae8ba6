use std::time::Duration;

use super::*;
use crate::memory::ActuatorCall;
use crate::{InMemoryActuator, Placer, PlacerConfig, ScriptedSource, Timestamp, TrafficSnapshot};

fn region(code: &str) -> Region {
    code.parse().unwrap()
}

fn settings(per_machine: f64) -> MachinesSettings {
    MachinesSettings::default().with_requests_per_machine(Some(per_machine))
}

#[test]
fn the_count_is_load_over_capacity_with_headroom_rounded_up() {
    let settings = settings(120.0);
    // 380 × 1.2 / 120 = 3.8
    assert_eq!(machines_for(380.0, &settings), 4);
    // 100 × 1.2 / 120 = 1 exactly: no extra machine for rounding noise.
    assert_eq!(machines_for(100.0, &settings), 1);
    assert_eq!(machines_for(0.0, &settings), 0);
    assert_eq!(machines_for(f64::NAN, &settings), 0);
    let target = target_for(Some((380.0, false)), &settings);
    assert_eq!(target.count, MachineCount::new(4, 0));
    assert_eq!(
        target.to_string(),
        "4 machines for 380 requests per 5 min (120 per machine, 20 % headroom)"
    );
}

#[test]
fn bounds_clamp_the_count_and_say_so() {
    let bounded = settings(100.0)
        .with_min_per_region(2)
        .with_max_per_region(Some(5))
        .with_standby_per_region(1);
    let quiet = target_for(Some((10.0, false)), &bounded);
    assert_eq!(quiet.count, MachineCount::new(2, 1));
    assert_eq!(quiet.bound, Some(Bound::MinPerRegion));
    let busy = target_for(Some((1000.0, true)), &bounded);
    assert_eq!(busy.count, MachineCount::new(5, 1));
    assert_eq!(
        busy.to_string(),
        "5 machines for 1000 requests per 5 min forecast (100 per machine, 20 % headroom), 12 wanted, held to max_per_region, 1 standby"
    );
    // Without requests_per_machine: min_per_region, whatever the load.
    let fixed = MachinesSettings::default().with_min_per_region(3);
    assert_eq!(target_for(Some((1e6, false)), &fixed).count.running, 3);
}

#[test]
fn max_total_keeps_one_per_region_then_serves_the_busiest_first() {
    let settings = settings(100.0);
    let mut targets: BTreeMap<Region, MachineTarget> =
        [("iad", 500.0), ("fra", 250.0), ("nrt", 90.0)]
            .into_iter()
            .map(|(code, load)| (region(code), target_for(Some((load, false)), &settings)))
            .collect();
    share_max_total(&mut targets, Some(6));
    let running = |code: &str| targets[&region(code)].count.running;
    assert_eq!((running("iad"), running("fra"), running("nrt")), (4, 1, 1));
    assert_eq!(targets[&region("fra")].bound, Some(Bound::MaxTotal));
    share_max_total(&mut targets, Some(1));
    let running = |code: &str| targets[&region(code)].count.running;
    assert_eq!(
        (running("iad"), running("fra"), running("nrt")),
        (1, 1, 1),
        "never below one"
    );
}

#[test]
fn a_started_standby_counts_as_running_and_is_left_to_the_proxy() {
    let target = MachineCount::new(3, 1);
    assert!(satisfies(MachineCount::new(4, 0), target));
    assert!(satisfies(MachineCount::new(3, 1), target));
    assert!(!satisfies(MachineCount::new(2, 2), target));
    assert!(!satisfies(MachineCount::new(5, 0), target));
}

#[test]
fn scale_downs_wait_for_the_cooldown_and_the_budget_counts_machines() {
    let iad = region("iad");
    let fra = region("fra");
    let nrt = region("nrt");
    let target = |running| {
        target_for(
            None,
            &MachinesSettings::default().with_min_per_region(running),
        )
    };
    let mut plan = MachinePlan {
        current: [
            (iad, MachineCount::new(1, 0)),
            (fra, MachineCount::new(6, 0)),
        ]
        .into(),
        targets: [(iad, target(5)), (fra, target(2)), (nrt, target(4))].into(),
        ..MachinePlan::default()
    };
    // nrt is deployed this tick: 3 machines beyond its first, 4 left.
    fit(
        &mut plan,
        &[(nrt, Move::Deploy)],
        &[iad, fra].into(),
        &BTreeSet::new(),
        4,
        |region| (*region == fra).then_some(30),
    );
    assert_eq!(plan.target(&nrt).running, 4);
    assert_eq!(plan.resizes.len(), 1);
    assert_eq!(plan.resizes[0].region, iad);
    assert_eq!(
        plan.resizes[0].to.running, 2,
        "one machine of the budget left"
    );
    assert!(
        plan.held[&fra].contains("cooldown (30s left)"),
        "{:?}",
        plan.held
    );
}

fn config_with(machines: MachinesSettings) -> PlacerConfig {
    let mut config = PlacerConfig::default()
        .with_dry_run(false)
        .with_cooldown_period(Duration::from_secs(300))
        .with_max_actions_per_tick(10);
    config.policy_settings.set(&machines);
    config
}

#[test]
fn a_tick_scales_up_with_the_load_and_down_after_the_cooldown() {
    futures::executor::block_on(async {
        let iad = region("iad");
        let config = config_with(
            settings(100.0)
                .with_max_per_region(Some(7))
                .with_standby_per_region(1),
        );
        let mut placer = Placer::new(config).unwrap();
        let actuator = InMemoryActuator::new([iad]);
        let source = ScriptedSource::new();
        let mut now = Timestamp::from_unix_seconds(1_800_000_000);
        // 6 machines' worth: 7.2 with headroom, held to max_per_region.
        source.push(TrafficSnapshot::new(now, [("iad", 600.0)]).unwrap());
        let report = placer.tick(&source, &actuator, now).await;
        assert_eq!(actuator.machines()[&iad], MachineCount::new(7, 1));
        let detail = report.regions[&iad].machines.clone().unwrap();
        assert_eq!((detail.running, detail.standby, detail.target), (1, 0, 7));
        assert!(
            detail.reason.starts_with("7 machines for 600 requests"),
            "{}",
            detail.reason
        );

        // The proxy starts the standby: nothing to change.
        assert!(actuator.start_standby(&iad));
        now = now + Duration::from_secs(60);
        source.push(TrafficSnapshot::new(now, [("iad", 600.0)]).unwrap());
        placer.tick(&source, &actuator, now).await;
        assert_eq!(actuator.machines()[&iad], MachineCount::new(8, 0));
        assert!(actuator.stop_started(&iad));

        // Traffic falls: the scale-down waits for the cooldown.
        now = now + Duration::from_secs(60);
        source.push(TrafficSnapshot::new(now, [("iad", 20.0)]).unwrap());
        let report = placer.tick(&source, &actuator, now).await;
        assert_eq!(actuator.machines()[&iad], MachineCount::new(7, 1));
        let reason = report.regions[&iad].machines.clone().unwrap().reason;
        assert!(reason.contains("waits for the cooldown"), "{reason}");
        now = now + Duration::from_secs(300);
        source.push(TrafficSnapshot::new(now, [("iad", 20.0)]).unwrap());
        placer.tick(&source, &actuator, now).await;
        assert_eq!(actuator.machines()[&iad], MachineCount::new(1, 1));
    });
}

#[test]
fn without_a_machines_section_the_tick_deploys_and_removes_one_machine() {
    futures::executor::block_on(async {
        let config = PlacerConfig::default()
            .with_dry_run(false)
            .with_sustain_ticks(1);
        let mut placer = Placer::new(config).unwrap();
        let actuator = InMemoryActuator::new([region("iad")]);
        let source = ScriptedSource::new();
        let now = Timestamp::from_unix_seconds(1_800_000_000);
        source.push(TrafficSnapshot::new(now, [("iad", 30.0), ("fra", 900.0)]).unwrap());
        let report = placer.tick(&source, &actuator, now).await;
        assert_eq!(actuator.calls(), [ActuatorCall::Deploy(region("fra"))]);
        assert!(report
            .regions
            .values()
            .all(|detail| detail.machines.is_none()));
        let json = serde_json::to_string(&report).unwrap();
        assert!(!json.contains("\"machines\""), "{json}");
    });
}
