//! Placement policies: given what the engine observed, propose moves.
//!
//! A policy only proposes. The planner ([`Placer::decide`](crate::Placer::decide)) then applies the
//! rules every policy shares — allowed/excluded/always-running lists,
//! cooldowns, the last region, the action limit — so a new policy cannot
//! break them.
//!
//! ## The extension point: [`PlacementPolicy`] plus the [registry](POLICIES)
//! Each policy lives in its own folder and owns everything that is its
//! own: its settings, its memory and its reasons.
//!
//! - `threshold/`: each region alone, by its smoothed traffic (the
//!   default); its reasons ([`ThresholdReason`]).
//! - `latency/`: the set of regions that cuts users' round trips most;
//!   its settings (the `latency:` section: [`LatencySettings`],
//!   [`MachineBudget`]), its memory ([`LatencyMemory`]) and its reasons
//!   ([`LatencyReason`]).
//!
//! ### Adding a policy
//! 1. A new folder `policy/<name>/` with a type implementing
//!    [`PlacementPolicy`]. Its memory is any serde type it reads from and
//!    writes to the [`PolicyMemory`] it is handed each tick
//!    ([`PolicyMemory::load`], [`PolicyMemory::store`]); the engine keeps it
//!    in the persisted state under the policy's name. Its reasons are a
//!    type implementing [`PolicyReason`], wrapped with [`Reason::policy`];
//!    their [`class`](PolicyReason::class) names are metric labels.
//!    Its settings, if it has any, are a type implementing
//!    [`SettingsSection`]: a top-level section of the config, read into
//!    [`PlacerConfig::policy_settings`] and typed with
//!    [`PolicySettings::get`]. An `ENTRY: PolicyEntry` in the folder names
//!    it, builds it and, with [`PolicyEntry::with_settings`], names its
//!    settings.
//! 2. One line in [`POLICIES`]: `<name>::ENTRY,`. From then on `policy:
//!    <name>` in a config selects it.
//!
//! A policy that is not built in (an ops bot's own) needs no registry: give
//! it to the engine with [`Placer::with_policy`](crate::Placer::with_policy).

mod latency;
mod memory;
mod name;
pub(crate) mod reason;
mod registry;
mod settings;
mod summary;
mod threshold;

use std::collections::{BTreeMap, BTreeSet};

pub use latency::{
    LatencyMemory, LatencyPolicy, LatencyReason, LatencySettings, LongRunTraffic, MachineBudget,
    MachineTime, PriceBasis, PriceInForce, TrafficBaseline, DEFAULT_MIN_REGION_SAVING,
    LONG_RUN_HALF_LIFE,
};
pub use memory::PolicyMemory;
pub use name::PolicyName;
pub use reason::PolicyReason;
pub use registry::{PolicyContext, PolicyEntry, POLICIES};
pub use settings::{PolicySettings, SettingsSection};
pub use summary::{BudgetUse, PolicySummary};
pub use threshold::{ThresholdPolicy, ThresholdReason};

use crate::network::platform::{Home, PlatformRegions};
use crate::report::RegionDetail;
#[cfg(doc)]
use crate::Reason;
use crate::{Decision, EngineState, Move, PlacerConfig, Region, Timestamp};

/// What a policy sees when it is asked for proposals.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct PlanningView<'a> {
    /// The engine's config.
    pub config: &'a PlacerConfig,
    /// History, streaks and last actions.
    pub state: &'a EngineState,
    /// Regions deployed now.
    pub deployed: &'a BTreeSet<Region>,
    /// Smoothed traffic and thresholds of every region in play.
    pub regions: &'a BTreeMap<Region, RegionDetail>,
    /// The tick's time.
    pub now: Timestamp,
    /// Which regions take new machines now, and where each region is
    /// (the built-in picture unless [`with_platform`](Self::with_platform)
    /// says otherwise).
    pub platform: &'a PlatformRegions,
}

impl<'a> PlanningView<'a> {
    /// A view made of its parts, e.g. to unit-test a policy's
    /// [`propose`](PlacementPolicy::propose) with traffic of your choosing.
    /// [`Placer::planning_view`](crate::Placer::planning_view) gives the
    /// view the engine itself would hand the policy.
    ///
    /// ```
    /// use std::collections::{BTreeMap, BTreeSet};
    /// use placer_core::policy::{PlacementPolicy, PlanningView, PolicyMemory, ThresholdPolicy};
    /// use placer_core::{Action, EngineState, PlacerConfig, RegionDetail, Timestamp};
    ///
    /// let config = PlacerConfig::default().with_sustain_ticks(1);
    /// let state = EngineState::default();
    /// let deployed = BTreeSet::from(["iad".parse().unwrap()]);
    /// let regions = BTreeMap::from([
    ///     ("iad".parse().unwrap(), RegionDetail::new(30.0, true).with_thresholds(50.0, 5.0)),
    ///     ("fra".parse().unwrap(), RegionDetail::new(90.0, false).with_thresholds(50.0, 5.0)),
    /// ]);
    /// let now = Timestamp::from_unix_seconds(1_800_000_000);
    /// let view = PlanningView::new(&config, &state, &deployed, &regions, now);
    /// let wishes = ThresholdPolicy.propose(&view, &mut PolicyMemory::default());
    /// let fra = wishes.iter().find(|wish| wish.region.as_str() == "fra").unwrap();
    /// assert_eq!(fra.action, Action::Deploy);
    /// ```
    pub fn new(
        config: &'a PlacerConfig,
        state: &'a EngineState,
        deployed: &'a BTreeSet<Region>,
        regions: &'a BTreeMap<Region, RegionDetail>,
        now: Timestamp,
    ) -> Self {
        PlanningView {
            config,
            state,
            deployed,
            regions,
            now,
            platform: PlatformRegions::built_in(),
        }
    }

    /// The same view over `platform`'s regions.
    pub fn with_platform(mut self, platform: &'a PlatformRegions) -> Self {
        self.platform = platform;
        self
    }

    /// True when the backend could not deploy `region` lately and it sits
    /// out its backoff (see [`RegionBackoff`](crate::state::RegionBackoff)): the
    /// planner will not deploy it this tick, so a policy plans without it.
    pub fn unavailable(&self, region: &Region) -> bool {
        !self.deployed.contains(region)
            && self
                .state
                .held_back(region, Move::Deploy, self.now)
                .is_some()
    }

    /// True when the planner may deploy `region` this tick as far as the
    /// platform, the lists and the backoffs go: the platform takes
    /// machines there ([`PlatformRegions::is_deployable`]), it is allowed
    /// and not excluded (or always running), and it does not sit out a
    /// backoff. Cooldowns and the action limit still apply.
    pub fn may_deploy(&self, region: &Region) -> bool {
        self.platform.is_deployable(region)
            && (self.config.may_deploy(region)
                || self.config.always_running_regions.contains(region))
            && !self.unavailable(region)
    }

    /// Where the users entering at `region` are served best: the nearest
    /// region the platform takes machines in that is deployed or may be
    /// deployed (allowed, not excluded, not backing off) — `region`
    /// itself when it qualifies. A policy plans an edge region's users
    /// there; `None` when no region qualifies.
    pub fn home(&self, region: &Region) -> Option<Home> {
        crate::planner::home_of(
            self.config,
            self.state,
            self.deployed,
            self.platform,
            self.now,
            region,
        )
    }

    /// True when the backend refused to remove `region` lately and the
    /// planner will not ask again this tick: a policy plans with it kept.
    pub fn removal_refused(&self, region: &Region) -> bool {
        self.deployed.contains(region)
            && self
                .state
                .held_back(region, Move::Remove, self.now)
                .is_some()
    }
}

/// A way of choosing where the app should run.
///
/// ```
/// use placer_core::policy::{PlacementPolicy, PlanningView, PolicyMemory, PolicyName};
/// use placer_core::{Action, Decision, Reason};
///
/// /// Wants a machine wherever any traffic came in, and counts its ticks.
/// struct Everywhere;
///
/// impl PlacementPolicy for Everywhere {
///     fn name(&self) -> PolicyName {
///         PolicyName::new("everywhere")
///     }
///
///     fn propose(&self, view: &PlanningView<'_>, memory: &mut PolicyMemory) -> Vec<Decision> {
///         let ticks: u64 = memory.load();
///         memory.store(&(ticks + 1));
///         view.regions
///             .iter()
///             .map(|(region, detail)| {
///                 let action = if detail.current > 0.0 && !detail.deployed {
///                     Action::Deploy
///                 } else {
///                     Action::None
///                 };
///                 Decision::new(*region, action, Reason::Explained(format!("tick {ticks}")))
///             })
///             .collect()
///     }
/// }
/// ```
pub trait PlacementPolicy: Send + Sync {
    /// The policy's name: in reports, and the key of its memory in the
    /// persisted state.
    fn name(&self) -> PolicyName;

    /// A wish for each region in `view.regions` (deploy, remove or none, and
    /// why): at most one per region. Regions without one are left as they
    /// are. `memory` is what the policy kept from the previous tick; what it
    /// stores there is kept when the plan is committed.
    fn propose(&self, view: &PlanningView<'_>, memory: &mut PolicyMemory) -> Vec<Decision>;

    /// True for a policy that plans with the engine's traffic forecasts
    /// (`view.state.forecast()`): its reports then say whether it did.
    /// Default false.
    fn plans_with_forecasts(&self) -> bool {
        false
    }

    /// What the policy has to say about its state under `config`, given
    /// the `memory` it kept: for a status page and a health endpoint,
    /// which show it without knowing the policy. Default: nothing.
    fn summary(&self, config: &PlacerConfig, memory: &PolicyMemory) -> PolicySummary {
        let _ = (config, memory);
        PolicySummary::default()
    }
}

/// What the built-in policy `config` names says about its state in
/// `state` (see [`PlacementPolicy::summary`]), for a reader that holds a
/// config and a saved state but no [`Placer`](crate::Placer); empty when
/// `config` names no built-in policy. A running engine answers with
/// [`Placer::policy_summary`](crate::Placer::policy_summary).
pub fn summary_of(config: &PlacerConfig, state: &EngineState) -> PolicySummary {
    let Some(entry) = PolicyEntry::find(config.policy.as_str()) else {
        return PolicySummary::default();
    };
    // The summary depends on the config and the memory, not on the model.
    let model = std::sync::Arc::new(crate::network::LatencyModel::distance());
    let policy = entry.build(&PolicyContext::new(config, &model));
    policy.summary(config, &state.policy_memory(&entry.name()))
}
