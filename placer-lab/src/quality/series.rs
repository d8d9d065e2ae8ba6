//! The policy's and the reference rows' figures tick by tick, for charts:
//! [`series`].

use serde::Serialize;

use placer_core::network::LatencyModel;

use super::metrics::Schedule;
use super::references::{self, BEST_STATIC_K, ORACLE_K, ORACLE_MH, SEED, STATIC};
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
/// Last comes oracle-equal-mh, when the options ask for its row
/// ([`QualityOptions::oracle_equal_machine_hours`]): its two schedules
/// blended tick by tick as the row blends them, so that its curve weighted
/// by each tick's requests is the row's mean RTT.
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
    let mut curves: Vec<TickSeries> = schedules
        .iter()
        .map(|(name, schedule)| TickSeries {
            policy: (*name).to_owned(),
            mean_rtt_ms: tick_rtts(schedule, trace, model),
            regions: schedule.serving.iter().map(|set| set.len()).collect(),
        })
        .collect();
    if options.oracle_equal_machine_hours {
        let policy_row = super::evaluate(trace, policy, timeline, model, options)?;
        let (region_ticks, max_k) = super::equal_machine_hours_budget(&policy_row, trace, timeline);
        let plan = references::equal_machine_hours_plan(
            trace,
            initial,
            region_ticks,
            max_k,
            model,
            options,
        );
        let few = plan.schedule(initial, &plan.few, options);
        let many = plan.schedule(initial, &plan.many, options);
        let mix = |a: f64, b: f64| a + plan.fraction * (b - a);
        curves.push(TickSeries {
            policy: ORACLE_MH.to_owned(),
            mean_rtt_ms: tick_rtts(&few, trace, model)
                .into_iter()
                .zip(tick_rtts(&many, trace, model))
                .map(|(a, b)| Some(mix(a?, b?)))
                .collect(),
            regions: few
                .serving
                .iter()
                .zip(&many.serving)
                .map(|(a, b)| mix(a.len() as f64, b.len() as f64).round() as usize)
                .collect(),
        });
    }
    Ok(curves)
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
