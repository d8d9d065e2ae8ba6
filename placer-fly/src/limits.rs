//! Fly's published Machines API limits, kept on the client side: a token
//! bucket per app and action (and per machine for getting one machine),
//! which a 429's `Retry-After` holds back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::error::Operation;

/// The Machines API's limits as Fly publishes them ("Working with the
/// Machines API", Rate Limits): each action (create, list, stop, start,
/// delete, wait, lease, metadata, …) may be sent 1 time a second with
/// bursts of 3, getting one machine 5 times a second with bursts of 10.
///
/// Fly counts each action per app or per machine; fly-placer counts every
/// action per app, which never sends more than Fly's per-machine count,
/// and getting one machine per machine. A rate that is not a positive
/// number lifts that limit (tests against a fake that does not enforce
/// limits); a burst is at least 1.
///
/// ```
/// use placer_fly::ApiLimits;
///
/// let limits: ApiLimits = serde_json::from_str(r#"{"burst": 2}"#).unwrap();
/// assert_eq!(limits.requests_per_second, 1.0);
/// assert_eq!(limits.burst, 2);
/// assert_eq!(limits.get_requests_per_second, 5.0);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiLimits {
    /// Requests per second of one action of one app.
    pub requests_per_second: f64,
    /// Requests of one action of one app that may go out at once.
    pub burst: u32,
    /// Requests per second getting one machine.
    pub get_requests_per_second: f64,
    /// Gets of one machine that may go out at once.
    pub get_burst: u32,
}

impl Default for ApiLimits {
    /// Fly's published numbers: 1/s with bursts of 3 per action, 5/s with
    /// bursts of 10 for getting one machine.
    fn default() -> Self {
        ApiLimits {
            requests_per_second: 1.0,
            burst: 3,
            get_requests_per_second: 5.0,
            get_burst: 10,
        }
    }
}

impl ApiLimits {
    /// No limit on any action: for tests against a fake that does not
    /// enforce them.
    pub fn unlimited() -> Self {
        ApiLimits {
            requests_per_second: 0.0,
            burst: 1,
            get_requests_per_second: 0.0,
            get_burst: 1,
        }
    }

    /// The rate (`None`: no limit) and burst of `operation`.
    pub fn of(&self, operation: Operation) -> Limit {
        let (rate, burst) = if operation == Operation::GetMachine {
            (self.get_requests_per_second, self.get_burst)
        } else {
            (self.requests_per_second, self.burst)
        };
        Limit {
            rate: (rate.is_finite() && rate > 0.0).then_some(rate),
            burst: f64::from(burst.max(1)),
        }
    }
}

/// One bucket's rate (`None`: no limit) and burst.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    /// Requests per second.
    pub rate: Option<f64>,
    /// Requests at once.
    pub burst: f64,
}

/// What a request counts against: the app (or organization, for listing
/// apps), the action, and the machine for gets of one machine.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct BucketKey {
    /// The app (or the organization's slug for [`Operation::ListApps`]).
    scope: String,
    operation: Operation,
    /// The machine, for [`Operation::GetMachine`] only.
    machine: Option<String>,
}

impl BucketKey {
    /// The bucket of `operation` on `scope`, about `machine`.
    pub(crate) fn new(scope: &str, operation: Operation, machine: Option<&str>) -> Self {
        BucketKey {
            scope: scope.to_owned(),
            operation,
            machine: machine
                .filter(|_| operation == Operation::GetMachine)
                .map(str::to_owned),
        }
    }
}

#[derive(Debug)]
struct Bucket {
    /// Tokens at `updated`; negative while callers are queued.
    tokens: f64,
    /// Never before `held_until`.
    updated: Instant,
    held_until: Option<Instant>,
}

impl Bucket {
    fn new(limit: Limit, now: Instant) -> Self {
        Bucket {
            tokens: limit.burst,
            updated: now,
            held_until: None,
        }
    }

    /// Takes one token at `now`: the instant the request may go out.
    fn reserve(&mut self, limit: Limit, now: Instant) -> Instant {
        let held = self.held_until.filter(|until| *until > now);
        let Some(rate) = limit.rate else {
            return held.unwrap_or(now);
        };
        let from = held.unwrap_or(now);
        if from > self.updated {
            let refill = from.duration_since(self.updated).as_secs_f64() * rate;
            self.tokens = (self.tokens + refill).min(limit.burst);
            self.updated = from;
        }
        self.tokens = self.tokens.min(limit.burst) - 1.0;
        if self.tokens >= 0.0 {
            self.updated
        } else {
            self.updated + Duration::from_secs_f64(-self.tokens / rate)
        }
    }

    /// Holds the bucket back until `until`; then one request may go out,
    /// and the next ones at the rate.
    fn hold(&mut self, until: Instant) {
        if self.held_until.is_none_or(|current| current < until) {
            self.held_until = Some(until);
        }
        if until > self.updated {
            self.updated = until;
            self.tokens = self.tokens.min(1.0);
        }
    }
}

/// Every bucket of one process's Machines API requests (shared through
/// [`RequestGate`](crate::RequestGate)). Cloning shares them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Buckets {
    buckets: Arc<Mutex<HashMap<BucketKey, Bucket>>>,
}

impl Buckets {
    /// Waits until a request of `key` may go out under `limit`, and takes
    /// its token.
    pub(crate) async fn wait_turn(&self, key: &BucketKey, limit: Limit) {
        loop {
            let at = {
                let now = Instant::now();
                let mut buckets = self.lock();
                let bucket = buckets
                    .entry(key.clone())
                    .or_insert_with(|| Bucket::new(limit, now));
                bucket.reserve(limit, now)
            };
            if at > Instant::now() {
                tokio::time::sleep_until(at).await;
            }
            // A 429 may have held the bucket back while this one waited:
            // then it queues again behind the hold.
            if self.held(key).is_none() {
                return;
            }
        }
    }

    /// Holds `key` back for `duration` from now (a 429's `Retry-After`).
    pub(crate) fn hold(&self, key: &BucketKey, limit: Limit, duration: Duration) {
        let now = Instant::now();
        self.lock()
            .entry(key.clone())
            .or_insert_with(|| Bucket::new(limit, now))
            .hold(now + duration);
    }

    /// How long `key` is still held back, if it is.
    pub(crate) fn held(&self, key: &BucketKey) -> Option<Duration> {
        let now = Instant::now();
        let until = self.lock().get(key)?.held_until?;
        (until > now).then(|| until.duration_since(now))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<BucketKey, Bucket>> {
        self.buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(rate: f64, burst: f64) -> Limit {
        Limit {
            rate: Some(rate),
            burst,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_passes_then_requests_follow_at_the_rate() {
        let t0 = Instant::now();
        let mut bucket = Bucket::new(limit(1.0, 3.0), t0);
        let slots: Vec<u128> = (0..5)
            .map(|_| {
                bucket
                    .reserve(limit(1.0, 3.0), t0)
                    .duration_since(t0)
                    .as_millis()
            })
            .collect();
        assert_eq!(slots, [0, 0, 0, 1000, 2000]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_hold_delays_the_next_request_and_spaces_the_rest() {
        let t0 = Instant::now();
        let l = limit(1.0, 3.0);
        let mut bucket = Bucket::new(l, t0);
        bucket.hold(t0 + Duration::from_secs(5));
        let slots: Vec<u128> = (0..3)
            .map(|_| bucket.reserve(l, t0).duration_since(t0).as_millis())
            .collect();
        assert_eq!(slots, [5000, 6000, 7000]);
        // Unlimited buckets still respect a hold.
        let mut free = Bucket::new(
            Limit {
                rate: None,
                burst: 1.0,
            },
            t0,
        );
        free.hold(t0 + Duration::from_secs(2));
        let unlimited = Limit {
            rate: None,
            burst: 1.0,
        };
        assert_eq!(free.reserve(unlimited, t0), t0 + Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn buckets_are_per_app_and_action_and_per_machine_for_gets() {
        let buckets = Buckets::default();
        let l = limit(1.0, 1.0);
        let started = Instant::now();
        for key in [
            BucketKey::new("shop", Operation::ListMachines, None),
            BucketKey::new("blog", Operation::ListMachines, None),
            BucketKey::new("shop", Operation::CreateMachine, None),
            BucketKey::new("shop", Operation::GetMachine, Some("a1")),
            BucketKey::new("shop", Operation::GetMachine, Some("b2")),
        ] {
            buckets.wait_turn(&key, l).await;
        }
        assert_eq!(started.elapsed(), Duration::ZERO);
        // The machine is not part of other actions' buckets.
        assert_eq!(
            BucketKey::new("shop", Operation::StopMachine, Some("a1")),
            BucketKey::new("shop", Operation::StopMachine, Some("b2"))
        );
        buckets
            .wait_turn(&BucketKey::new("shop", Operation::ListMachines, None), l)
            .await;
        assert_eq!(started.elapsed(), Duration::from_secs(1));
    }

    #[test]
    fn defaults_are_flys_published_numbers() {
        let limits = ApiLimits::default();
        assert_eq!(
            limits.of(Operation::CreateMachine),
            limit(1.0, 3.0),
            "each action"
        );
        assert_eq!(limits.of(Operation::GetMachine), limit(5.0, 10.0));
        assert_eq!(
            ApiLimits::unlimited().of(Operation::ListMachines).rate,
            None
        );
    }
}
