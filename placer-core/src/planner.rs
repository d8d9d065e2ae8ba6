//! The planner: a pure function from what was observed to a [`Plan`].
//!
//! It asks the configured policy for proposals, then applies the rules every
//! policy shares, in this order: regions the backend could not deploy
//! lately (they sit out their backoff), regions the platform takes no new
//! machine in (never deployed; kept while they run, see
//! [`Reason::NotDeployable`]), always-running regions, the
//! excluded and allowed lists, no removals without usable metrics, removals
//! the backend refused lately, cooldowns, the minimum number of regions, and
//! the action limit. Every proposal that is
//! not carried out ends up in `skipped` with its reason.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use crate::network::platform::{PlatformRegions, Unavailable};
use crate::network::LatencyModel;
use crate::policy::{PlacementPolicy, PlanningView, PolicyMemory, PolicyName};
use crate::report::RegionDetail;
use crate::sizing::MachinePlan;
use crate::{Action, Decision, EngineState, Move, PlacerConfig, Reason, Region, Timestamp};

/// What the planner decided for one tick.
///
/// It is only a decision: nothing has changed until its moves are carried
/// out and [committed](crate::Placer::commit).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Plan {
    /// Moves to carry out, most urgent first.
    pub actions: Vec<Decision<Move>>,
    /// Regions left alone, with the reason, in region order.
    pub skipped: Vec<Decision>,
    /// The numbers behind each region's decision.
    pub regions: BTreeMap<Region, RegionDetail>,
    /// The policy that proposed the moves.
    pub policy: PolicyName,
    /// What the policy keeps for its next tick.
    pub memory: PolicyMemory,
    /// The deployment the plan was made against: the regions listed, and
    /// those [pending](Self::pending).
    pub deployed: BTreeSet<Region>,
    /// Regions of `deployed` that the listing lacks but that count as
    /// deployed because a deploy of theirs is in doubt (see
    /// [`PendingDeploy`](crate::state::PendingDeploy)).
    pub pending: BTreeSet<Region>,
    /// The time the plan was made for.
    pub at: Timestamp,
    /// How many machines each region gets: set by
    /// [`Placer::size`](crate::Placer::size) when the config has a
    /// `machines:` section, `None` otherwise (one machine per region).
    pub machines: Option<MachinePlan>,
}

impl Plan {
    /// A plan with no moves, nothing skipped and no memory, made by
    /// `policy` against `deployed` at `at`; fill in its public fields. For
    /// testing what consumes plans (or a bot's own execution) without
    /// running the engine; [`Placer::decide`](crate::Placer::decide) makes
    /// the real ones.
    ///
    /// ```
    /// use placer_core::policy::PolicyName;
    /// use placer_core::{Action, Decision, Move, Plan, Reason, Timestamp};
    ///
    /// let at = Timestamp::from_unix_seconds(1_800_000_000);
    /// let mut plan = Plan::new(PolicyName::THRESHOLD, ["iad".parse().unwrap()].into(), at);
    /// plan.actions.push(Decision::new("fra".parse().unwrap(), Move::Deploy, Reason::NoData));
    /// assert_eq!(plan.actions.len(), 1);
    /// ```
    pub fn new(policy: PolicyName, deployed: BTreeSet<Region>, at: Timestamp) -> Self {
        Plan {
            actions: Vec::new(),
            skipped: Vec::new(),
            regions: BTreeMap::new(),
            policy,
            memory: PolicyMemory::default(),
            deployed,
            pending: BTreeSet::new(),
            at,
            machines: None,
        }
    }

    /// The regions the listing showed deployed: [`deployed`](Self::deployed)
    /// less [`pending`](Self::pending).
    pub fn listed(&self) -> BTreeSet<Region> {
        self.deployed.difference(&self.pending).copied().collect()
    }
}

pub(crate) use details::home_of;

/// The deployed region nearest `region` (itself when deployed), with the
/// round trip between them.
pub(crate) fn nearest_deployed(
    platform: &PlatformRegions,
    region: &Region,
    deployed: &BTreeSet<Region>,
) -> Option<Region> {
    nearest(platform, region, deployed).map(|(server, _)| server)
}
pub use details::region_details;

/// Everything the planner needs besides the policy.
#[derive(Debug, Clone, Copy)]
pub struct PlanInput<'a> {
    /// The engine's config (assumed valid).
    pub config: &'a PlacerConfig,
    /// History, streaks and last actions.
    pub state: &'a EngineState,
    /// Regions deployed now: those the actuator listed, and those
    /// `pending`.
    pub deployed: &'a BTreeSet<Region>,
    /// Regions of `deployed` the actuator did not list, counted as
    /// deployed because a deploy of theirs is in doubt: never deployed
    /// again nor removed, and not counted towards `min_regions`.
    pub pending: &'a BTreeSet<Region>,
    /// The tick's time.
    pub now: Timestamp,
    /// False when the latest observation carried no traffic at all: then
    /// nothing is removed (missing data never shrinks the deployment).
    pub metrics_usable: bool,
    /// Which regions take new machines now, and where each region is.
    pub platform: &'a PlatformRegions,
}

/// Plans one tick with `policy`.
pub fn plan(input: &PlanInput<'_>, policy: &dyn PlacementPolicy) -> Plan {
    let config = input.config;
    let regions = region_details(input);
    let view = PlanningView::new(config, input.state, input.deployed, &regions, input.now)
        .with_platform(input.platform);
    let policy_name = policy.name();
    let mut memory = input.state.policy_memory(&policy_name);
    // At most one proposal per region, walked in region order beside
    // `regions` (policies usually answer in that order already).
    let mut proposals = policy.propose(&view, &mut memory);
    proposals.sort_by_key(|p| p.region);
    proposals.dedup_by_key(|p| p.region);
    let mut proposals = proposals.into_iter().peekable();

    let mut skipped = Vec::new();
    let mut candidates = Vec::new();
    // Regions sitting out a backoff after the backend could not deploy them.
    let mut unavailable = Vec::new();
    // Regions the platform takes no new machine in, not deployed.
    let mut not_deployable = Vec::new();
    for region in regions.keys() {
        let deployed = input.deployed.contains(region);
        while proposals.next_if(|p| p.region < *region).is_some() {}
        let proposal = proposals.next_if(|p| p.region == *region);
        let wanted = proposal.as_ref().map_or(Action::None, |p| p.action);
        let policy_reason = proposal.map(|p| p.reason);
        let skip = |action: Action, reason: Reason| Decision::new(*region, action, reason);

        if !deployed {
            if let Some(backoff) = input.state.held_back(region, Move::Deploy, input.now) {
                let wants_it =
                    wanted == Action::Deploy || config.always_running_regions.contains(region);
                let action = if wants_it {
                    Action::Deploy
                } else {
                    Action::None
                };
                unavailable.push((*region, action, backoff));
                continue;
            }
        }
        if !input.platform.is_deployable(region) {
            let why = input
                .platform
                .unavailable(region)
                .unwrap_or(Unavailable::NotCompute);
            if !deployed {
                let wants_it =
                    wanted == Action::Deploy || config.always_running_regions.contains(region);
                not_deployable.push((*region, wanted_deploy(wants_it), why));
                continue;
            }
            if wanted != Action::Remove {
                // Running although the platform takes no new machine
                // there: kept while it runs, never removed for that alone.
                skipped.push(skip(
                    Action::None,
                    Reason::NotDeployable {
                        region: *region,
                        why,
                        running: true,
                        served_from: None,
                        home: input.home(region).map(|home| home.region),
                    },
                ));
                continue;
            }
        }
        if config.always_running_regions.contains(region) {
            if !deployed {
                candidates.push(Decision::new(
                    *region,
                    Move::Deploy,
                    Reason::AlwaysRunningMissing,
                ));
            } else if wanted == Action::Remove {
                skipped.push(skip(Action::Remove, Reason::AlwaysRunning));
            } else {
                skipped.push(skip(Action::None, hold_reason(policy_reason)));
            }
            continue;
        }
        if !deployed && config.excluded_regions.contains(region) {
            skipped.push(skip(
                wanted_deploy(wanted == Action::Deploy),
                Reason::Excluded,
            ));
            continue;
        }
        if !deployed && !config.may_deploy(region) {
            skipped.push(skip(
                wanted_deploy(wanted == Action::Deploy),
                Reason::NotAllowed,
            ));
            continue;
        }
        // A region pending (its deploy in doubt) is neither deployed again
        // nor removed; the reason says why.
        let pending_reason = input
            .pending
            .contains(region)
            .then(|| input.state.pending_deploy(region, config, input.now))
            .flatten()
            .map(|deploy| Reason::DeployPending {
                since: deploy.since,
                until: deploy.until(config.pending_grace),
            });
        let change = match (wanted, deployed) {
            (Action::Deploy, false) => Some(Move::Deploy),
            (Action::Remove, true) => Some(Move::Remove),
            _ => None,
        };
        match change {
            Some(change) => {
                let reason = policy_reason.unwrap_or(Reason::NoData);
                let refused = (change == Move::Remove)
                    .then(|| input.state.held_back(region, Move::Remove, input.now))
                    .flatten();
                if let (Move::Remove, Some(pending)) = (change, pending_reason.clone()) {
                    skipped.push(skip(Action::Remove, pending));
                } else if change == Move::Remove && !input.metrics_usable {
                    skipped.push(skip(Action::Remove, Reason::NoUsableMetrics));
                } else if let Some(backoff) = refused {
                    skipped.push(skip(
                        Action::Remove,
                        Reason::RemovalRefused {
                            since: backoff.since,
                            until: backoff.until,
                            reason: backoff.reason.clone(),
                        },
                    ));
                } else if let Some(left) = input.state.cooldown_remaining(region, config, input.now)
                {
                    skipped.push(skip(
                        wanted,
                        Reason::Cooldown {
                            remaining_secs: left.as_secs_f64().ceil() as u64,
                        },
                    ));
                } else {
                    candidates.push(Decision::new(*region, change, reason));
                }
            }
            None => {
                let reason = pending_reason.unwrap_or_else(|| hold_reason(policy_reason));
                skipped.push(skip(Action::None, reason));
            }
        }
    }

    candidates.sort_by(|a, b| priority(a, b, config, &regions));
    let mut actions = Vec::new();
    // Deploys come first, so a removal may count on this tick's deploys (a
    // move in one tick); the orchestrator re-checks when a deploy fails.
    // A pending region may have no machine: it keeps nothing deployed.
    let mut remaining = input.deployed.difference(input.pending).count();
    for candidate in candidates {
        if candidate.action == Move::Remove && remaining <= config.min_regions {
            skipped.push(Decision::new(
                candidate.region,
                Action::Remove,
                too_few_regions(config),
            ));
            continue;
        }
        if actions.len() >= config.max_actions_per_tick {
            skipped.push(Decision::new(
                candidate.region,
                candidate.action.into(),
                Reason::ActionLimit {
                    max: config.max_actions_per_tick,
                },
            ));
            continue;
        }
        if candidate.action == Move::Remove {
            remaining -= 1;
        } else {
            remaining += 1;
        }
        actions.push(candidate);
    }
    let mut after = input.deployed.clone();
    for action in &actions {
        match action.action {
            Move::Deploy => after.insert(action.region),
            Move::Remove => after.remove(&action.region),
        };
    }
    for (region, action, backoff) in unavailable {
        let reason = Reason::Unavailable {
            since: backoff.since,
            until: backoff.until,
            reason: backoff.reason.clone(),
            served_from: nearest(input.platform, &region, &after).map(|(server, _)| server),
        };
        skipped.push(Decision::new(region, action, reason));
    }
    for (region, action, why) in not_deployable {
        let reason = Reason::NotDeployable {
            region,
            why,
            running: false,
            served_from: nearest(input.platform, &region, &after),
            home: input.home(&region).map(|home| home.region),
        };
        skipped.push(Decision::new(region, action, reason));
    }
    skipped.sort_by_key(|a| a.region);
    Plan {
        actions,
        skipped,
        regions,
        policy: policy_name,
        memory,
        deployed: input.deployed.clone(),
        pending: input.pending.clone(),
        at: input.now,
        machines: None,
    }
}

/// The reason a removal is refused to keep `min_regions` deployed.
pub(crate) fn too_few_regions(config: &PlacerConfig) -> Reason {
    if config.min_regions <= 1 {
        Reason::LastRegion
    } else {
        Reason::MinRegions {
            min: config.min_regions,
        }
    }
}

/// The region of `deployed` nearest to `region` (by great-circle distance
/// over the platform's picture), which serves its users, with their round
/// trip in the distance model.
fn nearest(
    platform: &PlatformRegions,
    region: &Region,
    deployed: &BTreeSet<Region>,
) -> Option<(Region, f64)> {
    deployed
        .iter()
        .filter_map(|d| Some((platform.distance_km(region, d)?, *d)))
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(km, d)| (d, LatencyModel::distance_rtt_of_km(km, d == *region)))
}

fn wanted_deploy(wanted: bool) -> Action {
    if wanted {
        Action::Deploy
    } else {
        Action::None
    }
}

fn hold_reason(policy_reason: Option<Reason>) -> Reason {
    policy_reason.unwrap_or(Reason::NoData)
}

/// Always-running deploys first, then deploys by traffic (busiest first),
/// then removes by traffic (quietest first); region code breaks ties.
fn priority(
    a: &Decision<Move>,
    b: &Decision<Move>,
    config: &PlacerConfig,
    regions: &BTreeMap<Region, RegionDetail>,
) -> Ordering {
    let class = |p: &Decision<Move>| match p.action {
        Move::Deploy if config.always_running_regions.contains(&p.region) => 0,
        Move::Deploy => 1,
        Move::Remove => 2,
    };
    let current = |p: &Decision<Move>| regions.get(&p.region).map_or(0.0, |d| d.current);
    class(a).cmp(&class(b)).then_with(|| {
        let by_traffic = if a.action == Move::Deploy {
            current(b).total_cmp(&current(a))
        } else {
            current(a).total_cmp(&current(b))
        };
        by_traffic.then_with(|| a.region.cmp(&b.region))
    })
}

mod details;
#[cfg(test)]
mod tests;
