use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::scenario::{generate, Scenario, DEFAULT_STEP};
use std::collections::{BTreeMap, BTreeSet};

use placer_core::{network::UNSERVED_RTT_MS, Region, Timestamp, TrafficSnapshot};

fn region(code: &str) -> Region {
    code.parse().unwrap()
}

fn set(codes: &[&str]) -> BTreeSet<Region> {
    codes.iter().map(|code| region(code)).collect()
}

fn minute(tick: usize) -> Timestamp {
    Timestamp::from_unix_seconds(1_800_000_000 + 60 * tick as i64)
}

/// A trace with one snapshot per entry, a minute apart.
fn trace(ticks: &[&[(&str, f64)]]) -> Trace {
    let snapshots = ticks
        .iter()
        .enumerate()
        .map(|(tick, pairs)| TrafficSnapshot::new(minute(tick), pairs.iter().copied()).unwrap())
        .collect();
    Trace::new(snapshots)
        .unwrap()
        .with_tick_interval(DEFAULT_STEP)
        .unwrap()
}

/// A timeline whose set after tick `i` is `after[i]`, actions counted as
/// changes.
fn timeline(initial: &[&str], after: &[&[&str]]) -> Timeline {
    let mut timeline = Timeline::new(set(initial));
    for codes in after {
        timeline.push_changes(set(codes));
    }
    timeline
}

fn distance_ms(from: &str, to: &str) -> f64 {
    LatencyModel::distance().rtt_ms(&region(from), &region(to))
}

fn row(trace: &Trace, timeline: &Timeline) -> QualityRow {
    evaluate(
        trace,
        "policy",
        timeline,
        &LatencyModel::distance(),
        &QualityOptions::default(),
    )
    .unwrap()
}

#[test]
fn figures_match_a_hand_computed_trace() {
    let trace = trace(&[
        &[("iad", 100.0)],
        &[("iad", 100.0), ("ams", 50.0)],
        &[("iad", 100.0), ("ams", 50.0)],
    ]);
    // fra is deployed after tick 1, so it serves tick 2 only.
    let timeline = timeline(&["iad"], &[&["iad"], &["iad", "fra"], &["iad", "fra"]]);
    let row = row(&trace, &timeline);
    let from_iad = distance_ms("ams", "iad");
    let from_fra = distance_ms("ams", "fra");
    let mean = (50.0 * from_iad + 50.0 * from_fra) / 400.0;
    assert!((row.mean_rtt_ms.unwrap() - mean).abs() < 1e-9, "{row:?}");
    // 300 requests at 0 ms, 50 at fra's RTT, 50 at iad's: the 380th request
    // is among the slowest.
    assert_eq!(row.p95_rtt_ms, Some(from_iad));
    assert_eq!(row.mean_regions, 4.0 / 3.0);
    assert!((row.machine_hours - 4.0 / 60.0).abs() < 1e-12);
    assert_eq!((row.actions, row.flaps), (1, 0));
}

#[test]
fn nothing_deployed_costs_500_ms_per_request() {
    let trace = trace(&[&[("syd", 10.0)], &[("syd", 30.0)]]);
    let row = row(&trace, &timeline(&[], &[&[], &[]]));
    assert_eq!(row.mean_rtt_ms, Some(UNSERVED_RTT_MS));
    assert_eq!(row.p95_rtt_ms, Some(UNSERVED_RTT_MS));
    assert_eq!(row.machine_hours, 0.0);
}

#[test]
fn a_trace_without_requests_has_no_latency_figures() {
    let trace = trace(&[&[("syd", 0.0)]]);
    let row = row(&trace, &timeline(&["iad"], &[&["iad"]]));
    assert_eq!((row.mean_rtt_ms, row.p95_rtt_ms), (None, None));
}

#[test]
fn p95_can_sit_below_the_mean() {
    // 96 % of requests local, 4 % unserved far away: the tail drives the
    // mean, not the 95th percentile.
    let trace = trace(&[&[("iad", 96.0), ("syd", 4.0)]]);
    let row = row(&trace, &timeline(&["iad"], &[&["iad"]]));
    assert_eq!(row.p95_rtt_ms, Some(0.0));
    assert!(row.mean_rtt_ms.unwrap() > 5.0);
}

fn flaps(after: &[&[&str]]) -> usize {
    let quiet: Vec<&[(&str, f64)]> = vec![&[("iad", 1.0)]; after.len()];
    row(&trace(&quiet), &timeline(&["iad"], after)).flaps
}

#[test]
fn reversing_a_change_within_30_minutes_is_a_flap() {
    let mut after: Vec<&[&str]> = vec![&["iad"]; 60];
    // syd deployed after tick 0, removed after tick 10, re-added after 20.
    for tick in after.iter_mut().take(10) {
        *tick = &["iad", "syd"];
    }
    for tick in after.iter_mut().skip(20) {
        *tick = &["iad", "syd"];
    }
    assert_eq!(flaps(&after), 2);
}

#[test]
fn changes_held_longer_than_30_minutes_are_not_flaps() {
    let mut after: Vec<&[&str]> = vec![&["iad"]; 90];
    for tick in after.iter_mut().take(40) {
        *tick = &["iad", "syd"];
    }
    assert_eq!(flaps(&after), 0);
    // Removing an initial region and bringing it back soon is one flap.
    let mut after: Vec<&[&str]> = vec![&["iad"]; 20];
    for tick in after.iter_mut().take(5) {
        *tick = &[];
    }
    assert_eq!(flaps(&after), 1);
}

#[test]
fn the_flap_window_includes_its_end() {
    // syd appears in serving(1) and leaves at serving(31): exactly 30 min.
    let mut after: Vec<&[&str]> = vec![&["iad"]; 40];
    for tick in after.iter_mut().take(30) {
        *tick = &["iad", "syd"];
    }
    assert_eq!(flaps(&after), 1);
    let mut after: Vec<&[&str]> = vec![&["iad"]; 40];
    for tick in after.iter_mut().take(31) {
        *tick = &["iad", "syd"];
    }
    assert_eq!(flaps(&after), 0);
}

fn shifts(requests: &[f64], initial: &[&str], after: &[&[&str]]) -> QualityRow {
    let ticks: Vec<Vec<(&str, f64)>> = requests.iter().map(|&r| vec![("syd", r)]).collect();
    let ticks: Vec<&[(&str, f64)]> = ticks.iter().map(Vec::as_slice).collect();
    row(&trace(&ticks), &timeline(initial, after))
}

#[test]
fn reaction_counts_ticks_until_a_nearby_region_serves_the_shift() {
    let requests = [100.0; 12];
    let mut after: Vec<&[&str]> = vec![&["iad"]; 12];
    for tick in after.iter_mut().skip(3) {
        *tick = &["iad", "syd"];
    }
    let row = shifts(&requests, &["iad"], &after);
    // Deployed after tick 3, so tick 4 is the first served from syd.
    assert_eq!((row.shifts, row.shifts_served), (1, 1));
    assert_eq!(row.mean_reaction_ticks, Some(4.0));
    assert_eq!(row.max_reaction_ticks, Some(4));
}

#[test]
fn short_bursts_and_already_served_demand_are_not_shifts() {
    let burst = [0.0, 100.0, 100.0, 100.0, 100.0, 0.0, 0.0];
    assert_eq!(shifts(&burst, &["iad"], &[&["iad"][..]; 7]).shifts, 0);
    let steady = [100.0; 8];
    let row = shifts(&steady, &["syd"], &[&["syd"][..]; 8]);
    assert_eq!(row.shifts, 0);
    // Deployed only after the first tick: a shift, served one tick later.
    let row = shifts(&steady, &["iad"], &[&["syd"][..]; 8]);
    assert_eq!(
        (row.shifts, row.shifts_served, row.max_reaction_ticks),
        (1, 1, Some(1))
    );
    // syd was never served nearby: one shift, not served.
    let row = shifts(&steady, &["iad"], &[&["iad"][..]; 8]);
    assert_eq!((row.shifts, row.shifts_served), (1, 0));
    assert_eq!(row.mean_reaction_ticks, None);
}

#[test]
fn the_shift_level_and_length_include_their_bounds() {
    let exactly = [50.0; 5];
    assert_eq!(shifts(&exactly, &["iad"], &[&["iad"][..]; 5]).shifts, 1);
    let just_below = [49.9; 5];
    assert_eq!(shifts(&just_below, &["iad"], &[&["iad"][..]; 5]).shifts, 0);
    let one_short = [50.0; 4];
    assert_eq!(shifts(&one_short, &["iad"], &[&["iad"][..]; 4]).shifts, 0);
}

#[test]
fn each_sustained_run_is_its_own_shift() {
    let mut requests = vec![100.0; 6];
    requests.extend([0.0; 3]);
    requests.extend([100.0; 6]);
    let row = shifts(&requests, &["iad"], &vec![&["iad"][..]; requests.len()]);
    assert_eq!(row.shifts, 2);
}

#[test]
fn timeline_and_trace_must_have_the_same_ticks() {
    let trace = trace(&[&[("iad", 1.0)], &[("iad", 1.0)]]);
    let err = evaluate(
        &trace,
        "p",
        &timeline(&["iad"], &[&["iad"]]),
        &LatencyModel::distance(),
        &QualityOptions::default(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        QualityError::LengthMismatch {
            trace: 2,
            timeline: 1
        }
    );
}

#[test]
fn reference_rows_follow_the_policy_row() {
    let trace = generate(
        Scenario::SteadyHighUndeployed,
        Duration::from_secs(3 * 3600),
        6,
        DEFAULT_STEP,
    )
    .unwrap();
    let n = trace.len();
    let kept = timeline(&["iad"], &vec![&["iad"][..]; n]);
    let report = report(
        &trace,
        "policy",
        &kept,
        &LatencyModel::distance(),
        &QualityOptions::default(),
    )
    .unwrap();
    let names: Vec<&str> = report.rows.iter().map(|r| r.policy.as_str()).collect();
    assert_eq!(
        names,
        [
            "policy",
            "static",
            "seed",
            "best-static-K",
            "oracle-K",
            "oracle-equal-mh"
        ]
    );
    assert_eq!(report.k, 1.0);
    let [policy, fixed, seed, best, oracle, _] = &report.rows[..] else {
        unreachable!()
    };
    // Keeping iad is the static row.
    assert_eq!(
        (policy.mean_rtt_ms, policy.machine_hours),
        (fixed.mean_rtt_ms, fixed.machine_hours)
    );
    // Flat traffic never trips the seed's trend test.
    assert_eq!(seed.actions, 0);
    assert_eq!((seed.shifts, seed.shifts_served), (4, 0));
    // One hindsight region beats iad for this traffic, and per-tick
    // hindsight is at least as good as one fixed pick.
    assert_eq!(best.mean_regions, 1.0);
    assert!(best.mean_rtt_ms.unwrap() < fixed.mean_rtt_ms.unwrap());
    assert!(oracle.mean_rtt_ms.unwrap() <= best.mean_rtt_ms.unwrap() + 1e-9);
    assert_eq!(best.actions, 2, "one move away from iad");
}

#[test]
fn k_is_the_policys_mean_region_count() {
    let quiet: Vec<&[(&str, f64)]> = vec![&[("iad", 10.0), ("fra", 10.0), ("syd", 10.0)]; 4];
    let trace = trace(&quiet);
    let model = LatencyModel::distance();
    let options = QualityOptions::default();
    let three = timeline(&["iad", "fra", "syd"], &[&["iad", "fra", "syd"][..]; 4]);
    let report_three = report(&trace, "p", &three, &model, &options).unwrap();
    assert_eq!(report_three.k, 3.0);
    assert_eq!(report_three.rows[3].mean_regions, 3.0);
    assert_eq!(report_three.rows[4].mean_rtt_ms, Some(0.0));
    let none = timeline(&[], &[&[][..]; 4]);
    assert_eq!(report(&trace, "p", &none, &model, &options).unwrap().k, 1.0);
}

#[test]
fn a_fractional_k_blends_the_references_on_either_side() {
    let quiet: Vec<&[(&str, f64)]> = vec![&[("iad", 10.0), ("fra", 10.0), ("syd", 10.0)]; 4];
    let trace = trace(&quiet);
    let model = LatencyModel::distance();
    let options = QualityOptions::default();
    // Two regions for half the ticks, three for the other half: K = 2.5.
    let mixed = timeline(
        &["iad", "fra"],
        &[
            &["iad", "fra"][..],
            &["iad", "fra", "syd"][..],
            &["iad", "fra", "syd"][..],
            &["iad", "fra"][..],
        ],
    );
    let blended = report(&trace, "p", &mixed, &model, &options).unwrap();
    assert_eq!(blended.k, 2.5);
    let two = report(
        &trace,
        "p",
        &timeline(&["iad", "fra"], &[&["iad", "fra"][..]; 4]),
        &model,
        &options,
    )
    .unwrap();
    let three = report(
        &trace,
        "p",
        &timeline(&["iad", "fra", "syd"], &[&["iad", "fra", "syd"][..]; 4]),
        &model,
        &options,
    )
    .unwrap();
    for row in [3, 4] {
        let expected =
            (two.rows[row].mean_rtt_ms.unwrap() + three.rows[row].mean_rtt_ms.unwrap()) / 2.0;
        assert!((blended.rows[row].mean_rtt_ms.unwrap() - expected).abs() < 1e-9);
        assert!((blended.rows[row].mean_regions - 2.5).abs() < 1e-9);
    }
}

fn fixed_report() -> QualityReport {
    let trace = trace(&[
        &[("iad", 80.0), ("fra", 20.0), ("syd", 0.0)],
        &[("iad", 80.0), ("fra", 60.0), ("syd", 90.0)],
        &[("iad", 70.0), ("fra", 60.0), ("syd", 90.0)],
        &[("iad", 70.0), ("fra", 60.0), ("syd", 95.0)],
        &[("iad", 60.0), ("fra", 60.0), ("syd", 95.0)],
        &[("iad", 60.0), ("fra", 10.0), ("syd", 95.0)],
        &[("iad", 60.0), ("fra", 5.0), ("syd", 95.0)],
    ]);
    let policy = timeline(
        &["iad"],
        &[
            &["iad"],
            &["iad", "syd"],
            &["iad", "syd", "fra"],
            &["iad", "syd", "fra"],
            &["iad", "syd", "fra"],
            &["iad", "syd"],
            &["iad", "syd"],
        ],
    );
    report(
        &trace,
        "threshold",
        &policy,
        &LatencyModel::distance(),
        &QualityOptions::default(),
    )
    .unwrap()
}

/// The fixed report with a capacity part: 50 requests per machine, the
/// policy running two machines in syd once it is deployed.
fn fixed_report_with_capacity() -> QualityReport {
    let mut report = fixed_report();
    let trace = trace(&[
        &[("iad", 80.0), ("fra", 20.0), ("syd", 0.0)],
        &[("iad", 80.0), ("fra", 60.0), ("syd", 90.0)],
        &[("iad", 70.0), ("fra", 60.0), ("syd", 90.0)],
        &[("iad", 70.0), ("fra", 60.0), ("syd", 95.0)],
        &[("iad", 60.0), ("fra", 60.0), ("syd", 95.0)],
        &[("iad", 60.0), ("fra", 10.0), ("syd", 95.0)],
        &[("iad", 60.0), ("fra", 5.0), ("syd", 95.0)],
    ]);
    let counts = |pairs: &[(&str, u32)]| -> BTreeMap<Region, u32> {
        pairs.iter().map(|(code, n)| (region(code), *n)).collect()
    };
    let mut machines = MachineTimeline::new(counts(&[("iad", 2)]));
    for after in [
        &[("iad", 2)][..],
        &[("iad", 2), ("syd", 2)],
        &[("iad", 2), ("syd", 2), ("fra", 1)],
        &[("iad", 2), ("syd", 2), ("fra", 2)],
        &[("iad", 2), ("syd", 2), ("fra", 1)],
        &[("iad", 2), ("syd", 2)],
        &[("iad", 2), ("syd", 2)],
    ] {
        machines.push(counts(after));
    }
    let capacity = Capacity {
        requests_per_machine: 50.0,
        headroom: 0.2,
        autoscaler_regions: set(&["iad"]),
    };
    report.capacity = Some(
        capacity::report(
            &trace,
            "threshold",
            &machines,
            &LatencyModel::distance(),
            &capacity,
            0,
        )
        .unwrap(),
    );
    report
}

#[test]
fn report_table_with_capacity() {
    let report = fixed_report_with_capacity();
    let table = report.render_table();
    // The capacity part only adds to the report without one.
    assert!(table.starts_with(&fixed_report().render_table()));
    insta::assert_snapshot!(table);
}

#[test]
fn report_json_with_capacity() {
    insta::assert_json_snapshot!(fixed_report_with_capacity().capacity);
}

#[test]
fn report_table_for_people() {
    insta::assert_snapshot!(fixed_report().render_table());
}

#[test]
fn report_json_for_machines() {
    insta::assert_json_snapshot!(fixed_report());
}

fn with_startup(trace: &Trace, timeline: &Timeline, startup_ticks: usize) -> QualityRow {
    let options = QualityOptions {
        startup_ticks,
        ..QualityOptions::default()
    };
    evaluate(trace, "p", timeline, &LatencyModel::distance(), &options).unwrap()
}

#[test]
fn a_new_region_serves_only_after_its_startup_ticks_but_is_paid_for_at_once() {
    // syd is deployed by tick 0's actions; its users wait in iad until it
    // has started.
    let busy: Vec<&[(&str, f64)]> = vec![&[("syd", 100.0)]; 6];
    let trace = trace(&busy);
    let deployed = timeline(&["iad"], &[&["iad", "syd"][..]; 6]);
    let far = distance_ms("syd", "iad");
    let at_once = with_startup(&trace, &deployed, 0);
    let late = with_startup(&trace, &deployed, 3);
    // At once: tick 0 from iad, ticks 1–5 from syd itself.
    assert!((at_once.mean_rtt_ms.unwrap() - far / 6.0).abs() < 1e-9);
    // Three ticks of start-up: ticks 0–3 from iad, 4 and 5 from syd.
    assert!((late.mean_rtt_ms.unwrap() - 4.0 * far / 6.0).abs() < 1e-9);
    assert_eq!(late.machine_hours, at_once.machine_hours);
    assert_eq!(late.actions, at_once.actions);
    // A region of the initial set needs no start-up.
    let from_start = timeline(&["syd"], &[&["syd"][..]; 6]);
    assert_eq!(with_startup(&trace, &from_start, 3).mean_rtt_ms, Some(0.0));
}

#[test]
fn a_region_removed_and_deployed_again_starts_again() {
    let busy: Vec<&[(&str, f64)]> = vec![&[("syd", 100.0)]; 6];
    let trace = trace(&busy);
    // syd from the start, gone after tick 1, back after tick 2.
    let back = timeline(
        &["iad", "syd"],
        &[
            &["iad", "syd"][..],
            &["iad"][..],
            &["iad", "syd"][..],
            &["iad", "syd"][..],
            &["iad", "syd"][..],
            &["iad", "syd"][..],
        ],
    );
    let far = distance_ms("syd", "iad");
    // Served from iad at tick 2 (removed) and ticks 3 and 4 (starting).
    let row = with_startup(&trace, &back, 2);
    assert!((row.mean_rtt_ms.unwrap() - 3.0 * far / 6.0).abs() < 1e-9);
}

#[test]
fn the_oracle_at_equal_machine_hours_spends_what_the_policy_spends() {
    let trace = generate(
        Scenario::FlashCrowd,
        Duration::from_secs(4 * 3600),
        3,
        DEFAULT_STEP,
    )
    .unwrap();
    let n = trace.len();
    // Two regions for the first half, three for the second.
    let mut after: Vec<&[&str]> = vec![&["iad", "fra"][..]; n / 2];
    after.extend(vec![&["iad", "fra", "syd"][..]; n - n / 2]);
    let policy = timeline(&["iad", "fra"], &after);
    let model = LatencyModel::distance();
    let report = report(&trace, "p", &policy, &model, &QualityOptions::default()).unwrap();
    let oracle = report.rows.last().unwrap();
    assert_eq!(oracle.policy, "oracle-equal-mh");
    let mine = &report.rows[0];
    assert!(
        (oracle.machine_hours - mine.machine_hours).abs() < 1e-6,
        "{} against {}",
        oracle.machine_hours,
        mine.machine_hours
    );
    // It may give a tick more regions and another fewer; no fixed-K row
    // does better at the same spend.
    let oracle_rtt = oracle.mean_rtt_ms.unwrap();
    assert!(oracle_rtt <= mine.mean_rtt_ms.unwrap());
    assert!(oracle_rtt <= report.rows[4].mean_rtt_ms.unwrap() + 1e-9);
    assert!(
        (report.ratio_to_oracle.unwrap() - mine.mean_rtt_ms.unwrap() / oracle_rtt).abs() < 1e-12
    );
}

#[test]
fn the_oracle_at_equal_machine_hours_moves_regions_to_busy_ticks() {
    // Quiet ticks in three far-apart regions, then busy ones; the policy
    // runs iad, then iad and fra.
    let mut ticks: Vec<&[(&str, f64)]> = vec![&[("iad", 1.0), ("syd", 1.0), ("fra", 1.0)]; 5];
    ticks.extend(vec![
        &[("iad", 100.0), ("syd", 100.0), ("fra", 100.0)][..];
        4
    ]);
    let trace = trace(&ticks);
    let policy = timeline(&["iad"], &[&["iad", "fra"][..]; 9]);
    let model = LatencyModel::distance();
    let report = report(&trace, "p", &policy, &model, &QualityOptions::default()).unwrap();
    let oracle = report.rows.last().unwrap();
    // Tick 0 is served by the initial set, as the policy's is; one region
    // on the other quiet ticks pays for three on busy ones: every busy
    // request is served where it enters.
    assert_eq!(oracle.mean_regions, report.rows[0].mean_regions);
    assert_eq!(oracle.mean_regions, 17.0 / 9.0);
    let quiet: BTreeMap<Region, f64> = [("iad", 1.0), ("syd", 1.0), ("fra", 1.0)]
        .into_iter()
        .map(|(code, requests)| (region(code), requests))
        .collect();
    let solver = crate::FixedK::new(trace.regions(), geo_codes(&trace), BTreeSet::new(), &model);
    let quiet_cost = solver.solve(&quiet, 1).unwrap().cost;
    let from_iad = solver.cost(&quiet, &set(&["iad"])).unwrap();
    let total: f64 = 5.0 * 3.0 + 4.0 * 300.0;
    let expected = (from_iad + 4.0 * quiet_cost) / total;
    assert!(
        (oracle.mean_rtt_ms.unwrap() - expected).abs() < 1e-9,
        "{:?} against {expected}",
        oracle.mean_rtt_ms
    );
    assert!(report.ratio_to_oracle.unwrap() > 1.0);
}

#[test]
fn the_oracle_at_equal_machine_hours_handles_a_single_busy_region() {
    let alone: Vec<&[(&str, f64)]> = vec![&[("fra", 5.0)]; 2];
    let trace = trace(&alone);
    let policy = timeline(&["fra"], &[&["fra"][..]; 2]);
    let model = LatencyModel::distance();
    let report = report(&trace, "p", &policy, &model, &QualityOptions::default()).unwrap();
    let oracle = report.rows.last().unwrap();
    assert_eq!(oracle.mean_regions, 1.0);
    assert_eq!(oracle.mean_rtt_ms, Some(0.0));
    assert_eq!(report.ratio_to_oracle, None, "no ratio to a zero RTT");
}

#[test]
fn the_oracle_at_equal_machine_hours_lives_under_the_start_up_rules() {
    // All traffic in syd; the policy starts from iad, deploys syd at once
    // and removes iad three ticks later.
    let busy: Vec<&[(&str, f64)]> = vec![&[("syd", 100.0)]; 8];
    let trace = trace(&busy);
    let mut after: Vec<&[&str]> = vec![&["iad", "syd"][..]; 3];
    after.extend(vec![&["syd"][..]; 5]);
    let policy = timeline(&["iad"], &after);
    let far = distance_ms("syd", "iad");
    let model = LatencyModel::distance();
    let late = QualityOptions {
        startup_ticks: 2,
        ..QualityOptions::default()
    };
    let report = report(&trace, "p", &policy, &model, &late).unwrap();
    let (mine, oracle) = (&report.rows[0], report.rows.last().unwrap());
    assert!((mine.mean_rtt_ms.unwrap() - 3.0 * far / 8.0).abs() < 1e-9);
    // Even in hindsight, syd deployed by tick 0's actions serves from tick
    // 3: ticks 0–2 are served from iad. It pays for syd from tick 1, while
    // it starts, and drops iad once syd serves: 10 region-ticks, one fewer
    // than the policy, which kept iad a tick longer.
    assert!(
        (oracle.mean_rtt_ms.unwrap() - 3.0 * far / 8.0).abs() < 1e-9,
        "{oracle:?}"
    );
    assert!(
        (oracle.machine_hours - 10.0 / 60.0).abs() < 1e-9,
        "{oracle:?}"
    );
    assert!((mine.machine_hours - 11.0 / 60.0).abs() < 1e-9);
    assert!((report.ratio_to_oracle.unwrap() - 1.0).abs() < 1e-9);
    // The row the best-static-K and oracle-K references give, starting at
    // once, is out of reach.
    assert_eq!(report.rows[4].mean_rtt_ms, Some(0.0));

    // Without start-up, syd serves from tick 1: only tick 0, served by the
    // initial set, is far.
    let report = super::report(&trace, "p", &policy, &model, &QualityOptions::default()).unwrap();
    let oracle = report.rows.last().unwrap();
    assert!(
        (oracle.mean_rtt_ms.unwrap() - far / 8.0).abs() < 1e-9,
        "{oracle:?}"
    );
}

#[test]
fn the_oracle_at_equal_machine_hours_can_be_left_out() {
    let busy: Vec<&[(&str, f64)]> = vec![&[("syd", 100.0), ("iad", 10.0)]; 3];
    let trace = trace(&busy);
    let policy = timeline(&["iad"], &[&["iad"][..]; 3]);
    let options = QualityOptions {
        oracle_equal_machine_hours: false,
        ..QualityOptions::default()
    };
    let model = LatencyModel::distance();
    let without = report(&trace, "p", &policy, &model, &options).unwrap();
    let with = report(&trace, "p", &policy, &model, &QualityOptions::default()).unwrap();
    assert_eq!(without.rows[..], with.rows[..5]);
    assert_eq!(with.rows.len(), 6);
    assert_eq!(without.ratio_to_oracle, None);
    assert!(with.ratio_to_oracle.is_some());
}

fn geo_codes(trace: &Trace) -> Vec<Region> {
    placer_core::network::geo::catalog()
        .iter()
        .map(|info| info.code)
        .chain(trace.regions())
        .collect()
}

fn arbitrary_case() -> impl Strategy<Value = (Trace, Timeline)> {
    let codes = ["iad", "fra", "syd", "gru", "nrt", "zzz"];
    let tick = (
        prop::collection::vec(0.0..500.0f64, codes.len()),
        prop::sample::subsequence(codes.to_vec(), 0..=4),
    );
    prop::collection::vec(tick, 1..40).prop_map(move |ticks| {
        let mut snapshots = Vec::new();
        let mut timeline = Timeline::new(set(&["iad"]));
        for (index, (counts, deployed)) in ticks.into_iter().enumerate() {
            let pairs = codes.iter().copied().zip(counts);
            snapshots.push(TrafficSnapshot::new(minute(index), pairs).unwrap());
            timeline.push_changes(set(&deployed));
        }
        (Trace::new(snapshots).unwrap(), timeline)
    })
}

proptest! {
    #[test]
    fn figures_stay_within_their_bounds((trace, timeline) in arbitrary_case()) {
        let row = row(&trace, &timeline);
        let mean = row.mean_rtt_ms.unwrap_or(0.0);
        let p95 = row.p95_rtt_ms.unwrap_or(0.0);
        prop_assert!((0.0..=UNSERVED_RTT_MS).contains(&mean));
        prop_assert!((0.0..=UNSERVED_RTT_MS).contains(&p95));
        let sizes: usize = (0..timeline.len()).map(|t| timeline.serving(t).len()).sum();
        let expected = sizes as f64 * trace.tick_interval().as_secs_f64() / 3600.0;
        prop_assert!((row.machine_hours - expected).abs() < 1e-9);
        prop_assert!(row.flaps <= row.actions);
        prop_assert!(row.shifts_served <= row.shifts);
        prop_assert!(row.mean_reaction_ticks.unwrap_or(0.0) <= row.max_reaction_ticks.unwrap_or(0) as f64);
    }

    #[test]
    fn startup_delay_never_lowers_latency_nor_changes_spend(
        (trace, timeline) in arbitrary_case(),
        startup in 1usize..6,
    ) {
        let (at_once, late) = (with_startup(&trace, &timeline, 0), with_startup(&trace, &timeline, startup));
        prop_assert_eq!(late.machine_hours, at_once.machine_hours);
        prop_assert_eq!(late.actions, at_once.actions);
        prop_assert_eq!(late.flaps, at_once.flaps);
        if let (Some(at_once), Some(late)) = (at_once.mean_rtt_ms, late.mean_rtt_ms) {
            prop_assert!(late >= at_once - 1e-9);
        }
    }

    #[test]
    fn deploying_more_never_raises_latency((trace, timeline) in arbitrary_case(), extra in 0usize..5) {
        let extra = ["iad", "fra", "syd", "gru", "nrt"][extra];
        let mut bigger = Timeline::new(&set(&[extra]) | timeline.initial());
        for deployed in timeline.after_ticks() {
            bigger.push_changes(&set(&[extra]) | deployed);
        }
        let (small, big) = (row(&trace, &timeline), row(&trace, &bigger));
        if let (Some(small), Some(big)) = (small.mean_rtt_ms, big.mean_rtt_ms) {
            prop_assert!(big <= small + 1e-9);
        }
        if let (Some(small), Some(big)) = (small.p95_rtt_ms, big.p95_rtt_ms) {
            prop_assert!(big <= small);
        }
    }
}

/// Each curve's ticks, weighted by their requests, add up to its row's
/// mean RTT; its region counts to the row's mean regions.
#[test]
fn the_curves_add_up_to_the_rows() {
    let trace = generate(
        Scenario::FollowTheSun,
        Duration::from_secs(6 * 3600),
        3,
        DEFAULT_STEP,
    )
    .unwrap();
    let n = trace.len();
    // Two regions for the first half, three for the second: K = 2.5. The
    // rows blend 2 and 3; the curves are asked for 3.
    let mut after: Vec<&[&str]> = vec![&["iad", "fra"][..]; n / 2];
    after.extend(vec![&["iad", "fra", "sin"][..]; n - n / 2]);
    let policy = timeline(&["iad", "fra"], &after);
    let model = LatencyModel::distance();
    let options = QualityOptions::default();
    let report = report(&trace, "policy", &policy, &model, &options).unwrap();
    let curves = series(&trace, "policy", &policy, &model, &options, 3).unwrap();
    let names: Vec<&str> = curves.iter().map(|c| c.policy.as_str()).collect();
    assert_eq!(
        names,
        [
            "policy",
            "static",
            "seed",
            "best-static-K",
            "oracle-K",
            "oracle-equal-mh"
        ]
    );
    for curve in &curves {
        assert_eq!(curve.mean_rtt_ms.len(), n);
        assert_eq!(curve.regions.len(), n);
    }
    let weighted_mean = |curve: &TickSeries| {
        let (mut sum, mut requests) = (0.0, 0.0);
        for (snapshot, rtt) in trace.ticks().iter().zip(&curve.mean_rtt_ms) {
            let r: f64 = snapshot.iter().map(|(_, v)| v).sum();
            if let Some(rtt) = rtt {
                sum += rtt * r;
                requests += r;
            }
        }
        sum / requests
    };
    // The policy, static and seed curves are the rows' own schedules.
    for (curve, row) in curves.iter().zip(&report.rows).take(3) {
        let mean = weighted_mean(curve);
        let expected = row.mean_rtt_ms.unwrap();
        assert!(
            (mean - expected).abs() < 1e-6 * expected.max(1.0),
            "{}: {mean} vs {expected}",
            curve.policy
        );
        let regions = curve.regions.iter().sum::<usize>() as f64 / n as f64;
        assert!(
            (regions - row.mean_regions).abs() < 1e-9,
            "{}",
            curve.policy
        );
    }
    assert_eq!(curves[0].regions[0], 2);
    assert_eq!(curves[0].regions[n - 1], 3);
    // The K-region references run exactly K = 3 regions at every tick, and
    // per-tick hindsight is never worse than one fixed pick.
    assert!(curves[3].regions.iter().all(|&r| r == 3));
    assert!(curves[4].regions.iter().all(|&r| r == 3));
    assert!(weighted_mean(&curves[4]) <= weighted_mean(&curves[3]) + 1e-9);
    // oracle-equal-mh's curve is its row's schedules, blended as the row.
    let oracle_row = report.rows.last().unwrap();
    assert_eq!(oracle_row.policy, "oracle-equal-mh");
    let (mean, expected) = (weighted_mean(&curves[5]), oracle_row.mean_rtt_ms.unwrap());
    assert!(
        (mean - expected).abs() < 1e-6 * expected.max(1.0),
        "oracle-equal-mh: {mean} vs {expected}"
    );
    let without = QualityOptions {
        oracle_equal_machine_hours: false,
        ..QualityOptions::default()
    };
    assert_eq!(
        series(&trace, "policy", &policy, &model, &without, 3)
            .unwrap()
            .len(),
        5
    );
    // With a start-up delay the policy's curve counts a new region from
    // when it serves, as its row does.
    let slow = QualityOptions {
        startup_ticks: 5,
        ..QualityOptions::default()
    };
    let slow_report = super::report(&trace, "policy", &policy, &model, &slow).unwrap();
    let slow_curves = series(&trace, "policy", &policy, &model, &slow, 3).unwrap();
    let expected = slow_report.rows[0].mean_rtt_ms.unwrap();
    assert!((weighted_mean(&slow_curves[0]) - expected).abs() < 1e-6 * expected.max(1.0));
    assert_ne!(slow_curves[0].mean_rtt_ms, curves[0].mean_rtt_ms);
    // A timeline of the wrong length is refused, as by the report.
    let short = timeline(&["iad"], &[&["iad"]]);
    assert!(series(&trace, "p", &short, &model, &options, 1).is_err());
}
