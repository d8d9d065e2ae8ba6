//! The policy's and the reference rows' figures tick by tick, for charts:
//! [`series`].

use serde::Serialize;

use placer_core::network::LatencyModel;

use super::metrics::Schedule;
use super::references::{self, BEST_STATIC_K, ORACLE_K, SEED, STATIC};
use super::{QualityError, QualityOptions};
use crate::{replay_seed_rule, Timeline, Trace};

/// One policy's figures, one entry per tick of the trace.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TickSeries {
    /// The policy, or the reference row's name.
    pub policy: String,
    /// The traffic-weighted mean RTT of the tick's requests, as the report
    /// defines it (`None` for a tick without requests).
    pub mean_rtt_ms: Vec<Option<f64>>,
    /// How many regions served the tick.
    pub regions: Vec<usize>,
}

/// The curves behind [`report`](super::report)'s rows: the policy named
/// `policy` (its decisions over `trace` are `timeline`), static, seed, and
/// best-static-K and oracle-K for a whole `k` (at least 1; the report's
/// rows blend two whole `K`s where a curve takes the nearest). The policy
/// and seed curves count [`QualityOptions::startup_ticks`] as the rows do.
/// oracle-equal-mh has no curve.
///
/// # Errors
/// [`QualityError::LengthMismatch`] unless the timeline has one entry per
/// tick of the trace.
pub fn series(
    trace: &Trace,
    policy: &str,
    timeline: &Timeline,
    model: &LatencyModel,
    options: &QualityOptions,
    k: usize,
) -> Result<Vec<TickSeries>, QualityError> {
    if timeline.len() != trace.len() {
        return Err(QualityError::LengthMismatch {
            trace: trace.len(),
            timeline: timeline.len(),
        });
    }
    let n = trace.len();
    let initial = timeline.initial();
    let seed = replay_seed_rule(trace, initial, &options.seed);
    let solver = references::solver(trace, model);
    let best = references::best_static(trace, &solver, k.max(1));
    let oracle = references::oracle_sets(trace, &solver, k.max(1));
    let schedules = [
        (
            policy,
            Schedule::from_timeline(timeline, options.startup_ticks),
        ),
        (
            STATIC,
            Schedule::counting_changes(initial, vec![initial; n]),
        ),
        (SEED, Schedule::from_timeline(&seed, options.startup_ticks)),
        (
            BEST_STATIC_K,
            Schedule::counting_changes(initial, vec![&best; n]),
        ),
        (
            ORACLE_K,
            Schedule::counting_changes(initial, oracle.iter().collect()),
        ),
    ];
    Ok(schedules
        .iter()
        .map(|(name, schedule)| TickSeries {
            policy: (*name).to_owned(),
            mean_rtt_ms: tick_rtts(schedule, trace, model),
            regions: schedule.serving.iter().map(|set| set.len()).collect(),
        })
        .collect())
}

/// Each tick's traffic-weighted mean RTT under the regions of its serving
/// set that had started.
fn tick_rtts(schedule: &Schedule<'_>, trace: &Trace, model: &LatencyModel) -> Vec<Option<f64>> {
    let table = schedule.rtt_table(trace, model);
    let mut out = Vec::with_capacity(trace.len());
    schedule.walk_rtts(&table, trace, |_, snapshot, rtts| {
        let (mut weighted, mut requests) = (0.0, 0.0);
        for (row, edge) in table.edges().iter().enumerate() {
            let r = snapshot.requests(edge);
            weighted += rtts[row] * r;
            requests += r;
        }
        out.push((requests > 0.0).then(|| weighted / requests));
    });
    out
}
