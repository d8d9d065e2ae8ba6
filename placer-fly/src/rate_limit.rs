//! [`RateLimited`]: a client-side token bucket in front of any
//! [`RegionActuator`], so bursts of changes stay under the API's limits.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use placer_core::{ActuatorError, Region, RegionActuator};
use tokio::time::Instant;

/// A [`RegionActuator`] that lets at most `burst` calls through at once and
/// `max_requests_per_second` on average; callers beyond that wait their turn.
///
/// Each actuator call counts once. A Fly deploy sends up to three requests
/// (list, create, wait) and a remove one list plus one or two per machine,
/// so set the rate at a third of the API rate you want to stay under.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use placer_core::{InMemoryActuator, RegionActuator};
/// use placer_fly::RateLimited;
///
/// let actuator = RateLimited::new(InMemoryActuator::new([]), 2.0, 4);
/// actuator.deploy(&"fra".parse().unwrap()).await.unwrap();
/// # }
/// ```
#[derive(Debug)]
pub struct RateLimited<A> {
    inner: A,
    bucket: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    rate: f64,
    burst: f64,
    /// Tokens available at `updated`; negative when callers are queued.
    tokens: f64,
    updated: Option<Instant>,
}

impl Bucket {
    /// Takes one token and says how long to wait before using it.
    fn reserve(&mut self, now: Instant) -> Duration {
        if self.rate.is_infinite() {
            return Duration::ZERO;
        }
        let elapsed = match self.updated {
            Some(updated) => now.saturating_duration_since(updated).as_secs_f64(),
            None => 0.0,
        };
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.updated = Some(now);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }
}

impl<A> RateLimited<A> {
    /// Wraps `inner`. A rate that is not a positive number (zero, negative,
    /// NaN) means "no limit"; `burst` is at least 1.
    pub fn new(inner: A, max_requests_per_second: f64, burst: u32) -> Self {
        let rate = if max_requests_per_second > 0.0 {
            max_requests_per_second
        } else {
            f64::INFINITY
        };
        let burst = f64::from(burst.max(1));
        RateLimited {
            inner,
            bucket: Mutex::new(Bucket {
                rate,
                burst,
                tokens: burst,
                updated: None,
            }),
        }
    }

    /// The wrapped actuator.
    pub fn inner(&self) -> &A {
        &self.inner
    }

    async fn wait_turn(&self) {
        let delay = self
            .bucket
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .reserve(Instant::now());
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }
}

#[async_trait]
impl<A: RegionActuator> RegionActuator for RateLimited<A> {
    async fn deployed_regions(&self) -> Result<BTreeSet<Region>, ActuatorError> {
        self.wait_turn().await;
        self.inner.deployed_regions().await
    }

    async fn deploy(&self, region: &Region) -> Result<(), ActuatorError> {
        self.wait_turn().await;
        self.inner.deploy(region).await
    }

    async fn remove(&self, region: &Region) -> Result<(), ActuatorError> {
        self.wait_turn().await;
        self.inner.remove(region).await
    }

    fn is_simulation(&self) -> bool {
        self.inner.is_simulation()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_calls_are_spaced_by_the_rate() {
        let mut bucket = Bucket {
            rate: 2.0,
            burst: 2.0,
            tokens: 2.0,
            updated: None,
        };
        let t0 = Instant::now();
        let waits: Vec<u128> = (0..5).map(|_| bucket.reserve(t0).as_millis()).collect();
        assert_eq!(waits, [0, 0, 500, 1000, 1500]);
        // Once the queue has drained and the bucket refilled, calls pass at once.
        assert_eq!(
            bucket.reserve(t0 + Duration::from_millis(3500)).as_millis(),
            0
        );
    }
}
