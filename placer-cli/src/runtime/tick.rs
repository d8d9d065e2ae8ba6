//! One tick of an app: at most one at a time (a tick asked for while one
//! runs gets that tick's report), a staged config applied first, the
//! engine caught up with the store, then observe, decide, act and save.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use placer_core::forecast::ForecastStatus;
use placer_core::Placer;
use tokio::sync::OwnedMutexGuard;

use crate::cli::log_lines;
use crate::runtime::app::{AppRunner, Engine};
use crate::runtime::fenced::Fenced;
use crate::runtime::store::restore_engine_state;
use crate::runtime::view::keep_recent;
use crate::runtime::{now, FinishedTick, Host, RecentTick, TickError, TickResult};

impl AppRunner {
    /// Runs a tick now and returns its report. Ticks never overlap: when one
    /// is already running, this waits for it and returns its report.
    ///
    /// The tick runs as its own task, so it completes (and its state is
    /// saved) even when the caller stops waiting, e.g. an HTTP client that
    /// hangs up.
    ///
    /// # Errors
    /// [`TickError::Crashed`] when the tick crashed; [`TickError::ShuttingDown`]
    /// when the runner went away while waiting.
    pub async fn tick(self: &Arc<Self>, host: Arc<dyn Host>) -> TickResult {
        if let Err(not_leader) = self.leadership.term() {
            // A follower shows what the leader saved.
            self.refresh_from_store().await;
            return Err(not_leader.into());
        }
        let mut finished = self.finished.subscribe();
        finished.borrow_and_update();
        match Arc::clone(&self.engine).try_lock_owned() {
            Ok(engine) => {
                let runner = Arc::clone(self);
                let tick_host = Arc::clone(&host);
                let result =
                    tokio::spawn(async move { runner.run_tick(engine, &*tick_host).await })
                        .await
                        .map_err(|err| TickError::Crashed(err.to_string()))
                        .and_then(|result| result);
                if let Err(err) = &result {
                    tracing::error!("{err}");
                    host.tick_not_run(self, err);
                    // Requests that joined this tick get the same answer.
                    self.finished.send_replace(Some(Err(err.clone())));
                }
                result
            }
            Err(_) => {
                // The running tick's report answers this request too.
                finished
                    .changed()
                    .await
                    .map_err(|_| TickError::ShuttingDown)?;
                let result = finished.borrow().clone();
                result.unwrap_or(Err(TickError::ShuttingDown))
            }
        }
    }

    async fn run_tick(&self, mut engine: OwnedMutexGuard<Engine>, host: &dyn Host) -> TickResult {
        if let Some(loaded) = host.staged_config(self) {
            self.apply_staged_config(&mut engine, loaded, host).await;
        }
        self.catch_up(&mut engine).await?;
        if !engine.backfilled {
            // Only a forecaster reads past traffic; others take no turn.
            let reads = engine.placer.state().forecast().forecaster().is_some();
            if !reads || host.warm_start_turn() {
                engine.backfilled = true;
                if std::mem::take(&mut engine.warm_start_put_off) {
                    engine.placer.restart_forecast();
                }
                self.backfill(&mut engine).await;
            } else if !engine.warm_start_put_off {
                engine.warm_start_put_off = true;
                tracing::info!(
                    app = %self.name,
                    "forecast warm start put off to a later tick (other apps read their past traffic first); reacting to observed traffic until then"
                );
            }
        }

        let started = Instant::now();
        let at = now();
        let Engine {
            placer, backends, ..
        } = &mut *engine;
        // Every change is preceded by a check that this placer still leads.
        let fenced = Fenced::new(Arc::clone(&backends.actuator), self.leadership.clone());
        let report = placer.tick(backends.source.as_ref(), &fenced, at).await;
        let took = started.elapsed();

        // What is really deployed now: the plan's result where the actuator
        // carried it out (or simulated it), the observed set otherwise.
        let acted = !report.dry_run || backends.actuator.is_simulation();
        let deployment = if report.is_ok() && acted {
            &report.updated_deployment
        } else {
            &report.current_deployment
        };
        let deployment: BTreeSet<_> = deployment.iter().cloned().collect();

        let saved = engine.save().await;
        if let Err(err) = &saved {
            tracing::error!("saving the engine state failed: {err}");
        }
        log_lines::tick(&report);
        let report = Arc::new(report);
        host.tick_finished(
            self,
            &FinishedTick {
                report: &report,
                took,
                deployment: &deployment,
                placer: &engine.placer,
                persist_failed: saved.is_err(),
                busy: fenced.busy(),
                api_requests: engine
                    .backends
                    .api_requests
                    .as_ref()
                    .map(placer_fly::RequestCounter::snapshot),
            },
        );

        {
            let mut view = self.view_mut();
            view.ticks += 1;
            view.last_report = Some(Arc::clone(&report));
            let keep = engine.loaded.settings.service.recent_ticks;
            keep_recent(&mut view.recent_ticks, RecentTick::from(&*report), keep);
            view.last_tick_duration = took;
            view.state = engine.placer.shared_state();
            view.persist_error = saved.err().map(|err| err.to_string());
            view.platform = Arc::clone(engine.placer.platform_regions());
            if report.is_ok() {
                view.deployment = deployment;
                view.deployment_as_of = Some(report.at);
                view.latest_ok_report = Some(Arc::clone(&report));
            }
        }
        self.finished.send_replace(Some(Ok(Arc::clone(&report))));
        Ok(report)
    }

    /// Before a leader's tick: when the state was read in another term (or
    /// before this placer led), reads it again, so the new leader goes on
    /// from what the previous one saved.
    async fn catch_up(&self, engine: &mut Engine) -> Result<(), TickError> {
        let term = self.leadership.term()?;
        if engine.term == Some(term) {
            return Ok(());
        }
        let state = restore_engine_state(engine.store.as_ref(), &engine.key)
            .await
            .map_err(|err| TickError::StateUnavailable(err.to_string()))?;
        engine.placer = Placer::with_state(engine.loaded.engine.clone(), state)
            .expect("the config passed validation when it was parsed");
        engine
            .restore_simulation()
            .await
            .map_err(|err| TickError::StateUnavailable(err.to_string()))?;
        engine.term = Some(term);
        engine.backfilled = false;
        self.view_mut().state = engine.placer.shared_state();
        tracing::info!("leading (term {term}): going on from the stored engine state");
        Ok(())
    }

    /// Teaches the forecaster the app's past traffic from its source
    /// ([`Placer::backfill`]), before the engine's first tick: afterwards
    /// the source's history would be older than what it learnt. A failure
    /// is logged and the engine reacts to observed traffic until it has
    /// learnt enough.
    async fn backfill(&self, engine: &mut Engine) {
        let Engine {
            placer, backends, ..
        } = engine;
        match placer.backfill(backends.source.as_ref(), now()).await {
            // A policy that plans without forecasts keeps no forecaster.
            Ok(summary) if summary.status == ForecastStatus::Unused => {}
            Ok(summary) => tracing::info!(app = %self.name, "forecast warm start: {summary}"),
            Err(err) => tracing::warn!(
                app = %self.name,
                "forecast warm start failed, reacting to observed traffic until enough is learnt: {err}"
            ),
        }
    }
}
