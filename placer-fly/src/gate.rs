//! [`RequestGate`]: what every Machines API request of one process goes
//! through: Fly's per-app, per-action limits, a cap on requests in flight,
//! and any pause a caller puts on all of them.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::limits::Buckets;

/// What the Machines API requests of actuators that share it go through.
///
/// - **Fly's limits**: one token bucket per app and action (and per machine
///   for getting one machine), with the numbers of
///   [`FlyOptions::api_limits`](crate::FlyOptions::api_limits). A 429's
///   `Retry-After` holds back that bucket only — that app's action — for
///   the time given: Fly counts each action per app, so other apps and
///   other actions go on.
/// - **A pause** of every request, which a caller may ask for with
///   [`pause_for`](Self::pause_for). A longer pause extends it; a shorter
///   one never shortens it.
/// - **A cap** on requests in flight, when built with
///   [`with_max_in_flight`](Self::with_max_in_flight).
///
/// Cloning shares the gate (it is `Arc` state): give actuators that use the
/// same token and organization one gate with
/// [`FlyMachinesActuator::with_gate`](crate::FlyMachinesActuator::with_gate).
/// [`FlyMachinesActuator::new`](crate::FlyMachinesActuator::new) makes one
/// of its own. Time is tokio's, so tests can pause it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// use std::time::Duration;
/// use placer_fly::RequestGate;
///
/// let gate = RequestGate::new();
/// let shared = gate.clone();
/// gate.pause_for(Duration::from_secs(5));
/// assert_eq!(shared.remaining(), Some(Duration::from_secs(5)));
/// shared.wait().await;
/// assert_eq!(gate.remaining(), None);
/// # }
/// ```
///
/// A gate may also cap the requests in flight at once
/// ([`with_max_in_flight`](Self::with_max_in_flight)): many apps placed by
/// one process then never have more than that many requests open together.
///
/// Actuators sharing a gate also share one HTTP client (connection pool
/// and TLS settings), so many apps cost one client, not one each.
#[derive(Debug, Clone, Default)]
pub struct RequestGate {
    until: Arc<Mutex<Option<Instant>>>,
    in_flight: Option<(Arc<Semaphore>, usize)>,
    http: Arc<std::sync::OnceLock<reqwest::Client>>,
    buckets: Buckets,
}

/// A request's place among those in flight, held until its answer is read.
#[derive(Debug)]
pub struct Admission {
    _permit: Option<OwnedSemaphorePermit>,
}

impl RequestGate {
    /// An open gate.
    pub fn new() -> Self {
        Self::default()
    }

    /// An open gate that lets at most `max` requests (at least one) be in
    /// flight at once.
    pub fn with_max_in_flight(max: usize) -> Self {
        RequestGate {
            until: Arc::default(),
            in_flight: Some((Arc::new(Semaphore::new(max.max(1))), max.max(1))),
            http: Arc::default(),
            buckets: Buckets::default(),
        }
    }

    /// The HTTP client of every request through this gate, built at first
    /// use. Timeouts are set per request.
    pub(crate) fn http_client(&self) -> Result<reqwest::Client, reqwest::Error> {
        if let Some(client) = self.http.get() {
            return Ok(client.clone());
        }
        let client = reqwest::Client::builder()
            .user_agent(concat!("fly-placer/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(self.http.get_or_init(|| client).clone())
    }

    /// The per-app, per-action buckets of every request through this gate.
    pub(crate) fn buckets(&self) -> &Buckets {
        &self.buckets
    }

    /// Requests in flight now through this gate (0 without a cap).
    pub fn in_flight(&self) -> usize {
        match &self.in_flight {
            Some((semaphore, max)) => max - semaphore.available_permits(),
            None => 0,
        }
    }

    /// The cap on requests in flight, if there is one.
    pub fn max_in_flight(&self) -> Option<usize> {
        self.in_flight.as_ref().map(|(_, max)| *max)
    }

    /// Waits until a request may go out: any pause has ended and there is
    /// room among the requests in flight. Keep the admission until the
    /// answer has been read.
    pub async fn admit(&self) -> Admission {
        loop {
            self.wait().await;
            let permit = match &self.in_flight {
                Some((semaphore, _)) => Some(
                    Arc::clone(semaphore)
                        .acquire_owned()
                        .await
                        .expect("the gate never closes its semaphore"),
                ),
                None => None,
            };
            // A pause may have begun while this request waited.
            if self.remaining().is_none() {
                return Admission { _permit: permit };
            }
        }
    }

    /// Holds requests back for `duration` from now, unless they already are
    /// for longer.
    pub fn pause_for(&self, duration: Duration) {
        let end = Instant::now() + duration;
        let mut until = self.lock();
        if until.is_none_or(|current| current < end) {
            *until = Some(end);
        }
    }

    /// How long requests are still held back, if they are.
    pub fn remaining(&self) -> Option<Duration> {
        let until = (*self.lock())?;
        let left = until.saturating_duration_since(Instant::now());
        (!left.is_zero()).then_some(left)
    }

    /// Waits until the pause, if any, has ended (also a pause extended while
    /// waiting).
    pub async fn wait(&self) {
        loop {
            let Some(until) = *self.lock() else {
                return;
            };
            if Instant::now() >= until {
                return;
            }
            tokio::time::sleep_until(until).await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_longer_pause_extends_and_a_shorter_one_does_not_shorten() {
        let gate = RequestGate::new();
        assert_eq!(gate.remaining(), None);
        gate.pause_for(Duration::from_secs(10));
        gate.pause_for(Duration::from_secs(2));
        assert_eq!(gate.remaining(), Some(Duration::from_secs(10)));
        let started = Instant::now();
        let waiting = tokio::spawn({
            let gate = gate.clone();
            async move { gate.wait().await }
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        gate.pause_for(Duration::from_secs(20));
        waiting.await.unwrap();
        assert_eq!(started.elapsed(), Duration::from_secs(21));
    }

    #[tokio::test(start_paused = true)]
    async fn admissions_beyond_the_cap_wait_for_one_to_end() {
        let gate = RequestGate::with_max_in_flight(2);
        let first = gate.admit().await;
        let _second = gate.admit().await;
        assert_eq!(gate.in_flight(), 2);
        let third = tokio::spawn({
            let gate = gate.clone();
            async move {
                let _admitted = gate.admit().await;
            }
        });
        tokio::task::yield_now().await;
        assert!(!third.is_finished());
        drop(first);
        third.await.unwrap();
        assert_eq!(gate.in_flight(), 1);
        assert_eq!(RequestGate::new().max_in_flight(), None);
    }
}
