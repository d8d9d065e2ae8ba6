//! [`Retrying`]: retries any [`RegionActuator`]'s transient failures, with
//! exponential backoff and jitter, `Retry-After`, bounded attempts and a
//! per-tick time budget.
//!
//! # Which errors are retried
//!
//! The wrapper looks through the [`ActuatorError::Backend`] source chain for
//! a [`FlyError`] (by downcasting) and asks it: [`FlyError::is_retryable`]
//! and [`FlyError::retry_after`]. So HTTP 429 and 5xx, refused connections
//! and timeouts are retried; other 4xx, refusals
//! ([`ActuatorError::Refused`]), and a create whose answer was lost are not.
//! Errors of other backends carry no such knowledge and are not retried:
//! guessing could repeat a change that did happen. Downcasting keeps
//! `placer-core` free of retry concepts and needs no trait on every error
//! type; the price is that only Fly errors are understood.
//!
//! Retrying a whole `deploy` or `remove` is safe because both are
//! idempotent: each re-reads the machine list and does only what is missing.

use std::collections::BTreeSet;
use std::error::Error as StdError;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use placer_core::{ActuatorError, Region, RegionActuator};
use tokio::time::Instant;

use crate::FlyError;

/// How [`Retrying`] retries.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts per call, the first one included (at least 1).
    pub max_attempts: u32,
    /// Delay before the first retry; it doubles for each further retry.
    pub base_delay: Duration,
    /// Longest delay between two attempts, unless the server asks for more
    /// with `Retry-After`.
    pub max_delay: Duration,
    /// Time from the start of a tick after which its calls are no longer
    /// retried. A retry that would start after it is not made and the last
    /// error is returned.
    pub tick_budget: Duration,
    /// Fraction of each backoff delay that is random (0 = none, 1 = all):
    /// a delay `d` becomes a uniform pick in `[d·(1−jitter), d]`, so many
    /// clients failing together do not retry together.
    pub jitter: f64,
}

impl Default for RetryPolicy {
    /// 4 attempts, 500 ms doubling to at most 10 s, half of each delay
    /// random, 60 s per tick.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(10),
            tick_budget: Duration::from_secs(60),
            jitter: 0.5,
        }
    }
}

impl RetryPolicy {
    /// The backoff delay before retry number `retry` (1 for the first
    /// retry), before jitter.
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1));
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }

    fn jittered(&self, delay: Duration) -> Duration {
        let jitter = self.jitter.clamp(0.0, 1.0);
        if jitter == 0.0 {
            return delay;
        }
        delay.mul_f64(1.0 - jitter * fastrand::f64())
    }
}

/// What a failed call says about trying again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAdvice {
    /// Do not retry.
    GiveUp,
    /// Retry, after at least this long if the server said so.
    Retry {
        /// The server's `Retry-After`, if any.
        after: Option<Duration>,
    },
}

/// Reads what `error` says about retrying (see the module docs).
pub fn retry_advice(error: &ActuatorError) -> RetryAdvice {
    let ActuatorError::Backend { source, .. } = error else {
        return RetryAdvice::GiveUp;
    };
    let mut current: Option<&(dyn StdError + 'static)> = Some(source.as_ref());
    while let Some(err) = current {
        if let Some(fly) = err.downcast_ref::<FlyError>() {
            return if fly.is_retryable() {
                RetryAdvice::Retry {
                    after: fly.retry_after(),
                }
            } else {
                RetryAdvice::GiveUp
            };
        }
        current = err.source();
    }
    RetryAdvice::GiveUp
}

/// A [`RegionActuator`] that retries the transient failures of another.
///
/// The engine reads [`deployed_regions`](RegionActuator::deployed_regions)
/// at the start of every tick, so that call starts a new
/// [`tick_budget`](RetryPolicy::tick_budget): every call until the next
/// `deployed_regions` retries only until the budget, counted from then, is
/// spent. Embedders that do not list first can call
/// [`start_tick`](Retrying::start_tick) instead; before either, the first
/// call starts the budget.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use placer_core::{InMemoryActuator, RegionActuator};
/// use placer_fly::{RetryPolicy, Retrying};
///
/// let actuator = Retrying::new(InMemoryActuator::new([]), RetryPolicy::default());
/// actuator.deploy(&"fra".parse().unwrap()).await.unwrap();
/// assert_eq!(actuator.inner().regions().len(), 1);
/// # }
/// ```
#[derive(Debug)]
pub struct Retrying<A> {
    inner: A,
    policy: RetryPolicy,
    tick_started: Mutex<Option<Instant>>,
}

impl<A: RegionActuator> Retrying<A> {
    /// Wraps `inner`.
    pub fn new(inner: A, policy: RetryPolicy) -> Self {
        Retrying {
            inner,
            policy,
            tick_started: Mutex::new(None),
        }
    }

    /// The wrapped actuator.
    pub fn inner(&self) -> &A {
        &self.inner
    }

    /// The retry policy.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    fn lock_tick(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.tick_started
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts a new tick: the retry budget is full again.
    pub fn start_tick(&self) {
        *self.lock_tick() = Some(Instant::now());
    }

    /// When retrying must end for a call starting `now`.
    fn deadline(&self, now: Instant, starts_tick: bool) -> Instant {
        let mut tick = self.lock_tick();
        let started = match *tick {
            Some(started) if !starts_tick => started,
            _ => *tick.insert(now),
        };
        started + self.policy.tick_budget
    }

    async fn run<T, F, Fut>(&self, starts_tick: bool, mut call: F) -> Result<T, ActuatorError>
    where
        F: FnMut() -> Fut + Send,
        Fut: Future<Output = Result<T, ActuatorError>> + Send,
    {
        let deadline = self.deadline(Instant::now(), starts_tick);
        let mut attempt = 1;
        loop {
            let error = match call().await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            let RetryAdvice::Retry { after } = retry_advice(&error) else {
                return Err(error);
            };
            if attempt >= self.policy.max_attempts.max(1) {
                return Err(error);
            }
            let backoff = self.policy.jittered(self.policy.backoff(attempt));
            let delay = after.map_or(backoff, |asked| asked.max(backoff));
            if Instant::now() + delay > deadline {
                tracing::warn!(%error, ?delay, "not retrying: the tick's retry budget is spent");
                return Err(error);
            }
            tracing::warn!(%error, attempt, ?delay, "retrying");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }
}

#[async_trait]
impl<A: RegionActuator> RegionActuator for Retrying<A> {
    async fn deployed_regions(&self) -> Result<BTreeSet<Region>, ActuatorError> {
        self.run(true, || self.inner.deployed_regions()).await
    }

    async fn deploy(&self, region: &Region) -> Result<(), ActuatorError> {
        self.run(false, || self.inner.deploy(region)).await
    }

    async fn remove(&self, region: &Region) -> Result<(), ActuatorError> {
        self.run(false, || self.inner.remove(region)).await
    }

    fn is_simulation(&self) -> bool {
        self.inner.is_simulation()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Operation, Target};

    fn http(status: u16, retry_after: Option<Duration>) -> ActuatorError {
        ActuatorError::backend(
            "fly",
            None,
            FlyError::Http {
                operation: Operation::ListMachines,
                target: Target::app(),
                status,
                message: "m".into(),
                retry_after,
            },
        )
    }

    #[test]
    fn advice_comes_from_the_fly_error_inside() {
        assert_eq!(
            retry_advice(&http(429, Some(Duration::from_secs(3)))),
            RetryAdvice::Retry {
                after: Some(Duration::from_secs(3))
            }
        );
        assert_eq!(
            retry_advice(&http(503, None)),
            RetryAdvice::Retry { after: None }
        );
        assert_eq!(retry_advice(&http(403, None)), RetryAdvice::GiveUp);
        assert_eq!(
            retry_advice(&ActuatorError::backend("other", None, "boom")),
            RetryAdvice::GiveUp
        );
        let refused = ActuatorError::Refused {
            region: "fra".parse().unwrap(),
            reason: "last machine".into(),
        };
        assert_eq!(retry_advice(&refused), RetryAdvice::GiveUp);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(350),
            ..RetryPolicy::default()
        };
        let delays: Vec<u128> = (1..=4).map(|n| policy.backoff(n).as_millis()).collect();
        assert_eq!(delays, [100, 200, 350, 350]);
    }

    #[test]
    fn jitter_stays_within_its_fraction() {
        let policy = RetryPolicy {
            jitter: 0.5,
            ..RetryPolicy::default()
        };
        for _ in 0..200 {
            let d = policy.jittered(Duration::from_millis(1000));
            assert!(
                d >= Duration::from_millis(500) && d <= Duration::from_millis(1000),
                "{d:?}"
            );
        }
    }
}
