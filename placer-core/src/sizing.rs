//! The sizing step: after the policy has chosen the regions, how many
//! machines each of them runs (the `machines:` section).
//!
//! Without a `machines:` section nothing here runs and every deployed
//! region keeps one machine, as before.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::config::MachinesSettings;
use crate::{MachineCount, Move, Region};

/// Why a region gets the count it gets: the load it was sized for and the
/// settings that bounded it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MachineTarget {
    /// The machines the region should have.
    pub count: MachineCount,
    /// The load the count was sized for (the forecast peak over the lead
    /// time, or the latest load): the region's own traffic and that of
    /// the undeployed regions it serves. `None` without
    /// `requests_per_machine`.
    pub load: Option<f64>,
    /// Whether `load` is a forecast peak rather than the latest load.
    pub forecast: bool,
    /// The running machines the load asked for, before any bound.
    pub wanted: u32,
    /// `requests_per_machine`, when set.
    pub requests_per_machine: Option<f64>,
    /// `headroom`, as a fraction.
    pub headroom: f64,
    /// Which bound lowered or raised `wanted`, when one did.
    pub bound: Option<Bound>,
    /// When the app has more than one region: the app's load and the
    /// machines it asks for, which the regions share by load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<AppLoad>,
}

/// The app's total load and the running machines it asks for, shared
/// among its regions by [`share_by_load`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AppLoad {
    /// The sum of the regions' loads.
    pub load: f64,
    /// `load / requests_per_machine` with `headroom` on top, rounded up.
    pub machines: u32,
}

/// The bound of the `machines:` section that set a region's count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    /// Raised to `min_per_region`.
    MinPerRegion,
    /// Lowered to `max_per_region`.
    MaxPerRegion,
    /// Lowered to keep the app within `max_total`.
    MaxTotal,
    /// Lowered to keep the tick within `max_actions_per_tick` machines.
    ActionLimit,
}

impl fmt::Display for MachineTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let running = self.count.running;
        let noun = if running == 1 { "machine" } else { "machines" };
        match (self.load, self.requests_per_machine) {
            (Some(load), Some(per_machine)) => write!(
                f,
                "{running} {noun} for {} requests per 5 min{} ({} per machine, {} % headroom)",
                rounded(load),
                if self.forecast { " forecast" } else { "" },
                rounded(per_machine),
                rounded(self.headroom * 100.0),
            )?,
            _ => write!(f, "{running} {noun} (min_per_region)")?,
        }
        if let Some(app) = self.app {
            write!(
                f,
                ", its share of the app's {} for {} requests",
                app.machines,
                rounded(app.load)
            )?;
        }
        match self.bound {
            Some(Bound::MinPerRegion) if self.load.is_some() => {
                f.write_str(", raised to min_per_region")?
            }
            Some(Bound::MaxPerRegion) => {
                write!(f, ", {} wanted, held to max_per_region", self.wanted)?
            }
            Some(Bound::MaxTotal) => write!(f, ", {} wanted, held to max_total", self.wanted)?,
            Some(Bound::ActionLimit) => write!(
                f,
                ", {} wanted, the rest next tick (max_actions_per_tick counts machines)",
                self.wanted
            )?,
            _ => {}
        }
        if self.count.standby > 0 {
            write!(f, ", {} standby", self.count.standby)?;
        }
        Ok(())
    }
}

fn rounded(value: f64) -> String {
    let value = (value * 10.0).round() / 10.0;
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

/// A change of a deployed region's count that the tick carries out with
/// [`RegionActuator::scale`](crate::RegionActuator::scale).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Resize {
    /// The region.
    pub region: Region,
    /// What it has now.
    pub from: MachineCount,
    /// What it is brought to.
    pub to: MachineCount,
}

impl Resize {
    /// More running machines than before.
    pub fn is_up(&self) -> bool {
        self.to.running > self.from.running
    }
}

/// The sizing step's part of a [`Plan`](crate::Plan), when a `machines:`
/// section is set.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MachinePlan {
    /// What the actuator listed at the start of the tick.
    pub current: BTreeMap<Region, MachineCount>,
    /// The count of every region deployed after the plan's moves, and of
    /// each planned deploy (what it is created with).
    pub targets: BTreeMap<Region, MachineTarget>,
    /// Count changes of regions that stay deployed, carried out this tick.
    pub resizes: Vec<Resize>,
    /// Count changes put off, with why (a scale-down in its cooldown, the
    /// tick's machine budget spent).
    pub held: BTreeMap<Region, String>,
}

impl MachinePlan {
    /// The count `region` is deployed with, or kept at: its target, one
    /// running machine when it has none.
    pub fn target(&self, region: &Region) -> MachineCount {
        self.targets
            .get(region)
            .map_or(MachineCount::ONE, |target| target.count)
    }
}

/// True when a region with `current` machines needs no change to reach
/// `target`: enough running, and as many machines in all. A standby the
/// proxy started counts as running, so it is neither stopped again nor
/// replaced.
pub fn satisfies(current: MachineCount, target: MachineCount) -> bool {
    current.running >= target.running && current.total() == target.total()
}

/// The running machines `load` asks for: `load / requests_per_machine`
/// with `headroom` on top, rounded up; 0 without load.
pub fn machines_for(load: f64, settings: &MachinesSettings) -> u32 {
    let Some(per_machine) = settings.requests_per_machine else {
        return settings.min_per_region;
    };
    if load.is_nan() || load <= 0.0 {
        return 0;
    }
    let wanted = (load * (1.0 + settings.headroom) / per_machine - 1e-9).ceil();
    if wanted >= f64::from(u32::MAX) {
        u32::MAX
    } else {
        wanted as u32
    }
}

/// One region's target count from its load, within `min_per_region` and
/// `max_per_region` (`max_total` is applied over the app afterwards by
/// [`share_max_total`]).
pub fn target_for(load: Option<(f64, bool)>, settings: &MachinesSettings) -> MachineTarget {
    let wanted = match load {
        Some((load, _)) => machines_for(load, settings),
        None => settings.min_per_region,
    };
    let mut running = wanted;
    let mut bound = None;
    if running < settings.min_per_region {
        running = settings.min_per_region;
        bound = Some(Bound::MinPerRegion);
    }
    if let Some(max) = settings.max_per_region {
        if running > max {
            running = max;
            bound = Some(Bound::MaxPerRegion);
        }
    }
    MachineTarget {
        count: MachineCount::new(running.max(1), settings.standby_per_region),
        load: settings
            .requests_per_machine
            .and(load.map(|(load, _)| load)),
        forecast: load.is_some_and(|(_, forecast)| forecast),
        wanted,
        requests_per_machine: settings.requests_per_machine,
        headroom: settings.headroom,
        bound,
        app: None,
    }
}

/// The app's targets from the load of each of its regions, sized over the
/// app as a whole: the app runs `load / requests_per_machine` machines
/// for its total load, with `headroom` on top, rounded up once
/// ([`machines_for`]); they are shared among `regions` in proportion to
/// their loads (whole machines, the rest to the regions that run theirs
/// already, then by largest remainder, so that a wobble of the loads does
/// not move a machine back and forth; `current` is what each region
/// runs, and `starting` says which regions added machines that have not
/// started yet: when the app needs one machine fewer, such a region gives
/// it up before a region whose machines all serve), each region
/// within `min_per_region` and `max_per_region`. A region raised to
/// `min_per_region` counts towards the app's total: its spare capacity
/// covers the rounding of the others, as a full region's requests go to
/// the next-nearest region with room. Without `requests_per_machine`,
/// every region runs `min_per_region`. `max_total` is applied afterwards
/// by [`share_max_total`].
///
/// With one region this is [`target_for`].
pub fn share_by_load(
    regions: &BTreeSet<Region>,
    loads: &BTreeMap<Region, (f64, bool)>,
    current: &BTreeMap<Region, MachineCount>,
    starting: impl Fn(&Region) -> bool,
    settings: &MachinesSettings,
) -> BTreeMap<Region, MachineTarget> {
    let load_of = |region: &Region| loads.get(region).copied().unwrap_or((0.0, false));
    let mut targets: BTreeMap<Region, MachineTarget> = regions
        .iter()
        .map(|region| (*region, target_for(Some(load_of(region)), settings)))
        .collect();
    if settings.requests_per_machine.is_none() || regions.len() < 2 {
        return targets;
    }
    let weight = |region: &Region| {
        let load = load_of(region).0;
        if load.is_nan() || load < 0.0 {
            0.0
        } else {
            load
        }
    };
    let total_load: f64 = regions.iter().map(weight).sum();
    let total = machines_for(total_load, settings);
    let min = settings.min_per_region;
    let max = settings.max_per_region.unwrap_or(u32::MAX).max(min);
    let mut fixed: BTreeMap<Region, u32> = BTreeMap::new();
    let shares = loop {
        let free: Vec<Region> = regions
            .iter()
            .filter(|region| !fixed.contains_key(region))
            .copied()
            .collect();
        let taken: u64 = fixed.values().map(|count| u64::from(*count)).sum();
        let left = u64::from(total).saturating_sub(taken) as f64;
        let free_load: f64 = free.iter().map(weight).sum();
        let quota = |region: &Region| {
            if free_load > 0.0 {
                left * weight(region) / free_load
            } else {
                0.0
            }
        };
        // Bound the region furthest above its maximum first (the others'
        // quotas grow), else the one furthest below its minimum, and share
        // again.
        let high = free
            .iter()
            .filter(|region| quota(region) > f64::from(max))
            .max_by(|a, b| quota(a).total_cmp(&quota(b)).then(b.cmp(a)));
        if let Some(region) = high {
            fixed.insert(*region, max);
            continue;
        }
        let low = free
            .iter()
            .filter(|region| quota(region) < f64::from(min))
            .min_by(|a, b| quota(a).total_cmp(&quota(b)).then(a.cmp(b)));
        if let Some(region) = low {
            fixed.insert(*region, min);
            continue;
        }
        // Whole machines first; of the machines left, a region that runs
        // its quota rounded up already keeps it, so that two regions do
        // not trade a machine back and forth as their loads wobble; then
        // the largest remainders.
        let mut shares: BTreeMap<Region, u32> = BTreeMap::new();
        let mut remainders: Vec<(u8, f64, Region)> = Vec::new();
        let mut placed = 0u64;
        for region in &free {
            let quota = quota(region);
            let whole = quota.floor();
            shares.insert(*region, whole as u32);
            placed += whole as u64;
            if quota > whole {
                let runs = current
                    .get(region)
                    .is_some_and(|count| f64::from(count.running) > whole);
                // 2: runs it with machines that have started, 1: runs it
                // with machines still starting, 0: does not run it.
                let keeps = u8::from(runs) * (1 + u8::from(!starting(region)));
                remainders.push((keeps, quota - whole, *region));
            }
        }
        remainders.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.total_cmp(&a.1)).then(a.2.cmp(&b.2)));
        let short = (left as u64).saturating_sub(placed) as usize;
        for (_, _, region) in remainders.into_iter().take(short) {
            *shares.get_mut(&region).expect("listed") += 1;
        }
        break shares;
    };
    let mut counts: BTreeMap<Region, u32> = regions
        .iter()
        .map(|region| {
            let count = match fixed.get(region) {
                Some(&count) => count,
                None => shares[region].clamp(min, max),
            };
            (*region, count.max(1))
        })
        .collect();
    // Bounds met one after the other can overshoot: no more than the app's
    // count or one minimum per region, taken from the regions with the
    // least load per machine.
    let ceiling = u64::from(total).max(u64::from(min.max(1)) * regions.len() as u64);
    while counts.values().map(|&n| u64::from(n)).sum::<u64>() > ceiling {
        let lightest = counts
            .iter()
            .filter(|(_, &count)| count > min.max(1))
            .min_by(|a, b| {
                (weight(a.0) / f64::from(*a.1))
                    .total_cmp(&(weight(b.0) / f64::from(*b.1)))
                    .then(a.0.cmp(b.0))
            })
            .map(|(region, _)| *region);
        match lightest {
            Some(region) => *counts.get_mut(&region).expect("listed") -= 1,
            None => break,
        }
    }
    for (region, target) in &mut targets {
        let running = counts[region];
        target.count.running = running;
        // A bound is named when it held the region's count against what
        // its own load asks for.
        target.bound = if running == max && target.wanted > max {
            Some(Bound::MaxPerRegion)
        } else if running == min && target.wanted < min {
            Some(Bound::MinPerRegion)
        } else {
            None
        };
        target.app = Some(AppLoad {
            load: total_load,
            machines: total,
        });
    }
    targets
}

/// Lowers the targets so that their running machines add up to at most
/// `max_total`: every region keeps one, then the busiest regions get
/// theirs first.
pub fn share_max_total(targets: &mut BTreeMap<Region, MachineTarget>, max_total: Option<u32>) {
    let Some(max_total) = max_total else {
        return;
    };
    let total: u64 = targets.values().map(|t| u64::from(t.count.running)).sum();
    if total <= u64::from(max_total) {
        return;
    }
    let mut pool = max_total.saturating_sub(targets.len() as u32);
    let mut order: Vec<Region> = targets.keys().copied().collect();
    order.sort_by(|a, b| {
        let load = |region: &Region| targets[region].load.unwrap_or(0.0);
        load(b).total_cmp(&load(a)).then(a.cmp(b))
    });
    for region in order {
        let target = targets.get_mut(&region).expect("listed");
        let extra = (target.count.running - 1).min(pool);
        pool -= extra;
        if 1 + extra < target.count.running {
            target.count.running = 1 + extra;
            target.bound = Some(Bound::MaxTotal);
        }
    }
}

/// Fits the planned deploys and the count changes into the tick's budget
/// of `budget` machines started or stopped beyond one per planned move:
/// deploys first (each gets at least one machine), then scale-ups (the
/// largest shortfall first), then scale-downs. A scale-down whose region
/// is cooling down (`cooling` says so) waits. So does a scale-down while
/// another region has machines that have not started yet: those of
/// `starting` (deployed or scaled up less than `machine_startup` ago), and
/// the deploys and scale-ups of this tick; the app's running machines
/// serve its load until the new ones take over. Standbys cost nothing.
pub fn fit(
    plan: &mut MachinePlan,
    moves: &[(Region, Move)],
    staying: &BTreeSet<Region>,
    starting: &BTreeSet<Region>,
    mut budget: u32,
    cooling: impl Fn(&Region) -> Option<u64>,
) {
    for (region, step) in moves {
        if *step != Move::Deploy {
            continue;
        }
        if let Some(target) = plan.targets.get_mut(region) {
            let extra = (target.count.running - 1).min(budget);
            budget -= extra;
            if 1 + extra < target.count.running {
                target.count.running = 1 + extra;
                target.bound = Some(Bound::ActionLimit);
            }
        }
    }
    let mut ups = Vec::new();
    let mut downs = Vec::new();
    for region in staying {
        let current = plan
            .current
            .get(region)
            .copied()
            .unwrap_or(MachineCount::ONE);
        let target = plan.target(region);
        if satisfies(current, target) {
            continue;
        }
        if target.running > current.running {
            ups.push((target.running - current.running, *region, current, target));
        } else {
            downs.push((*region, current, target));
        }
    }
    ups.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (short, region, current, target) in ups {
        let step = short.min(budget);
        if step == 0 {
            plan.held.insert(
                region,
                "max_actions_per_tick machines started or stopped this tick already".to_owned(),
            );
            continue;
        }
        budget -= step;
        if step < short {
            if let Some(target) = plan.targets.get_mut(&region) {
                target.bound = Some(Bound::ActionLimit);
            }
        }
        let to = MachineCount::new(current.running + step, target.standby);
        plan.resizes.push(Resize {
            region,
            from: current,
            to,
        });
    }
    let mut adding: BTreeSet<Region> = starting.clone();
    adding.extend(
        moves
            .iter()
            .filter(|(_, step)| *step == Move::Deploy)
            .map(|(region, _)| *region),
    );
    adding.extend(
        plan.resizes
            .iter()
            .filter(|resize| resize.is_up())
            .map(|resize| resize.region),
    );
    for (region, current, target) in downs {
        // Fewer running machines, or only the standbys change.
        let surplus = current.running.saturating_sub(target.running);
        if surplus > 0 {
            if let Some(left) = cooling(&region) {
                plan.held.insert(
                    region,
                    format!(
                        "scale-down from {} running waits for the cooldown ({left}s left)",
                        current.running
                    ),
                );
                continue;
            }
            if let Some(other) = adding.iter().find(|other| **other != region) {
                plan.held.insert(
                    region,
                    format!(
                        "scale-down from {} running waits for the machines added in {other} to start",
                        current.running
                    ),
                );
                continue;
            }
        }
        let step = surplus.min(budget);
        if surplus > 0 && step == 0 {
            plan.held.insert(
                region,
                "max_actions_per_tick machines started or stopped this tick already".to_owned(),
            );
            continue;
        }
        budget -= step;
        plan.resizes.push(Resize {
            region,
            from: current,
            to: MachineCount::new(current.running - step, target.standby),
        });
    }
}

#[cfg(test)]
mod tests;
