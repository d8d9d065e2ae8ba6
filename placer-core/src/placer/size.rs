//! Step 2b of a tick: [`Placer::size`] sets how many machines each region
//! of a plan runs, when the config has a `machines:` section.

use std::collections::{BTreeMap, BTreeSet};

use super::Placer;
use crate::config::MachinesSettings;
use crate::planner::{self, Plan};
use crate::sizing::{self, MachinePlan};
use crate::{MachineCount, Move, Region};

impl Placer {
    /// Whether the config has a `machines:` section — even an empty one,
    /// which means its defaults ([`PolicySettings::is_written`](crate::policy::PolicySettings::is_written)) —
    /// or settings other than the defaults ([`MachinesSettings::is_set`]):
    /// then [`tick`](Self::tick) lists the deployment with counts,
    /// [sizes](Self::size) each plan, scales regions and reports resizes.
    pub fn sizes_machines(&self) -> bool {
        let settings = &self.config.policy_settings;
        settings.is_written::<MachinesSettings>() || settings.get::<MachinesSettings>().is_set()
    }

    /// Step 2b of a tick, after [`decide`](Self::decide): sets
    /// [`Plan::machines`] — the count of every region deployed after the
    /// plan's moves, and the count changes of regions that stay — from
    /// `deployment`, the counts the actuator listed
    /// ([`RegionActuator::deployment`](crate::RegionActuator::deployment)).
    /// Does nothing without a `machines:` section
    /// ([`sizes_machines`](Self::sizes_machines)).
    ///
    /// A region's load is the forecast peak over the lead time (the latest
    /// load while not forecasting) of its own traffic and of the
    /// undeployed regions it is nearest to. The app runs the sum of its
    /// regions' loads divided by `requests_per_machine`, with `headroom`
    /// on top, rounded up once, shared among its regions by load
    /// ([`sizing::share_by_load`]) within `min_per_region` and
    /// `max_per_region`, and `max_total` over the app, plus
    /// `standby_per_region` stopped machines. Counting machines against
    /// `max_actions_per_tick`, the plan's moves first (one each), then the
    /// extra machines of its deploys, then scale-ups, then scale-downs; a
    /// scale-down waits for its region's cooldown like a removal, and
    /// while another region has machines that have not started
    /// (`machine_startup`). Never below one running machine in a deployed
    /// region.
    ///
    /// ```
    /// use placer_core::config::MachinesSettings;
    /// use placer_core::{MachineCount, Placer, PlacerConfig, Timestamp, TrafficSnapshot};
    ///
    /// let mut config = PlacerConfig::default();
    /// config.policy_settings.set(
    ///     &MachinesSettings::default().with_requests_per_machine(Some(100.0)).with_standby_per_region(1),
    /// );
    /// let mut placer = Placer::new(config).unwrap();
    /// let now = Timestamp::from_unix_seconds(1_800_000_000);
    /// placer.observe(&TrafficSnapshot::new(now, [("iad", 380.0)]).unwrap());
    /// let iad = "iad".parse().unwrap();
    /// let mut plan = placer.decide(&[iad].into(), now);
    /// placer.size(&mut plan, &[(iad, MachineCount::ONE)].into());
    /// let machines = plan.machines.unwrap();
    /// // 380 × 1.2 / 100 = 4.56: five machines, and a standby.
    /// assert_eq!(machines.target(&iad), MachineCount::new(5, 1));
    /// assert_eq!(machines.resizes[0].to, MachineCount::new(4, 1)); // 3 more this tick
    /// assert_eq!(
    ///     machines.targets[&iad].to_string(),
    ///     "5 machines for 380 requests per 5 min (100 per machine, 20 % headroom), 5 wanted, the rest next tick (max_actions_per_tick counts machines), 1 standby"
    /// );
    /// ```
    pub fn size(&self, plan: &mut Plan, deployment: &BTreeMap<Region, MachineCount>) {
        let settings: MachinesSettings = self.config.policy_settings.get();
        if !self.sizes_machines() {
            return;
        }
        let mut after: BTreeSet<Region> = plan.deployed.clone();
        for action in &plan.actions {
            match action.action {
                Move::Deploy => after.insert(action.region),
                Move::Remove => after.remove(&action.region),
            };
        }
        let loads = self.loads(plan, &after);
        let mut targets = sizing::share_by_load(
            &after,
            &loads,
            deployment,
            |region| self.adds_starting(region, plan.at),
            &settings,
        );
        sizing::share_max_total(&mut targets, settings.max_total);
        let mut machines = MachinePlan {
            current: deployment.clone(),
            targets,
            ..MachinePlan::default()
        };
        let moves: Vec<(Region, Move)> = plan
            .actions
            .iter()
            .map(|action| (action.region, action.action))
            .collect();
        let moving: BTreeSet<Region> = moves.iter().map(|(region, _)| *region).collect();
        // Regions listed with a running machine that no move touches; a
        // pending region's machines are not known yet.
        let staying: BTreeSet<Region> = after
            .iter()
            .filter(|region| !moving.contains(region) && !plan.pending.contains(region))
            .filter(|region| {
                deployment
                    .get(region)
                    .is_some_and(MachineCount::is_deployed)
            })
            .copied()
            .collect();
        let max = u32::try_from(self.config.max_actions_per_tick).unwrap_or(u32::MAX);
        let budget = max.saturating_sub(u32::try_from(moves.len()).unwrap_or(u32::MAX));
        let state = &self.state;
        let config = &self.config;
        let starting: BTreeSet<Region> = after
            .iter()
            .filter(|region| self.adds_starting(region, plan.at))
            .copied()
            .collect();
        sizing::fit(
            &mut machines,
            &moves,
            &staying,
            &starting,
            budget,
            |region| {
                state
                    .cooldown_remaining(region, config, plan.at)
                    .map(|left| left.as_secs_f64().ceil() as u64)
            },
        );
        plan.machines = Some(machines);
    }

    /// Whether `region`'s last deploy or scale-up was less than
    /// `machine_startup` ago: some of its machines have not started.
    fn adds_starting(&self, region: &Region, now: crate::Timestamp) -> bool {
        let startup = self.config.machine_startup;
        self.state
            .region(region)
            .and_then(|state| state.last_action)
            .is_some_and(|last| {
                (last.action == crate::Action::Deploy || last.scaled_up)
                    && now.duration_since(last.at) < startup
            })
    }

    /// Each region of `after`'s load: its own and that of the regions it
    /// is nearest to that are not in `after`; a forecast peak over the lead
    /// time when the engine forecasts, the latest observation otherwise.
    fn loads(&self, plan: &Plan, after: &BTreeSet<Region>) -> BTreeMap<Region, (f64, bool)> {
        let forecast = self.state.forecast();
        let until = plan.at + forecast.lead_time(&self.config);
        let mut loads: BTreeMap<Region, (f64, bool)> = BTreeMap::new();
        for (region, detail) in &plan.regions {
            let (load, forecasted) = match forecast.peak(region, plan.at, until) {
                Some(peak) => (peak.expected.max(0.0), true),
                None => (detail.requests.max(0.0), false),
            };
            if load <= 0.0 {
                continue;
            }
            let server = if after.contains(region) {
                Some(*region)
            } else {
                planner::nearest_deployed(&self.platform, region, after)
            };
            if let Some(server) = server {
                let entry = loads.entry(server).or_insert((0.0, false));
                entry.0 += load;
                entry.1 |= forecasted;
            }
        }
        loads
    }
}
