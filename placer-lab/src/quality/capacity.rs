//! The report's capacity part: how many machines a policy ran, and how its
//! traffic fared when each running machine serves a limited number of
//! requests per observation.
//!
//! # Definitions
//!
//! `c` is [`Capacity::requests_per_machine`], in the unit of the trace's
//! values (requests per five minutes with the service's default query).
//! At tick `i`, the machines serving are those of the counts in force
//! during the interval that ends at tick `i` (as for the serving sets of
//! the [report](super)); a machine added at tick `t` serves from `t + N`
//! (`N` the start-up ticks) and is paid for from `t`. Only running machines
//! count: standbys neither serve nor cost machine-hours here.
//!
//! - **Spill**: a region with `m` machines that have started serves at most
//!   `m × c` requests of a tick. Capacity is filled nearest first: every pair
//!   of an edge region with requests and a region with machines, in order of
//!   round-trip time (ties by edge, then region code), takes what the edge
//!   still has and the region can still serve. So an edge's requests go to
//!   the nearest region with machines until it is full, then to the
//!   next-nearest with spare machines, and so on; the RTTs are those of the
//!   [`LatencyModel`] the rest of the report uses.
//! - **overloaded requests**: what no machine could serve. They count in the
//!   RTT figures at the round trip to the nearest region with machines (they
//!   reach it and wait), or 500 ms with none.
//! - **spilled requests**: requests served by a region farther than the
//!   nearest one with machines.
//! - **machine-hours**: running machines per tick, `Σ_i machines_i × Δ`, in
//!   hours.
//!
//! # Rows
//!
//! - the evaluated policy, with the running machines of its deployment after
//!   each tick ([`MachineTimeline`]).
//! - **autoscaler**: what fly-autoscaler does with a fixed list of regions
//!   ([`Capacity::autoscaler_regions`]): the total machine count for tick
//!   `i` is `⌈load × (1 + headroom) / c⌉` (at least 1), from the total
//!   requests of tick `i − 1`, spread round-robin over the regions in code
//!   order; new machines start as the policy's do. Like the policy, it has
//!   seen no load before tick 0: tick 0 runs as many machines as the
//!   policy starts with.
//! - **oracle-counts**: the cheapest counts with no overloaded request,
//!   placed in hindsight: each tick runs `⌈load / c⌉` machines (at least 1),
//!   the fewest that can serve its requests, placed where its traffic is
//!   served from: each edge's requests are counted at the nearest region
//!   that takes machines, each such region gets one machine per whole `c`
//!   of them, and the machines left over go to the regions with the largest
//!   remainders. It knows each tick's traffic and starts at once, like
//!   oracle-K. A tick without traffic keeps one machine where the previous
//!   tick had the most (the first initial region at tick 0).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use placer_core::network::{LatencyModel, RttTable, UNSERVED_RTT_MS};
use placer_core::Region;

use super::metrics::LatencyTally;
use crate::{Timeline, Trace};

/// Name of the fly-autoscaler-style row.
pub const AUTOSCALER: &str = "autoscaler";
/// Name of the hindsight row with counts.
pub const ORACLE_COUNTS: &str = "oracle-counts";

/// What a running machine serves and how the autoscaler row sizes.
#[derive(Debug, Clone, PartialEq)]
pub struct Capacity {
    /// Requests one running machine serves per observation, in the unit of
    /// the trace's values (`machines.requests_per_machine`). Positive.
    pub requests_per_machine: f64,
    /// Share on top of the load when the autoscaler row sizes
    /// (`machines.headroom`; 0.2 = 20 %).
    pub headroom: f64,
    /// The regions the autoscaler row spreads its machines over.
    pub autoscaler_regions: BTreeSet<Region>,
}

/// Running machines per region before a trace's first tick and after each
/// tick's actions; regions without a running machine are left out.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct MachineTimeline {
    initial: BTreeMap<Region, u32>,
    after_tick: Vec<BTreeMap<Region, u32>>,
}

impl MachineTimeline {
    /// A timeline with no ticks yet, starting from `initial`.
    pub fn new(initial: BTreeMap<Region, u32>) -> Self {
        MachineTimeline {
            initial: without_zeros(initial),
            after_tick: Vec::new(),
        }
    }

    /// One machine per deployed region of `timeline`: what the engine runs
    /// without a `machines:` section.
    pub fn one_per_region(timeline: &Timeline) -> Self {
        let ones = |set: &BTreeSet<Region>| set.iter().map(|region| (*region, 1)).collect();
        MachineTimeline {
            initial: ones(timeline.initial()),
            after_tick: timeline.after_ticks().iter().map(ones).collect(),
        }
    }

    /// Records the running machines after the next tick's actions.
    pub fn push(&mut self, running: BTreeMap<Region, u32>) {
        self.after_tick.push(without_zeros(running));
    }

    /// The machines before the first tick.
    pub fn initial(&self) -> &BTreeMap<Region, u32> {
        &self.initial
    }

    /// The machines after each tick, in tick order.
    pub fn after_ticks(&self) -> &[BTreeMap<Region, u32>] {
        &self.after_tick
    }

    /// Number of ticks recorded.
    pub fn len(&self) -> usize {
        self.after_tick.len()
    }

    /// True when no tick is recorded.
    pub fn is_empty(&self) -> bool {
        self.after_tick.is_empty()
    }

    /// The part from tick `tick` on, as [`Timeline::since`].
    ///
    /// # Panics
    /// When `tick` is beyond the recorded ticks.
    pub fn since(&self, tick: usize) -> MachineTimeline {
        assert!(tick <= self.len(), "tick {tick} is not recorded");
        MachineTimeline {
            initial: match tick {
                0 => self.initial.clone(),
                _ => self.after_tick[tick - 1].clone(),
            },
            after_tick: self.after_tick[tick..].to_vec(),
        }
    }

    /// The machines that served tick `tick`: the initial ones for tick 0,
    /// those after tick `tick − 1` otherwise.
    ///
    /// # Panics
    /// When `tick` is beyond the recorded ticks.
    pub fn serving(&self, tick: usize) -> &BTreeMap<Region, u32> {
        assert!(tick < self.len().max(1), "tick {tick} is not recorded");
        match tick {
            0 => &self.initial,
            _ => &self.after_tick[tick - 1],
        }
    }
}

fn without_zeros(mut counts: BTreeMap<Region, u32>) -> BTreeMap<Region, u32> {
    counts.retain(|_, count| *count > 0);
    counts
}

/// One policy's figures with limited machines (definitions in the
/// [module docs](self)).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CapacityRow {
    /// The policy, `autoscaler` or `oracle-counts`.
    pub policy: String,
    /// Mean number of running machines.
    pub mean_machines: f64,
    /// Machine-hours of running machines.
    pub machine_hours: f64,
    /// Traffic-weighted mean RTT in milliseconds, spilled and overloaded
    /// requests included; `None` without traffic.
    pub mean_rtt_ms: Option<f64>,
    /// Traffic-weighted 95th-percentile RTT; `None` without traffic.
    pub p95_rtt_ms: Option<f64>,
    /// Requests served by a region farther than the nearest one with
    /// machines, because that one was full.
    pub spilled_requests: f64,
    /// Requests no machine could serve.
    pub overloaded_requests: f64,
    /// Overloaded requests as a share of all requests (0 without traffic).
    pub overloaded_share: f64,
}

/// The capacity part of a [`QualityReport`](super::QualityReport).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CapacityReport {
    /// [`Capacity::requests_per_machine`].
    pub requests_per_machine: f64,
    /// [`Capacity::headroom`].
    pub headroom: f64,
    /// [`Capacity::autoscaler_regions`], sorted.
    pub autoscaler_regions: Vec<Region>,
    /// The evaluated policy, then autoscaler and oracle-counts.
    pub rows: Vec<CapacityRow>,
    /// The policy's machine-hours over oracle-counts': how many times the
    /// fewest machines that overload nothing it ran. `None` when
    /// oracle-counts ran none.
    pub machine_hours_to_oracle: Option<f64>,
}

/// The capacity part for the policy named `policy`, whose running machines
/// over `trace` are `machines`, new machines serving `startup_ticks` after
/// they are added.
///
/// # Errors
/// [`QualityError::LengthMismatch`](super::QualityError::LengthMismatch)
/// unless `machines` has one entry per tick of the trace.
pub fn report(
    trace: &Trace,
    policy: &str,
    machines: &MachineTimeline,
    model: &LatencyModel,
    capacity: &Capacity,
    startup_ticks: usize,
) -> Result<CapacityReport, super::QualityError> {
    if machines.len() != trace.len() {
        return Err(super::QualityError::LengthMismatch {
            trace: trace.len(),
            timeline: machines.len(),
        });
    }
    let trace = &trace.known_only();
    let c = capacity.requests_per_machine;
    let served: Vec<&BTreeMap<Region, u32>> = (0..trace.len())
        .map(|tick| machines.serving(tick))
        .collect();
    let autoscaler = autoscaler_counts(trace, capacity, machines.initial());
    let oracle = oracle_counts(trace, machines.initial(), model, c);
    let rows = vec![
        evaluate(policy, trace, &served, startup_ticks, model, c),
        evaluate(
            AUTOSCALER,
            trace,
            &autoscaler.iter().collect::<Vec<_>>(),
            startup_ticks,
            model,
            c,
        ),
        evaluate(
            ORACLE_COUNTS,
            trace,
            &oracle.iter().collect::<Vec<_>>(),
            0,
            model,
            c,
        ),
    ];
    let machine_hours_to_oracle =
        (rows[2].machine_hours > 0.0).then(|| rows[0].machine_hours / rows[2].machine_hours);
    Ok(CapacityReport {
        machine_hours_to_oracle,
        requests_per_machine: c,
        headroom: capacity.headroom,
        autoscaler_regions: capacity.autoscaler_regions.iter().copied().collect(),
        rows,
    })
}

/// How one tick's requests met the machines: per edge, what was served at
/// which server, and what was left over.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Allocation {
    /// `(edge, server, requests)`, in the order capacity was filled.
    pub(crate) served: Vec<(usize, usize, f64)>,
    /// Per edge, the requests no server could take.
    pub(crate) overloaded: Vec<f64>,
}

/// Fills `capacity` (per server) with `demand` (per edge), nearest first
/// by `rtt(edge, server)` (see the module docs).
pub(crate) fn spill(
    demand: &[f64],
    capacity: &[f64],
    rtt: impl Fn(usize, usize) -> f64,
) -> Allocation {
    let mut left: Vec<f64> = demand.iter().map(|d| d.max(0.0)).collect();
    let mut spare: Vec<f64> = capacity.iter().map(|c| c.max(0.0)).collect();
    let mut pairs: Vec<(f64, usize, usize)> = Vec::new();
    for (edge, &wanted) in left.iter().enumerate() {
        if wanted <= 0.0 {
            continue;
        }
        for (server, &room) in spare.iter().enumerate() {
            if room > 0.0 {
                pairs.push((rtt(edge, server), edge, server));
            }
        }
    }
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut served = Vec::new();
    for (_, edge, server) in pairs {
        let take = left[edge].min(spare[server]);
        if take > 0.0 {
            left[edge] -= take;
            spare[server] -= take;
            served.push((edge, server, take));
        }
    }
    Allocation {
        served,
        overloaded: left,
    }
}

/// Per tick, the machines of `serving[tick]` that have started: a region's
/// count is the least it had over the last `startup_ticks + 1` ticks (the
/// counts of tick 0 started long before).
fn ready_counts(
    serving: &[&BTreeMap<Region, u32>],
    startup_ticks: usize,
) -> Vec<BTreeMap<Region, u32>> {
    (0..serving.len())
        .map(|tick| {
            let window = &serving[tick.saturating_sub(startup_ticks)..=tick];
            serving[tick]
                .keys()
                .filter_map(|region| {
                    let least = window
                        .iter()
                        .map(|counts| counts.get(region).copied().unwrap_or(0))
                        .min()
                        .unwrap_or(0);
                    (least > 0).then_some((*region, least))
                })
                .collect()
        })
        .collect()
}

/// The row of `policy` running `serving[tick]` machines at each tick.
fn evaluate(
    policy: &str,
    trace: &Trace,
    serving: &[&BTreeMap<Region, u32>],
    startup_ticks: usize,
    model: &LatencyModel,
    c: f64,
) -> CapacityRow {
    let servers: BTreeSet<Region> = serving.iter().flat_map(|s| s.keys().copied()).collect();
    let table = RttTable::new(trace.regions(), servers, model);
    let ready = ready_counts(serving, startup_ticks);
    let mut latency = LatencyTally::default();
    let (mut spilled, mut overloaded, mut total) = (0.0, 0.0, 0.0);
    let mut demand = vec![0.0; table.edges().len()];
    let mut room = vec![0.0; table.servers().len()];
    for (tick, snapshot) in trace.ticks().iter().enumerate() {
        for (row, edge) in table.edges().iter().enumerate() {
            demand[row] = snapshot.requests(edge);
        }
        room.iter_mut().for_each(|r| *r = 0.0);
        let mut columns = Vec::new();
        for (region, &count) in &ready[tick] {
            let column = table
                .server_index(region)
                .expect("every server is a column");
            room[column] = f64::from(count) * c;
            columns.push(column);
        }
        let allocation = spill(&demand, &room, |edge, server| table.rtt(edge, server));
        let nearest: Vec<f64> = (0..demand.len())
            .map(|row| {
                table
                    .nearest(row, &columns)
                    .map_or(UNSERVED_RTT_MS, |(_, ms)| ms)
            })
            .collect();
        for &(edge, server, requests) in &allocation.served {
            let rtt = table.rtt(edge, server);
            latency.add(rtt, requests);
            if rtt > nearest[edge] {
                spilled += requests;
            }
        }
        for (edge, &left) in allocation.overloaded.iter().enumerate() {
            latency.add(nearest[edge], left);
            overloaded += left;
        }
        total += demand.iter().sum::<f64>();
    }
    let machines: u64 = serving
        .iter()
        .map(|counts| counts.values().map(|&n| u64::from(n)).sum::<u64>())
        .sum();
    let ticks = trace.len().max(1) as f64;
    CapacityRow {
        policy: policy.to_owned(),
        mean_machines: machines as f64 / ticks,
        machine_hours: machines as f64 * trace.tick_interval().as_secs_f64() / 3600.0,
        mean_rtt_ms: latency.mean(),
        p95_rtt_ms: latency.quantile(0.95),
        spilled_requests: spilled,
        overloaded_requests: overloaded,
        overloaded_share: if total > 0.0 { overloaded / total } else { 0.0 },
    }
}

/// Machines needed for `load` requests at `c` per machine, at least one.
fn machines_for(load: f64, c: f64) -> u32 {
    (load / c).ceil().clamp(1.0, f64::from(u32::MAX)) as u32
}

/// The autoscaler row's machines serving each tick: at tick 0 as many as
/// the policy starts with (`initial`), spread over its regions; from tick
/// 1 on, sized from the previous tick's load.
fn autoscaler_counts(
    trace: &Trace,
    capacity: &Capacity,
    initial: &BTreeMap<Region, u32>,
) -> Vec<BTreeMap<Region, u32>> {
    let regions: Vec<Region> = capacity.autoscaler_regions.iter().copied().collect();
    let totals: Vec<f64> = trace
        .ticks()
        .iter()
        .map(|snapshot| snapshot.iter().map(|(_, requests)| requests).sum())
        .collect();
    let start: u32 = initial.values().sum::<u32>().max(1);
    (0..trace.len())
        .map(|tick| {
            if tick == 0 {
                return round_robin(start, &regions);
            }
            let load = totals[tick - 1];
            let total = machines_for(
                load * (1.0 + capacity.headroom),
                capacity.requests_per_machine,
            );
            round_robin(total, &regions)
        })
        .collect()
}

/// `total` machines spread over `regions` in order, one at a time.
fn round_robin(total: u32, regions: &[Region]) -> BTreeMap<Region, u32> {
    let Ok(len) = u32::try_from(regions.len()) else {
        return BTreeMap::new();
    };
    if len == 0 {
        return BTreeMap::new();
    }
    regions
        .iter()
        .enumerate()
        .map(|(index, region)| {
            let extra = u32::from((index as u32) < total % len);
            (*region, total / len + extra)
        })
        .filter(|(_, count)| *count > 0)
        .collect()
}

/// The oracle-counts row's machines serving each tick.
fn oracle_counts(
    trace: &Trace,
    initial: &BTreeMap<Region, u32>,
    model: &LatencyModel,
    c: f64,
) -> Vec<BTreeMap<Region, u32>> {
    let table = RttTable::new(trace.regions(), crate::regions::deployable(), model);
    let all: Vec<usize> = (0..table.servers().len()).collect();
    let homes: Vec<Option<usize>> = (0..table.edges().len())
        .map(|row| table.nearest(row, &all).map(|(column, _)| column))
        .collect();
    let mut previous: Option<Region> = initial.keys().next().copied();
    let mut counts = Vec::with_capacity(trace.len());
    for snapshot in trace.ticks() {
        let mut load: BTreeMap<Region, f64> = BTreeMap::new();
        for (row, edge) in table.edges().iter().enumerate() {
            let requests = snapshot.requests(edge);
            if let (Some(home), true) = (homes[row], requests > 0.0) {
                *load.entry(table.servers()[home]).or_default() += requests;
            }
        }
        let tick = place_by_load(&load, c, previous);
        previous = tick
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
            .map(|(region, _)| *region)
            .or(previous);
        counts.push(tick);
    }
    counts
}

/// The fewest machines that serve `load` (requests per region) at `c` per
/// machine, one per whole `c` of each region's load and the rest by largest
/// remainder; one machine at `idle` without load.
fn place_by_load(
    load: &BTreeMap<Region, f64>,
    c: f64,
    idle: Option<Region>,
) -> BTreeMap<Region, u32> {
    let total: f64 = load.values().sum();
    if total <= 0.0 {
        return idle.map(|region| (region, 1)).into_iter().collect();
    }
    let needed = machines_for(total, c);
    let mut counts: BTreeMap<Region, u32> = BTreeMap::new();
    let mut remainders: Vec<(f64, Region)> = Vec::new();
    let mut placed = 0;
    for (region, &requests) in load {
        let whole = (requests / c).floor();
        let whole_count = whole as u32;
        if whole_count > 0 {
            counts.insert(*region, whole_count);
            placed += whole_count;
        }
        let rest = requests - whole * c;
        if rest > 0.0 {
            remainders.push((rest, *region));
        }
    }
    remainders.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, region) in remainders
        .into_iter()
        .take(needed.saturating_sub(placed) as usize)
    {
        *counts.entry(region).or_default() += 1;
    }
    counts
}

#[cfg(test)]
mod tests;
