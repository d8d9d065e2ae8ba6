//! [`PendingDeploy`]: a deploy whose outcome is in doubt, counted as
//! deployed until a listing shows the region or the grace period passes.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{EngineState, LastAction};
use crate::{Change, PlacerConfig, Region, Timestamp};

/// A deploy the backend could not confirm but may have carried out
/// ([`ActuatorError::InDoubt`](crate::ActuatorError::InDoubt)): its answer
/// was lost, and the listing may not show the new machine for a while.
///
/// While the deploy is pending — from `since` until a listing shows the
/// region deployed, or for at most `pending_grace` — the region counts as
/// deployed for planning: it is not deployed again (which could run a
/// second machine), and it is not removed (there may be nothing to remove
/// yet). It is kept with the engine state, so a restarted placer, or
/// another one taking over, knows it too. Once the grace period has passed
/// without the listing showing the region, the deploy is taken not to have
/// happened and the region may be deployed once more.
///
/// ```
/// use std::time::Duration;
/// use placer_core::state::PendingDeploy;
/// use placer_core::Timestamp;
///
/// let since = Timestamp::from_unix_seconds(1_800_000_000);
/// let pending = PendingDeploy { since };
/// let grace = Duration::from_secs(300);
/// assert_eq!(pending.until(grace), since + grace);
/// assert!(pending.holds(since + Duration::from_secs(299), grace));
/// assert!(!pending.holds(since + grace, grace));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingDeploy {
    /// When the deploy in doubt was attempted.
    pub since: Timestamp,
}

impl PendingDeploy {
    /// When the grace period `grace` of this deploy ends.
    pub fn until(&self, grace: Duration) -> Timestamp {
        self.since + grace
    }

    /// True while the deploy still counts as deployed at `now`.
    pub fn holds(&self, now: Timestamp, grace: Duration) -> bool {
        now < self.until(grace)
    }
}

impl EngineState {
    /// Every deploy in doubt, in region order (some may be past their grace
    /// period: [`Placer::commit`](crate::Placer::commit) forgets those).
    pub fn pending_deploys(&self) -> impl Iterator<Item = (&Region, &PendingDeploy)> + '_ {
        self.pending.iter()
    }

    /// The deploy in doubt of `region` that still counts as deployed at
    /// `now` under `config`'s `pending_grace`, if any.
    pub fn pending_deploy(
        &self,
        region: &Region,
        config: &PlacerConfig,
        now: Timestamp,
    ) -> Option<&PendingDeploy> {
        self.pending
            .get(region)
            .filter(|deploy| deploy.holds(now, config.pending_grace))
    }

    /// Regions whose deploy is in doubt and that count as deployed at `now`
    /// although `listed` (what the actuator listed) lacks them.
    pub fn pending_regions(
        &self,
        listed: &BTreeSet<Region>,
        config: &PlacerConfig,
        now: Timestamp,
    ) -> BTreeSet<Region> {
        holding(&self.pending, listed, now, config.pending_grace)
    }

    /// Notes that a deploy of `region` at `at` is in doubt: it may have
    /// taken effect (see [`PendingDeploy`]).
    pub(crate) fn record_pending(&mut self, region: &Region, at: Timestamp) {
        self.pending.insert(*region, PendingDeploy { since: at });
    }

    /// Forgets deploys in doubt that are settled at `now`: the region is in
    /// `listed` — the deploy did happen, so its cooldown runs from when it
    /// was made — or the grace period has passed without the listing
    /// showing it (it did not happen; the region may be deployed again).
    pub(crate) fn settle_pending(
        &mut self,
        listed: &BTreeSet<Region>,
        config: &PlacerConfig,
        now: Timestamp,
    ) {
        let grace = config.pending_grace;
        let mut shown = Vec::new();
        self.pending.retain(|region, deploy| {
            if listed.contains(region) {
                shown.push((*region, deploy.since));
                false
            } else {
                deploy.holds(now, grace)
            }
        });
        for (region, since) in shown {
            let state = self.regions.entry_or_default(region);
            if state.last_action.is_none_or(|last| last.at < since) {
                state.last_action = Some(LastAction {
                    at: since,
                    action: Change::Deploy,
                    scaled_up: false,
                });
            }
        }
    }
}

/// Every pending deploy, by region (a field of the engine state).
pub(super) type PendingDeploys = BTreeMap<Region, PendingDeploy>;

/// Regions of `pending` that still count as deployed at `now`, less those
/// `listed` already shows.
pub(super) fn holding(
    pending: &PendingDeploys,
    listed: &BTreeSet<Region>,
    now: Timestamp,
    grace: Duration,
) -> BTreeSet<Region> {
    pending
        .iter()
        .filter(|(region, deploy)| !listed.contains(region) && deploy.holds(now, grace))
        .map(|(region, _)| *region)
        .collect()
}
