//! A bot that drives the public steps (observe, decide, execute, commit)
//! gets exactly what `Placer::tick` gets: the same plans, outcomes, reports
//! and state, tick after tick, while the actuator refuses regions for lack
//! of capacity, fails transiently and refuses a removal.

use std::collections::BTreeSet;
use std::time::Duration;

use futures::executor::block_on;
use placer_core::policy::PolicyName;
use placer_core::{
    ActuatorError, InMemoryActuator, Outcome, Placer, PlacerConfig, Region, RegionActuator,
    ScriptedSource, TickReport, Timestamp, TrafficSnapshot,
};

const STEP: Duration = Duration::from_secs(60);
const TICKS_PER_DAY: usize = 24 * 60;
const DAYS: usize = 4;

fn r(code: &str) -> Region {
    code.parse().unwrap()
}

fn start() -> Timestamp {
    Timestamp::from_unix_seconds(1_800_000_000)
}

/// A small deterministic generator, so the trace is the same on every run.
struct Lcg(u64);

impl Lcg {
    /// A number in `[0, 1)`.
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// How much of the day's main traffic sits in `region` at `tick`: iad on
/// day 0, nrt on day 1, fra from day 2 on, each move ramping over two hours.
fn share(region: &str, tick: usize) -> f64 {
    let leaders = ["iad", "nrt", "fra", "fra"];
    let day = tick / TICKS_PER_DAY;
    let into_day = tick % TICKS_PER_DAY;
    let ramp = (into_day as f64 / 120.0).min(1.0);
    let today = leaders[day.min(leaders.len() - 1)];
    let yesterday = leaders[day.saturating_sub(1)];
    let mut share = 0.0;
    if region == today {
        share += if day == 0 { 1.0 } else { ramp };
    }
    if region == yesterday && day > 0 {
        share += 1.0 - ramp;
    }
    share
}

/// Traffic moving iad → nrt → fra over the days, with a daily swing,
/// noise and a little background elsewhere.
fn trace() -> Vec<TrafficSnapshot> {
    let mut noise = Lcg(23);
    (0..DAYS * TICKS_PER_DAY)
        .map(|tick| {
            let at = start() + STEP * tick as u32;
            let hour = (tick % TICKS_PER_DAY) as f64 / 60.0;
            let daily = 1.0 + 0.3 * (hour / 24.0 * std::f64::consts::TAU).sin();
            let traffic: Vec<(&str, f64)> = [
                ("iad", 8.0),
                ("nrt", 4.0),
                ("fra", 6.0),
                ("syd", 3.0),
                ("lhr", 5.0),
                ("sin", 2.0),
            ]
            .into_iter()
            .map(|(region, background)| {
                let main = 150.0 * share(region, tick) * daily;
                let value = (main + background) * (0.9 + 0.2 * noise.next());
                (region, value.round())
            })
            .collect();
            TrafficSnapshot::new(at, traffic).unwrap()
        })
        .collect()
}

/// What the actuator is made to refuse, before the tick of the given index.
fn refusals_before(tick: usize, actuator: &InMemoryActuator) {
    let full = |code: &str, times: u32| {
        let region = r(code);
        actuator.refuse_region(
            region,
            times,
            ActuatorError::region_unavailable("test", &region, "HTTP 422: insufficient capacity"),
        );
    };
    if tick == TICKS_PER_DAY - 12 {
        full("nrt", 3);
        full("syd", 2);
    }
    if tick == TICKS_PER_DAY + 100 {
        actuator.refuse_region(
            r("sin"),
            1,
            ActuatorError::transient_failure("test", Some(&r("sin")), "timed out"),
        );
    }
    if tick == 2 * TICKS_PER_DAY - 12 {
        full("fra", 2);
        actuator.refuse_region(
            r("iad"),
            1,
            ActuatorError::refused(&r("iad"), "runs machines the placer did not create"),
        );
    }
}

/// Every tick's report, driving `tick`, and the engine at the end.
fn through_tick(config: &PlacerConfig, deployed: &[&str]) -> (Vec<TickReport>, Placer) {
    let mut placer = Placer::new(config.clone()).unwrap();
    let actuator = InMemoryActuator::new(deployed.iter().map(|code| r(code)));
    let mut reports = Vec::new();
    for (tick, snapshot) in trace().into_iter().enumerate() {
        refusals_before(tick, &actuator);
        let at = snapshot.at();
        let source = ScriptedSource::from_snapshots([snapshot]);
        reports.push(block_on(placer.tick(&source, &actuator, at)));
    }
    (reports, placer)
}

/// The same, a bot driving the public steps itself.
fn through_steps(config: &PlacerConfig, deployed: &[&str]) -> (Vec<TickReport>, Placer) {
    let mut placer = Placer::new(config.clone()).unwrap();
    let actuator = InMemoryActuator::new(deployed.iter().map(|code| r(code)));
    let mut reports = Vec::new();
    for (tick, snapshot) in trace().into_iter().enumerate() {
        refusals_before(tick, &actuator);
        placer.observe(&snapshot);
        let now = snapshot.at();
        let deployed: BTreeSet<Region> = block_on(actuator.deployed_regions()).unwrap();
        let plan = placer.decide(&deployed, now);
        let execution = block_on(placer.execute(&plan, &actuator));
        let attempted: Vec<_> = execution.actions.iter().map(|a| &a.decision).collect();
        assert!(attempted
            .iter()
            .all(|decision| plan.actions.contains(decision)));
        reports.push(placer.commit(plan, execution));
    }
    (reports, placer)
}

/// Replays the trace both ways and compares every tick; returns the
/// reports for the caller's own checks.
fn replay_both_ways(config: PlacerConfig) -> Vec<TickReport> {
    let deployed = ["iad", "lhr"];
    let (by_tick, ticked) = through_tick(&config, &deployed);
    let (by_steps, stepped) = through_steps(&config, &deployed);
    assert_eq!(by_tick.len(), by_steps.len());
    for (tick, (ticked, stepped)) in by_tick.iter().zip(&by_steps).enumerate() {
        assert_eq!(ticked, stepped, "tick {tick} differs");
    }
    assert_eq!(ticked.state(), stepped.state());
    assert_eq!(ticked.state().to_json(), stepped.state().to_json());
    by_tick
}

fn deploy_failures(reports: &[TickReport], code: &str) -> usize {
    reports
        .iter()
        .flat_map(|report| &report.actions)
        .filter(|action| action.decision.region == r(code))
        .filter(|action| {
            matches!(&action.outcome, Outcome::Failed(err) if err.unavailable_region().is_some())
        })
        .count()
}

/// The replay did meet what it is meant to test: regions refused for
/// capacity (and then backed off from, not retried every tick), and
/// traffic that moved the deployment along.
fn check_the_trace_was_eventful(reports: &[TickReport]) {
    let refused: usize = ["nrt", "syd", "fra"]
        .iter()
        .map(|code| deploy_failures(reports, code))
        .sum();
    assert!(refused >= 2, "{refused} capacity refusals met");
    // The tick after a refusal does not ask for the region again.
    for (tick, pair) in reports.windows(2).enumerate() {
        for action in &pair[0].actions {
            let Outcome::Failed(err) = &action.outcome else {
                continue;
            };
            if err.unavailable_region().is_some() {
                let region = action.decision.region;
                let again = pair[1].actions.iter().any(|a| a.decision.region == region);
                assert!(!again, "{region} asked for again at tick {}", tick + 1);
            }
        }
    }
    let last = reports.last().unwrap();
    assert!(last.updated_deployment.contains(&r("fra")), "{last:?}");
    assert!(last.updated_deployment.len() >= 2);
    assert!(reports.iter().all(|report| report.is_ok()));
    assert!(reports
        .iter()
        .any(|report| report
            .actions
            .iter()
            .any(|action| action.decision.region == r("nrt") && action.outcome == Outcome::Ok)));
}

fn live() -> PlacerConfig {
    PlacerConfig::default()
        .with_dry_run(false)
        .with_min_regions(2)
}

#[test]
fn the_threshold_policy_decides_the_same_through_tick_and_through_the_steps() {
    let reports = replay_both_ways(live());
    check_the_trace_was_eventful(&reports);
}

#[test]
fn the_latency_policy_decides_the_same_through_tick_and_through_the_steps() {
    let reports = replay_both_ways(live().with_policy(PolicyName::LATENCY));
    check_the_trace_was_eventful(&reports);
}
