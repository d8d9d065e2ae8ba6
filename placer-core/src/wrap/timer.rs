//! [`Timer`]: waiting and a monotonic clock, provided by the program.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

/// A monotonic clock and a way to wait, for the wrappers that pace or retry
/// calls. placer-core reads no clock and has no runtime of its own, so the
/// program supplies one: placer-fly's `TokioTimer` sleeps on tokio's timer,
/// and [`InstantTimer`] returns at once (tests, simulations).
#[async_trait]
pub trait Timer: Send + Sync + std::fmt::Debug {
    /// Time elapsed since an origin fixed by the timer. It never goes back.
    fn now(&self) -> Duration;

    /// Waits `duration` (returns at once for a zero duration).
    async fn sleep(&self, duration: Duration);
}

/// A [`Timer`] whose time moves only when something sleeps: a sleep returns
/// at once and advances [`now`](Timer::now) by its duration. It records
/// every sleep, so tests can assert the exact delays a wrapper chose.
///
/// ```
/// # futures::executor::block_on(async {
/// use std::time::Duration;
/// use placer_core::wrap::{InstantTimer, Timer};
///
/// let timer = InstantTimer::new();
/// timer.sleep(Duration::from_secs(2)).await;
/// timer.advance(Duration::from_secs(1));
/// assert_eq!(timer.now(), Duration::from_secs(3));
/// assert_eq!(timer.sleeps(), [Duration::from_secs(2)]);
/// # });
/// ```
#[derive(Debug, Default)]
pub struct InstantTimer {
    state: Mutex<InstantState>,
}

#[derive(Debug, Default)]
struct InstantState {
    now: Duration,
    sleeps: Vec<Duration>,
}

impl InstantTimer {
    /// A timer at time zero that has not slept.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves time forward by `by` without recording a sleep (time that
    /// passed outside the wrappers, e.g. between two ticks).
    pub fn advance(&self, by: Duration) {
        self.lock().now += by;
    }

    /// Every sleep so far, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.lock().sleeps.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, InstantState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl Timer for InstantTimer {
    fn now(&self) -> Duration {
        self.lock().now
    }

    async fn sleep(&self, duration: Duration) {
        let mut state = self.lock();
        state.now += duration;
        state.sleeps.push(duration);
    }
}
