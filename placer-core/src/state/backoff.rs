//! [`RegionBackoff`]: a move the backend refused for a region, and when the
//! engine will ask again.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{Move, Timestamp};

/// The wait after a region's first refusal. Each further refusal of the
/// same move doubles it, up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_secs(2 * 60);

/// The longest wait between two attempts at a refused move. A backoff is
/// also forgotten once it has been over for this long without a new
/// refusal.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60 * 60);

/// A move the backend refused for a region, and when to try it again.
///
/// A deploy refused because the region is unavailable (no capacity, region
/// rejected) makes the region sit out: it is not deployed, takes no action
/// slot, and the latency policy plans without it until `until`. A removal
/// refused on purpose (machines fly-placer did not create, the app's last
/// machine) is not asked for again until `until`. The wait doubles with each
/// refusal, from [`FIRST_BACKOFF`] up to [`MAX_BACKOFF`].
///
/// ```
/// use placer_core::{Move, state::RegionBackoff, Timestamp};
/// use std::time::Duration;
///
/// let t0 = Timestamp::from_unix_seconds(1_800_000_000);
/// let first = RegionBackoff::after_refusal(None, Move::Deploy, "no capacity", t0);
/// assert_eq!(first.until, t0 + Duration::from_secs(120));
/// assert!(first.holds(t0 + Duration::from_secs(119)));
/// assert!(!first.holds(first.until));
/// let second = RegionBackoff::after_refusal(Some(&first), Move::Deploy, "no capacity", first.until);
/// assert_eq!(second.until, first.until + Duration::from_secs(240));
/// assert_eq!(second.since, t0);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionBackoff {
    /// The move that was refused.
    pub action: Move,
    /// The first refusal of this run of refusals.
    pub since: Timestamp,
    /// The move is not tried again before this time.
    pub until: Timestamp,
    /// Refusals in a row.
    pub refusals: u32,
    /// The backend's words for the latest refusal.
    pub reason: String,
}

impl RegionBackoff {
    /// The backoff after `action` was refused at `at` for `reason`,
    /// continuing `previous` when it was about the same move.
    pub fn after_refusal(
        previous: Option<&RegionBackoff>,
        action: Move,
        reason: impl Into<String>,
        at: Timestamp,
    ) -> Self {
        let previous = previous.filter(|p| p.action == action);
        let refusals = previous.map_or(1, |p| p.refusals.saturating_add(1));
        RegionBackoff {
            action,
            since: previous.map_or(at, |p| p.since),
            until: at + wait_after(refusals),
            refusals,
            reason: reason.into(),
        }
    }

    /// True while the move is held back, at `now`.
    pub fn holds(&self, now: Timestamp) -> bool {
        now < self.until
    }

    /// True when the backoff is worth remembering at `now`: it holds, or
    /// ended less than [`MAX_BACKOFF`] ago (a refusal soon after continues
    /// the doubling).
    pub(crate) fn is_recent(&self, now: Timestamp) -> bool {
        now < self.until + MAX_BACKOFF
    }
}

/// The wait after the `refusals`-th refusal in a row.
fn wait_after(refusals: u32) -> Duration {
    let doublings = refusals.saturating_sub(1).min(16);
    FIRST_BACKOFF
        .saturating_mul(1 << doublings)
        .min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_up_to_the_maximum() {
        let waits: Vec<u64> = (1..=8).map(|n| wait_after(n).as_secs() / 60).collect();
        assert_eq!(waits, vec![2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(wait_after(u32::MAX), MAX_BACKOFF);
    }

    #[test]
    fn a_refusal_of_the_other_move_starts_afresh() {
        let t0 = Timestamp::from_unix_seconds(0);
        let deploy = RegionBackoff::after_refusal(None, Move::Deploy, "full", t0);
        let later = t0 + Duration::from_secs(600);
        let remove = RegionBackoff::after_refusal(Some(&deploy), Move::Remove, "hand-made", later);
        assert_eq!(remove.refusals, 1);
        assert_eq!(remove.since, later);
    }
}
