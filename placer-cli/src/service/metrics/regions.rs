//! The per-region gauges (`region_*`), written at each scrape from every
//! app's latest report and deployment instead of kept one gauge per series.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use placer_core::{Reason, Region, RegionDetail, TickReport};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;

/// Every app's per-region gauges as its latest tick without an error left
/// them, written out at each scrape.
#[derive(Debug, Default)]
pub(super) struct RegionGauges {
    apps: Mutex<BTreeMap<String, AppRegions>>,
}

/// An app's latest tick without an error: its report and the deployment it
/// left behind.
#[derive(Debug)]
pub(super) struct AppRegions {
    pub(super) report: Arc<TickReport>,
    pub(super) deployment: BTreeSet<Region>,
}

impl AppRegions {
    /// One row per region, in region order: those of the report and those
    /// deployed.
    fn rows(&self) -> impl Iterator<Item = RegionRow<'_>> + '_ {
        let unavailable: BTreeSet<Region> = self
            .report
            .skipped
            .iter()
            .filter(|skipped| matches!(skipped.reason, Reason::Unavailable { .. }))
            .map(|skipped| skipped.region)
            .collect();
        let pending: BTreeSet<Region> = self.report.pending.iter().copied().collect();
        let mut regions: BTreeSet<Region> = self.report.regions.keys().copied().collect();
        regions.extend(self.deployment.iter().copied());
        regions.extend(unavailable.iter().copied());
        regions.extend(pending.iter().copied());
        regions.into_iter().map(move |region| {
            let reported = self.report.regions.get(&region);
            let shown = reported.is_some() || self.deployment.contains(&region);
            RegionRow {
                region,
                reported,
                deployed: shown.then(|| self.deployment.contains(&region)),
                unavailable: unavailable.contains(&region),
                pending: pending.contains(&region),
            }
        })
    }
}

/// One region of one app: what the `region_*` gauges show for it.
#[derive(Debug, Clone, Copy)]
struct RegionRow<'a> {
    region: Region,
    /// The region's numbers, when it was in the tick's report.
    reported: Option<&'a RegionDetail>,
    /// Whether it runs the app (shown for reported and deployed regions).
    deployed: Option<bool>,
    /// Whether it sits out an unavailable region's backoff.
    unavailable: bool,
    /// Whether its deploy is in doubt, counted as deployed for now.
    pending: bool,
}

impl RegionGauges {
    pub(super) fn apps(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, AppRegions>> {
        self.apps
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Writes one gauge family: `value` of each app's rows that have one,
/// labelled `app` and `region`. The family is declared even without a
/// series (a region unavailable is a rare event), so alerting rules and
/// dashboards can be checked against the names exposed.
fn encode_gauges<V: prometheus_client::encoding::EncodeGaugeValue>(
    encoder: &mut DescriptorEncoder,
    apps: &BTreeMap<String, AppRegions>,
    (name, help): (&str, &str),
    value: impl Fn(&RegionRow) -> Option<V>,
) -> Result<(), std::fmt::Error> {
    let rows = apps.iter().flat_map(|(app, regions)| {
        regions
            .rows()
            .filter_map(|row| Some((app.as_str(), row.region, value(&row)?)))
    });
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (app, region, value) in rows {
        let labels = [("app", app), ("region", region.as_str())];
        metric.encode_family(&labels)?.encode_gauge(&value)?;
    }
    Ok(())
}

const REQUESTS: (&str, &str) = (
    "region_requests",
    "Requests per region in the latest observation",
);
const AVERAGES: (&str, &str) = (
    "region_traffic_average",
    "Smoothed traffic per region: the value compared with the thresholds (current), and the short- and long-term averages",
);
const THRESHOLDS: (&str, &str) = (
    "region_threshold",
    "Deploy and remove thresholds per region in the latest tick",
);
const DEPLOYED: (&str, &str) = (
    "region_deployed",
    "1 when the region runs the app after the latest tick, else 0",
);
const UNAVAILABLE: (&str, &str) = (
    "region_unavailable",
    "1 for a region the backend could not deploy lately (no capacity, region refused), sitting out its backoff",
);

const PENDING: (&str, &str) = (
    "region_deploy_pending",
    "1 for a region whose deploy is in doubt (its answer was lost): not listed, counted as deployed until it is or pending_grace passes",
);

impl Collector for RegionGauges {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let apps = self.apps();
        encode_gauges(&mut encoder, &apps, REQUESTS, |row| {
            Some(row.reported?.requests)
        })?;
        // One family, its windows one after the other for each region.
        let windows: [Part; 3] = [
            ("current", |n| n.current),
            ("short", |n| n.short),
            ("long", |n| n.long),
        ];
        encode_windows(&mut encoder, &apps, AVERAGES, "window", &windows)?;
        let kinds: [Part; 2] = [
            ("deploy", |n| n.deploy_threshold),
            ("remove", |n| n.remove_threshold),
        ];
        encode_windows(&mut encoder, &apps, THRESHOLDS, "kind", &kinds)?;
        encode_gauges(&mut encoder, &apps, DEPLOYED, |row| {
            row.deployed.map(i64::from)
        })?;
        encode_gauges(&mut encoder, &apps, UNAVAILABLE, |row| {
            row.unavailable.then_some(1_i64)
        })?;
        encode_gauges(&mut encoder, &apps, PENDING, |row| {
            row.pending.then_some(1_i64)
        })?;
        encode_machines(&mut encoder, &apps)
    }
}

const MACHINES: (&str, &str) = (
    "machines",
    "Machines per region with a machines: section: running and standby as listed at the latest tick (a standby Fly's proxy started counts as running), target as the sizing step set it",
);

/// Writes the `machines` family: for each region of an app whose latest
/// report carries counts, one series per `state` (declared even without
/// one, for the dashboard's checks).
fn encode_machines(
    encoder: &mut DescriptorEncoder,
    apps: &BTreeMap<String, AppRegions>,
) -> Result<(), std::fmt::Error> {
    let (name, help) = MACHINES;
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (app, regions) in apps {
        for (region, detail) in &regions.report.regions {
            let Some(machines) = &detail.machines else {
                continue;
            };
            let states = [
                ("running", machines.running),
                ("standby", machines.standby),
                ("target", machines.target),
            ];
            for (state, count) in states {
                let labels = [
                    ("app", app.as_str()),
                    ("region", region.as_str()),
                    ("state", state),
                ];
                metric
                    .encode_family(&labels)?
                    .encode_gauge(&i64::from(count))?;
            }
        }
    }
    Ok(())
}

/// A label value and the number shown under it.
type Part = (&'static str, fn(&RegionDetail) -> f64);

/// Writes one gauge family with one series per reported region and
/// `label` value: `(value, number)` pairs (declared even without one).
fn encode_windows(
    encoder: &mut DescriptorEncoder,
    apps: &BTreeMap<String, AppRegions>,
    (name, help): (&str, &str),
    label: &str,
    values: &[Part],
) -> Result<(), std::fmt::Error> {
    let rows = apps.iter().flat_map(|(app, regions)| {
        regions
            .rows()
            .filter_map(|row| Some((app.as_str(), row.region, row.reported?)))
    });
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (app, region, numbers) in rows {
        for (value, number) in values {
            let labels = [("app", app), ("region", region.as_str()), (label, value)];
            metric
                .encode_family(&labels)?
                .encode_gauge(&number(numbers))?;
        }
    }
    Ok(())
}
