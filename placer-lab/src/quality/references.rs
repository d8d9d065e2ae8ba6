//! The reference rows: static, seed, best-static-K and oracle-K.

use std::collections::BTreeSet;

use super::metrics::Schedule;
use super::{QualityOptions, QualityRow};
use placer_core::{geo, LatencyModel, Region, TrafficSnapshot};

use crate::fixed_k::Pick;
use crate::{replay_seed_rule, FixedK, Trace};

/// Names of the reference rows, in report order.
pub(super) const STATIC: &str = "static";
pub(super) const SEED: &str = "seed";
pub(super) const BEST_STATIC_K: &str = "best-static-K";
pub(super) const ORACLE_K: &str = "oracle-K";
pub(super) const ORACLE_MH: &str = "oracle-equal-mh";

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
    let seed_row =
        Schedule::from_timeline(&seed, options.startup_ticks).evaluate(SEED, trace, model, options);
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
pub(super) fn solver(trace: &Trace, model: &LatencyModel) -> FixedK {
    let edges = trace.regions();
    let candidates: BTreeSet<Region> = geo::catalog()
        .iter()
        .map(|info| info.code)
        .chain(edges.iter().copied())
        .collect();
    FixedK::new(edges, candidates, BTreeSet::new(), model)
}

pub(super) fn best_static(trace: &Trace, solver: &FixedK, k: usize) -> BTreeSet<Region> {
    solver
        .solve(&trace.totals(), k)
        .expect("weights come from the trace the solver was built on")
        .regions
}

/// Per-tick k-median sets; a tick keeps the previous set when that serves
/// its traffic at least as well, so ties do not count as moves.
pub(super) fn oracle_sets(trace: &Trace, solver: &FixedK, k: usize) -> Vec<BTreeSet<Region>> {
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

/// The oracle at equal machine-hours: each tick gets its own number of
/// regions `k_i` and the k-median set for it, the `k_i` chosen jointly to
/// minimise `Σ_i cost_i(k_i) + λ · Σ_i k_i`, with `λ` bisected so that
/// `Σ_i k_i` meets `region_ticks` (the evaluated policy's). When no `λ`
/// meets it exactly, the two schedules on either side are blended so the
/// machine-hours are equal.
///
/// A tick considers at most `max_k` regions (and never more than the number
/// of regions with traffic in it, which already serve every request at no
/// round trip).
pub(super) fn oracle_equal_machine_hours(
    trace: &Trace,
    initial: &BTreeSet<Region>,
    region_ticks: f64,
    max_k: usize,
    model: &LatencyModel,
    options: &QualityOptions,
) -> QualityRow {
    let solver = solver(trace, model);
    // Per tick, the best set and its cost for k = 1, 2, …, solved when
    // first asked for.
    let mut choices: Vec<TickChoices> = trace
        .ticks()
        .iter()
        .map(|snapshot| {
            let busy = snapshot
                .iter()
                .filter(|(_, requests)| *requests > 0.0)
                .count();
            TickChoices {
                limit: busy.clamp(1, max_k.max(1)),
                picks: Vec::new(),
            }
        })
        .collect();
    // The region count per tick (as an index: k − 1) when a region-tick
    // costs `price`: more regions while one more saves more than the price.
    let mut schedule = |price: f64| -> Vec<usize> {
        choices
            .iter_mut()
            .zip(trace.ticks())
            .map(|(tick, snapshot)| {
                tick.pick(&solver, snapshot, 0);
                let mut index = 0;
                while index + 1 < tick.limit
                    && tick.pick(&solver, snapshot, index).cost
                        - tick.pick(&solver, snapshot, index + 1).cost
                        > price
                {
                    index += 1;
                }
                index
            })
            .collect()
    };
    let total = |chosen: &[usize]| chosen.iter().map(|index| index + 1).sum::<usize>() as f64;
    // At a price above every tick's one-region cost, one region each; the
    // price is halved until the schedule runs more than the policy, then
    // bisected. Cheap prices are never asked for when not needed: they
    // solve many region counts per tick.
    let mut dear = trace
        .ticks()
        .iter()
        .map(|snapshot| {
            solver
                .cost(snapshot.iter(), &BTreeSet::new())
                .unwrap_or(0.0)
        })
        .fold(0.0, f64::max)
        + 1.0;
    let mut few = schedule(dear);
    let mut many: Option<(f64, Vec<usize>)> = None;
    if total(&few) < region_ticks {
        let mut cheap = 0.0;
        for _ in 0..200 {
            let price = match many {
                Some(_) => (cheap + dear) / 2.0,
                None if dear > 1e-9 => dear / 2.0,
                None => 0.0,
            };
            let chosen = schedule(price);
            let sum = total(&chosen);
            if sum > region_ticks {
                cheap = price;
                many = Some((price, chosen));
            } else if sum < region_ticks && price > 0.0 {
                dear = price;
                few = chosen;
            } else {
                many = Some((price, chosen.clone()));
                few = chosen;
                break;
            }
            if many.is_some() && dear - cheap <= 1e-9 * dear {
                break;
            }
        }
    }
    let many = many.map_or_else(|| few.clone(), |(_, chosen)| chosen);
    let choices: Vec<Vec<Pick>> = choices.into_iter().map(|tick| tick.picks).collect();
    let row = |chosen: &[usize]| {
        let mut sets: Vec<BTreeSet<Region>> = Vec::with_capacity(chosen.len());
        for ((snapshot, picks), &index) in trace.ticks().iter().zip(&choices).zip(chosen) {
            let pick = &picks[index];
            // A tick keeps the previous set when it has as many regions and
            // serves the tick as well, so ties do not count as moves.
            let kept = sets.last().filter(|previous| {
                previous.len() == pick.regions.len()
                    && solver
                        .cost(snapshot.iter(), previous)
                        .is_ok_and(|cost| cost <= pick.cost * (1.0 + 1e-9))
            });
            let set = kept.cloned().unwrap_or_else(|| pick.regions.clone());
            sets.push(set);
        }
        Schedule::counting_changes(initial, sets.iter().collect())
            .evaluate(ORACLE_MH, trace, model, options)
    };
    let (many_sum, few_sum) = (total(&many), total(&few));
    if many == few || (many_sum - few_sum).abs() < f64::EPSILON {
        return row(&few);
    }
    let fraction = ((region_ticks - few_sum) / (many_sum - few_sum)).clamp(0.0, 1.0);
    super::blend(&row(&few), &row(&many), fraction)
}

/// One tick's best sets for 1, 2, … regions, solved when first asked for.
struct TickChoices {
    /// Most regions considered.
    limit: usize,
    /// `picks[i]`: the best set of `i + 1` regions, for the `i` asked so far.
    picks: Vec<Pick>,
}

impl TickChoices {
    fn pick(&mut self, solver: &FixedK, snapshot: &TrafficSnapshot, index: usize) -> &Pick {
        while self.picks.len() <= index {
            let k = self.picks.len() + 1;
            let pick = solver
                .solve(snapshot.iter(), k)
                .expect("weights come from the trace the solver was built on");
            self.picks.push(pick);
        }
        &self.picks[index]
    }
}
