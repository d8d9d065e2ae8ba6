//! Backtests place machines only where the platform takes them: traffic
//! that enters at edge regions is served from compute regions, and a
//! region without coordinates is ignored, never deployed at 0 ms.

use std::collections::BTreeSet;
use std::time::Duration;

use futures::executor::block_on;
use placer_core::network::LatencyModel;
use placer_core::policy::PolicyName;
use placer_core::{PlacerConfig, Region, Timestamp, TrafficSnapshot};
use placer_lab::scenario::{generate, Scenario, DEFAULT_STEP};
use placer_lab::{backtest, quality, recommend, regions, replay_seed_rule, SeedRuleParams, Trace};

fn region(code: &str) -> Region {
    code.parse().unwrap()
}

fn edge_trace() -> Trace {
    generate(
        Scenario::EdgeOnly,
        Duration::from_secs(6 * 3600),
        3,
        DEFAULT_STEP,
    )
    .unwrap()
}

fn assert_deployable(sets: impl IntoIterator<Item = BTreeSet<Region>>, who: &str) {
    let deployable = regions::deployable();
    for set in sets {
        for region in &set {
            assert!(
                deployable.contains(region) || region.as_str() == "iad",
                "{who} deployed {region}, which takes no machine"
            );
        }
    }
}

#[test]
fn edge_only_traffic_is_served_from_compute_regions_by_every_row() {
    let trace = edge_trace();
    let edges: BTreeSet<Region> = trace.regions();
    assert!(edges.iter().all(|r| !regions::deployable().contains(r)));
    let initial: BTreeSet<Region> = [region("iad")].into();
    let model = LatencyModel::distance();
    for policy in [PolicyName::THRESHOLD, PolicyName::LATENCY] {
        let config = PlacerConfig::default()
            .with_policy(policy.clone())
            .with_sustain_ticks(3);
        let replay = block_on(backtest::replay(&config, &trace, &initial, |_| {})).unwrap();
        let after = replay.timeline.after_ticks().to_vec();
        assert_deployable(after.clone(), policy.as_str());
        // Something was deployed: the edges' users got a home.
        let last = after.last().unwrap();
        assert!(last.len() > 1, "{policy}: {last:?}");
        assert!(
            last.contains(&region("cdg"))
                || last.contains(&region("fra"))
                || last.contains(&region("lhr")),
            "{policy}: {last:?}"
        );
        let report = quality::report(
            &trace,
            policy.as_str(),
            &replay.timeline,
            &model,
            &Default::default(),
        )
        .unwrap();
        assert!(report.ignored_regions.is_empty());
    }
    let seed = replay_seed_rule(&trace, &initial, &SeedRuleParams::default());
    assert_deployable(seed.after_ticks().to_vec(), "seed");

    let pick = recommend::recommend(
        &trace.totals(),
        3,
        &initial,
        &PlacerConfig::default(),
        &model,
    )
    .unwrap();
    assert_deployable([pick.recommended.regions.clone()], "recommend");
}

#[test]
fn an_unknown_region_in_a_trace_is_ignored_not_deployed() {
    let start = Timestamp::from_unix_seconds(1_800_000_000);
    let ticks: Vec<TrafficSnapshot> = (0..30)
        .map(|minute| {
            let at = start + Duration::from_secs(60 * minute);
            TrafficSnapshot::new(at, [("iad", 40.0), ("xyz", 400.0)]).unwrap()
        })
        .collect();
    let trace = Trace::new(ticks).unwrap();
    assert_eq!(trace.unknown_regions(), [region("xyz")]);
    let initial: BTreeSet<Region> = [region("iad")].into();
    let config = PlacerConfig::default().with_policy(PolicyName::LATENCY);
    let replay = block_on(backtest::replay(&config, &trace, &initial, |_| {})).unwrap();
    let model = LatencyModel::distance();
    let report = quality::report(
        &trace,
        "latency",
        &replay.timeline,
        &model,
        &Default::default(),
    )
    .unwrap();
    assert_eq!(report.ignored_regions, [region("xyz")]);
    // With xyz left out, iad serves every request at 0 ms in every row,
    // the references included: none of them placed a machine at xyz.
    for row in &report.rows {
        assert_eq!(row.mean_rtt_ms, Some(0.0), "{row:?}");
    }
    assert!(report
        .render_table()
        .contains("ignored (no coordinates, not a Fly region): xyz"));
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["ignored_regions"], serde_json::json!(["xyz"]));

    let pick = recommend::recommend(&trace.totals(), 2, &initial, &config, &model).unwrap();
    assert_eq!(pick.ignored_regions, [region("xyz")]);
    assert!(!pick.recommended.regions.contains(&region("xyz")));
}
