//! [`RateLimited`]: a client-side token bucket in front of any
//! [`RegionActuator`], so bursts of changes stay under a backend's limits.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use super::Timer;
use crate::{ActuatorError, MachineCount, Region, RegionActuator};

/// A [`RegionActuator`] that lets at most `burst` calls through at once and
/// `max_requests_per_second` on average; callers beyond that wait their turn.
///
/// Each actuator call counts once, whatever it costs the backend: a Fly
/// deploy usually sends one to three requests (a listing when none is
/// reused, the create, a wait), so set the rate at a third of the API rate
/// you want to stay under.
///
/// ```
/// # futures::executor::block_on(async {
/// use std::sync::Arc;
/// use std::time::Duration;
/// use placer_core::wrap::{InstantTimer, RateLimited};
/// use placer_core::{InMemoryActuator, RegionActuator};
///
/// let timer = Arc::new(InstantTimer::new());
/// let actuator = RateLimited::new(InMemoryActuator::new([]), 2.0, 1, timer.clone());
/// actuator.deploy(&"fra".parse().unwrap()).await.unwrap();
/// actuator.deploy(&"cdg".parse().unwrap()).await.unwrap(); // waits its turn
/// assert_eq!(timer.sleeps(), [Duration::from_millis(500)]);
/// # });
/// ```
#[derive(Debug)]
pub struct RateLimited<A> {
    inner: A,
    limiter: RateLimiter,
}

/// The token bucket behind [`RateLimited`]. Cloning shares it: actuators
/// built with [`RateLimited::with_limiter`] and clones of one limiter draw
/// from the same bucket, so a limit that holds per token (one Fly org, many
/// apps) holds for all of them together.
///
/// ```
/// # futures::executor::block_on(async {
/// use std::sync::Arc;
/// use std::time::Duration;
/// use placer_core::wrap::{InstantTimer, RateLimited, RateLimiter};
/// use placer_core::{InMemoryActuator, RegionActuator};
///
/// let timer = Arc::new(InstantTimer::new());
/// let limiter = RateLimiter::new(2.0, 1, timer.clone());
/// let shop = RateLimited::with_limiter(InMemoryActuator::new([]), limiter.clone());
/// let blog = RateLimited::with_limiter(InMemoryActuator::new([]), limiter);
/// shop.deploy(&"fra".parse().unwrap()).await.unwrap();
/// blog.deploy(&"cdg".parse().unwrap()).await.unwrap(); // the shared bucket is empty
/// assert_eq!(timer.sleeps(), [Duration::from_millis(500)]);
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct RateLimiter {
    timer: Arc<dyn Timer>,
    bucket: Arc<Mutex<Bucket>>,
}

#[derive(Debug)]
struct Bucket {
    rate: f64,
    burst: f64,
    /// Tokens available at `updated`; negative when callers are queued.
    tokens: f64,
    updated: Option<Duration>,
}

impl Bucket {
    /// Takes one token at `now` (the timer's time) and says how long to
    /// wait before using it.
    fn reserve(&mut self, now: Duration) -> Duration {
        if self.rate.is_infinite() {
            return Duration::ZERO;
        }
        let elapsed = match self.updated {
            Some(updated) => now.saturating_sub(updated).as_secs_f64(),
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

impl Bucket {
    /// Changes the limit at `now`: time until now is counted at the old
    /// rate, and no more than the new burst is kept.
    /// Without a limit before or after, the bucket starts full.
    fn set(&mut self, rate: f64, burst: f64, now: Duration) {
        if self.rate.is_finite() && rate.is_finite() {
            if let Some(updated) = self.updated {
                let elapsed = now.saturating_sub(updated).as_secs_f64();
                self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
            }
            self.tokens = self.tokens.min(burst);
        } else {
            self.tokens = burst;
        }
        self.updated = Some(now);
        self.rate = rate;
        self.burst = burst;
    }
}

/// A rate as [`RateLimiter::new`] reads it, and the burst.
fn limit(max_requests_per_second: f64, burst: u32) -> (f64, f64) {
    let rate = if max_requests_per_second > 0.0 {
        max_requests_per_second
    } else {
        f64::INFINITY
    };
    (rate, f64::from(burst.max(1)))
}

impl RateLimiter {
    /// At most `burst` calls at once and `max_requests_per_second` on
    /// average. A rate that is not a positive number (zero, negative, NaN)
    /// means "no limit"; `burst` is at least 1. `timer` tells the time and
    /// does the waiting.
    pub fn new(max_requests_per_second: f64, burst: u32, timer: Arc<dyn Timer>) -> Self {
        let (rate, burst) = limit(max_requests_per_second, burst);
        RateLimiter {
            timer,
            bucket: Arc::new(Mutex::new(Bucket {
                rate,
                burst,
                tokens: burst,
                updated: None,
            })),
        }
    }

    /// Changes the limit for every actuator sharing this limiter, from now
    /// on (read as [`new`](Self::new) reads it). Calls already waiting keep
    /// the wait they were given.
    pub fn set_limit(&self, max_requests_per_second: f64, burst: u32) {
        let (rate, burst) = limit(max_requests_per_second, burst);
        self.bucket
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .set(rate, burst, self.timer.now());
    }

    /// The limit in force: calls per second (`None`: no limit) and burst.
    pub fn limit(&self) -> (Option<f64>, u32) {
        let bucket = self
            .bucket
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let rate = bucket.rate.is_finite().then_some(bucket.rate);
        (rate, bucket.burst as u32)
    }

    /// Waits until a call may go out.
    pub async fn wait_turn(&self) {
        let delay = self
            .bucket
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .reserve(self.timer.now());
        if !delay.is_zero() {
            self.timer.sleep(delay).await;
        }
    }
}

impl<A> RateLimited<A> {
    /// Wraps `inner` with a bucket of its own (see [`RateLimiter::new`]).
    pub fn new(inner: A, max_requests_per_second: f64, burst: u32, timer: Arc<dyn Timer>) -> Self {
        Self::with_limiter(
            inner,
            RateLimiter::new(max_requests_per_second, burst, timer),
        )
    }

    /// Wraps `inner`, drawing from `limiter`, which others may share.
    pub fn with_limiter(inner: A, limiter: RateLimiter) -> Self {
        RateLimited { inner, limiter }
    }

    /// The wrapped actuator.
    pub fn inner(&self) -> &A {
        &self.inner
    }

    async fn wait_turn(&self) {
        self.limiter.wait_turn().await;
    }
}

#[async_trait]
impl<A: RegionActuator> RegionActuator for RateLimited<A> {
    async fn deployment(&self) -> Result<BTreeMap<Region, MachineCount>, ActuatorError> {
        self.wait_turn().await;
        self.inner.deployment().await
    }

    async fn scale(&self, region: &Region, target: MachineCount) -> Result<(), ActuatorError> {
        self.wait_turn().await;
        self.inner.scale(region, target).await
    }

    fn is_simulation(&self) -> bool {
        self.inner.is_simulation()
    }

    fn tick_finished(&self) {
        self.inner.tick_finished();
    }

    async fn platform_regions(
        &self,
    ) -> Option<std::sync::Arc<crate::network::platform::PlatformRegions>> {
        self.inner.platform_regions().await
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
        let t0 = Duration::from_secs(100);
        let waits: Vec<u128> = (0..5).map(|_| bucket.reserve(t0).as_millis()).collect();
        assert_eq!(waits, [0, 0, 500, 1000, 1500]);
        // Once the queue has drained and the bucket refilled, calls pass at once.
        assert_eq!(
            bucket.reserve(t0 + Duration::from_millis(3500)).as_millis(),
            0
        );
    }

    #[test]
    fn a_changed_limit_counts_from_the_change() {
        let mut bucket = Bucket {
            rate: 1.0,
            burst: 4.0,
            tokens: 4.0,
            updated: None,
        };
        let t0 = Duration::from_secs(100);
        let waits: Vec<u128> = (0..5).map(|_| bucket.reserve(t0).as_millis()).collect();
        assert_eq!(waits, [0, 0, 0, 0, 1000]);
        // Half a second later, at the old rate: -0.5 tokens; then 10 a second.
        bucket.set(10.0, 2.0, t0 + Duration::from_millis(500));
        assert_eq!(
            bucket.reserve(t0 + Duration::from_millis(500)).as_millis(),
            150
        );
        // Much later the bucket holds the new burst, not the old one.
        let later = t0 + Duration::from_secs(60);
        let waits: Vec<u128> = (0..3).map(|_| bucket.reserve(later).as_millis()).collect();
        assert_eq!(waits, [0, 0, 100]);
        // No limit, and back.
        bucket.set(f64::INFINITY, 1.0, later);
        assert_eq!(bucket.reserve(later).as_millis(), 0);
        bucket.set(1.0, 1.0, later);
        let waits: Vec<u128> = (0..2).map(|_| bucket.reserve(later).as_millis()).collect();
        assert_eq!(waits, [0, 1000]);
    }

    #[test]
    fn a_limiter_says_its_limit_and_takes_a_new_one() {
        let limiter = RateLimiter::new(5.0, 10, Arc::new(crate::wrap::InstantTimer::new()));
        assert_eq!(limiter.limit(), (Some(5.0), 10));
        let shared = limiter.clone();
        shared.set_limit(0.0, 0);
        assert_eq!(limiter.limit(), (None, 1));
    }
}
