//! [`Retrying`]: retries any [`RegionActuator`]'s transient failures, with
//! exponential backoff and jitter, `Retry-After`, bounded attempts and a
//! per-tick time budget.
//!
//! # Which errors are retried
//!
//! Those the backend marked transient ([`ActuatorError::is_transient`]),
//! after at least the delay it asked for ([`ActuatorError::retry_after`]).
//! Everything else — refusals, errors a backend did not mark, a Fly create
//! whose answer was lost — is returned at once: guessing could repeat a
//! change that did happen.
//!
//! Retrying a whole `scale` is safe because the trait requires it to be
//! idempotent.

use std::collections::hash_map::RandomState;
use std::collections::BTreeMap;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::Timer;
use crate::{ActuatorError, MachineCount, Region, RegionActuator};

/// How [`Retrying`] retries.
///
/// It reads from a config section (`serde`; every key optional, durations
/// as seconds or text such as `"500ms"`); the jitter is not a key.
///
/// ```
/// use std::time::Duration;
/// use placer_core::wrap::RetryPolicy;
///
/// let policy: RetryPolicy = serde_json::from_str(r#"{"max_attempts": 2, "base_delay": "1s"}"#).unwrap();
/// assert_eq!(policy.max_attempts, 2);
/// assert_eq!(policy.base_delay, Duration::from_secs(1));
/// assert_eq!(policy.max_delay, RetryPolicy::default().max_delay);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts per call, the first one included (at least 1).
    pub max_attempts: u32,
    /// Delay before the first retry; it doubles for each further retry.
    #[serde(with = "crate::config::duration")]
    pub base_delay: Duration,
    /// Longest delay between two attempts, unless the backend asks for more
    /// (e.g. with `Retry-After`).
    #[serde(with = "crate::config::duration")]
    pub max_delay: Duration,
    /// Time from the start of a tick after which its calls are no longer
    /// retried. A retry that would start after it is not made and the last
    /// error is returned.
    #[serde(with = "crate::config::duration")]
    pub tick_budget: Duration,
    /// Fraction of each backoff delay that is random (0 = none, 1 = all):
    /// a delay `d` becomes a uniform pick in `[d·(1−jitter), d]`, so many
    /// clients failing together do not retry together.
    #[serde(skip)]
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

crate::setters::with_setters!(RetryPolicy {
    with_max_attempts => max_attempts: u32,
    with_base_delay => base_delay: Duration,
    with_max_delay => max_delay: Duration,
    with_tick_budget => tick_budget: Duration,
    with_jitter => jitter: f64,
});

impl RetryPolicy {
    /// The backoff delay before retry number `retry` (1 for the first
    /// retry), before jitter.
    ///
    /// ```
    /// use std::time::Duration;
    /// use placer_core::wrap::RetryPolicy;
    ///
    /// let policy = RetryPolicy::default();
    /// assert_eq!(policy.backoff(1), Duration::from_millis(500));
    /// assert_eq!(policy.backoff(3), Duration::from_secs(2));
    /// assert_eq!(policy.backoff(10), Duration::from_secs(10));
    /// ```
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1));
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// `delay` with the random part applied.
    pub(super) fn jittered(&self, delay: Duration) -> Duration {
        let jitter = self.jitter.clamp(0.0, 1.0);
        if jitter == 0.0 {
            return delay;
        }
        delay.mul_f64(1.0 - jitter * random_fraction())
    }
}

/// A uniform pick in `[0, 1)`. `RandomState` is seeded by the standard
/// library from the operating system, so no random-number crate (and no
/// clock) is needed for the little randomness jitter wants.
fn random_fraction() -> f64 {
    let bits = RandomState::new().build_hasher().finish();
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// A [`RegionActuator`] that retries the transient failures of another.
///
/// The engine reads the [`deployment`](RegionActuator::deployment)
/// at the start of every tick, so that call starts a new
/// [`tick_budget`](RetryPolicy::tick_budget): every call until the next
/// `deployment` retries only until the budget, counted from then, is
/// spent. Embedders that do not list first can call
/// [`start_tick`](Retrying::start_tick) instead; before either, the first
/// call starts the budget.
///
/// With the crate's `tracing` feature, each retry (and each retry given up
/// for the budget) is a warning through `tracing`.
///
/// ```
/// # futures::executor::block_on(async {
/// use std::sync::Arc;
/// use std::time::Duration;
/// use placer_core::wrap::{InstantTimer, RetryPolicy, Retrying};
/// use placer_core::{InMemoryActuator, RegionActuator};
///
/// let timer = Arc::new(InstantTimer::new());
/// let inner = InMemoryActuator::new([]);
/// inner.fail_transiently(2, None); // the next two calls fail, transiently
/// let actuator = Retrying::new(inner, RetryPolicy::default(), timer.clone());
/// actuator.deploy(&"fra".parse().unwrap()).await.unwrap();
/// assert_eq!(actuator.inner().regions().len(), 1);
/// assert_eq!(timer.sleeps().len(), 2);
/// # });
/// ```
#[derive(Debug)]
pub struct Retrying<A> {
    inner: A,
    policy: RetryPolicy,
    timer: Arc<dyn Timer>,
    tick_started: Mutex<Option<Duration>>,
}

impl<A: RegionActuator> Retrying<A> {
    /// Wraps `inner`; `timer` measures the budget and waits between attempts.
    pub fn new(inner: A, policy: RetryPolicy, timer: Arc<dyn Timer>) -> Self {
        Retrying {
            inner,
            policy,
            timer,
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

    fn lock_tick(&self) -> std::sync::MutexGuard<'_, Option<Duration>> {
        self.tick_started
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts a new tick: the retry budget is full again.
    pub fn start_tick(&self) {
        *self.lock_tick() = Some(self.timer.now());
    }

    /// When retrying must end for a call starting `now`.
    fn deadline(&self, now: Duration, starts_tick: bool) -> Duration {
        let mut tick = self.lock_tick();
        let started = match *tick {
            Some(started) if !starts_tick => started,
            _ => *tick.insert(now),
        };
        started.saturating_add(self.policy.tick_budget)
    }

    async fn run<T, F, Fut>(&self, starts_tick: bool, mut call: F) -> Result<T, ActuatorError>
    where
        F: FnMut() -> Fut + Send,
        Fut: Future<Output = Result<T, ActuatorError>> + Send,
    {
        let deadline = self.deadline(self.timer.now(), starts_tick);
        let mut attempt = 1;
        loop {
            let error = match call().await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            if !error.is_transient() || attempt >= self.policy.max_attempts.max(1) {
                return Err(error);
            }
            let backoff = self.policy.jittered(self.policy.backoff(attempt));
            let delay = error
                .retry_after()
                .map_or(backoff, |asked| asked.max(backoff));
            if self.timer.now().saturating_add(delay) > deadline {
                #[cfg(feature = "tracing")]
                tracing::warn!(%error, ?delay, "not retrying: the tick's retry budget is spent");
                return Err(error);
            }
            #[cfg(feature = "tracing")]
            tracing::warn!(%error, attempt, ?delay, "retrying");
            self.timer.sleep(delay).await;
            attempt += 1;
        }
    }
}

#[async_trait]
impl<A: RegionActuator> RegionActuator for Retrying<A> {
    async fn deployment(&self) -> Result<BTreeMap<Region, MachineCount>, ActuatorError> {
        self.run(true, || self.inner.deployment()).await
    }

    async fn scale(&self, region: &Region, target: MachineCount) -> Result<(), ActuatorError> {
        self.run(false, || self.inner.scale(region, target)).await
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
