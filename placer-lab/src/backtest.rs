//! Replaying a [`Trace`] through the engine: the same tick code the service
//! runs, with an in-memory source and actuator and a simulated clock.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use placer_core::config::InvalidConfig;
use placer_core::forecast::WarmStart;
use placer_core::policy::PolicySummary;
use placer_core::{
    network::LatencyModel, Action, InMemoryActuator, MachineCount, Outcome, Placer, PlacerConfig,
    Region, RegionActuator, ScriptedSource, Timestamp, TrafficSnapshot,
};

use crate::quality::MachineTimeline;
use crate::{Timeline, Trace};

/// One tick of a replay, as written to a `--decisions` JSON Lines file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TickDecision {
    /// The tick's time.
    pub t: Timestamp,
    /// The regions deployed after the tick's actions, sorted.
    pub deployed: Vec<Region>,
    /// The tick's deploys and removes that were carried out.
    pub actions: Vec<DecidedAction>,
    /// The running machines of each deployed region after the tick, with
    /// a `machines:` section only (absent without, so the file is what it
    /// was before counts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machines: Option<BTreeMap<Region, u32>>,
    /// The tick's changes of count of regions that stayed deployed, carried
    /// out, with a `machines:` section only (absent without, like
    /// `machines`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resized: Option<Vec<DecidedResize>>,
}

/// A change of a deployed region's machine count carried out during a
/// replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecidedResize {
    /// The region.
    pub region: Region,
    /// Its machines before.
    pub from: MachineCount,
    /// Its machines after.
    pub to: MachineCount,
}

/// A deploy or remove carried out during a replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecidedAction {
    /// The region.
    pub region: Region,
    /// Deploy or remove.
    pub action: Action,
}

/// What a replay produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Replay {
    /// The deployed set after each tick, for the quality report.
    pub timeline: Timeline,
    /// The running machines per region before the first tick and after
    /// each tick, as the simulated deployment lists them
    /// ([`RegionActuator::deployment`]), for the report's capacity part.
    /// Standbys are left out: in a backtest they neither serve nor cost.
    pub machines: MachineTimeline,
    /// Each tick's decisions.
    pub decisions: Vec<TickDecision>,
    /// What the engine made of the history it was warm-started with
    /// ([`replay_after`]); `None` for a replay without one.
    pub warm_start: Option<WarmStart>,
    /// For each tick, how far the engine's forecast of that tick's traffic
    /// (made before it was observed) was off; `None` where it did not
    /// forecast.
    pub forecast_checks: Vec<Option<ForecastCheck>>,
    /// What the policy said about its state after the last tick (its
    /// region price in force and why, its machine budget).
    pub summary: PolicySummary,
}

/// How far the forecasts of one tick's traffic were off, over the regions
/// with traffic at that tick.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ForecastCheck {
    /// The sum over regions of |expected − observed| requests.
    pub absolute_error: f64,
    /// The requests observed.
    pub observed: f64,
}

/// The forecasts' error over `checks`: the absolute errors summed over
/// every forecast tick and region, as a share of the requests observed
/// there (the weighted absolute percentage error), with the number of
/// ticks forecast. `None` when no tick with traffic was forecast.
///
/// ```
/// use placer_lab::backtest::{forecast_error, ForecastCheck};
/// let checks = [
///     None,
///     Some(ForecastCheck { absolute_error: 10.0, observed: 100.0 }),
///     Some(ForecastCheck { absolute_error: 30.0, observed: 100.0 }),
/// ];
/// assert_eq!(forecast_error(&checks), Some((0.2, 2)));
/// ```
pub fn forecast_error(checks: &[Option<ForecastCheck>]) -> Option<(f64, usize)> {
    let forecast: Vec<&ForecastCheck> = checks.iter().flatten().collect();
    let observed: f64 = forecast.iter().map(|check| check.observed).sum();
    (observed > 0.0).then(|| {
        let error: f64 = forecast.iter().map(|check| check.absolute_error).sum();
        (error / observed, forecast.len())
    })
}

/// Replays `trace` from the `initial` deployment with `config`, calling
/// `progress` after each tick with the number of ticks done.
///
/// Every tick goes through [`Placer::tick`]; the in-memory actuator is a
/// simulation, so the plan is carried out whatever `dry_run` says. Nothing
/// sleeps: the clock is the trace's timestamps.
///
/// ```
/// # futures::executor::block_on(async {
/// use placer_core::{PlacerConfig, Region};
/// use placer_lab::{backtest, scenario};
/// use std::time::Duration;
///
/// let trace = scenario::generate(
///     scenario::Scenario::SteadyHighUndeployed,
///     Duration::from_secs(3600),
///     7,
///     scenario::DEFAULT_STEP,
/// )
/// .unwrap();
/// let initial = ["iad".parse::<Region>().unwrap()].into();
/// let replay = backtest::replay(&PlacerConfig::default(), &trace, &initial, |_| {}).await.unwrap();
/// assert_eq!(replay.decisions.len(), trace.len());
/// # });
/// ```
///
/// # Errors
/// [`InvalidConfig`] when `config` breaks a rule.
pub async fn replay(
    config: &PlacerConfig,
    trace: &Trace,
    initial: &BTreeSet<Region>,
    progress: impl FnMut(usize),
) -> Result<Replay, InvalidConfig> {
    replay_with_model(config, &LatencyModel::distance(), trace, initial, progress).await
}

/// Like [`replay`], with `model` as the latency policy's round-trip times
/// (see [`Placer::set_latency_model`]), e.g. a measured matrix, so the
/// policy decides on the same figures the quality report judges it by.
///
/// # Errors
/// [`InvalidConfig`] when `config` breaks a rule.
pub async fn replay_with_model(
    config: &PlacerConfig,
    model: &LatencyModel,
    trace: &Trace,
    initial: &BTreeSet<Region>,
    progress: impl FnMut(usize),
) -> Result<Replay, InvalidConfig> {
    replay_after(config, model, None, trace, initial, progress).await
}

/// Like [`replay_with_model`], after a [warm start](Placer::warm_start)
/// of the forecaster from `history` (the traffic before the trace, as the
/// service backfills it from Prometheus at start): the replay then shows
/// what a placer that knew the earlier weeks would do.
///
/// ```
/// # futures::executor::block_on(async {
/// use placer_core::policy::PolicyName;
/// use placer_core::{network::LatencyModel, PlacerConfig, Region};
/// use placer_lab::{backtest, scenario};
/// use std::time::Duration;
///
/// let weeks = scenario::generate(
///     scenario::Scenario::BusinessHours,
///     Duration::from_secs(8 * 24 * 3600),
///     7,
///     Duration::from_secs(600),
/// )
/// .unwrap();
/// let (history, rest) = weeks.ticks().split_at(weeks.len() * 7 / 8);
/// let trace = placer_lab::Trace::new(rest.to_vec()).unwrap();
/// let initial = ["iad".parse::<Region>().unwrap()].into();
/// // The latency policy plans with forecasts.
/// let config = PlacerConfig::default().with_policy(PolicyName::LATENCY);
/// let model = LatencyModel::distance();
/// let replay = backtest::replay_after(&config, &model, Some(history), &trace, &initial, |_| {})
///     .await
///     .unwrap();
/// assert!(replay.warm_start.unwrap().status.is_forecasting());
/// # });
/// ```
///
/// # Errors
/// [`InvalidConfig`] when `config` breaks a rule.
pub async fn replay_after(
    config: &PlacerConfig,
    model: &LatencyModel,
    history: Option<&[TrafficSnapshot]>,
    trace: &Trace,
    initial: &BTreeSet<Region>,
    mut progress: impl FnMut(usize),
) -> Result<Replay, InvalidConfig> {
    let mut placer = Placer::new(config.clone())?;
    placer.set_latency_model(model.clone());
    let warm_start = history.map(|history| placer.warm_start(history));
    let actuator = InMemoryActuator::new(initial.iter().copied());
    let source = ScriptedSource::new();
    let mut timeline = Timeline::new(initial.clone());
    let mut machines = MachineTimeline::new(running(&actuator).await);
    let mut decisions = Vec::with_capacity(trace.len());
    let mut forecast_checks = Vec::with_capacity(trace.len());
    for (index, snapshot) in trace.ticks().iter().enumerate() {
        let now = snapshot.at();
        forecast_checks.push(check_forecast(&placer, snapshot));
        source.push(snapshot.clone());
        let report = placer.tick(&source, &actuator, now).await;
        let deployed = actuator.regions();
        timeline.push(deployed.clone(), report.actions.len());
        let running = running(&actuator).await;
        let machines_now = placer.sizes_machines().then(|| running.clone());
        machines.push(running);
        decisions.push(TickDecision {
            t: now,
            deployed: deployed.into_iter().collect(),
            actions: report
                .actions
                .iter()
                .filter(|a| a.outcome == Outcome::Ok)
                .map(|a| DecidedAction {
                    region: a.decision.region,
                    action: a.decision.action.into(),
                })
                .collect(),
            machines: machines_now,
            resized: report.resized.as_ref().map(|resized| {
                resized
                    .iter()
                    .filter(|r| r.outcome == Outcome::Ok)
                    .map(|r| DecidedResize {
                        region: r.region,
                        from: r.from,
                        to: r.to,
                    })
                    .collect()
            }),
        });
        progress(index + 1);
    }
    Ok(Replay {
        timeline,
        machines,
        decisions,
        warm_start,
        forecast_checks,
        summary: placer.policy_summary(),
    })
}

/// The running machines per region of the simulated deployment.
async fn running(actuator: &InMemoryActuator) -> BTreeMap<Region, u32> {
    actuator
        .deployment()
        .await
        .expect("the in-memory deployment always lists")
        .into_iter()
        .map(|(region, count)| (region, count.running))
        .filter(|(_, running)| *running > 0)
        .collect()
}

/// The engine's forecast of `snapshot`'s traffic, asked before the engine
/// sees it, against what it was.
fn check_forecast(placer: &Placer, snapshot: &TrafficSnapshot) -> Option<ForecastCheck> {
    let forecast = placer.state().forecast();
    if !forecast.status().is_forecasting() {
        return None;
    }
    let at = snapshot.at();
    let mut check = ForecastCheck {
        absolute_error: 0.0,
        observed: 0.0,
    };
    for (region, observed) in snapshot.iter() {
        let expected = forecast.peak(region, at, at).map_or(0.0, |f| f.expected);
        check.absolute_error += (expected - observed).abs();
        check.observed += observed;
    }
    Some(check)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures::executor::block_on;

    use super::*;
    use placer_core::policy::PolicyName;
    use placer_core::TrafficSnapshot;

    /// Ten minutes of steady traffic entering at `syd` only.
    fn sydney_trace() -> Trace {
        let start = Timestamp::from_unix_seconds(1_800_000_000);
        let ticks = (0..10)
            .map(|i| {
                TrafficSnapshot::new(start + Duration::from_secs(60 * i), [("syd", 200.0)]).unwrap()
            })
            .collect();
        Trace::new(ticks).unwrap()
    }

    fn final_set(replay: &Replay) -> Vec<Region> {
        replay.decisions.last().unwrap().deployed.clone()
    }

    #[test]
    fn forecasts_are_checked_against_each_tick_once_the_engine_forecasts() {
        let hour = Duration::from_secs(3600);
        let weeks = crate::scenario::generate(
            crate::scenario::Scenario::BusinessHours,
            9 * 24 * hour,
            3,
            hour / 6,
        )
        .unwrap();
        let initial = BTreeSet::from(["iad".parse().unwrap()]);
        let latency = PlacerConfig::default().with_policy(PolicyName::LATENCY);
        let forecast = block_on(replay(&latency, &weeks, &initial, |_| {})).unwrap();
        assert_eq!(forecast.forecast_checks.len(), weeks.len());
        // Nothing is forecast before `forecast.min_history` (a week) is seen.
        let first = forecast
            .forecast_checks
            .iter()
            .position(Option::is_some)
            .unwrap();
        let week_of_ticks = 7 * 24 * 6;
        assert!(
            (week_of_ticks - 1..=week_of_ticks + 1).contains(&first),
            "{first}"
        );
        assert!(forecast.forecast_checks[first..]
            .iter()
            .all(Option::is_some));
        let (error, ticks) = forecast_error(&forecast.forecast_checks).unwrap();
        assert_eq!(ticks, weeks.len() - first);
        // Business hours repeat week by week (with noise): the second
        // week's forecasts are close, far from the 100 % of forecasting 0.
        assert!(error > 0.0 && error < 0.5, "{error}");

        // The threshold policy plans without forecasts: nothing to check.
        let threshold =
            block_on(replay(&PlacerConfig::default(), &weeks, &initial, |_| {})).unwrap();
        assert!(threshold.forecast_checks.iter().all(Option::is_none));
        assert_eq!(forecast_error(&threshold.forecast_checks), None);
    }

    #[test]
    fn without_machine_counts_the_replay_runs_one_machine_per_deployed_region() {
        let config = PlacerConfig::default().with_policy(PolicyName::LATENCY);
        let initial = BTreeSet::from(["iad".parse().unwrap()]);
        let replay = block_on(replay(&config, &sydney_trace(), &initial, |_| {})).unwrap();
        assert!(final_set(&replay).contains(&"syd".parse().unwrap()));
        assert_eq!(
            replay.machines,
            MachineTimeline::one_per_region(&replay.timeline)
        );
    }

    #[test]
    fn the_latency_policy_decides_on_the_model_it_is_given() {
        let mut config = PlacerConfig::default();
        config.policy = PolicyName::LATENCY;
        let iad: Region = "iad".parse().unwrap();
        let initial = BTreeSet::from([iad]);
        let trace = sydney_trace();

        let by_distance = block_on(replay(&config, &trace, &initial, |_| {})).unwrap();
        assert!(
            final_set(&by_distance).contains(&"syd".parse().unwrap()),
            "{:?}",
            by_distance.decisions
        );

        // Measured as no farther than syd itself: nothing is worth changing.
        let near = LatencyModel::from_measured_json(r#"{"syd": {"iad": 0}}"#).unwrap();
        let by_matrix =
            block_on(replay_with_model(&config, &near, &trace, &initial, |_| {})).unwrap();
        assert_eq!(final_set(&by_matrix), vec![iad]);
        assert!(by_matrix.decisions.iter().all(|d| d.actions.is_empty()));
    }

    #[test]
    fn decisions_carry_running_machines_with_a_machines_section_only() {
        let iad: Region = "iad".parse().unwrap();
        let initial = BTreeSet::from([iad]);
        let start = Timestamp::from_unix_seconds(1_800_000_000);
        let ticks = (0..3)
            .map(|i| {
                TrafficSnapshot::new(start + Duration::from_secs(60 * i), [("iad", 300.0)]).unwrap()
            })
            .collect();
        let trace = Trace::new(ticks).unwrap();
        let plain = block_on(replay(&PlacerConfig::default(), &trace, &initial, |_| {})).unwrap();
        assert!(plain.decisions.iter().all(|d| d.machines.is_none()));
        let line = serde_json::to_string(&plain.decisions[0]).unwrap();
        assert!(!line.contains("machines"), "{line}");
        assert!(!line.contains("resized"), "{line}");

        let mut config = PlacerConfig::default();
        config.policy_settings.set(
            &placer_core::config::MachinesSettings::default()
                .with_requests_per_machine(Some(100.0)),
        );
        let sized = block_on(replay(&config, &trace, &initial, |_| {})).unwrap();
        // 300 × 1.2 / 100 = 3.6: four machines, three started at the first tick.
        let first = sized.decisions[0].machines.clone().unwrap();
        assert_eq!(first, BTreeMap::from([(iad, 4)]));
        let line = serde_json::to_string(&sized.decisions[0]).unwrap();
        // The change of count is listed as what it is, not as a deploy.
        assert!(sized.decisions[0].actions.is_empty());
        assert!(
            line.ends_with(
                r#""machines":{"iad":4},"resized":[{"region":"iad","from":{"running":1,"standby":0},"to":{"running":4,"standby":0}}]}"#
            ),
            "{line}"
        );
        assert_eq!(sized.decisions[1].resized, Some(Vec::new()));
    }
}
