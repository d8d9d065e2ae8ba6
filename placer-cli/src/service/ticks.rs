//! Ticks on demand and from the loop: of one app, or of every app at once.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{Service, UnknownApp, APPS_AT_ONCE};
use crate::backends::apps_traffic::AppsTraffic;
use crate::runtime::{Host, TickError, TickResult};

impl Service {
    /// Runs a tick of the one app now and returns its report (see
    /// [`AppRunner::tick`]); with several apps, of the first.
    ///
    /// # Errors
    /// [`TickError`] when shutting down or when the tick crashed.
    pub async fn tick_now(self: &Arc<Self>) -> TickResult {
        if self.closing.load(Ordering::SeqCst) {
            return Err(TickError::ShuttingDown);
        }
        self.stage_changed_config();
        let host: Arc<dyn Host> = Arc::clone(self) as Arc<dyn Host>;
        self.runner().tick(host).await
    }

    /// Runs a tick of app `name` now.
    ///
    /// # Errors
    /// [`UnknownApp`] when no such app is placed.
    pub async fn tick_app(self: &Arc<Self>, name: &str) -> Result<TickResult, UnknownApp> {
        let runner = self.runner_of(Some(name))?;
        if self.closing.load(Ordering::SeqCst) {
            return Ok(Err(TickError::ShuttingDown));
        }
        self.stage_changed_config();
        let host: Arc<dyn Host> = Arc::clone(self) as Arc<dyn Host>;
        Ok(runner.tick(host).await)
    }

    /// Reads the config file and hands a valid change to every app.
    pub(super) fn stage_changed_config(&self) {
        self.poll_config();
        let pending = self.reloader().take_pending();
        if let Some(loaded) = pending {
            self.stage_for_apps(loaded);
        }
    }

    /// Runs a tick of every app now, [`APPS_AT_ONCE`] at a time, and
    /// returns each app's report. One app's failure never stops another's
    /// tick. Apps whose turn comes after [`stop_ticking`](Self::stop_ticking)
    /// get [`TickError::ShuttingDown`].
    pub async fn tick_all(self: &Arc<Self>) -> BTreeMap<String, TickResult> {
        let runners = self.runners();
        if self.closing.load(Ordering::SeqCst) {
            return runners
                .into_iter()
                .map(|(name, _)| (name, Err(TickError::ShuttingDown)))
                .collect();
        }
        // One traffic query (or one set of batches) for the whole tick.
        let _held = self.fleet.shared_traffic().map(AppsTraffic::hold);
        // A saved change reaches every app at this tick.
        self.stage_changed_config();
        let mut ticks = tokio::task::JoinSet::new();
        let at_once = Arc::new(tokio::sync::Semaphore::new(APPS_AT_ONCE));
        for (name, runner) in runners {
            let service = Arc::clone(self);
            let at_once = Arc::clone(&at_once);
            ticks.spawn(async move {
                let _turn = at_once.acquire_owned().await;
                // Once the service is stopping, the apps still waiting for
                // their turn skip this tick: only those in flight finish,
                // so a stop does not wait for a tick of every app.
                if service.closing.load(Ordering::SeqCst) {
                    return (name, Err(TickError::ShuttingDown));
                }
                let host: Arc<dyn Host> = Arc::clone(&service) as Arc<dyn Host>;
                (name, runner.tick(host).await)
            });
        }
        let mut results = BTreeMap::new();
        while let Some(joined) = ticks.join_next().await {
            if let Ok((name, result)) = joined {
                results.insert(name, result);
            }
        }
        // Every app has its traffic: dropping the hold lets the answer go,
        // so it is not kept until the next tick.
        results
    }

    /// Stops taking ticks: from now on a tick asked for is refused, and
    /// the apps of a tick of every app that have not started yet skip it.
    /// [`close`](Self::close) then waits for the ticks in flight.
    pub fn stop_ticking(&self) {
        self.closing.store(true, Ordering::SeqCst);
    }

    /// Stops taking ticks, waits for the ticks in flight, saves the
    /// engine states, and gives the queued notifications `notify.timeout`
    /// (at most 5 s) to go out.
    pub async fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
        for (_, runner) in self.runners() {
            runner.close().await;
        }
        self.leadership.resign().await;
        self.notifier.close(self.notifier.closing_time()).await;
    }
}
