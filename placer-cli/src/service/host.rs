//! What a runner needs from the service around it ([`Host`]): the config
//! change staged for it, and where its applied config and finished ticks
//! are reported (metrics, the trigger token, the loop's interval, the
//! webhook notifications).

use super::status::PlatformHealth;
use super::Service;
use crate::config::file::LoadedConfig;
use crate::runtime::{AppRunner, Applied, FinishedTick, Host, TickError};

impl Host for Service {
    fn staged_config(&self, runner: &AppRunner) -> Option<LoadedConfig> {
        // `tick_now`, `tick_app` and `tick_all` read the file once for all
        // the apps they tick, before their ticks start.
        self.staged().remove(runner.name())
    }

    fn config_applied(&self, runner: &AppRunner, applied: &Applied) {
        self.metrics.observe_reload(runner.name(), true);
        let settings = runner.settings();
        *self
            .trigger_token
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = settings.trigger_token.clone();
        if applied.interval_changed {
            *self
                .interval
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = settings.interval;
            self.interval_changed.notify_waiters();
        }
    }

    fn config_rejected(&self, runner: &AppRunner, message: String) {
        self.reloader().reject_applied(message.clone());
        tracing::error!(
            app = %runner.name(),
            "config change rejected, the previous config stays in force: {message}"
        );
        self.metrics.observe_reload(runner.name(), false);
        runner.set_config_error(Some(message));
    }

    fn warm_start_turn(&self) -> bool {
        self.fleet
            .shared_traffic()
            .is_none_or(crate::backends::apps_traffic::AppsTraffic::warm_start_turn)
    }

    fn tick_finished(&self, runner: &AppRunner, tick: &FinishedTick<'_>) {
        let app = runner.name();
        if tick.persist_failed {
            self.metrics.observe_persist_error(app);
        }
        self.metrics
            .observe_tick(app, tick.report, tick.took, tick.deployment);
        self.metrics
            .observe_budget(app, tick.placer.policy_summary().budget.as_ref());
        self.metrics
            .observe_platform(app, &PlatformHealth::of(tick.placer.platform_regions()));
        self.metrics.observe_lease_busy(app, tick.busy);
        if let Some(counts) = tick.api_requests {
            self.metrics.observe_api_requests(app, counts);
        }
        self.notifier.tick_finished(app, tick.report);
    }

    fn tick_not_run(&self, runner: &AppRunner, error: &TickError) {
        let dry_run = runner.settings().dry_run;
        self.notifier.tick_not_run(runner.name(), error, dry_run);
    }
}
