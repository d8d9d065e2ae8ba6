//! The latency policy: choose the set of regions that minimises users'
//! round-trip time for the machines it costs.
//!
//! Placement is facility location on the [`LatencyModel`]: with `w_r` the
//! traffic entering at edge region `r` and `U` the app's usual total
//! traffic, choose the deployed set `D` minimising
//!
//! ```text
//! Σ_r w_r · RTT(r, D)  +  λ · |D|
//! ```
//!
//! where `λ`, the price of a region, is set by `latency.price_ms`,
//! `latency.target_machines` or `latency.budget` and stays put over a
//! period ([`PriceInForce`]), or else by the legacy keys:
//! `λ = max(region_cost_ms · U, min_region_saving)`, so one more region
//! is worth it exactly when it lowers the mean round trip of the usual
//! traffic by at least `region_cost_ms`, and saves at least
//! `min_region_saving` request-milliseconds in all: the relative price
//! scales with the app, the absolute floor makes a quiet spell run fewer
//! machines than a peak. `w_r` is the larger of
//! the region's latest count and its short-term average: a rise counts at
//! once, a fall only as the average comes down. `U` is the lower of the
//! current total `Σ w_r` and its slow average ([`TrafficBaseline`], half-life
//! `baseline_half_life`): a crowd in one region does not price out the
//! regions serving everyone else, and a quiet night still calls for fewer
//! regions.
//!
//! The edges are the regions traffic entered at; `D` is chosen among the
//! regions the platform takes machines in (each edge's
//! [home](super::PlanningView::home), the observed regions that take
//! machines, the deployed and the always-running ones): an edge region is
//! never deployed, its users are served from the nearest region of `D`. A
//! deployed region the platform no longer takes new machines in (deprecated,
//! full) may stay in `D` but never joins it.
//!
//! `D` keeps the always-running regions, stays within the allowed and not
//! excluded regions (and those already deployed), leaves out regions the
//! backend could not deploy lately (their users count, served from the
//! next-best region), keeps regions whose removal the backend refused, has
//! between
//! `min_regions` and `max_regions` members; with a machine budget
//! (`latency.budget`), no more than what is left of it pays for until the
//! end of its period. A change is proposed only when it improves the
//! objective by `improvement_margin` for `persist_ticks` consecutive ticks
//! (or by `urgent_improvement` at once), so noise does not move machines,
//! and a move is not undone within `stabilization_window`. With
//! `machine_startup`, a region the new set drops stays until the regions
//! taking over its users have started (make before break).

mod baseline;
mod budget;
mod explain;
mod forecast;
mod memory;
mod price;
mod reason;
mod settings;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use super::{
    BudgetUse, PlacementPolicy, PlanningView, PolicyContext, PolicyEntry, PolicyMemory, PolicyName,
    PolicySummary,
};
use crate::network::solver::{count, FacilityProblem};
use crate::report::RegionDetail;
use crate::{
    network::LatencyModel, network::RttTable, Action, Decision, PlacerConfig, Reason, Region,
};
pub use baseline::TrafficBaseline;
use budget::BudgetLimits;
pub use budget::MachineTime;
use explain::Explainer;
use forecast::Outlook;
pub use memory::LatencyMemory;
pub use price::{LongRunTraffic, PriceBasis, PriceInForce, LONG_RUN_HALF_LIFE};
pub use reason::LatencyReason;
pub use settings::{LatencySettings, MachineBudget, DEFAULT_MIN_REGION_SAVING};

/// The latency policy's line in the [registry](super::POLICIES): its
/// settings are the config's `latency:` section.
pub(super) const ENTRY: PolicyEntry =
    PolicyEntry::new("latency", build).with_settings::<LatencySettings>();

impl PolicyName {
    /// The latency policy.
    pub const LATENCY: PolicyName = PolicyName::new("latency");
}

fn build(context: &PolicyContext<'_>) -> Box<dyn PlacementPolicy> {
    Box::new(LatencyPolicy::new(Arc::clone(context.latency_model)))
}

/// Places machines where they cut users' round trips most.
#[derive(Debug, Clone)]
pub struct LatencyPolicy {
    model: Arc<LatencyModel>,
}

impl LatencyPolicy {
    /// A latency policy on `model`.
    pub fn new(model: Arc<LatencyModel>) -> Self {
        LatencyPolicy { model }
    }
}

impl PlacementPolicy for LatencyPolicy {
    fn name(&self) -> PolicyName {
        PolicyName::LATENCY
    }

    fn propose(&self, view: &PlanningView<'_>, memory: &mut PolicyMemory) -> Vec<Decision> {
        let mut mine: LatencyMemory = memory.load();
        let proposals = self.propose_with(view, &mut mine);
        memory.store(&mine);
        proposals
    }

    fn plans_with_forecasts(&self) -> bool {
        true
    }

    /// The machine budget (`latency.budget`, or the weekly one
    /// `latency.target_machines` stands for), if any, and the machine-hours
    /// the current period has spent; the region price in force and why.
    fn summary(&self, config: &PlacerConfig, memory: &PolicyMemory) -> PolicySummary {
        let settings: LatencySettings = config.policy_settings.get();
        let mine = memory.load::<LatencyMemory>();
        let mut summary = PolicySummary::default();
        if let Some(price) = mine
            .price
            .clone()
            .or_else(|| price::usual_price(&settings, &mine))
        {
            summary = summary.with_price(price);
        }
        let Some(budget) = price::spending_budget(&settings) else {
            return summary;
        };
        let machine_time = mine.machine_time;
        let spent = machine_time.map_or(0.0, |spent| spent.machine_seconds / 3600.0);
        let mut using = BudgetUse::new(budget.machine_hours, spent);
        if let Some(counted) = machine_time {
            using = using.with_period_end(counted.period_start + budget.period);
        }
        summary.with_budget(using)
    }
}

impl LatencyPolicy {
    fn propose_with(&self, view: &PlanningView<'_>, memory: &mut LatencyMemory) -> Vec<Decision> {
        let config = view.config;
        let settings: LatencySettings = config.policy_settings.get();
        let window = settings.stabilization_window;
        let Outlook { weights, raised } = Outlook::new(view, &settings);
        let total: f64 = weights.iter().map(|(_, w)| w).sum();
        // A gap in observation (the service was down) is not evidence that a
        // better set stayed better: the patient wait starts again.
        let last_seen = memory.traffic_baseline.map(|baseline| baseline.at);
        if last_seen.is_some_and(|at| view.now.duration_since(at) > window) {
            memory.better_since = None;
        }
        let baseline = match memory.traffic_baseline {
            Some(baseline) => baseline.update(total, view.now, settings.baseline_half_life),
            None => TrafficBaseline::start(total, view.now),
        };
        memory.traffic_baseline = Some(baseline);
        let usual_total = total.min(baseline.requests);
        let budget = BudgetLimits::read(view, &settings, memory);
        price::observe(view, &settings, memory);
        if total <= 0.0 {
            memory.latency_streak = 0;
            memory.better_since = None;
            return hold_all(view, Reason::policy(LatencyReason::NoTraffic));
        }
        // Users are counted where they entered (the edges); machines may
        // run where the platform takes them: the regions in play (the
        // observed ones, the deployed ones and each one's home) that are
        // deployed or may be deployed. A deployed region the platform takes
        // no new machine in may be kept, never deployed again.
        let candidates = placeable(view);
        let table = RttTable::over_platform(
            weights.iter().map(|(r, _)| *r),
            candidates,
            &self.model,
            view.platform,
        );
        // Table rows are sorted by region, like `weights` (taken from a BTreeMap).
        debug_assert!(table.edges().iter().eq(weights.iter().map(|(r, _)| r)));
        let columns = table.servers();
        // A region the budget took away is not held by the window: it may
        // come back as soon as the budget pays for it.
        memory
            .budget_removed
            .retain(|r| stabilizing(view, window, r).is_some() && !view.deployed.contains(r));
        let exempt = memory.budget_removed.clone();
        let window_holds =
            |r: &Region| stabilizing(view, window, r).filter(|_| !exempt.contains(r));
        // Regions that cannot change this tick keep their state in every
        // candidate set, so a move never relies on a deploy or removal that
        // the stabilization window or the cooldown would hold back.
        let held: Vec<bool> = columns
            .iter()
            .map(|r| {
                window_holds(r).is_some()
                    || view.state.cooldown_remaining(r, config, view.now).is_some()
                    || view.removal_refused(r)
            })
            .collect();
        let max_regions = config.max_regions.unwrap_or(usize::MAX);
        let cap = |limit: Option<usize>| {
            limit
                .map_or(max_regions, |regions| max_regions.min(regions))
                .max(config.min_regions)
        };
        let inputs = price::PriceInputs {
            model: &self.model,
            settings: &settings,
            usual_total,
        };
        let region_price = price::region_price(view, &inputs, memory);
        let mut problem = FacilityProblem {
            table: &table,
            weights: weights.iter().map(|(_, w)| *w).collect(),
            region_cost: vec![region_price; columns.len()],
            min_size: config.min_regions,
            max_size: cap(budget.map(|limits| limits.now)),
            fixed: columns
                .iter()
                .zip(&held)
                .map(|(r, held)| {
                    config.always_running_regions.contains(r)
                        || (*held && view.deployed.contains(r))
                })
                .collect(),
            allowed: columns
                .iter()
                .zip(&held)
                .map(|(r, held)| {
                    view.deployed.contains(r)
                        || config.always_running_regions.contains(r)
                        || (config.may_deploy(r) && !held)
                })
                .collect(),
        };
        let current: Vec<bool> = columns.iter().map(|r| view.deployed.contains(r)).collect();
        // Regions whose removal was decided and waits for their successors
        // to start count as gone: the wait is not a reason to move again.
        let awaiting = std::mem::take(&mut memory.awaiting_startup);
        let planned: Vec<bool> = columns
            .iter()
            .zip(&current)
            .map(|(r, deployed)| *deployed && !awaiting.contains(r))
            .collect();
        // When the budget pays for more regions within the stabilization
        // window and the better placement needs them, the changes made now
        // are steps towards that placement: a machine deployed now is not
        // then held by the window somewhere the larger set does not use.
        let mut awaited: BTreeSet<Region> = BTreeSet::new();
        if let Some(limits) = budget {
            let soon = cap(Some(limits.soon));
            if soon > problem.max_size {
                let affordable = std::mem::replace(&mut problem.max_size, soon);
                let later = problem.solve(&planned);
                problem.max_size = affordable;
                if count(&later) > affordable {
                    for ((allowed, wanted), deployed) in
                        problem.allowed.iter_mut().zip(&later).zip(&current)
                    {
                        *allowed &= *wanted || *deployed;
                    }
                    awaited = chosen(columns, &later);
                }
            }
        }
        let over_budget = count(&current) > problem.max_size;
        let target = problem.solve(&planned);
        let current_cost = problem.cost(&planned);
        let gain = if current_cost > 0.0 {
            (current_cost - problem.cost(&target)) / current_cost
        } else {
            0.0
        };
        let changes = target != planned;
        let worthwhile = changes && gain > 0.0 && gain >= settings.improvement_margin;
        memory.latency_streak = if worthwhile {
            memory.latency_streak.saturating_add(1)
        } else {
            0
        };
        let patient = changes && gain > 0.0 && gain >= settings.patient_margin;
        memory.better_since = if patient {
            Some(memory.better_since.unwrap_or(view.now))
        } else {
            None
        };
        let better_for = memory
            .better_since
            .map_or(Duration::ZERO, |since| view.now.duration_since(since));
        let patience_done = patient && better_for >= settings.stabilization_window;
        let urgent = worthwhile && gain >= settings.urgent_improvement;
        let ready = (over_budget && changes)
            || urgent
            || (worthwhile && memory.latency_streak >= settings.persist_ticks)
            || patience_done;

        let target_set = chosen(columns, &target);
        let explainer = Explainer::new(&table, &weights, total, view.deployed, &target_set);
        if over_budget && ready {
            let cut = view.deployed.difference(&target_set);
            memory.budget_removed.extend(cut.copied());
        }
        let postponed = match budget {
            Some(_) if ready => deploys_over_budget(view, &target_set, problem.max_size),
            _ => BTreeSet::new(),
        };
        // Make before break: a removal waits while users it serves are to
        // be served by a machine that has not started yet.
        let removing: BTreeSet<Region> = view
            .deployed
            .difference(&target_set)
            .filter(|r| {
                window_holds(r).is_none()
                    && ((ready && !over_budget) || (!ready && awaiting.contains(r)))
            })
            .copied()
            .collect();
        let startup_holds = startup_holds(view, &table, &target_set, &removing);
        memory.awaiting_startup = startup_holds.keys().copied().collect();
        view.regions
            .keys()
            .map(|region| {
                let wanted = target_set.contains(region);
                let deployed = view.deployed.contains(region);
                let (action, reason) = match (wanted, deployed) {
                    _ if window_holds(region).is_some() => (
                        Action::None,
                        Reason::policy(LatencyReason::Stabilizing {
                            remaining_secs: window_holds(region).unwrap_or_default(),
                        }),
                    ),
                    (true, true) => match raised.get(region) {
                        Some(forecast) => (
                            Action::None,
                            Reason::policy(LatencyReason::ExpectedAgain {
                                forecast: *forecast,
                            }),
                        ),
                        None => (Action::None, explainer.keep(region)),
                    },
                    (false, false) if awaited.contains(region) => (
                        Action::None,
                        Reason::policy(LatencyReason::BudgetWait {
                            regions: awaited.len(),
                            in_secs: budget.map_or(0, |limits| limits.soon_in.as_secs()),
                        }),
                    ),
                    (false, false) => (Action::None, explainer.served_from(region)),
                    (true, false) if ready && postponed.contains(region) => (
                        Action::None,
                        Reason::policy(LatencyReason::OverBudget {
                            regions: problem.max_size,
                        }),
                    ),
                    (true, false) if ready => match raised.get(region) {
                        Some(forecast) => (
                            Action::Deploy,
                            Reason::policy(LatencyReason::Ahead {
                                forecast: *forecast,
                            }),
                        ),
                        None => (Action::Deploy, explainer.deploy(region)),
                    },
                    (false, true) if ready && over_budget => (
                        Action::Remove,
                        Reason::policy(LatencyReason::OverBudget {
                            regions: problem.max_size,
                        }),
                    ),
                    (false, true) if removing.contains(region) => match startup_holds.get(region) {
                        Some(&(successor, remaining_secs)) => (
                            Action::None,
                            Reason::policy(LatencyReason::AwaitingStartup {
                                successor,
                                remaining_secs,
                            }),
                        ),
                        None => (Action::Remove, explainer.remove(region)),
                    },
                    _ if worthwhile => (
                        Action::None,
                        Reason::policy(LatencyReason::Pending {
                            gain_pct: 100.0 * gain,
                            ticks: memory.latency_streak,
                            needed: settings.persist_ticks,
                        }),
                    ),
                    _ if patient => (
                        Action::None,
                        Reason::policy(LatencyReason::Patient {
                            gain_pct: 100.0 * gain,
                            held_secs: better_for.as_secs(),
                            needed_secs: settings.stabilization_window.as_secs(),
                        }),
                    ),
                    _ => (
                        Action::None,
                        Reason::policy(LatencyReason::BelowMargin {
                            gain_pct: 100.0 * gain,
                            margin_pct: 100.0 * settings.improvement_margin,
                        }),
                    ),
                };
                Decision::new(*region, action, reason)
            })
            .collect()
    }
}

/// The traffic a region's requests count with: the larger of its latest
/// count and its short-term average, so a rise counts at once and a fall as
/// the average comes down; for a deployed region also its long-term average,
/// so a machine stays while its crowd fades rather than on the first quiet
/// minutes.
fn weight(detail: &RegionDetail, deployed: bool) -> f64 {
    let latest = detail.current.max(detail.requests);
    if deployed {
        latest.max(detail.long)
    } else {
        latest
    }
}

/// Whole seconds until `region`, deployed and still starting, serves
/// (`machine_startup` after its deploy); `None` once it has started, or
/// when it is not deployed.
fn starting(view: &PlanningView<'_>, region: &Region) -> Option<u64> {
    let startup = view.config.machine_startup;
    if startup.is_zero() || !view.deployed.contains(region) {
        return None;
    }
    let last = view.state.region(region)?.last_action?;
    let elapsed = view.now.duration_since(last.at);
    (last.action == Action::Deploy && elapsed < startup)
        .then(|| (startup - elapsed).as_secs_f64().ceil() as u64)
}

/// The regions of `removing` that still serve users whom `target` hands to
/// a machine that has not started (deployed and starting, or not deployed
/// yet): each with that successor and the whole seconds until it serves.
/// Without `machine_startup` nothing is held.
fn startup_holds(
    view: &PlanningView<'_>,
    table: &RttTable,
    target: &BTreeSet<Region>,
    removing: &BTreeSet<Region>,
) -> BTreeMap<Region, (Region, u64)> {
    let mut holds: BTreeMap<Region, (Region, u64)> = BTreeMap::new();
    if view.config.machine_startup.is_zero() || removing.is_empty() {
        return holds;
    }
    let columns = table.servers();
    let indices = |keep: &dyn Fn(&Region) -> bool| -> Vec<usize> {
        (0..columns.len()).filter(|&c| keep(&columns[c])).collect()
    };
    let up = indices(&|r| view.deployed.contains(r) && starting(view, r).is_none());
    let planned = indices(&|r| target.contains(r));
    for edge in 0..table.edges().len() {
        let Some((now, _)) = table.nearest(edge, &up) else {
            continue;
        };
        let Some((next, _)) = table.nearest(edge, &planned) else {
            continue;
        };
        let (server, successor) = (columns[now], columns[next]);
        if !removing.contains(&server) || up.contains(&next) {
            continue;
        }
        let remaining = if view.deployed.contains(&successor) {
            starting(view, &successor).unwrap_or(0)
        } else {
            view.config.machine_startup.as_secs_f64().ceil() as u64
        };
        let hold = holds.entry(server).or_insert((successor, remaining));
        if remaining > hold.1 {
            *hold = (successor, remaining);
        }
    }
    holds
}

/// Seconds left before a move on `region` may undo its last one.
fn stabilizing(view: &PlanningView<'_>, window: Duration, region: &Region) -> Option<u64> {
    let last = view.state.region(region)?.last_action?;
    let elapsed = view.now.duration_since(last.at);
    (elapsed <= window).then(|| (window - elapsed).as_secs_f64().ceil() as u64)
}

/// The deploys of a change to `target` that must wait for a later tick so
/// that no tick ends with more than `affordable` regions: the planner
/// carries out deploys before removals and at most `max_actions_per_tick`
/// actions, so a large change is made over several ticks. The busiest
/// regions, which the planner deploys first, go first.
fn deploys_over_budget(
    view: &PlanningView<'_>,
    target: &BTreeSet<Region>,
    affordable: usize,
) -> BTreeSet<Region> {
    let mut deploys: Vec<Region> = target.difference(view.deployed).copied().collect();
    let signed = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    let removals = signed(view.deployed.difference(target).count());
    let actions = signed(view.config.max_actions_per_tick);
    let headroom = signed(affordable).saturating_sub(signed(view.deployed.len()));
    // d deploys and then min(removals, actions - d) removals must not add
    // more than `headroom` regions.
    let now = signed(deploys.len())
        .min(removals.saturating_add(headroom))
        .min(actions.saturating_add(headroom).div_euclid(2))
        .max(0) as usize;
    let traffic = |r: &Region| view.regions.get(r).map_or(0.0, |d| d.current);
    deploys.sort_by(|a, b| traffic(b).total_cmp(&traffic(a)).then_with(|| a.cmp(b)));
    deploys.into_iter().skip(now).collect()
}

/// The regions of `columns` that `set` chooses.
fn chosen(columns: &[Region], set: &[bool]) -> BTreeSet<Region> {
    columns
        .iter()
        .zip(set)
        .filter(|(_, chosen)| **chosen)
        .map(|(r, _)| *r)
        .collect()
}

fn hold_all(view: &PlanningView<'_>, reason: Reason) -> Vec<Decision> {
    view.regions
        .keys()
        .map(|region| Decision::new(*region, Action::None, reason.clone()))
        .collect()
}

#[cfg(test)]
mod budget_tests;
#[cfg(test)]
mod forecast_tests;
/// The regions in play a machine may run in: the deployed ones, and those
/// the platform takes new machines in.
fn placeable(view: &PlanningView<'_>) -> BTreeSet<Region> {
    view.regions
        .keys()
        .filter(|r| view.deployed.contains(r) || view.may_deploy(r))
        .copied()
        .collect()
}

#[cfg(test)]
mod tests;
