//! The latency policy's targets, measured with the backtest report on every
//! generated scenario (24 hours, seed 42, one-minute ticks, starting from
//! `iad`).

use std::collections::BTreeSet;
use std::time::Duration;

use futures::executor::block_on;
use placer_core::policy::{LatencySettings, MachineBudget, PolicyName};
use placer_core::{network::LatencyModel, PlacerConfig, Region};
use placer_lab::quality::{self, QualityOptions};
use placer_lab::scenario::{self, Scenario};
use placer_lab::{backtest, QualityReport, Timeline, Trace};

fn trace(scenario: Scenario) -> Trace {
    trace_with_seed(scenario, 42)
}

fn trace_with_seed(scenario: Scenario, seed: u64) -> Trace {
    scenario::generate(
        scenario,
        Duration::from_secs(24 * 3600),
        seed,
        scenario::DEFAULT_STEP,
    )
    .unwrap()
}

fn latency_report(trace: &Trace, region_cost_ms: f64) -> QualityReport {
    budgeted_report(trace, region_cost_ms, None)
}

/// The report of a latency-policy run with `budget` machine-hours over the
/// whole trace: one period that covers exactly the intervals the report
/// counts (the one before each tick).
fn budgeted_report(trace: &Trace, region_cost_ms: f64, budget: Option<f64>) -> QualityReport {
    budgeted_report_with(trace, region_cost_ms, budget, QualityOptions::default())
}

/// [`budgeted_report`] without the oracle at equal machine-hours, for the
/// searches that run many reports and read only the policy and seed rows.
fn quick_report(trace: &Trace, region_cost_ms: f64, budget: Option<f64>) -> QualityReport {
    let options = QualityOptions {
        oracle_equal_machine_hours: false,
        ..QualityOptions::default()
    };
    budgeted_report_with(trace, region_cost_ms, budget, options)
}

fn budgeted_report_with(
    trace: &Trace,
    region_cost_ms: f64,
    budget: Option<f64>,
    options: QualityOptions,
) -> QualityReport {
    let mut config = PlacerConfig::default().with_policy(PolicyName::LATENCY);
    let budget = budget.map(|machine_hours| {
        MachineBudget::new(machine_hours)
            .with_period(trace.tick_interval() * trace.len() as u32)
            .with_starts(trace.ticks()[0].at() - trace.tick_interval())
    });
    config.policy_settings.set(
        &LatencySettings::default()
            .with_region_cost_ms(region_cost_ms)
            .with_budget(budget),
    );
    judged(trace, &replay_from_iad(&config, trace), &options)
}

/// `config` replayed over `trace` from `iad`.
fn replay_from_iad(config: &PlacerConfig, trace: &Trace) -> Timeline {
    let initial: BTreeSet<Region> = ["iad".parse().unwrap()].into();
    block_on(backtest::replay(config, trace, &initial, |_| {}))
        .unwrap()
        .timeline
}

/// The quality report of the latency policy's `timeline` over `trace`.
fn judged(trace: &Trace, timeline: &Timeline, options: &QualityOptions) -> QualityReport {
    quality::report(
        trace,
        "latency",
        timeline,
        &LatencyModel::distance(),
        options,
    )
    .unwrap()
}

fn rtt(report: &QualityReport, row: usize) -> f64 {
    report.rows[row].mean_rtt_ms.unwrap()
}

const POLICY: usize = 0;
const SEED: usize = 2;
const BEST_STATIC_K: usize = 3;
const ORACLE_K: usize = 4;

#[test]
fn default_latency_policy_meets_its_targets_on_every_scenario() {
    let default_cost = LatencySettings::default().region_cost_ms;
    for scenario in Scenario::DAILY {
        let report = latency_report(&trace(scenario), default_cost);
        let hindsight = rtt(&report, BEST_STATIC_K).min(rtt(&report, ORACLE_K));
        let ours = rtt(&report, POLICY);
        assert!(
            ours <= 1.15 * hindsight,
            "{scenario}: mean RTT {ours:.2} ms is more than 15 % above hindsight {hindsight:.2} ms\n{report}"
        );
        let row = &report.rows[POLICY];
        if scenario == Scenario::NoisySteady {
            assert_eq!(row.flaps, 0, "{scenario} flapped\n{report}");
        }
        if scenario == Scenario::SteadyHighUndeployed {
            assert_eq!(row.shifts_served, row.shifts, "{report}");
            assert!(row.max_reaction_ticks.unwrap() <= 10, "{report}");
        }
    }
}

/// The targets are set on seed 42; on other draws of the same scenarios the
/// default policy stays within 15 % of the best static set of its size and
/// never flaps. (The per-tick oracle is left out here: on noisy-steady it
/// follows 40 % noise with thousands of moves no real policy can match.)
#[test]
fn on_other_seeds_the_default_policy_stays_near_the_best_static_set() {
    let default_cost = LatencySettings::default().region_cost_ms;
    for seed in 1..=4 {
        for scenario in Scenario::DAILY {
            let report = quick_report(&trace_with_seed(scenario, seed), default_cost, None);
            let ours = rtt(&report, POLICY);
            let best_static = rtt(&report, BEST_STATIC_K);
            assert!(
                ours <= 1.15 * best_static,
                "{scenario}, seed {seed}: {ours:.2} ms against best-static-K {best_static:.2} ms\n{report}"
            );
            assert_eq!(
                report.rows[POLICY].flaps, 0,
                "{scenario}, seed {seed}\n{report}"
            );
        }
    }
}

/// The region cost of a budgeted run: low, so the budget decides how many
/// regions run and the policy where they go.
const BUDGETED_REGION_COST_MS: f64 = 1.0;

/// At the seed's machine-hours, the latency policy has a lower mean RTT
/// than the seed rule, set either way a user would aim it at a spend:
/// a region cost found by bisection (the cheapest whose machine-hours fit),
/// or the seed's machine-hours as its budget.
#[test]
fn at_the_seeds_machine_hours_the_latency_policy_has_lower_rtt() {
    for scenario in Scenario::DAILY {
        let trace = trace(scenario);
        let reference = quick_report(&trace, 5.0, None);
        let (seed_hours, seed_rtt) = (reference.rows[SEED].machine_hours, rtt(&reference, SEED));

        // The cheapest region cost whose machine-hours fit the seed's, by
        // bisection on a log scale (more cost, fewer regions).
        let (mut low, mut high) = (0.1f64, 1000.0f64);
        let mut priced = None;
        for _ in 0..10 {
            let cost = (low * high).sqrt();
            let report = quick_report(&trace, cost, None);
            if report.rows[POLICY].machine_hours <= seed_hours {
                priced = Some(report);
                high = cost;
            } else {
                low = cost;
            }
        }
        let priced = priced.expect("one region always fits the seed's budget");

        let budgeted = quick_report(&trace, BUDGETED_REGION_COST_MS, Some(seed_hours));
        assert!(
            budgeted.rows[POLICY].machine_hours <= seed_hours + 1e-9,
            "{scenario}: the budgeted run spent more than its budget\n{budgeted}"
        );

        let best = [&priced, &budgeted]
            .into_iter()
            .map(|report| rtt(report, POLICY))
            .fold(f64::INFINITY, f64::min);
        assert!(
            best < seed_rtt,
            "{scenario}: {best:.3} ms against the seed's {seed_rtt:.3} ms at {seed_hours:.2} machine-hours\npriced:\n{priced}\nbudgeted:\n{budgeted}"
        );
    }
}

/// On a week of business hours, with three ticks of machine start-up: the
/// default latency policy (with its absolute floor under a region's price)
/// runs fewer machines on the quiet weekend than at weekday peaks, and its
/// mean RTT is within 10 % of the oracle at equal machine-hours.
#[test]
fn on_business_hours_machine_count_follows_volume() {
    let trace = scenario::generate(
        Scenario::BusinessHours,
        Duration::from_secs(7 * 24 * 3600),
        42,
        scenario::DEFAULT_STEP,
    )
    .unwrap();
    let config = PlacerConfig::default().with_policy(PolicyName::LATENCY);
    let timeline = replay_from_iad(&config, &trace);
    let sizes: Vec<usize> = timeline.after_ticks().iter().map(BTreeSet::len).collect();
    let day = 24 * 60;
    // Saturday and Sunday after the last office (sjc, UTC−8) has closed.
    let weekend = &sizes[5 * day + 10 * 60..];
    let weekend_mean = weekend.iter().sum::<usize>() as f64 / weekend.len() as f64;
    // Tuesday 13:00–16:00 UTC: London, Frankfurt and the Americas at work.
    let peak = &sizes[day + 13 * 60..day + 16 * 60];
    let peak_mean = peak.iter().sum::<usize>() as f64 / peak.len() as f64;
    assert!(
        weekend_mean < peak_mean,
        "weekend {weekend_mean:.2} machines against {peak_mean:.2} at the weekday peak"
    );
    let options = QualityOptions {
        startup_ticks: 3,
        ..QualityOptions::default()
    };
    let report = judged(&trace, &timeline, &options);
    let ratio = report.ratio_to_oracle.unwrap();
    assert!(
        ratio <= 1.10,
        "{ratio:.3} × the oracle at equal machine-hours\n{report}"
    );
    assert_eq!(report.rows[POLICY].flaps, 0, "{report}");
}

/// On a week of business hours with three ticks of start-up, the latency
/// policy priced to fit the seed rule's machine-hours (an absolute floor of
/// 4000 request-milliseconds) has a lower mean RTT than the seed at them.
#[test]
fn on_business_hours_the_latency_policy_beats_the_seed_at_its_machine_hours() {
    let trace = scenario::generate(
        Scenario::BusinessHours,
        Duration::from_secs(7 * 24 * 3600),
        42,
        scenario::DEFAULT_STEP,
    )
    .unwrap();
    let mut config = PlacerConfig::default().with_policy(PolicyName::LATENCY);
    config
        .policy_settings
        .set(&LatencySettings::default().with_min_region_saving(4000.0));
    let timeline = replay_from_iad(&config, &trace);
    let options = QualityOptions {
        startup_ticks: 3,
        oracle_equal_machine_hours: false,
        ..QualityOptions::default()
    };
    let report = judged(&trace, &timeline, &options);
    let (ours, seed) = (&report.rows[POLICY], &report.rows[SEED]);
    assert!(ours.machine_hours <= seed.machine_hours, "{report}");
    assert!(rtt(&report, POLICY) < rtt(&report, SEED), "{report}");
}

/// With three ticks of machine start-up (`backtest --startup-ticks 3`,
/// which the replayed engine also plans with as its `machine_startup`), on
/// the daily scenarios whose traffic does not repeat, the latency policy's
/// mean RTT is within 10 % of the oracle at equal machine-hours, which
/// lives with the same start-up, and it never flaps. (follow-the-sun and
/// the weekly scenarios are in BENCHMARKS.md, where forecasting changes
/// them.)
#[test]
fn with_start_up_the_policy_is_within_10_percent_of_the_oracle_at_equal_machine_hours() {
    let startup_ticks = 3;
    for scenario in [
        Scenario::FlashCrowd,
        Scenario::NoisySteady,
        Scenario::RegionShift,
        Scenario::SteadyHighUndeployed,
        Scenario::LongTail,
    ] {
        let trace = trace(scenario);
        let mut config = PlacerConfig::default().with_policy(PolicyName::LATENCY);
        config.machine_startup = trace.tick_interval() * startup_ticks;
        let timeline = replay_from_iad(&config, &trace);
        let options = QualityOptions {
            startup_ticks: startup_ticks as usize,
            ..QualityOptions::default()
        };
        let report = judged(&trace, &timeline, &options);
        let ratio = report.ratio_to_oracle.unwrap();
        assert!(
            ratio <= 1.10,
            "{scenario}: {ratio:.3} × the oracle at equal machine-hours\n{report}"
        );
        assert_eq!(report.rows[POLICY].flaps, 0, "{scenario}\n{report}");
    }
}
