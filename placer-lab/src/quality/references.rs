//! The reference rows: static, seed, best-static-K and oracle-K.

use std::collections::{BTreeSet, HashMap};

use super::metrics::Schedule;
use super::{QualityOptions, QualityRow};
use placer_core::{
    network::LatencyModel, network::RttTable, network::UNSERVED_RTT_MS, Region, TrafficSnapshot,
};

use crate::fixed_k::Pick;
use crate::{regions, replay_seed_rule, FixedK, Trace};

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

/// A fixed-size instance over the trace's regions, choosing from the
/// regions the platform takes machines in ([`regions::deployable`]).
pub(super) fn solver(trace: &Trace, model: &LatencyModel) -> FixedK {
    FixedK::new(
        trace.regions(),
        regions::deployable(),
        BTreeSet::new(),
        model,
    )
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

/// The oracle at equal machine-hours: in hindsight, each tick its own
/// regions, at the evaluated policy's machine-hours (`region_ticks`), under
/// the start-up rules the policy lives under.
///
/// It begins from `initial`, as the policy does: tick 0 is served by the
/// initial set, and a region it adds is paid for from the tick it is
/// deployed (tick 1 at the earliest) but serves only
/// [`QualityOptions::startup_ticks`] ticks later. Knowing the future, it
/// deploys each region exactly that early, so until tick `startup_ticks`
/// only the initial set serves.
///
/// For a price `λ` of a region-tick, a dynamic programme over the ticks
/// minimises `Σ_i cost_i(S_i) + λ · (Σ_i |S_i| + startup_ticks · additions)`
/// over the serving sets `S_i`, where `cost_i` is tick `i`'s k-median cost
/// and `additions` counts the regions added along the way (each is paid
/// for `startup_ticks` ticks before it serves). Each tick may keep any set
/// the best schedules so far hold, or move to the k-median sets of its own
/// traffic next to the region count that minimises `cost_i(k) + λ · k`
/// alone; the best [`BEAM`] schedules are carried from tick to tick. Without
/// start-up a move costs nothing and each tick takes its own best set. `λ`
/// is bisected so that the machine-hours meet the policy's; when no price
/// meets them exactly, the two schedules either side are blended.
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
    let plan = equal_machine_hours_plan(trace, initial, region_ticks, max_k, model, options);
    let row = |sets: &[BTreeSet<Region>]| {
        plan.schedule(initial, sets, options)
            .evaluate(ORACLE_MH, trace, model, options)
    };
    if plan.fraction == 0.0 {
        return row(&plan.few);
    }
    super::blend(&row(&plan.few), &row(&plan.many), plan.fraction)
}

/// The schedules behind oracle-equal-mh: the one at or under the policy's
/// machine-hours (`few`), the one over them (`many`), and the weight of
/// `many` in the blend that meets them (0 when `few` meets them alone).
pub(super) struct EqualMachineHours {
    pub(super) few: Vec<BTreeSet<Region>>,
    pub(super) many: Vec<BTreeSet<Region>>,
    pub(super) fraction: f64,
}

impl EqualMachineHours {
    /// One of the plan's schedules, from `initial`, new regions starting
    /// as the options say.
    pub(super) fn schedule<'a>(
        &self,
        initial: &'a BTreeSet<Region>,
        sets: &'a [BTreeSet<Region>],
        options: &QualityOptions,
    ) -> Schedule<'a> {
        Schedule::counting_changes(initial, sets.iter().collect())
            .with_startup(options.startup_ticks)
    }
}

/// The schedules of [`oracle_equal_machine_hours`] (see there).
pub(super) fn equal_machine_hours_plan(
    trace: &Trace,
    initial: &BTreeSet<Region>,
    region_ticks: f64,
    max_k: usize,
    model: &LatencyModel,
    options: &QualityOptions,
) -> EqualMachineHours {
    let solver = solver(trace, model);
    let mut planner = Planner::new(trace, initial, &solver, model, max_k, options.startup_ticks);
    let total = |sets: &[BTreeSet<Region>]| sets.iter().map(BTreeSet::len).sum::<usize>() as f64;
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
    let mut few = planner.plan(dear);
    let mut many: Option<Vec<BTreeSet<Region>>> = None;
    if total(&few) < region_ticks {
        let mut cheap = 0.0;
        for _ in 0..200 {
            let price = match many {
                Some(_) => (cheap + dear) / 2.0,
                None if dear > 1e-9 => dear / 2.0,
                None => 0.0,
            };
            let chosen = planner.plan(price);
            let sum = total(&chosen);
            if sum > region_ticks {
                cheap = price;
                many = Some(chosen);
            } else if sum < region_ticks && price > 0.0 {
                dear = price;
                few = chosen;
            } else {
                many = Some(chosen.clone());
                few = chosen;
                break;
            }
            if many.is_some() && dear - cheap <= 1e-7 * dear {
                break;
            }
        }
    }
    let many = many.unwrap_or_else(|| few.clone());
    let (many_sum, few_sum) = (total(&many), total(&few));
    let fraction = if many == few || (many_sum - few_sum).abs() < f64::EPSILON {
        0.0
    } else {
        ((region_ticks - few_sum) / (many_sum - few_sum)).clamp(0.0, 1.0)
    };
    EqualMachineHours {
        few,
        many,
        fraction,
    }
}

/// How many of the best partial schedules the oracle at equal machine-hours
/// carries from one tick to the next.
const BEAM: usize = 16;

/// The oracle at equal machine-hours' schedules for one price after
/// another: the per-tick k-median sets (solved when first asked for) and
/// every set seen, by number.
struct Planner<'a> {
    trace: &'a Trace,
    solver: &'a FixedK,
    table: RttTable,
    /// Per tick, each edge row of `table` with requests and its requests.
    weights: Vec<Vec<(usize, f64)>>,
    choices: Vec<TickChoices>,
    startup: usize,
    /// Sets as sorted columns of `table`, and their numbers.
    sets: Vec<Vec<usize>>,
    numbers: HashMap<Vec<usize>, usize>,
    initial: usize,
    /// `lasting[i]`: the best set of `i + 1` regions for the whole trace's
    /// traffic, for the `i` asked so far.
    lasting: Vec<BTreeSet<Region>>,
}

/// One partial schedule: the set serving its last tick, its objective so
/// far, and the partial schedule of the tick before it extends.
#[derive(Clone, Copy)]
struct Partial {
    set: usize,
    value: f64,
    back: usize,
}

impl<'a> Planner<'a> {
    fn new(
        trace: &'a Trace,
        initial: &BTreeSet<Region>,
        solver: &'a FixedK,
        model: &LatencyModel,
        max_k: usize,
        startup: usize,
    ) -> Self {
        let table = RttTable::new(
            trace.regions(),
            solver.candidates().iter().chain(initial).copied(),
            model,
        );
        let weights = trace
            .ticks()
            .iter()
            .map(|snapshot| {
                table
                    .edges()
                    .iter()
                    .enumerate()
                    .map(|(row, edge)| (row, snapshot.requests(edge)))
                    .filter(|(_, requests)| *requests > 0.0)
                    .collect()
            })
            .collect();
        let choices = trace
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
        let mut planner = Planner {
            trace,
            solver,
            table,
            weights,
            choices,
            startup,
            sets: Vec::new(),
            numbers: HashMap::new(),
            initial: 0,
            lasting: Vec::new(),
        };
        planner.initial = planner.number(initial);
        planner
    }

    /// The number of `set`, given one when first seen.
    fn number(&mut self, set: &BTreeSet<Region>) -> usize {
        let columns: Vec<usize> = set
            .iter()
            .filter_map(|region| self.table.server_index(region))
            .collect();
        if let Some(&number) = self.numbers.get(&columns) {
            return number;
        }
        self.sets.push(columns.clone());
        self.numbers.insert(columns, self.sets.len() - 1);
        self.sets.len() - 1
    }

    /// Tick `tick`'s k-median cost of set number `set`.
    fn cost(&self, tick: usize, set: usize) -> f64 {
        let columns = &self.sets[set];
        self.weights[tick]
            .iter()
            .map(|&(row, requests)| {
                let rtts = self.table.row(row);
                let nearest = columns
                    .iter()
                    .map(|&column| rtts[column])
                    .fold(f64::INFINITY, f64::min);
                requests
                    * if nearest.is_finite() {
                        nearest
                    } else {
                        UNSERVED_RTT_MS
                    }
            })
            .sum()
    }

    /// Regions of set number `to` that set number `from` lacks.
    fn added(&self, from: usize, to: usize) -> usize {
        let from = &self.sets[from];
        self.sets[to]
            .iter()
            .filter(|column| from.binary_search(column).is_err())
            .count()
    }

    /// The sets tick `tick` may move to at `price`: its k-median sets next
    /// to the region count it would take alone.
    fn own_sets(&mut self, tick: usize, price: f64) -> Vec<usize> {
        let snapshot = &self.trace.ticks()[tick];
        let choices = &mut self.choices[tick];
        choices.pick(self.solver, snapshot, 0);
        let mut index = 0;
        while index + 1 < choices.limit
            && choices.pick(self.solver, snapshot, index).cost
                - choices.pick(self.solver, snapshot, index + 1).cost
                > price
        {
            index += 1;
        }
        let last = (index + 1).min(choices.picks.len() - 1);
        let mut picks: Vec<BTreeSet<Region>> = (index.saturating_sub(1)..=last)
            .map(|i| choices.picks[i].regions.clone())
            .collect();
        // The whole trace's best sets of those sizes: a set that serves many
        // ticks well without being any one tick's best.
        for i in index.saturating_sub(1)..=last {
            while self.lasting.len() <= i {
                let k = self.lasting.len() + 1;
                let set = best_static(self.trace, self.solver, k);
                self.lasting.push(set);
            }
            picks.push(self.lasting[i].clone());
        }
        picks.iter().map(|set| self.number(set)).collect()
    }

    /// The paid sets of the best schedule found at `price`: each tick's
    /// serving set, plus the regions starting for a later tick.
    fn plan(&mut self, price: f64) -> Vec<BTreeSet<Region>> {
        let n = self.trace.len();
        if n == 0 {
            return Vec::new();
        }
        let startup = self.startup as f64;
        let initial = self.initial;
        let mut beam = vec![Partial {
            set: initial,
            value: self.cost(0, initial) + price * self.sets[initial].len() as f64,
            back: 0,
        }];
        let mut history: Vec<Vec<Partial>> = Vec::with_capacity(n);
        history.push(beam.clone());
        for tick in 1..n {
            let mut candidates: Vec<usize> = beam.iter().map(|partial| partial.set).collect();
            if tick > self.startup {
                for set in self.own_sets(tick, price) {
                    if !candidates.contains(&set) {
                        candidates.push(set);
                    }
                }
            }
            let mut next: Vec<Partial> = candidates
                .into_iter()
                .map(|set| {
                    // The beam is sorted by value and a move never costs
                    // less than nothing: the first partial schedule worth
                    // no less than the best found ends the search.
                    let mut best: Option<(f64, usize)> = None;
                    for (index, previous) in beam.iter().enumerate() {
                        if best.is_some_and(|(value, _)| previous.value >= value) {
                            break;
                        }
                        let value =
                            previous.value + price * startup * self.added(previous.set, set) as f64;
                        if best.is_none_or(|(best, _)| value < best) {
                            best = Some((value, index));
                        }
                    }
                    let (value, back) = best.expect("the beam is never empty");
                    Partial {
                        set,
                        value: value + self.cost(tick, set) + price * self.sets[set].len() as f64,
                        back,
                    }
                })
                .collect();
            // Stable: on a tie the set carried longest stays first.
            next.sort_by(|a, b| a.value.total_cmp(&b.value));
            next.truncate(BEAM);
            history.push(next.clone());
            beam = next;
        }
        // The serving sets, walked back from the best schedule.
        let mut serving = vec![0; n];
        let mut index = 0;
        for tick in (0..n).rev() {
            let partial = history[tick][index];
            serving[tick] = partial.set;
            index = partial.back;
        }
        let regions = |set: usize| -> BTreeSet<Region> {
            self.sets[set]
                .iter()
                .map(|&column| self.table.servers()[column])
                .collect()
        };
        let mut paid: Vec<BTreeSet<Region>> = serving.iter().map(|&set| regions(set)).collect();
        for tick in 1..n {
            let (before, now) = (serving[tick - 1], serving[tick]);
            if before == now {
                continue;
            }
            let starting: Vec<Region> =
                regions(now).difference(&regions(before)).copied().collect();
            for set in &mut paid[tick.saturating_sub(self.startup)..tick] {
                set.extend(starting.iter().copied());
            }
        }
        paid
    }
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
