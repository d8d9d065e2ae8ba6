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

fn loads(pairs: &[(&str, f64)]) -> BTreeMap<Region, (f64, bool)> {
    pairs
        .iter()
        .map(|(code, load)| (region(code), (*load, false)))
        .collect()
}

fn running(targets: &BTreeMap<Region, MachineTarget>) -> Vec<(String, u32)> {
    targets
        .iter()
        .map(|(region, target)| (region.to_string(), target.count.running))
        .collect()
}

fn pairs(counts: &[(&str, u32)]) -> Vec<(String, u32)> {
    counts
        .iter()
        .map(|(code, count)| (code.to_string(), *count))
        .collect()
}

#[test]
fn the_app_is_sized_once_and_its_machines_shared_by_load() {
    let settings = settings(100.0);
    let regions: BTreeSet<Region> = [region("iad"), region("fra"), region("nrt")].into();
    // 250 + 150 + 20 = 420, × 1.2 / 100 = 5.04: 6 machines for the app,
    // where sizing each region alone would give 3 + 2 + 1 = 6 as well;
    // 400 + 60 + 20 = 480 → 5.76: 6, where each alone gives 5 + 1 + 1 = 7.
    let targets = share_by_load(
        &regions,
        &loads(&[("iad", 400.0), ("fra", 60.0), ("nrt", 20.0)]),
        &BTreeMap::new(),
        |_| false,
        &settings,
    );
    // nrt's quota (0.25) is raised to one; the other 5 are shared as
    // 400 : 60 → 4.35 : 0.65, fra's larger remainder taking the fifth.
    assert_eq!(
        running(&targets),
        pairs(&[("fra", 1), ("iad", 4), ("nrt", 1)])
    );
    // Its own 20 requests ask for one machine: no bound to report.
    assert_eq!(targets[&region("nrt")].bound, None);
    assert_eq!(targets[&region("iad")].bound, None);
    assert_eq!(
        targets[&region("iad")].to_string(),
        "4 machines for 400 requests per 5 min (100 per machine, 20 % headroom), its share of the app's 6 for 480 requests"
    );
    // One region: exactly its own count, and no share in the reason.
    let alone = share_by_load(
        &[region("iad")].into(),
        &loads(&[("iad", 380.0)]),
        &BTreeMap::new(),
        |_| false,
        &settings,
    );
    assert_eq!(
        alone[&region("iad")],
        target_for(Some((380.0, false)), &settings)
    );
}

#[test]
fn a_region_that_runs_its_share_rounded_up_keeps_it() {
    let settings = settings(100.0);
    let regions: BTreeSet<Region> = [region("iad"), region("fra")].into();
    // 150 + 140 = 290 → 3.48: 4 machines, quotas 2.07 and 1.93.
    let load = loads(&[("iad", 150.0), ("fra", 140.0)]);
    let fresh = share_by_load(&regions, &load, &BTreeMap::new(), |_| false, &settings);
    assert_eq!(running(&fresh), pairs(&[("fra", 2), ("iad", 2)]));
    // 130 + 120 = 250 → 3: the third machine goes to the larger remainder
    // (iad 1.56) unless fra runs two already.
    let load = loads(&[("iad", 130.0), ("fra", 120.0)]);
    let fresh = share_by_load(&regions, &load, &BTreeMap::new(), |_| false, &settings);
    assert_eq!(running(&fresh), pairs(&[("fra", 1), ("iad", 2)]));
    let current: BTreeMap<Region, MachineCount> = [
        (region("iad"), MachineCount::new(1, 0)),
        (region("fra"), MachineCount::new(2, 0)),
    ]
    .into();
    let kept = share_by_load(&regions, &load, &current, |_| false, &settings);
    assert_eq!(running(&kept), pairs(&[("fra", 2), ("iad", 1)]));
    // Both run two: the one whose second machine has not started gives
    // it up.
    let both: BTreeMap<Region, MachineCount> = [
        (region("iad"), MachineCount::new(2, 0)),
        (region("fra"), MachineCount::new(2, 0)),
    ]
    .into();
    let iad = region("iad");
    let given_up = share_by_load(&regions, &load, &both, |r| *r == iad, &settings);
    assert_eq!(running(&given_up), pairs(&[("fra", 2), ("iad", 1)]));
}

#[test]
fn max_per_region_sends_the_rest_to_the_other_regions() {
    let settings = settings(100.0).with_max_per_region(Some(3));
    let regions: BTreeSet<Region> = [region("iad"), region("fra")].into();
    // 700 + 100 = 800 → 9.6: 10; iad's quota 8.75 is held to 3, fra
    // takes the other 7.
    let targets = share_by_load(
        &regions,
        &loads(&[("iad", 700.0), ("fra", 100.0)]),
        &BTreeMap::new(),
        |_| false,
        &settings,
    );
    assert_eq!(running(&targets), pairs(&[("fra", 3), ("iad", 3)]));
    assert_eq!(targets[&region("iad")].bound, Some(Bound::MaxPerRegion));
}

#[test]
fn a_scale_down_waits_for_machines_added_elsewhere_to_start() {
    let (iad, fra, nrt) = (region("iad"), region("fra"), region("nrt"));
    let target = |running| {
        target_for(
            None,
            &MachinesSettings::default().with_min_per_region(running),
        )
    };
    let plan = || MachinePlan {
        current: [
            (iad, MachineCount::new(4, 0)),
            (fra, MachineCount::new(3, 0)),
        ]
        .into(),
        targets: [(iad, target(2)), (fra, target(2))].into(),
        ..MachinePlan::default()
    };
    // fra added machines that have not started: iad keeps its machines,
    // fra itself may give up one (its newest, not started yet).
    let mut waiting = plan();
    fit(
        &mut waiting,
        &[],
        &[iad, fra].into(),
        &[fra].into(),
        10,
        |_| None,
    );
    assert!(
        waiting.held[&iad].contains("waits for the machines added in fra to start"),
        "{:?}",
        waiting.held
    );
    assert_eq!(waiting.resizes.len(), 1);
    assert_eq!(
        (waiting.resizes[0].region, waiting.resizes[0].to.running),
        (fra, 2)
    );
    // A region deployed this tick holds them too.
    let mut deploying = plan();
    deploying.targets.insert(nrt, target(1));
    fit(
        &mut deploying,
        &[(nrt, Move::Deploy)],
        &[iad, fra].into(),
        &BTreeSet::new(),
        10,
        |_| None,
    );
    assert!(deploying.resizes.is_empty(), "{:?}", deploying.resizes);
    assert_eq!(deploying.held.len(), 2);
    // Nothing starting: both scale down.
    let mut free = plan();
    fit(
        &mut free,
        &[],
        &[iad, fra].into(),
        &BTreeSet::new(),
        10,
        |_| None,
    );
    assert_eq!(free.resizes.len(), 2);
    assert!(free.held.is_empty());
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    const CODES: [&str; 6] = ["iad", "fra", "nrt", "syd", "gru", "jnb"];

    /// The first `loads.len()` of [`CODES`] as an app's regions, each with
    /// its load (not forecast).
    fn regions_with_loads(loads: &[f64]) -> (BTreeSet<Region>, BTreeMap<Region, (f64, bool)>) {
        let regions = CODES[..loads.len()]
            .iter()
            .map(|code| region(code))
            .collect();
        let load = CODES
            .iter()
            .zip(loads)
            .map(|(code, load)| (region(code), (*load, false)))
            .collect();
        (regions, load)
    }

    proptest! {
        #[test]
        fn shares_keep_the_bounds_and_cover_the_load(
            loads in proptest::collection::vec(0.0f64..2000.0, 1..6),
            current in proptest::collection::vec(0u32..12, 6),
            starting in proptest::collection::vec(any::<bool>(), 6),
            per_machine in 10.0f64..500.0,
            min in 1u32..3,
            max in proptest::option::of(1u32..15),
            headroom in 0.0f64..1.0,
        ) {
            // The config refuses a max_per_region below min_per_region.
            prop_assume!(max.is_none_or(|max| max >= min));
            let settings = MachinesSettings::default()
                .with_requests_per_machine(Some(per_machine))
                .with_min_per_region(min)
                .with_max_per_region(max)
                .with_headroom(headroom);
            let (regions, load) = regions_with_loads(&loads);
            let now: BTreeMap<Region, MachineCount> = CODES
                .iter()
                .zip(&current)
                .map(|(code, count)| (region(code), MachineCount::new(*count, 0)))
                .collect();
            let starting: BTreeSet<Region> = CODES
                .iter()
                .zip(&starting)
                .filter(|(_, s)| **s)
                .map(|(code, _)| region(code))
                .collect();
            let targets = share_by_load(&regions, &load, &now, |r| starting.contains(r), &settings);
            prop_assert_eq!(targets.len(), regions.len());
            let max = max.unwrap_or(u32::MAX).max(min);
            for target in targets.values() {
                prop_assert!(target.count.running >= min.max(1));
                prop_assert!(target.count.running <= max);
            }
            let total: u32 = targets.values().map(|t| t.count.running).sum();
            let needed = machines_for(loads.iter().sum(), &settings);
            // The app's count covers its load with headroom unless every
            // region with load is at max_per_region, and is not more than
            // that or one minimum per region.
            let all_capped = targets
                .iter()
                .filter(|(region, _)| load[*region].0 > 0.0)
                .all(|(_, target)| target.count.running == max);
            prop_assert!(total >= needed || all_capped, "{} < {}", total, needed);
            prop_assert!(total <= needed.max(min * regions.len() as u32), "{} > {}", total, needed);
        }

        #[test]
        fn max_total_is_never_exceeded_and_no_region_loses_its_last_machine(
            loads in proptest::collection::vec(0.0f64..2000.0, 1..6),
            max_total in 1u32..20,
        ) {
            let settings = settings(50.0);
            let (regions, load) = regions_with_loads(&loads);
            let mut targets = share_by_load(&regions, &load, &BTreeMap::new(), |_| false, &settings);
            share_max_total(&mut targets, Some(max_total));
            let total: u32 = targets.values().map(|t| t.count.running).sum();
            prop_assert!(total <= max_total.max(regions.len() as u32));
            prop_assert!(targets.values().all(|t| t.count.running >= 1));
        }
    }
}
