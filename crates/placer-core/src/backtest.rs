//! Replaying a [`Trace`] through the engine: the same tick code the service
//! runs, with an in-memory source and actuator and a simulated clock.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::config::InvalidConfig;
use crate::report::Outcome;
use crate::{
    Action, InMemoryActuator, Placer, PlacerConfig, Region, ScriptedSource, Timeline, Timestamp,
    Trace,
};

/// One tick of a replay, as written to a `--decisions` JSON Lines file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TickDecision {
    /// The tick's time.
    pub t: Timestamp,
    /// The regions deployed after the tick's actions, sorted.
    pub deployed: Vec<Region>,
    /// The tick's deploys and removes that were carried out.
    pub actions: Vec<DecidedAction>,
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
    /// Each tick's decisions.
    pub decisions: Vec<TickDecision>,
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
/// use placer_core::{backtest, scenario, PlacerConfig, Region};
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
    mut progress: impl FnMut(usize),
) -> Result<Replay, InvalidConfig> {
    let mut placer = Placer::new(config.clone())?;
    let actuator = InMemoryActuator::new(initial.iter().copied());
    let source = ScriptedSource::new();
    let mut timeline = Timeline::new(initial.clone());
    let mut decisions = Vec::with_capacity(trace.len());
    for (index, snapshot) in trace.ticks().iter().enumerate() {
        let now = snapshot.at();
        source.push(snapshot.clone());
        let report = placer.tick(&source, &actuator, now).await;
        let deployed = actuator.regions();
        timeline.push(deployed.clone(), report.actions.len());
        decisions.push(TickDecision {
            t: now,
            deployed: deployed.into_iter().collect(),
            actions: report
                .actions
                .iter()
                .filter(|a| a.outcome == Outcome::Ok)
                .map(|a| DecidedAction {
                    region: a.region,
                    action: a.action,
                })
                .collect(),
        });
        progress(index + 1);
    }
    Ok(Replay {
        timeline,
        decisions,
    })
}
