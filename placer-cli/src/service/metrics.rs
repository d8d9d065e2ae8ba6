//! `GET /metrics`: what the engine sees and does, in the Prometheus
//! exposition format (OpenMetrics text), through prometheus-client.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::AtomicU64;
use std::sync::Mutex;
use std::time::Duration;

use placer_core::policy::MachineBudget;
use placer_core::policy::MachineTime;
use placer_core::{FailedStage, Move, Outcome, Reason, Region, TickReport};
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// The `Content-Type` of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

type FloatGauge = Gauge<f64, AtomicU64>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RegionLabels {
    app: String,
    region: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AppLabels {
    app: String,
}

fn app_labels(app: &str) -> AppLabels {
    AppLabels {
        app: app.to_owned(),
    }
}

type HistogramFamily = Family<AppLabels, Histogram, fn() -> Histogram>;

fn tick_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)] // label values are written as they are named
enum Window {
    current,
    short,
    long,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AverageLabels {
    app: String,
    region: String,
    window: Window,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ThresholdLabels {
    app: String,
    region: String,
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    app: String,
    action: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    app: String,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    app: String,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StageLabels {
    app: String,
    stage: &'static str,
}

/// The service's metrics and the registry that exposes them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RegionLabels, FloatGauge>,
    averages: Family<AverageLabels, FloatGauge>,
    thresholds: Family<ThresholdLabels, FloatGauge>,
    deployed: Family<RegionLabels, Gauge>,
    unavailable: Family<RegionLabels, Gauge>,
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
    /// Per app, the regions of its per-region gauges, so a tick removes
    /// the regions that left its report without touching other apps'.
    shown: Mutex<HashMap<String, ShownRegions>>,
}

#[derive(Debug, Default)]
struct ShownRegions {
    reported: BTreeSet<String>,
    deployed: BTreeSet<String>,
    unavailable: BTreeSet<String>,
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
            requests: Family::default(),
            averages: Family::default(),
            thresholds: Family::default(),
            deployed: Family::default(),
            unavailable: Family::default(),
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
            shown: Mutex::new(HashMap::new()),
        };
        let registry = &mut metrics.registry;
        registry.register(
            "region_requests",
            "Requests per region in the latest observation",
            metrics.requests.clone(),
        );
        registry.register(
            "region_traffic_average",
            "Smoothed traffic per region: the value compared with the thresholds (current), and the short- and long-term averages",
            metrics.averages.clone(),
        );
        registry.register(
            "region_threshold",
            "Deploy and remove thresholds per region in the latest tick",
            metrics.thresholds.clone(),
        );
        registry.register(
            "region_deployed",
            "1 when the region runs the app after the latest tick, else 0",
            metrics.deployed.clone(),
        );
        registry.register(
            "region_unavailable",
            "1 for a region the backend could not deploy lately (no capacity, region refused), sitting out its backoff",
            metrics.unavailable.clone(),
        );
        registry.register(
            "ignored_regions",
            "Observations whose traffic from the region was ignored: not a Fly region (not in the region catalog)",
            metrics.ignored.clone(),
        );
        registry.register(
            "actions",
            "Deploys and removes decided, by outcome (ok, dry_run, error, skipped)",
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
            "Errors by stage: metrics (fetching traffic), deployment (listing regions), action (a deploy or remove), persist (saving state)",
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
        metrics
    }

    /// Starts an app's gauges: its config valid, its mode, no budget.
    pub fn add_app(&self, app: &str, dry_run: bool) {
        self.config_valid.get_or_create(&app_labels(app)).set(1);
        self.set_dry_run(app, dry_run);
        self.budget.get_or_create(&app_labels(app)).set(0.0);
        self.budget_spent.get_or_create(&app_labels(app)).set(0.0);
    }

    /// Drops an app's gauges (an app no longer placed); its counters stay.
    pub fn remove_app(&self, app: &str) {
        let labels = app_labels(app);
        self.config_valid.remove(&labels);
        self.dry_run.remove(&labels);
        self.budget.remove(&labels);
        self.budget_spent.remove(&labels);
        self.last_tick.remove(&labels);
        let shown = self.shown().remove(app).unwrap_or_default();
        self.remove_region_gauges(app, &shown.reported, &shown.deployed, &shown.unavailable);
    }

    fn shown(&self) -> std::sync::MutexGuard<'_, HashMap<String, ShownRegions>> {
        self.shown
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn remove_region_gauges(
        &self,
        app: &str,
        reported: &BTreeSet<String>,
        deployed: &BTreeSet<String>,
        unavailable: &BTreeSet<String>,
    ) {
        let labels = |region: &String| RegionLabels {
            app: app.to_owned(),
            region: region.clone(),
        };
        for region in reported {
            self.requests.remove(&labels(region));
            for window in [Window::current, Window::short, Window::long] {
                self.averages.remove(&AverageLabels {
                    app: app.to_owned(),
                    region: region.clone(),
                    window,
                });
            }
            for kind in ["deploy", "remove"] {
                self.thresholds.remove(&ThresholdLabels {
                    app: app.to_owned(),
                    region: region.clone(),
                    kind,
                });
            }
        }
        for region in deployed {
            self.deployed.remove(&labels(region));
        }
        for region in unavailable {
            self.unavailable.remove(&labels(region));
        }
    }

    /// Records the machine budget in force and what its current period has
    /// spent (both 0 without a budget).
    pub fn observe_budget(
        &self,
        app: &str,
        budget: Option<&MachineBudget>,
        spent: Option<&MachineTime>,
    ) {
        let labels = app_labels(app);
        let Some(budget) = budget else {
            self.budget.get_or_create(&labels).set(0.0);
            self.budget_spent.get_or_create(&labels).set(0.0);
            return;
        };
        self.budget.get_or_create(&labels).set(budget.machine_hours);
        self.budget_spent
            .get_or_create(&labels)
            .set(spent.map_or(0.0, |spent| spent.machine_seconds / 3600.0));
    }

    /// Records a finished tick: its report, how long it took, and the
    /// deployment it left behind.
    pub fn observe_tick(
        &self,
        app: &str,
        report: &TickReport,
        took: Duration,
        deployment: &BTreeSet<Region>,
    ) {
        let app = app.to_owned();
        let labels = AppLabels { app: app.clone() };
        self.tick_duration
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
        self.last_tick
            .get_or_create(&labels)
            .set(report.at.unix_millis() as f64 / 1000.0);
        self.dry_run
            .get_or_create(&labels)
            .set(i64::from(report.dry_run));
        let result = if report.is_ok() { "ok" } else { "failed" };
        self.ticks
            .get_or_create(&ResultLabels {
                app: app.clone(),
                result,
            })
            .inc();
        if report.error.is_some() {
            let stage = match report.failed_stage() {
                Some(FailedStage::FetchingTraffic) => "metrics",
                _ => "deployment",
            };
            self.errors
                .get_or_create(&StageLabels {
                    app: app.clone(),
                    stage,
                })
                .inc();
            return;
        }
        for action in &report.actions {
            let outcome = match action.outcome {
                Outcome::Ok => "ok",
                Outcome::DryRun => "dry_run",
                Outcome::Error(_) => {
                    self.errors
                        .get_or_create(&StageLabels {
                            app: app.clone(),
                            stage: "action",
                        })
                        .inc();
                    "error"
                }
                Outcome::Skipped(_) => "skipped",
            };
            let action = match action.decision.action {
                Move::Deploy => "deploy",
                Move::Remove => "remove",
            };
            self.actions
                .get_or_create(&ActionLabels {
                    app: app.clone(),
                    action,
                    outcome,
                })
                .inc();
        }
        for region in &report.ignored_regions {
            self.ignored
                .get_or_create(&RegionLabels {
                    app: app.clone(),
                    region: region.to_string(),
                })
                .inc();
        }
        let mut unavailable = BTreeSet::new();
        for skipped in &report.skipped {
            let reason = skipped.reason.class();
            self.skips
                .get_or_create(&ReasonLabels {
                    app: app.clone(),
                    reason,
                })
                .inc();
            if matches!(skipped.reason, Reason::Unavailable { .. }) {
                unavailable.insert(skipped.region.to_string());
                self.unavailable
                    .get_or_create(&RegionLabels {
                        app: app.clone(),
                        region: skipped.region.to_string(),
                    })
                    .set(1);
            }
        }
        let reported: BTreeSet<String> = report.regions.keys().map(ToString::to_string).collect();
        let known: BTreeSet<String> = report
            .regions
            .keys()
            .chain(deployment.iter())
            .map(ToString::to_string)
            .collect();
        // Regions that left the report leave the gauges too.
        {
            let mut shown = self.shown();
            let previous = shown.entry(app.clone()).or_default();
            self.remove_region_gauges(
                &app,
                &previous.reported.difference(&reported).cloned().collect(),
                &previous.deployed.difference(&known).cloned().collect(),
                &previous
                    .unavailable
                    .difference(&unavailable)
                    .cloned()
                    .collect(),
            );
            *previous = ShownRegions {
                reported,
                deployed: known,
                unavailable,
            };
        }
        for (region, detail) in &report.regions {
            let name = region.to_string();
            let labels = RegionLabels {
                app: app.clone(),
                region: name.clone(),
            };
            self.requests.get_or_create(&labels).set(detail.requests);
            for (window, value) in [
                (Window::current, detail.current),
                (Window::short, detail.short),
                (Window::long, detail.long),
            ] {
                self.averages
                    .get_or_create(&AverageLabels {
                        app: app.clone(),
                        region: name.clone(),
                        window,
                    })
                    .set(value);
            }
            for (kind, value) in [
                ("deploy", detail.deploy_threshold),
                ("remove", detail.remove_threshold),
            ] {
                self.thresholds
                    .get_or_create(&ThresholdLabels {
                        app: app.clone(),
                        region: name.clone(),
                        kind,
                    })
                    .set(value);
            }
        }
        let known = report.regions.keys().chain(deployment.iter());
        for region in known {
            self.deployed
                .get_or_create(&RegionLabels {
                    app: app.clone(),
                    region: region.to_string(),
                })
                .set(i64::from(deployment.contains(region)));
        }
    }

    /// Records a failed save of the engine state.
    pub fn observe_persist_error(&self, app: &str) {
        self.errors
            .get_or_create(&StageLabels {
                app: app.to_owned(),
                stage: "persist",
            })
            .inc();
    }

    /// Records a change of the config file for `app`: applied or rejected.
    pub fn observe_reload(&self, app: &str, applied: bool) {
        let result = if applied { "applied" } else { "rejected" };
        self.reloads
            .get_or_create(&ResultLabels {
                app: app.to_owned(),
                result,
            })
            .inc();
        self.config_valid
            .get_or_create(&app_labels(app))
            .set(i64::from(applied));
    }

    /// Sets an app's dry-run gauge (before its first tick, too).
    pub fn set_dry_run(&self, app: &str, dry_run: bool) {
        self.dry_run
            .get_or_create(&app_labels(app))
            .set(i64::from(dry_run));
    }

    /// Every metric in the OpenMetrics text format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

#[cfg(test)]
mod tests;
