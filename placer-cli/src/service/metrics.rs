//! `GET /metrics`: what the engine sees and does, in the Prometheus
//! exposition format (OpenMetrics text), through prometheus-client.

use std::collections::BTreeSet;
use std::sync::atomic::AtomicU64;
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
    region: String,
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
    region: String,
    window: Window,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ThresholdLabels {
    region: String,
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    action: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StageLabels {
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
    tick_duration: Histogram,
    last_tick: FloatGauge,
    reloads: Family<ResultLabels, Counter>,
    config_valid: Gauge,
    dry_run: Gauge,
    budget: FloatGauge,
    budget_spent: FloatGauge,
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
            tick_duration: Histogram::new(exponential_buckets(0.005, 2.0, 14)),
            last_tick: FloatGauge::default(),
            reloads: Family::default(),
            config_valid: Gauge::default(),
            dry_run: Gauge::default(),
            budget: FloatGauge::default(),
            budget_spent: FloatGauge::default(),
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
        metrics.config_valid.set(1);
        metrics
    }

    /// Records the machine budget in force and what its current period has
    /// spent (both 0 without a budget).
    pub fn observe_budget(&self, budget: Option<&MachineBudget>, spent: Option<&MachineTime>) {
        let Some(budget) = budget else {
            self.budget.set(0.0);
            self.budget_spent.set(0.0);
            return;
        };
        self.budget.set(budget.machine_hours);
        self.budget_spent
            .set(spent.map_or(0.0, |spent| spent.machine_seconds / 3600.0));
    }

    /// Records a finished tick: its report, how long it took, and the
    /// deployment it left behind.
    pub fn observe_tick(&self, report: &TickReport, took: Duration, deployment: &BTreeSet<Region>) {
        self.tick_duration.observe(took.as_secs_f64());
        self.last_tick.set(report.at.unix_millis() as f64 / 1000.0);
        self.dry_run.set(i64::from(report.dry_run));
        let result = if report.is_ok() { "ok" } else { "failed" };
        self.ticks.get_or_create(&ResultLabels { result }).inc();
        if report.error.is_some() {
            let stage = match report.failed_stage() {
                Some(FailedStage::FetchingTraffic) => "metrics",
                _ => "deployment",
            };
            self.errors.get_or_create(&StageLabels { stage }).inc();
            return;
        }
        for action in &report.actions {
            let outcome = match action.outcome {
                Outcome::Ok => "ok",
                Outcome::DryRun => "dry_run",
                Outcome::Error(_) => {
                    self.errors
                        .get_or_create(&StageLabels { stage: "action" })
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
                .get_or_create(&ActionLabels { action, outcome })
                .inc();
        }
        for region in &report.ignored_regions {
            self.ignored
                .get_or_create(&RegionLabels {
                    region: region.to_string(),
                })
                .inc();
        }
        self.unavailable.clear();
        for skipped in &report.skipped {
            let reason = skipped.reason.class();
            self.skips.get_or_create(&ReasonLabels { reason }).inc();
            if matches!(skipped.reason, Reason::Unavailable { .. }) {
                self.unavailable
                    .get_or_create(&RegionLabels {
                        region: skipped.region.to_string(),
                    })
                    .set(1);
            }
        }
        // Regions that left the report leave the gauges too.
        self.requests.clear();
        self.averages.clear();
        self.thresholds.clear();
        self.deployed.clear();
        for (region, detail) in &report.regions {
            let name = region.to_string();
            let labels = RegionLabels {
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
                    region: region.to_string(),
                })
                .set(i64::from(deployment.contains(region)));
        }
    }

    /// Records a failed save of the engine state.
    pub fn observe_persist_error(&self) {
        self.errors
            .get_or_create(&StageLabels { stage: "persist" })
            .inc();
    }

    /// Records a change of the config file: applied or rejected.
    pub fn observe_reload(&self, applied: bool) {
        let result = if applied { "applied" } else { "rejected" };
        self.reloads.get_or_create(&ResultLabels { result }).inc();
        self.config_valid.set(i64::from(applied));
    }

    /// Sets the dry-run gauge (before the first tick, too).
    pub fn set_dry_run(&self, dry_run: bool) {
        self.dry_run.set(i64::from(dry_run));
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
