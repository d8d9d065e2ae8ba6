//! The reference rows: static, seed, best-static-K and oracle-K.

use std::collections::BTreeSet;

use super::metrics::Schedule;
use super::{QualityOptions, QualityRow};
use placer_core::{geo, LatencyModel, Region};

use crate::{replay_seed_rule, FixedK, Trace};

/// Names of the reference rows, in report order.
pub(super) const STATIC: &str = "static";
pub(super) const SEED: &str = "seed";
pub(super) const BEST_STATIC_K: &str = "best-static-K";
pub(super) const ORACLE_K: &str = "oracle-K";

/// The rows that do not depend on `K`: static and seed.
pub(super) fn fixed_rows(
    trace: &Trace,
    initial: &BTreeSet<Region>,
    model: &LatencyModel,
    options: &QualityOptions,
) -> Vec<QualityRow> {
    let n = trace.len();
    let static_row = Schedule::counting_changes(initial, vec![initial; n])
        .evaluate(STATIC, trace, model, options);

    let seed = replay_seed_rule(trace, initial, &options.seed);
    let seed_row = Schedule::from_timeline(&seed).evaluate(SEED, trace, model, options);
    vec![static_row, seed_row]
}

/// The k-median rows for a whole `k`: best-static-K and oracle-K.
pub(super) fn k_rows(
    trace: &Trace,
    initial: &BTreeSet<Region>,
    k: usize,
    model: &LatencyModel,
    options: &QualityOptions,
) -> Vec<QualityRow> {
    let n = trace.len();
    let solver = solver(trace, model);
    let best = best_static(trace, &solver, k);
    let best_row = Schedule::counting_changes(initial, vec![&best; n]).evaluate(
        BEST_STATIC_K,
        trace,
        model,
        options,
    );

    let oracle = oracle_sets(trace, &solver, k);
    let oracle_row = Schedule::counting_changes(initial, oracle.iter().collect())
        .evaluate(ORACLE_K, trace, model, options);

    vec![best_row, oracle_row]
}

/// A fixed-size instance over the trace's regions, choosing from every
/// catalogued region and every region in the trace.
fn solver(trace: &Trace, model: &LatencyModel) -> FixedK {
    let edges = trace.regions();
    let candidates: BTreeSet<Region> = geo::catalog()
        .iter()
        .map(|info| info.code)
        .chain(edges.iter().copied())
        .collect();
    FixedK::new(edges, candidates, BTreeSet::new(), model)
}

fn best_static(trace: &Trace, solver: &FixedK, k: usize) -> BTreeSet<Region> {
    solver
        .solve(&trace.totals(), k)
        .expect("weights come from the trace the solver was built on")
        .regions
}

/// Per-tick k-median sets; a tick keeps the previous set when that serves
/// its traffic at least as well, so ties do not count as moves.
fn oracle_sets(trace: &Trace, solver: &FixedK, k: usize) -> Vec<BTreeSet<Region>> {
    let mut sets: Vec<BTreeSet<Region>> = Vec::with_capacity(trace.len());
    for snapshot in trace.ticks() {
        let best = solver
            .solve(snapshot.iter(), k)
            .expect("weights come from the trace the solver was built on");
        let chosen = match sets.last() {
            Some(previous) => {
                let kept = solver
                    .cost(snapshot.iter(), previous)
                    .expect("previous oracle set holds only candidates");
                if kept <= best.cost * (1.0 + 1e-9) {
                    previous.clone()
                } else {
                    best.regions
                }
            }
            None => best.regions,
        };
        sets.push(chosen);
    }
    sets
}
