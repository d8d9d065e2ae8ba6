//! [`PendingDeploy`]: a deploy whose outcome is in doubt, counted as
//! deployed until a listing shows the region or the grace period passes.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{Region, Timestamp};

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
