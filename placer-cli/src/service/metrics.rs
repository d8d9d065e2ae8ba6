//! `GET /metrics`: what the engine sees and does, in the Prometheus
//! exposition format (OpenMetrics text), through prometheus-client.
//!
//! The per-region gauges (`region_*`) are not kept as one gauge per series:
//! with many apps that is hundreds of thousands of label sets. Each app's
//! latest report (the one its status endpoints show, shared) and deployment
//! are kept, and the gauges are written from them at each scrape.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use placer_core::policy::BudgetUse;
use placer_core::{report::FailedStage, Move, Outcome, Region, TickReport};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::service::status::PlatformHealth;

/// The `Content-Type` of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

mod platform;
mod regions;

use platform::PlatformGauges;
use regions::{AppRegions, RegionGauges};

type FloatGauge = Gauge<f64, AtomicU64>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RegionLabels {
    app: AppName,
    region: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AppLabels {
    app: AppName,
}

/// An app's name in its series' labels: one allocation an app, which every
/// series of the app shares (see [`Metrics::name`]).
type AppName = Arc<str>;

type HistogramFamily = Family<AppLabels, Histogram, fn() -> Histogram>;

fn tick_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    app: AppName,
    action: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    app: AppName,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    app: AppName,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabels {
    app: AppName,
    source: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    app: AppName,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StageLabels {
    app: AppName,
    stage: &'static str,
}

/// `ticks_total`'s results, `errors_total`'s stages and
/// `config_reloads_total`'s results: every series of an app is exported from
/// 0 as soon as the app is placed, so a rate over it reads 0 rather than
/// "no data" until the first event.
const TICK_RESULTS: [&str; 2] = ["ok", "failed"];
const ERROR_STAGES: [&str; 4] = [STAGE_METRICS, STAGE_DEPLOYMENT, STAGE_ACTION, STAGE_PERSIST];
/// `errors_total`'s stages: fetching traffic, listing the deployment, a
/// deploy or remove, saving state.
const STAGE_METRICS: &str = "metrics";
const STAGE_DEPLOYMENT: &str = "deployment";
const STAGE_ACTION: &str = "action";
const STAGE_PERSIST: &str = "persist";
const RELOAD_RESULTS: [&str; 2] = ["applied", "rejected"];
/// `platform_regions`' sources: where the picture of the platform's regions
/// came from (see [`PlatformHealth`](crate::service::status::PlatformHealth)).
const PLATFORM_SOURCES: [&str; 3] = ["platform", "fallback", "built_in"];

/// The service's metrics and the registry that exposes them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    regions: Arc<RegionGauges>,
    ignored: Family<RegionLabels, Counter>,
    actions: Family<ActionLabels, Counter>,
    skips: Family<ReasonLabels, Counter>,
    ticks: Family<ResultLabels, Counter>,
    errors: Family<StageLabels, Counter>,
    tick_duration: HistogramFamily,
    last_tick: Family<AppLabels, FloatGauge>,
    reloads: Family<ResultLabels, Counter>,
    config_valid: Family<AppLabels, Gauge>,
    dry_run: Family<AppLabels, Gauge>,
    budget: Family<AppLabels, FloatGauge>,
    budget_spent: Family<AppLabels, FloatGauge>,
    platform_regions: Family<SourceLabels, Gauge>,
    notifications: crate::service::notify::NotifyCounters,
    platform_unavailable: Arc<PlatformGauges>,
    budget_period_end: Family<AppLabels, FloatGauge>,
    interval: Family<AppLabels, FloatGauge>,
    leader: Family<AppLabels, Gauge>,
    api_requests: Family<OutcomeLabels, Counter>,
    /// Each app's Machines API counts as last observed, to add what has
    /// been counted since.
    api_counted: Mutex<HashMap<String, placer_fly::RequestCounts>>,
    lease_busy: Family<AppLabels, Counter>,
    /// The apps' names as their series share them.
    names: Mutex<HashSet<AppName>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A registry with every metric at zero, names prefixed `fly_placer_`.
    pub fn new() -> Self {
        let mut metrics = Metrics {
            registry: Registry::with_prefix("fly_placer"),
            regions: Arc::default(),
            ignored: Family::default(),
            actions: Family::default(),
            skips: Family::default(),
            ticks: Family::default(),
            errors: Family::default(),
            tick_duration: Family::new_with_constructor(tick_histogram),
            last_tick: Family::default(),
            reloads: Family::default(),
            config_valid: Family::default(),
            dry_run: Family::default(),
            budget: Family::default(),
            budget_spent: Family::default(),
            platform_regions: Family::default(),
            notifications: crate::service::notify::NotifyCounters::default(),
            platform_unavailable: Arc::default(),
            budget_period_end: Family::default(),
            interval: Family::default(),
            leader: Family::default(),
            api_requests: Family::default(),
            api_counted: Mutex::default(),
            lease_busy: Family::default(),
            names: Mutex::default(),
        };
        let registry = &mut metrics.registry;
        registry.register_collector(Box::new(Arc::clone(&metrics.regions)));
        registry.register_collector(Box::new(Arc::clone(&metrics.platform_unavailable)));
        registry.register(
            "ignored_regions",
            "Observations whose traffic from the region was ignored: not a Fly region (not in the region catalog)",
            metrics.ignored.clone(),
        );
        registry.register(
            "actions",
            "Deploys, removes and resizes decided, by outcome (ok, dry_run, error, skipped)",
            metrics.actions.clone(),
        );
        registry.register(
            "skips",
            "Regions left alone by a tick, by class of reason",
            metrics.skips.clone(),
        );
        registry.register("ticks", "Ticks run, by result", metrics.ticks.clone());
        registry.register(
            "errors",
            "Errors by stage: metrics (fetching traffic), deployment (listing regions), action (a deploy, remove or resize), persist (saving state)",
            metrics.errors.clone(),
        );
        registry.register(
            "tick_duration_seconds",
            "Time taken by a tick",
            metrics.tick_duration.clone(),
        );
        registry.register(
            "last_tick_timestamp_seconds",
            "Unix time of the latest tick",
            metrics.last_tick.clone(),
        );
        registry.register(
            "config_reloads",
            "Changes of the config file, by result (applied, rejected)",
            metrics.reloads.clone(),
        );
        registry.register(
            "config_valid",
            "1 when the config file's current content is in force, 0 when it was rejected",
            metrics.config_valid.clone(),
        );
        registry.register(
            "dry_run",
            "1 in dry-run, 0 when machines are really changed",
            metrics.dry_run.clone(),
        );
        registry.register(
            "budget_machine_hours",
            "The latency policy's machine budget per period (latency.budget), 0 without one",
            metrics.budget.clone(),
        );
        registry.register(
            "budget_spent_machine_hours",
            "Machine-hours spent so far in the budget's current period",
            metrics.budget_spent.clone(),
        );
        registry.register(
            "platform_regions",
            "Regions that take new machines in the picture the engine plans over, on the series of where it came from (platform, fallback: the built-in catalog because the platform could not be read, built_in); the other sources read 0",
            metrics.platform_regions.clone(),
        );
        metrics.notifications.register(registry);
        registry.register(
            "budget_period_end_timestamp_seconds",
            "Unix time the machine budget's current period ends, 0 without a budget or before its spending is counted",
            metrics.budget_period_end.clone(),
        );
        registry.register(
            "interval_seconds",
            "Time between periodic ticks (service.interval), 0 when only triggers tick",
            metrics.interval.clone(),
        );
        registry.register(
            "leader",
            "1 when this placer leads (ticks and acts for the app), 0 for a follower",
            metrics.leader.clone(),
        );
        registry.register(
            "fly_api_requests",
            "Machines API requests by answer: ok, rate_limited (429), client_error (other 4xx, expected ones included), server_error (5xx), no_answer",
            metrics.api_requests.clone(),
        );
        registry.register(
            "lease_busy",
            "Deploys and removes not made because another client held a machine's lease (the region was busy); asked again at the next tick",
            metrics.lease_busy.clone(),
        );
        metrics
    }

    /// The webhook notifications' counters (they count from 0 at start).
    pub fn notifications(&self) -> &crate::service::notify::NotifyCounters {
        &self.notifications
    }

    /// The app's name as its series' label: the same allocation for every
    /// series of the app (a copy of its own per series would cost more than
    /// the counters).
    fn name(&self, app: &str) -> AppName {
        let mut names = self
            .names
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(name) = names.get(app) {
            return Arc::clone(name);
        }
        let name = AppName::from(app);
        names.insert(Arc::clone(&name));
        name
    }

    fn app_labels(&self, app: &str) -> AppLabels {
        AppLabels {
            app: self.name(app),
        }
    }

    /// Starts an app's series: its counters at 0, its config valid, its
    /// mode, no budget.
    pub fn add_app(&self, app: &str, dry_run: bool) {
        for result in TICK_RESULTS {
            self.ticks
                .get_or_create(&ResultLabels {
                    app: self.name(app),
                    result,
                })
                .inc_by(0);
        }
        for stage in ERROR_STAGES {
            self.errors
                .get_or_create(&StageLabels {
                    app: self.name(app),
                    stage,
                })
                .inc_by(0);
        }
        for result in RELOAD_RESULTS {
            self.reloads
                .get_or_create(&ResultLabels {
                    app: self.name(app),
                    result,
                })
                .inc_by(0);
        }
        self.config_valid
            .get_or_create(&self.app_labels(app))
            .set(1);
        self.set_dry_run(app, dry_run);
        self.budget.get_or_create(&self.app_labels(app)).set(0.0);
        self.budget_spent
            .get_or_create(&self.app_labels(app))
            .set(0.0);
        for source in PLATFORM_SOURCES {
            self.platform_regions
                .get_or_create(&SourceLabels {
                    app: self.name(app),
                    source,
                })
                .set(0);
        }
        self.budget_period_end
            .get_or_create(&self.app_labels(app))
            .set(0.0);
        for outcome in placer_fly::RequestCounts::OUTCOMES {
            self.api_requests
                .get_or_create(&OutcomeLabels {
                    app: self.name(app),
                    outcome,
                })
                .inc_by(0);
        }
        self.lease_busy
            .get_or_create(&self.app_labels(app))
            .inc_by(0);
    }

    /// Sets what the process says of every app it places: the time between
    /// periodic ticks (zero without a loop) and whether this placer leads.
    /// Done at each scrape, so the values are those of the moment.
    pub fn observe_service<'a>(
        &self,
        apps: impl IntoIterator<Item = &'a str>,
        interval: Duration,
        leading: bool,
    ) {
        for app in apps {
            let labels = self.app_labels(app);
            self.interval
                .get_or_create(&labels)
                .set(interval.as_secs_f64());
            self.leader.get_or_create(&labels).set(i64::from(leading));
        }
    }

    /// Adds the Machines API answers counted since the app's previous
    /// observation. Counts lower than before come from a new actuator (the
    /// config changed): they are all new.
    pub fn observe_api_requests(&self, app: &str, counts: placer_fly::RequestCounts) {
        let mut counted = self
            .api_counted
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let before = counted.get(app).copied().unwrap_or_default();
        for ((outcome, now), (_, then)) in counts.by_outcome().into_iter().zip(before.by_outcome())
        {
            let added = if now >= then { now - then } else { now };
            self.api_requests
                .get_or_create(&OutcomeLabels {
                    app: self.name(app),
                    outcome,
                })
                .inc_by(added);
        }
        counted.insert(app.to_owned(), counts);
    }

    /// Counts deploys and removes found busy (a lease held elsewhere).
    pub fn observe_lease_busy(&self, app: &str, busy: u64) {
        self.lease_busy
            .get_or_create(&self.app_labels(app))
            .inc_by(busy);
    }

    /// Records the picture of the platform's regions the app's latest tick
    /// planned over: its deployable regions on its source's series, 0 on
    /// the others.
    pub fn observe_platform(&self, app: &str, platform: &PlatformHealth) {
        for source in PLATFORM_SOURCES {
            let deployable = if source == platform.source {
                platform.deployable
            } else {
                0
            };
            self.platform_regions
                .get_or_create(&SourceLabels {
                    app: self.name(app),
                    source,
                })
                .set(i64::try_from(deployable).unwrap_or(i64::MAX));
        }
        self.platform_unavailable.set(app, &platform.unavailable);
    }

    /// Drops an app's gauges (an app no longer placed); its counters stay.
    pub fn remove_app(&self, app: &str) {
        let labels = self.app_labels(app);
        self.config_valid.remove(&labels);
        self.dry_run.remove(&labels);
        self.budget.remove(&labels);
        self.budget_spent.remove(&labels);
        self.last_tick.remove(&labels);
        self.budget_period_end.remove(&labels);
        self.interval.remove(&labels);
        self.leader.remove(&labels);
        self.platform_unavailable.remove(app);
        self.api_counted
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(app);
        for source in PLATFORM_SOURCES {
            self.platform_regions.remove(&SourceLabels {
                app: self.name(app),
                source,
            });
        }
        self.regions.apps().remove(app);
    }

    /// Records the machine budget in force, what its current period has
    /// spent and when that period ends (all 0 without a budget).
    pub fn observe_budget(&self, app: &str, budget: Option<&BudgetUse>) {
        let labels = self.app_labels(app);
        let Some(budget) = budget else {
            self.budget.get_or_create(&labels).set(0.0);
            self.budget_spent.get_or_create(&labels).set(0.0);
            self.budget_period_end.get_or_create(&labels).set(0.0);
            return;
        };
        self.budget.get_or_create(&labels).set(budget.machine_hours);
        self.budget_spent
            .get_or_create(&labels)
            .set(budget.spent_machine_hours);
        self.budget_period_end.get_or_create(&labels).set(
            budget
                .period_end
                .map_or(0.0, |end| end.unix_millis() as f64 / 1000.0),
        );
    }

    /// Records a finished tick: its report, how long it took, and the
    /// deployment it left behind.
    pub fn observe_tick(
        &self,
        app: &str,
        report: &Arc<TickReport>,
        took: Duration,
        deployment: &BTreeSet<Region>,
    ) {
        let name = self.name(app);
        let labels = AppLabels {
            app: Arc::clone(&name),
        };
        self.tick_duration
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
        self.last_tick
            .get_or_create(&labels)
            .set(report.at.unix_millis() as f64 / 1000.0);
        self.dry_run
            .get_or_create(&labels)
            .set(i64::from(report.dry_run));
        let [ok, failed] = TICK_RESULTS;
        let result = if report.is_ok() { ok } else { failed };
        self.ticks
            .get_or_create(&ResultLabels {
                app: Arc::clone(&name),
                result,
            })
            .inc();
        if report.error.is_some() {
            let stage = match report.failed_stage() {
                Some(FailedStage::FetchingTraffic) => STAGE_METRICS,
                _ => STAGE_DEPLOYMENT,
            };
            self.errors
                .get_or_create(&StageLabels {
                    app: Arc::clone(&name),
                    stage,
                })
                .inc();
            return;
        }
        let actions = report
            .actions
            .iter()
            .map(|action| {
                let name = match action.decision.action {
                    Move::Deploy => "deploy",
                    Move::Remove => "remove",
                };
                (name, &action.outcome)
            })
            .chain(report.resizes().map(|resize| ("resize", &resize.outcome)));
        for (action, outcome) in actions {
            let outcome = match outcome {
                Outcome::Ok => "ok",
                Outcome::DryRun => "dry_run",
                Outcome::Failed(_) => {
                    self.errors
                        .get_or_create(&StageLabels {
                            app: Arc::clone(&name),
                            stage: STAGE_ACTION,
                        })
                        .inc();
                    "error"
                }
                Outcome::Skipped(_) => "skipped",
                _ => "other",
            };
            self.actions
                .get_or_create(&ActionLabels {
                    app: Arc::clone(&name),
                    action,
                    outcome,
                })
                .inc();
        }
        for region in &report.ignored_regions {
            self.ignored
                .get_or_create(&RegionLabels {
                    app: Arc::clone(&name),
                    region: region.to_string(),
                })
                .inc();
        }
        for skipped in &report.skipped {
            self.skips
                .get_or_create(&ReasonLabels {
                    app: Arc::clone(&name),
                    reason: skipped.reason.class(),
                })
                .inc();
        }
        // The tick's regions replace the app's: regions that left the
        // report leave the gauges too.
        self.regions.apps().insert(
            app.to_owned(),
            AppRegions {
                report: Arc::clone(report),
                deployment: deployment.clone(),
            },
        );
    }

    /// Records a failed save of the engine state.
    pub fn observe_persist_error(&self, app: &str) {
        self.errors
            .get_or_create(&StageLabels {
                app: self.name(app),
                stage: STAGE_PERSIST,
            })
            .inc();
    }

    /// Records a change of the config file for `app`: applied or rejected.
    pub fn observe_reload(&self, app: &str, applied: bool) {
        let [applied_label, rejected] = RELOAD_RESULTS;
        let result = if applied { applied_label } else { rejected };
        self.reloads
            .get_or_create(&ResultLabels {
                app: self.name(app),
                result,
            })
            .inc();
        self.config_valid
            .get_or_create(&self.app_labels(app))
            .set(i64::from(applied));
    }

    /// Sets an app's dry-run gauge (before its first tick, too).
    pub fn set_dry_run(&self, app: &str, dry_run: bool) {
        self.dry_run
            .get_or_create(&self.app_labels(app))
            .set(i64::from(dry_run));
    }

    /// [`render`](Self::render)'s text compressed with gzip, as scrapers
    /// ask for it (`Accept-Encoding: gzip`). The text is compressed as it
    /// is written, so with many apps the whole text (tens of MiB at
    /// thousands of apps) is never held at once.
    pub fn render_gzip(&self) -> Vec<u8> {
        let mut text = GzipText::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to memory cannot fail");
        text.finish()
    }

    /// Every metric in the OpenMetrics text format, as one string (the
    /// endpoint serves [`render_gzip`](Self::render_gzip)'s text instead,
    /// which is never held whole).
    #[cfg(test)]
    pub fn render(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

/// A text sink that compresses what is written, in pieces of
/// [`GzipText::PIECE`] bytes (the encoder writes a few bytes at a time).
struct GzipText {
    piece: String,
    gzip: flate2::write::GzEncoder<Vec<u8>>,
}

impl GzipText {
    const PIECE: usize = 64 * 1024;

    fn new() -> Self {
        GzipText {
            piece: String::with_capacity(Self::PIECE),
            // The fastest level: the text is repetitive enough that it
            // still shrinks about tenfold.
            gzip: flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()),
        }
    }

    fn compress_piece(&mut self) {
        use std::io::Write;
        self.gzip
            .write_all(self.piece.as_bytes())
            .expect("writing to memory cannot fail");
        self.piece.clear();
    }

    fn finish(mut self) -> Vec<u8> {
        self.compress_piece();
        self.gzip.finish().expect("writing to memory cannot fail")
    }
}

impl std::fmt::Write for GzipText {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        if self.piece.len() + text.len() > Self::PIECE {
            self.compress_piece();
        }
        self.piece.push_str(text);
        Ok(())
    }
}

#[cfg(test)]
mod alerting_tests;
#[cfg(test)]
mod tests;
