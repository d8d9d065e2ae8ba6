//! [`TokioTimer`]: the wrappers' clock and sleep on tokio's timer.

use std::time::Duration;

use async_trait::async_trait;
use placer_core::wrap::Timer;
use tokio::time::Instant;

/// A [`Timer`] on tokio's clock, for `placer_core::wrap`'s `Retrying` and
/// `RateLimited` in a tokio program. Under tokio's paused test clock it
/// follows the paused time, so tests of exact delays run instantly.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::sync::Arc;
/// use placer_core::wrap::{RetryPolicy, Retrying};
/// use placer_core::{InMemoryActuator, RegionActuator};
/// use placer_fly::TokioTimer;
///
/// let actuator = Retrying::new(
///     InMemoryActuator::new([]),
///     RetryPolicy::default(),
///     Arc::new(TokioTimer::new()),
/// );
/// actuator.deploy(&"fra".parse().unwrap()).await.unwrap();
/// # }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct TokioTimer {
    origin: Instant,
}

impl TokioTimer {
    /// A timer whose time starts now. Call it inside a tokio runtime when
    /// the runtime's clock is paused, so both agree on the origin.
    pub fn new() -> Self {
        TokioTimer {
            origin: Instant::now(),
        }
    }
}

impl Default for TokioTimer {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl Timer for TokioTimer {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    async fn sleep(&self, duration: Duration) {
        if !duration.is_zero() {
            tokio::time::sleep(duration).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn follows_tokio_time() {
        let timer = TokioTimer::new();
        timer.sleep(Duration::from_secs(3)).await;
        assert_eq!(timer.now(), Duration::from_secs(3));
    }
}
