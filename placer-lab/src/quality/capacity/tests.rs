use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::scenario::{generate, Scenario, DEFAULT_STEP};
use placer_core::{Timestamp, TrafficSnapshot};

fn region(code: &str) -> Region {
    code.parse().unwrap()
}

fn counts(pairs: &[(&str, u32)]) -> BTreeMap<Region, u32> {
    pairs.iter().map(|(code, n)| (region(code), *n)).collect()
}

/// A trace with one snapshot per entry, a minute apart.
fn trace(ticks: &[&[(&str, f64)]]) -> Trace {
    let snapshots = ticks
        .iter()
        .enumerate()
        .map(|(tick, pairs)| {
            let at = Timestamp::from_unix_seconds(1_800_000_000 + 60 * tick as i64);
            TrafficSnapshot::new(at, pairs.iter().copied()).unwrap()
        })
        .collect();
    Trace::new(snapshots)
        .unwrap()
        .with_tick_interval(DEFAULT_STEP)
        .unwrap()
}

fn machines(initial: &[(&str, u32)], after: &[&[(&str, u32)]]) -> MachineTimeline {
    let mut timeline = MachineTimeline::new(counts(initial));
    for tick in after {
        timeline.push(counts(tick));
    }
    timeline
}

fn capacity(c: f64, regions: &[&str]) -> Capacity {
    Capacity {
        requests_per_machine: c,
        headroom: 0.2,
        autoscaler_regions: regions.iter().map(|code| region(code)).collect(),
    }
}

fn rtt(model: &LatencyModel, from: &str, to: &str) -> f64 {
    model.rtt_ms(&region(from), &region(to))
}

#[test]
fn a_full_region_spills_to_the_next_nearest_with_spare_machines() {
    // Edge 0 wants 300; server 0 (nearest, 2 machines of 120) takes 240,
    // server 1 (next, 1 machine) the other 60; server 2 is farther.
    let rtts = [[5.0, 20.0, 90.0]];
    let allocation = spill(&[300.0], &[240.0, 120.0, 120.0], |e, s| rtts[e][s]);
    assert_eq!(allocation.served, vec![(0, 0, 240.0), (0, 1, 60.0)]);
    assert_eq!(allocation.overloaded, vec![0.0]);
}

#[test]
fn requests_close_to_a_region_take_its_machines_before_far_ones() {
    // Both edges are nearest to server 0 (one machine of 100); edge 1 is
    // right there and keeps it, edge 0 goes to server 1 or is overloaded.
    let rtts = [[30.0, 60.0], [0.0, 80.0]];
    let allocation = spill(&[100.0, 100.0], &[100.0, 40.0], |e, s| rtts[e][s]);
    assert_eq!(allocation.served, vec![(1, 0, 100.0), (0, 1, 40.0)]);
    assert_eq!(allocation.overloaded, vec![60.0, 0.0]);
}

proptest! {
    #[test]
    fn spill_conserves_requests_and_respects_capacity(
        demand in proptest::collection::vec(0.0f64..500.0, 1..6),
        capacity in proptest::collection::vec(0.0f64..400.0, 0..6),
        rtts in proptest::collection::vec(0.0f64..300.0, 36),
    ) {
        let width = capacity.len();
        let rtt = |e: usize, s: usize| rtts[(e * width + s) % rtts.len()];
        let allocation = spill(&demand, &capacity, rtt);
        let mut per_edge = vec![0.0; demand.len()];
        let mut per_server = vec![0.0; capacity.len()];
        for &(edge, server, requests) in &allocation.served {
            prop_assert!(requests > 0.0);
            per_edge[edge] += requests;
            per_server[server] += requests;
        }
        for (edge, wanted) in demand.iter().enumerate() {
            // served + overloaded = total, per edge.
            let accounted = per_edge[edge] + allocation.overloaded[edge];
            prop_assert!((accounted - wanted).abs() <= 1e-9 * wanted.max(1.0));
            prop_assert!(allocation.overloaded[edge] >= 0.0);
        }
        for (server, room) in capacity.iter().enumerate() {
            prop_assert!(per_server[server] <= room + 1e-9 * room.max(1.0));
        }
        // Nothing is overloaded while some machine has room to spare.
        let overloaded: f64 = allocation.overloaded.iter().sum();
        let spare: f64 = capacity.iter().zip(&per_server).map(|(c, s)| c - s).sum();
        prop_assert!(overloaded <= 1e-6 || spare <= 1e-6, "{overloaded} {spare}");
    }
}

#[test]
fn policy_row_counts_machines_spill_and_overload() {
    let model = LatencyModel::distance();
    // Tick 0: iad 2 machines, fra 1; iad gets 250 at c = 100: 200 served
    // locally, 50 spill to fra (which has 30 of its own). Tick 1: 400 in
    // iad: 200 local, 100 to fra, 100 overloaded.
    let t = trace(&[&[("iad", 250.0), ("fra", 30.0)], &[("iad", 400.0)]]);
    let m = machines(&[("iad", 2), ("fra", 1)], &[&[("iad", 2), ("fra", 1)], &[]]);
    let report = report(&t, "p", &m, &model, &capacity(100.0, &["iad"]), 0).unwrap();
    let row = &report.rows[0];
    assert_eq!(row.policy, "p");
    assert_eq!(row.mean_machines, 3.0);
    assert!((row.machine_hours - 6.0 / 60.0).abs() < 1e-12);
    assert_eq!(row.spilled_requests, 150.0);
    assert_eq!(row.overloaded_requests, 100.0);
    assert!((row.overloaded_share - 100.0 / 680.0).abs() < 1e-12);
    // Only the spilled requests travel; the overloaded ones wait in iad.
    let far = rtt(&model, "iad", "fra");
    let expected = 150.0 * far / 680.0;
    assert!((row.mean_rtt_ms.unwrap() - expected).abs() < 1e-9);
    // oracle-counts: 280 requests → 3 machines, 400 → 4.
    assert_eq!(report.rows[2].mean_machines, 3.5);
    assert!((report.machine_hours_to_oracle.unwrap() - 3.0 / 3.5).abs() < 1e-12);
}

#[test]
fn new_machines_serve_after_the_startup_ticks_and_are_paid_at_once() {
    let model = LatencyModel::distance();
    let busy: &[(&str, f64)] = &[("iad", 300.0)];
    let t = trace(&[busy, busy, busy, busy]);
    // One machine at first; three from tick 0's actions on.
    let m = machines(
        &[("iad", 1)],
        &[&[("iad", 3)], &[("iad", 3)], &[("iad", 3)], &[("iad", 3)]],
    );
    let cap = capacity(100.0, &["iad"]);
    let at_once = &report(&t, "p", &m, &model, &cap, 0).unwrap().rows[0];
    // Tick 0 runs one machine: 200 overloaded.
    assert_eq!(at_once.overloaded_requests, 200.0);
    let slow = &report(&t, "p", &m, &model, &cap, 2).unwrap().rows[0];
    // Ticks 1 and 2 still wait for the two new ones.
    assert_eq!(slow.overloaded_requests, 600.0);
    assert_eq!(slow.machine_hours, at_once.machine_hours);
    assert!((at_once.machine_hours - 10.0 / 60.0).abs() < 1e-12);
}

#[test]
fn ready_counts_take_the_least_count_over_the_startup_window() {
    let a = counts(&[("iad", 1)]);
    let b = counts(&[("iad", 3), ("syd", 1)]);
    let c = counts(&[("iad", 2), ("syd", 1)]);
    let ready = ready_counts(&[&a, &b, &b, &c], 1);
    assert_eq!(ready[0], a);
    assert_eq!(ready[1], counts(&[("iad", 1)]));
    assert_eq!(ready[2], b);
    // A scale-down takes effect at once.
    assert_eq!(ready[3], c);
}

#[test]
fn the_autoscaler_sizes_from_the_last_load_with_headroom_round_robin() {
    let t = trace(&[&[("iad", 100.0)], &[("syd", 500.0)], &[("syd", 500.0)]]);
    let counts_by_tick = autoscaler_counts(
        &t,
        &capacity(100.0, &["iad", "fra"]),
        &counts(&[("iad", 1)]),
    );
    // Tick 0: what the policy starts with, no load seen yet (not tick 0's
    // own load, which would be hindsight).
    assert_eq!(counts_by_tick[0], counts(&[("fra", 1)]));
    // Tick 1 is sized from tick 0's load: 100 × 1.2 / 100 → 2 machines,
    // one in each.
    assert_eq!(counts_by_tick[1], counts(&[("fra", 1), ("iad", 1)]));
    // Tick 2 from tick 1's 500: 6 machines, three each.
    assert_eq!(counts_by_tick[2], counts(&[("fra", 3), ("iad", 3)]));
    assert_eq!(
        round_robin(5, &[region("fra"), region("iad"), region("sin")]),
        counts(&[("fra", 2), ("iad", 2), ("sin", 1)])
    );
    assert_eq!(
        round_robin(1, &[region("fra"), region("iad")]),
        counts(&[("fra", 1)])
    );
}

#[test]
fn the_counts_oracle_runs_the_fewest_machines_where_traffic_is_served() {
    let model = LatencyModel::distance();
    // mad is an edge served from its nearest region with machines.
    let t = trace(&[&[("iad", 250.0), ("syd", 40.0), ("nrt", 30.0)], &[]]);
    let oracle = oracle_counts(&t, &counts(&[("fra", 1)]), &model, 100.0);
    // 320 requests: 4 machines, 2 in iad, then the largest remainders.
    assert_eq!(oracle[0], counts(&[("iad", 3), ("syd", 1)]));
    // No traffic: one machine where the previous tick had the most.
    assert_eq!(oracle[1], counts(&[("iad", 1)]));
    let idle = oracle_counts(&trace(&[&[]]), &counts(&[("fra", 1)]), &model, 100.0);
    assert_eq!(idle[0], counts(&[("fra", 1)]));
}

#[test]
fn edge_traffic_places_the_oracles_machines_at_its_home() {
    let model = LatencyModel::distance();
    let t = trace(&[&[("mad", 150.0)]]);
    let oracle = oracle_counts(&t, &BTreeMap::new(), &model, 100.0);
    let home = crate::regions::home(&region("mad")).unwrap();
    assert_ne!(home, region("mad"));
    assert_eq!(oracle[0], BTreeMap::from([(home, 2)]));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn the_counts_oracle_never_overloads(
        loads in proptest::collection::vec(
            proptest::collection::vec(0.0f64..400.0, 4),
            1..6,
        ),
        c in 10.0f64..300.0,
    ) {
        let codes = ["iad", "syd", "mad", "gru"];
        let ticks: Vec<Vec<(&str, f64)>> = loads
            .iter()
            .map(|tick| codes.iter().copied().zip(tick.iter().copied()).collect())
            .collect();
        let refs: Vec<&[(&str, f64)]> = ticks.iter().map(Vec::as_slice).collect();
        let t = trace(&refs);
        let m = MachineTimeline::one_per_region(&{
            let mut timeline = Timeline::new([region("iad")].into());
            for _ in 0..t.len() {
                timeline.push([region("iad")].into(), 0);
            }
            timeline
        });
        let model = LatencyModel::distance();
        let report = report(&t, "p", &m, &model, &capacity(c, &["iad"]), 0).unwrap();
        let oracle = &report.rows[2];
        prop_assert_eq!(oracle.policy.as_str(), ORACLE_COUNTS);
        prop_assert!(oracle.overloaded_requests <= 1e-6, "{}", oracle.overloaded_requests);
        // Exactly the fewest machines that can carry each tick's load.
        let fewest: f64 = loads
            .iter()
            .map(|tick| f64::from(machines_for(tick.iter().sum(), c)))
            .sum();
        prop_assert!((oracle.mean_machines * t.len() as f64 - fewest).abs() < 1e-9);
    }
}

#[test]
fn one_machine_per_region_gives_the_region_hours_of_the_main_table() {
    let t = generate(
        Scenario::FollowTheSun,
        Duration::from_secs(3 * 3600),
        7,
        DEFAULT_STEP,
    )
    .unwrap();
    let mut timeline = Timeline::new([region("iad")].into());
    for tick in 0..t.len() {
        let set = if tick % 50 < 25 {
            BTreeSet::from([region("iad")])
        } else {
            BTreeSet::from([region("iad"), region("sin"), region("fra")])
        };
        timeline.push_changes(set);
    }
    let model = LatencyModel::distance();
    let options = super::super::QualityOptions::default();
    let main = super::super::evaluate(&t, "p", &timeline, &model, &options).unwrap();
    let machines = MachineTimeline::one_per_region(&timeline);
    // With capacity to spare, nothing spills and the RTTs are the main
    // table's.
    let cap = capacity(1e9, &["iad"]);
    let row = &report(&t, "p", &machines, &model, &cap, 0).unwrap().rows[0];
    assert!((row.machine_hours - main.machine_hours).abs() < 1e-9);
    assert_eq!(row.mean_machines, main.mean_regions);
    assert_eq!(row.overloaded_requests, 0.0);
    assert_eq!(row.spilled_requests, 0.0);
    assert!((row.mean_rtt_ms.unwrap() - main.mean_rtt_ms.unwrap()).abs() < 1e-9);
    assert_eq!(row.p95_rtt_ms, main.p95_rtt_ms);
}

#[test]
fn a_machine_timeline_of_another_length_is_refused() {
    let t = trace(&[&[("iad", 1.0)], &[("iad", 1.0)]]);
    let m = machines(&[("iad", 1)], &[&[("iad", 1)]]);
    let model = LatencyModel::distance();
    assert!(matches!(
        report(&t, "p", &m, &model, &capacity(10.0, &["iad"]), 0),
        Err(super::super::QualityError::LengthMismatch {
            trace: 2,
            timeline: 1
        })
    ));
}

#[test]
fn since_starts_from_the_machines_that_served_the_tick() {
    let m = machines(&[("iad", 1)], &[&[("iad", 2)], &[("iad", 3), ("fra", 0)]]);
    assert_eq!(m.after_ticks()[1], counts(&[("iad", 3)]));
    let later = m.since(1);
    assert_eq!(later.initial(), &counts(&[("iad", 2)]));
    assert_eq!(later.len(), 1);
    assert_eq!(m.serving(0), &counts(&[("iad", 1)]));
    assert_eq!(m.serving(1), &counts(&[("iad", 2)]));
}
