//! [`AppsTraffic`]: every app's traffic from one Prometheus query per tick
//! (or a few, for more apps than fit in one: [`PrometheusSource::query_apps`]),
//! handed to each app's engine through [`AppTraffic`], its [`MetricsSource`].

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use placer_core::{AppName, MetricsError, MetricsSource, Timestamp, TrafficSnapshot};
use placer_prom::{PromError, PrometheusSource};
use tokio::time::Instant;

/// How long one answer serves ticks of single apps (`POST /trigger?app=`):
/// apps ticked one after the other within this share the query. A tick of
/// every app holds its answer for the whole tick instead
/// ([`AppsTraffic::hold`]): with thousands of apps it lasts longer.
pub const SHARED_ANSWER_AGE: Duration = Duration::from_secs(5);

/// How many apps read their past traffic at once when they start (each is a
/// range query over days): a thousand apps starting together do not send
/// a thousand such queries at once.
pub const HISTORY_READS_AT_ONCE: usize = 4;

/// How many apps warm-start their forecaster (read their past traffic) in
/// one tick of every app: the others tick on observed traffic and take
/// their turn at a later tick, so 10,000 apps starting together spread
/// their range queries over their first 50 ticks instead of holding up
/// the first one.
pub const WARM_STARTS_PER_TICK: usize = 200;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

type Answer = Arc<Result<BTreeMap<String, Result<TrafficSnapshot, PromError>>, PromError>>;

/// One query for many apps, its answer shared by the ticks that ask within
/// [`SHARED_ANSWER_AGE`] (one at a time: a tick arriving while the query
/// runs waits for its answer).
pub struct AppsTraffic {
    source: PrometheusSource,
    apps: RwLock<Vec<String>>,
    /// The latest answer, when it was fetched and in which generation.
    latest: tokio::sync::Mutex<Option<(Instant, u64, Answer)>>,
    /// Ticks of every app in progress: while one is, the answer is kept.
    holds: AtomicUsize,
    /// Changes when the first hold starts and when the last one ends: an
    /// answer of another generation is not used.
    generation: AtomicU64,
    /// Warm starts still allowed in the tick of every app in progress.
    warm_starts_left: AtomicUsize,
    history_reads: tokio::sync::Semaphore,
}

impl std::fmt::Debug for AppsTraffic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppsTraffic")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl AppsTraffic {
    /// Queries through `source` (its multi-app template) for the apps set
    /// with [`set_apps`](Self::set_apps).
    pub fn new(source: PrometheusSource) -> Self {
        AppsTraffic {
            source,
            apps: RwLock::new(Vec::new()),
            latest: tokio::sync::Mutex::new(None),
            holds: AtomicUsize::new(0),
            generation: AtomicU64::new(0),
            warm_starts_left: AtomicUsize::new(0),
            history_reads: tokio::sync::Semaphore::new(HISTORY_READS_AT_ONCE),
        }
    }

    /// The apps the query asks for; the next query uses the new list.
    pub fn set_apps(&self, apps: Vec<String>) {
        *self
            .apps
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = apps;
    }

    /// The answer for the apps, the latest one when recent enough, else
    /// from a new query.
    pub async fn answer(&self, at: Timestamp) -> Answer {
        let mut latest = self.latest.lock().await;
        let generation = self.generation.load(Ordering::SeqCst);
        if let Some((when, of, answer)) = latest.as_ref() {
            let held = self.holds.load(Ordering::SeqCst) > 0;
            if *of == generation && (held || when.elapsed() < SHARED_ANSWER_AGE) {
                return Arc::clone(answer);
            }
        }
        let apps = self
            .apps
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        let answer = Arc::new(self.source.query_apps(&apps, at).await);
        *latest = Some((Instant::now(), generation, Arc::clone(&answer)));
        answer
    }

    /// Starts a tick of every app: a new answer is fetched by its first
    /// app and serves them all, however long the tick takes, until the
    /// returned hold is dropped. Ticks of every app that overlap share it.
    pub fn hold(&self) -> TrafficHold<'_> {
        if self.holds.fetch_add(1, Ordering::SeqCst) == 0 {
            self.generation.fetch_add(1, Ordering::SeqCst);
            self.warm_starts_left
                .store(WARM_STARTS_PER_TICK, Ordering::SeqCst);
        }
        TrafficHold { traffic: self }
    }

    /// Whether one more app may warm-start its forecaster now: always
    /// outside a tick of every app, at most [`WARM_STARTS_PER_TICK`] times
    /// within one.
    pub fn warm_start_turn(&self) -> bool {
        self.holds.load(Ordering::SeqCst) == 0
            || self
                .warm_starts_left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                    left.checked_sub(1)
                })
                .is_ok()
    }
}

/// A tick of every app in progress ([`AppsTraffic::hold`]). Dropping the
/// last one lets the answer go, so it is not kept until the next tick, even
/// when the tick was abandoned half-way.
#[derive(Debug)]
pub struct TrafficHold<'a> {
    traffic: &'a AppsTraffic,
}

impl Drop for TrafficHold<'_> {
    fn drop(&mut self) {
        if self.traffic.holds.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.traffic.generation.fetch_add(1, Ordering::SeqCst);
            // Freed now unless a query is running (its answer is then of
            // an old generation, and never used).
            if let Ok(mut latest) = self.traffic.latest.try_lock() {
                *latest = None;
            }
        }
    }
}

/// One app's traffic out of an [`AppsTraffic`].
#[derive(Debug, Clone)]
pub struct AppTraffic {
    /// The shared query.
    pub apps: Arc<AppsTraffic>,
    /// The app.
    pub app: AppName,
}

#[async_trait]
impl MetricsSource for AppTraffic {
    async fn fetch(&self, at: Timestamp) -> Result<TrafficSnapshot, MetricsError> {
        let answer = self.apps.answer(at).await;
        match answer.as_ref() {
            Err(err) => Err(MetricsError::backend("prometheus", err.to_string())),
            Ok(apps) => match apps.get(self.app.as_str()) {
                Some(Ok(snapshot)) => Ok(snapshot.clone()),
                Some(Err(err)) => Err(MetricsError::backend("prometheus", err.to_string())),
                None => Err(MetricsError::backend(
                    "prometheus",
                    format!(
                        "app {} was not part of the query (it joined after it ran)",
                        self.app
                    ),
                )),
            },
        }
    }

    /// The app's own past traffic: the single-app query for this app, over
    /// the range (at most [`HISTORY_READS_AT_ONCE`] apps read at once).
    async fn history(
        &self,
        start: Timestamp,
        end: Timestamp,
        step: Duration,
    ) -> Result<Vec<TrafficSnapshot>, MetricsError> {
        let app = self.app.clone();
        let _turn = self
            .apps
            .history_reads
            .acquire()
            .await
            .map_err(|err| MetricsError::backend("prometheus", err.to_string()))?;
        self.apps
            .source
            .for_app(app)
            .history(start, end, step)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn traffic() -> AppsTraffic {
        let options =
            placer_prom::PrometheusOptions::new("http://127.0.0.1:9", "a".parse().unwrap());
        AppsTraffic::new(PrometheusSource::new(options).unwrap())
    }

    #[test]
    fn a_tick_of_every_app_grants_a_bounded_number_of_warm_starts() {
        let traffic = traffic();
        // Outside a tick of every app, always.
        assert!(traffic.warm_start_turn());
        let hold = traffic.hold();
        for _ in 0..WARM_STARTS_PER_TICK {
            assert!(traffic.warm_start_turn());
        }
        assert!(!traffic.warm_start_turn());
        // An overlapping tick of every app shares the count.
        let overlapping = traffic.hold();
        assert!(!traffic.warm_start_turn());
        drop(hold);
        drop(overlapping);
        assert!(traffic.warm_start_turn());
        let _next = traffic.hold();
        assert!(traffic.warm_start_turn());
    }

    #[tokio::test]
    async fn an_answer_is_kept_for_a_whole_tick_of_every_app_and_let_go_after() {
        let traffic = traffic();
        let answer: Answer = Arc::new(Ok(BTreeMap::new()));
        let hold = traffic.hold();
        let generation = traffic.generation.load(Ordering::SeqCst);
        let long_ago = Instant::now() - SHARED_ANSWER_AGE * 10;
        *traffic.latest.lock().await = Some((long_ago, generation, Arc::clone(&answer)));
        // However old, it serves the tick in progress (no query is sent:
        // nothing listens on the URL).
        let served = traffic.answer(Timestamp::from_unix_seconds(0)).await;
        assert!(Arc::ptr_eq(&served, &answer));
        drop(hold);
        assert!(traffic.latest.lock().await.is_none());
    }
}
