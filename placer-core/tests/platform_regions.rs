//! Planning over the platform's picture of its regions: edge regions,
//! deprecated regions and full ones are never deployed; their users are
//! served from the nearest region that takes machines, and the report says
//! so.

use std::collections::BTreeSet;
use std::time::Duration;

use futures::executor::block_on;
use placer_core::network::platform::{PlatformRegion, PlatformRegions, COMPUTE_REGIONS};
use placer_core::policy::{LatencySettings, PolicyName};
use placer_core::{
    InMemoryActuator, Placer, PlacerConfig, Region, ScriptedSource, TickReport, Timestamp,
    TrafficSnapshot,
};
use proptest::prelude::*;

const TICK: Duration = Duration::from_secs(60);

fn region(code: &str) -> Region {
    code.parse().unwrap()
}

fn start() -> Timestamp {
    Timestamp::from_unix_seconds(1_800_000_000)
}

/// A region as the platform lists it, at its catalog coordinates.
fn listed(code: &str) -> PlatformRegion {
    let known = PlatformRegions::built_in().get(&region(code)).unwrap();
    PlatformRegion::new(region(code), known.latitude, known.longitude)
}

/// The platform's answer: the compute regions with room, `mad` and `gig`
/// deprecated, `syd` with `syd_capacity` machines of room.
fn picture(syd_capacity: u64, at: Timestamp) -> PlatformRegions {
    let mut regions: Vec<PlatformRegion> = COMPUTE_REGIONS
        .iter()
        .filter(|code| **code != "syd")
        .map(|code| listed(code).with_capacity(20))
        .collect();
    regions.push(listed("syd").with_capacity(syd_capacity));
    regions.push(listed("mad").with_deprecated(true));
    regions.push(listed("gig").with_deprecated(true));
    PlatformRegions::from_platform(regions, at)
}

fn edge_traffic(at: Timestamp) -> TrafficSnapshot {
    TrafficSnapshot::new(at, [("mad", 300.0), ("gig", 300.0), ("syd", 300.0)]).unwrap()
}

/// Ticks `ticks` times from `*now` with edge traffic, asserting after each
/// that nothing the picture calls undeployable was deployed; returns the
/// last report.
fn run(
    placer: &mut Placer,
    actuator: &InMemoryActuator,
    now: &mut Timestamp,
    ticks: usize,
) -> TickReport {
    let source = ScriptedSource::new();
    let mut last = None;
    for _ in 0..ticks {
        source.push(edge_traffic(*now));
        let report = block_on(placer.tick(&source, actuator, *now));
        assert!(report.is_ok(), "{report:#?}");
        let picture = placer.platform_regions();
        for deployed in &report.deployed {
            assert!(
                picture.is_deployable(deployed),
                "deployed {deployed}, which takes no machine: {report:#?}"
            );
        }
        last = Some(report);
        *now = *now + TICK;
    }
    last.unwrap()
}

fn reason_of(report: &TickReport, code: &str) -> String {
    report
        .skipped
        .iter()
        .find(|skip| skip.region.as_str() == code)
        .map(|skip| skip.reason.to_string())
        .unwrap_or_else(|| panic!("no decision for {code}: {report:#?}"))
}

/// Where the users entering at `code` are served best under `picture`.
fn home(picture: &PlatformRegions, code: &str) -> Region {
    picture.home(&region(code), |_| true).unwrap().region
}

fn latency_config() -> PlacerConfig {
    let settings = LatencySettings::default().with_stabilization_window(Duration::from_secs(300));
    PlacerConfig::default()
        .with_dry_run(false)
        .with_policy(PolicyName::LATENCY)
        .with_settings(&settings)
}

fn threshold_config() -> PlacerConfig {
    PlacerConfig::default()
        .with_dry_run(false)
        .with_sustain_ticks(2)
}

/// The "done when" of planning over the platform's regions, for `config`'s
/// policy.
fn edges_are_served_from_their_homes_and_syd_returns(config: PlacerConfig) {
    let mut now = start();
    let actuator = InMemoryActuator::new([region("iad")]).with_platform_regions(picture(0, now));
    let mut placer = Placer::new(config).unwrap();
    let report = run(&mut placer, &actuator, &mut now, 15);

    let seen = placer.platform_regions().clone();
    let homes: BTreeSet<Region> = ["mad", "gig", "syd"]
        .iter()
        .map(|code| home(&seen, code))
        .collect();
    assert_eq!(homes, ["cdg", "gru", "sin"].map(region).into());
    let deployed = actuator.regions();
    for code in ["mad", "gig", "syd"] {
        assert!(!deployed.contains(&region(code)), "{deployed:?}");
    }
    assert!(homes.is_subset(&deployed), "{deployed:?}");
    // The report names the edge regions, why they take no machine, and
    // where their users are served.
    let mad = reason_of(&report, "mad");
    assert!(
        mad.starts_with("mad is deprecated: users entering at mad are served from cdg ("),
        "{mad}"
    );
    let gig = reason_of(&report, "gig");
    assert!(
        gig.starts_with("gig is deprecated: users entering at gig are served from gru ("),
        "{gig}"
    );
    let syd = reason_of(&report, "syd");
    assert!(
        syd.starts_with("syd is at capacity: users entering at syd are served from sin ("),
        "{syd}"
    );

    // Sydney has room again: it is deployed.
    actuator.set_platform_regions(Some(picture(5, now)));
    run(&mut placer, &actuator, &mut now, 15);
    let deployed = actuator.regions();
    assert!(deployed.contains(&region("syd")), "{deployed:?}");
    assert!(!deployed.contains(&region("mad")) && !deployed.contains(&region("gig")));
}

#[test]
fn latency_policy_serves_edges_from_their_homes_and_deploys_syd_when_it_has_room() {
    edges_are_served_from_their_homes_and_syd_returns(latency_config());
}

#[test]
fn threshold_policy_deploys_the_homes_of_edges_and_syd_when_it_has_room() {
    edges_are_served_from_their_homes_and_syd_returns(threshold_config());
}

#[test]
fn a_running_region_that_fills_up_is_kept_and_its_better_home_named() {
    for config in [latency_config(), threshold_config()] {
        let mut now = start();
        let actuator =
            InMemoryActuator::new([region("syd")]).with_platform_regions(picture(0, now));
        let mut placer = Placer::new(config).unwrap();
        let source = ScriptedSource::new();
        source.push(TrafficSnapshot::new(now, [("syd", 300.0)]).unwrap());
        let report = block_on(placer.tick(&source, &actuator, now));
        assert!(report.removed.is_empty(), "{report:#?}");
        assert_eq!(
            reason_of(&report, "syd"),
            "syd is at capacity: kept while it runs; its users would be served best from sin"
        );
        now = now + TICK;
        // Never the last machine, whatever happens to its traffic.
        run(&mut placer, &actuator, &mut now, 5);
        assert!(actuator.regions().contains(&region("syd")));
    }
}

#[test]
fn an_edge_code_without_coordinates_is_reported_as_ignored() {
    let mut placer = Placer::new(threshold_config()).unwrap();
    let now = start();
    let snapshot = TrafficSnapshot::new(now, [("mad", 300.0), ("xyz", 300.0)]).unwrap();
    placer.observe(&snapshot);
    assert_eq!(placer.ignored_regions(), [region("xyz")]);
    // A region the platform lists, although the catalog lacks it, is kept.
    let listed_new = PlatformRegion::new(region("xyz"), 40.4, -3.7);
    placer.set_platform_regions(PlatformRegions::from_platform([listed_new], now).into());
    placer.observe(&snapshot);
    assert!(placer.ignored_regions().is_empty());
    assert!(placer.state().region(&region("xyz")).is_some());
}

#[test]
fn allowed_regions_bound_the_home() {
    let config = threshold_config().with_allowed_regions(["lhr", "iad"].map(region).into());
    let mut now = start();
    let actuator = InMemoryActuator::new([region("iad")]).with_platform_regions(picture(0, now));
    let mut placer = Placer::new(config).unwrap();
    run(&mut placer, &actuator, &mut now, 5);
    assert_eq!(actuator.regions(), ["iad", "lhr"].map(region).into());
}

/// A random picture: each catalogued region is listed or not, deprecated
/// or not, with or without room.
fn any_picture() -> impl Strategy<Value = PlatformRegions> {
    let codes: Vec<String> = PlatformRegions::built_in()
        .regions()
        .map(|r| r.code.as_str().to_owned())
        .collect();
    let count = codes.len();
    prop::collection::vec((any::<bool>(), any::<bool>(), 0u64..3), count).prop_map(move |flags| {
        let regions = codes.iter().zip(flags).filter(|(_, f)| f.0).map(
            |(code, (_, deprecated, capacity))| {
                listed(code)
                    .with_deprecated(deprecated)
                    .with_capacity(capacity)
            },
        );
        PlatformRegions::from_platform(regions, start())
    })
}

fn any_traffic() -> impl Strategy<Value = Vec<(String, f64)>> {
    let codes: Vec<String> = PlatformRegions::built_in()
        .regions()
        .map(|r| r.code.as_str().to_owned())
        .chain(["xyz".to_owned()])
        .collect();
    prop::collection::vec((prop::sample::select(codes), 0.0f64..400.0), 1..12)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn no_plan_deploys_a_region_the_picture_does_not_take_machines_in(
        picture in any_picture(),
        later in any_picture(),
        traffic in any_traffic(),
        deployed in prop::collection::btree_set(prop::sample::select(COMPUTE_REGIONS.to_vec()), 0..4),
        latency in any::<bool>(),
        always in prop::option::of(prop::sample::select(vec!["mad", "syd", "fra"])),
    ) {
        let mut config = if latency { latency_config() } else { threshold_config() };
        if let Some(always) = always {
            config = config.with_always_running_regions([region(always)].into());
        }
        let deployed: BTreeSet<Region> = deployed.iter().map(|c| region(c)).collect();
        let actuator = InMemoryActuator::new(deployed).with_platform_regions(picture);
        let mut placer = Placer::new(config).unwrap();
        let source = ScriptedSource::new();
        let mut now = start();
        for tick in 0..8 {
            if tick == 4 {
                actuator.set_platform_regions(Some(later.clone()));
            }
            let snapshot = TrafficSnapshot::new(
                now,
                traffic.iter().map(|(code, requests)| (code.as_str(), *requests * (1 + tick % 3) as f64)),
            );
            if let Ok(snapshot) = snapshot {
                source.push(snapshot);
            }
            let before = actuator.regions();
            let report = block_on(placer.tick(&source, &actuator, now));
            let picture = placer.platform_regions();
            for decision in &report.actions {
                if decision.decision.action == placer_core::Move::Deploy {
                    prop_assert!(
                        picture.is_deployable(&decision.decision.region),
                        "deployed {} under {:?}", decision.decision.region, picture
                    );
                }
            }
            // Nothing running is removed for being full or deprecated alone:
            // a region that was running and is gone was removed by the policy.
            for gone in before.difference(&actuator.regions()) {
                let reason = report
                    .actions
                    .iter()
                    .find(|a| a.decision.region == *gone)
                    .map(|a| a.decision.reason.class());
                prop_assert_ne!(reason, Some("not_deployable"));
            }
            prop_assert!(!actuator.regions().is_empty() || before.is_empty());
            now = now + TICK;
        }
    }
}

#[test]
fn a_region_only_the_platform_lists_is_observed_from_the_first_tick() {
    // qqq: a region new to Fly, not in the built-in catalog.
    let mut regions: Vec<PlatformRegion> = COMPUTE_REGIONS.iter().map(|c| listed(c)).collect();
    regions.push(PlatformRegion::new(region("qqq"), 48.0, 11.5));
    let actuator = InMemoryActuator::new([region("fra")])
        .with_platform_regions(PlatformRegions::from_platform(regions, start()));
    let source = ScriptedSource::new();
    source.push(TrafficSnapshot::new(start(), [("fra", 20.0), ("qqq", 90.0)]).unwrap());
    let mut placer = Placer::new(threshold_config()).unwrap();
    let report = block_on(placer.tick(&source, &actuator, start()));
    assert!(report.ignored_regions.is_empty(), "{report:?}");
    assert!(placer.state().region(&region("qqq")).is_some());
}
