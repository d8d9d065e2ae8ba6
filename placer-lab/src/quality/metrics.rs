//! Computing one row of the report from a sequence of serving sets.

use std::collections::{BTreeMap, BTreeSet};

use super::{QualityOptions, QualityRow};
use placer_core::{
    network::LatencyModel, network::RttTable, network::UNSERVED_RTT_MS, Region, Timestamp,
    TrafficSnapshot,
};

use crate::{Timeline, Trace};

/// The serving sets of one policy over a trace, as the report sees them:
/// the set before the trace, the set deployed (and paid for) during each
/// tick, the part of it that was up and serving, and the actions taken.
pub(crate) struct Schedule<'a> {
    pub(crate) before: &'a BTreeSet<Region>,
    pub(crate) serving: Vec<&'a BTreeSet<Region>>,
    /// Per tick, the regions of `serving` that had started; `None` when
    /// every deployed region serves at once.
    pub(crate) ready: Option<Vec<BTreeSet<Region>>>,
    pub(crate) actions: usize,
}

impl<'a> Schedule<'a> {
    /// The timeline's serving sets, where a region deployed by tick `t`'s
    /// actions serves only from the interval that starts `startup_ticks`
    /// ticks after `t` (regions of the initial set serve from the start).
    pub(crate) fn from_timeline(timeline: &'a Timeline, startup_ticks: usize) -> Self {
        let serving: Vec<&BTreeSet<Region>> = (0..timeline.len())
            .map(|tick| timeline.serving(tick))
            .collect();
        let ready = (startup_ticks > 0).then(|| ready_sets(&serving, startup_ticks));
        Schedule {
            before: timeline.initial(),
            serving,
            ready,
            actions: timeline.actions().iter().sum(),
        }
    }

    /// Serving sets given directly; actions are one per region added or
    /// removed from one set to the next, starting from `before`.
    pub(crate) fn counting_changes(
        before: &'a BTreeSet<Region>,
        serving: Vec<&'a BTreeSet<Region>>,
    ) -> Self {
        let mut actions = 0;
        let mut previous = before;
        for &set in &serving {
            actions += previous.symmetric_difference(set).count();
            previous = set;
        }
        Schedule {
            before,
            serving,
            ready: None,
            actions,
        }
    }

    /// The same sets under start-up: a region that was not in the first set
    /// serves from `startup_ticks` ticks after it joined the sets (as in
    /// [`from_timeline`](Self::from_timeline)).
    pub(crate) fn with_startup(mut self, startup_ticks: usize) -> Self {
        self.ready = (startup_ticks > 0).then(|| ready_sets(&self.serving, startup_ticks));
        self
    }

    /// The set whose nearest region serves tick `tick`'s requests.
    pub(crate) fn serving_ready(&self, tick: usize) -> &BTreeSet<Region> {
        match &self.ready {
            Some(ready) => &ready[tick],
            None => self.serving[tick],
        }
    }

    /// The RTT table between the trace's regions and every region this
    /// schedule ever serves from.
    pub(crate) fn rtt_table(&self, trace: &Trace, model: &LatencyModel) -> RttTable {
        let servers: BTreeSet<Region> = self
            .serving
            .iter()
            .flat_map(|set| set.iter().copied())
            .collect();
        RttTable::new(trace.regions(), servers, model)
    }

    /// Walks `trace` tick by tick, handing `visit` the tick, its traffic and
    /// each edge's RTT (by `table`'s rows, from [`rtt_table`](Self::rtt_table))
    /// to the nearest region of the serving set that had started
    /// ([`UNSERVED_RTT_MS`] with none).
    pub(crate) fn walk_rtts(
        &self,
        table: &RttTable,
        trace: &Trace,
        mut visit: impl FnMut(usize, &TrafficSnapshot, &[f64]),
    ) {
        let mut rtts = vec![0.0; table.edges().len()];
        for (tick, snapshot) in trace.ticks().iter().enumerate() {
            let serving = self.serving_ready(tick);
            if tick == 0 || serving != self.serving_ready(tick - 1) {
                let columns: Vec<usize> = serving
                    .iter()
                    .filter_map(|r| table.server_index(r))
                    .collect();
                for (row, rtt) in rtts.iter_mut().enumerate() {
                    *rtt = table
                        .nearest(row, &columns)
                        .map_or(UNSERVED_RTT_MS, |(_, ms)| ms);
                }
            }
            visit(tick, snapshot, &rtts);
        }
    }

    pub(crate) fn evaluate(
        &self,
        policy: &str,
        trace: &Trace,
        model: &LatencyModel,
        options: &QualityOptions,
    ) -> QualityRow {
        let table = self.rtt_table(trace, model);
        let mut latency = LatencyTally::default();
        let mut shifts = ShiftTracker::new(table.edges().len(), options);
        self.walk_rtts(&table, trace, |tick, snapshot, rtts| {
            for (row, edge) in table.edges().iter().enumerate() {
                let requests = snapshot.requests(edge);
                latency.add(rtts[row], requests);
                shifts.observe(tick, row, requests, rtts[row]);
            }
        });
        let shifts = shifts.finish();
        let sizes: usize = self.serving.iter().map(|set| set.len()).sum();
        let ticks = trace.len().max(1) as f64;
        QualityRow {
            policy: policy.to_owned(),
            mean_regions: sizes as f64 / ticks,
            mean_rtt_ms: latency.mean(),
            p95_rtt_ms: latency.quantile(0.95),
            machine_hours: sizes as f64 * trace.tick_interval().as_secs_f64() / 3600.0,
            actions: self.actions,
            flaps: count_flaps(self.before, &self.serving, trace, options),
            shifts: shifts.shifts,
            shifts_served: shifts.reactions.len(),
            mean_reaction_ticks: (!shifts.reactions.is_empty()).then(|| {
                shifts.reactions.iter().sum::<usize>() as f64 / shifts.reactions.len() as f64
            }),
            max_reaction_ticks: shifts.reactions.iter().copied().max(),
        }
    }
}

/// Per tick, the regions of `serving[tick]` that have been in the serving
/// sets without a break for at least `startup_ticks` ticks; the regions of
/// the first set count as started long before.
fn ready_sets(serving: &[&BTreeSet<Region>], startup_ticks: usize) -> Vec<BTreeSet<Region>> {
    let mut since: BTreeMap<Region, Option<usize>> = BTreeMap::new();
    let mut ready = Vec::with_capacity(serving.len());
    for (tick, set) in serving.iter().enumerate() {
        since.retain(|region, _| set.contains(region));
        for region in *set {
            since
                .entry(*region)
                .or_insert(if tick == 0 { None } else { Some(tick) });
        }
        ready.push(
            since
                .iter()
                .filter(|(_, from)| from.is_none_or(|from| tick >= from + startup_ticks))
                .map(|(region, _)| *region)
                .collect(),
        );
    }
    ready
}

/// Requests per distinct RTT, for the weighted mean and quantiles.
#[derive(Default)]
pub(super) struct LatencyTally {
    /// Keyed by the RTT's bit pattern, which orders like the value for
    /// non-negative floats.
    requests_by_rtt: BTreeMap<u64, f64>,
    total_requests: f64,
    weighted_sum: f64,
}

impl LatencyTally {
    pub(super) fn add(&mut self, rtt_ms: f64, requests: f64) {
        if requests <= 0.0 {
            return;
        }
        // Adding 0.0 turns a -0.0 into 0.0, whose bits sort first.
        *self
            .requests_by_rtt
            .entry((rtt_ms + 0.0).to_bits())
            .or_insert(0.0) += requests;
        self.total_requests += requests;
        self.weighted_sum += requests * rtt_ms;
    }

    pub(super) fn mean(&self) -> Option<f64> {
        (self.total_requests > 0.0).then(|| self.weighted_sum / self.total_requests)
    }

    /// The smallest RTT with at least `share` of all requests at or below it.
    pub(super) fn quantile(&self, share: f64) -> Option<f64> {
        let needed = share * self.total_requests;
        let mut seen = 0.0;
        let mut last = None;
        for (&bits, &requests) in &self.requests_by_rtt {
            seen += requests;
            last = Some(f64::from_bits(bits));
            // A relative slack keeps summation error from skipping the
            // value that reaches the share exactly.
            if seen >= needed * (1.0 - 1e-12) {
                return last;
            }
        }
        last
    }
}

/// Sustained shifts per edge region, tracked tick by tick.
struct ShiftTracker {
    level: f64,
    sustain: usize,
    nearby_ms: f64,
    runs: Vec<Run>,
    shifts: usize,
    reactions: Vec<usize>,
}

#[derive(Clone, Copy, Default)]
struct Run {
    length: usize,
    start: usize,
    started_nearby: bool,
    served_at: Option<usize>,
}

/// What a [`ShiftTracker`] found.
struct Shifts {
    shifts: usize,
    reactions: Vec<usize>,
}

impl ShiftTracker {
    fn new(edges: usize, options: &QualityOptions) -> Self {
        ShiftTracker {
            level: options.shift_level,
            sustain: options.shift_sustain_ticks.max(1),
            nearby_ms: options.served_within_ms,
            runs: vec![Run::default(); edges],
            shifts: 0,
            reactions: Vec::new(),
        }
    }

    fn observe(&mut self, tick: usize, edge: usize, requests: f64, rtt_ms: f64) {
        let nearby = rtt_ms <= self.nearby_ms;
        if requests < self.level {
            self.close(edge);
            return;
        }
        let run = &mut self.runs[edge];
        if run.length == 0 {
            *run = Run {
                length: 0,
                start: tick,
                started_nearby: nearby,
                served_at: None,
            };
        }
        if nearby && run.served_at.is_none() {
            run.served_at = Some(tick);
        }
        run.length += 1;
    }

    fn close(&mut self, edge: usize) {
        let run = std::mem::take(&mut self.runs[edge]);
        if run.length >= self.sustain && !run.started_nearby {
            self.shifts += 1;
            if let Some(served_at) = run.served_at {
                self.reactions.push(served_at - run.start);
            }
        }
    }

    fn finish(mut self) -> Shifts {
        for edge in 0..self.runs.len() {
            self.close(edge);
        }
        Shifts {
            shifts: self.shifts,
            reactions: self.reactions,
        }
    }
}

/// Flaps over the serving sets; the change into `serving[i]` is dated at
/// tick `i`.
fn count_flaps(
    before: &BTreeSet<Region>,
    serving: &[&BTreeSet<Region>],
    trace: &Trace,
    options: &QualityOptions,
) -> usize {
    let mut added_at: BTreeMap<&Region, Timestamp> = BTreeMap::new();
    let mut removed_at: BTreeMap<&Region, Timestamp> = BTreeMap::new();
    let within = |earlier: Option<&Timestamp>, now: Timestamp| {
        earlier.is_some_and(|&then| now.duration_since(then) <= options.flap_window)
    };
    let mut flaps = 0;
    let mut previous = before;
    for (&set, snapshot) in serving.iter().zip(trace.ticks()) {
        let now = snapshot.at();
        for region in set.difference(previous) {
            flaps += usize::from(within(removed_at.get(region), now));
            added_at.insert(region, now);
        }
        for region in previous.difference(set) {
            flaps += usize::from(within(added_at.get(region), now));
            removed_at.insert(region, now);
        }
        previous = set;
    }
    flaps
}
