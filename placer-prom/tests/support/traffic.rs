//! A known request-counter history, loaded into real servers and used to
//! work out the exact counts they must report.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::{Duration, SystemTime};

use placer_core::{Timestamp, TrafficSnapshot};

pub const METRIC: &str = "fly_edge_http_responses_count";
pub const APP: &str = "shop";
/// Seconds between samples, like a scrape interval.
pub const SAMPLE_INTERVAL: i64 = 15;
/// How much history is loaded, in seconds.
pub const HISTORY: i64 = 2 * 3600;
/// The window of the default query, in seconds.
pub const WINDOW: i64 = 300;

/// One counter series: its labels, and how much it grows per sample.
struct Series {
    labels: &'static [(&'static str, &'static str)],
    growth_per_sample: u64,
}

/// Several regions and status codes of `shop`, another app in the same
/// region, and a `shop` series without a region label.
const SERIES: &[Series] = &[
    Series {
        labels: &[("app", APP), ("region", "iad"), ("status", "200")],
        growth_per_sample: 4,
    },
    Series {
        labels: &[("app", APP), ("region", "iad"), ("status", "503")],
        growth_per_sample: 1,
    },
    Series {
        labels: &[("app", APP), ("region", "fra"), ("status", "200")],
        growth_per_sample: 2,
    },
    Series {
        labels: &[("app", APP), ("region", "syd"), ("status", "200")],
        growth_per_sample: 1,
    },
    Series {
        labels: &[("app", "other-app"), ("region", "iad"), ("status", "200")],
        growth_per_sample: 100,
    },
    Series {
        labels: &[("app", APP), ("status", "200")],
        growth_per_sample: 7,
    },
];

/// Number of series loaded.
pub const SERIES_COUNT: usize = 6;

/// The history: samples every 15 s over two hours, ending three hours
/// before the tests run (old enough for Prometheus' backfill, recent enough
/// for both servers' retention), aligned to five minutes.
pub struct KnownTraffic {
    /// Unix seconds of the last sample.
    pub end: i64,
}

impl KnownTraffic {
    pub fn new() -> Self {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        KnownTraffic {
            end: now / WINDOW * WINDOW - 3 * 3600,
        }
    }

    fn start(&self) -> i64 {
        self.end - HISTORY
    }

    fn sample_times(&self) -> impl Iterator<Item = i64> + '_ {
        (0..=HISTORY / SAMPLE_INTERVAL).map(move |k| self.start() + k * SAMPLE_INTERVAL)
    }

    /// The counter's value at `t` (a sample time): it starts at 1000 and
    /// grows by 1, 2 or 3 times its base step, changing every minute, so
    /// that different windows have different counts.
    fn value(&self, series: &Series, t: i64) -> u64 {
        assert!((t - self.start()) % SAMPLE_INTERVAL == 0 && t >= self.start() && t <= self.end);
        let mut value = 1000;
        let mut sample = self.start() + SAMPLE_INTERVAL;
        while sample <= t {
            value += series.growth_per_sample * (1 + ((sample / 60) % 3) as u64);
            sample += SAMPLE_INTERVAL;
        }
        value
    }

    /// The instant query time most tests use: ten minutes before the end.
    pub fn query_time(&self) -> Timestamp {
        Timestamp::from_unix_seconds(self.end - 600)
    }

    /// Requests per region of `shop` in the five minutes up to `at`: what
    /// `sum by (region) (increase(...[5m]))` must report.
    pub fn expected_requests(&self, at: Timestamp) -> TrafficSnapshot {
        let t = at.unix_seconds();
        let mut per_region: BTreeMap<&str, f64> = BTreeMap::new();
        for series in shop_series_with_region() {
            let increase = self.value(series, t) - self.value(series, t - WINDOW);
            *per_region
                .entry(label(series, "region").unwrap())
                .or_default() += increase as f64;
        }
        TrafficSnapshot::new(at, per_region).unwrap()
    }

    /// What the `shop` series without a region label grew by in the window.
    pub fn expected_unlabelled(&self, at: Timestamp) -> f64 {
        let t = at.unix_seconds();
        let series = SERIES
            .iter()
            .find(|s| label(s, "region").is_none())
            .unwrap();
        (self.value(series, t) - self.value(series, t - WINDOW)) as f64
    }

    /// The counters' lifetime totals per region at `at`: what the seed
    /// project's query, `sum(...[5m]) by (region)`, amounts to on
    /// VictoriaMetrics (the last raw value, not requests in the window).
    pub fn lifetime_totals(&self, at: Timestamp) -> TrafficSnapshot {
        let t = at.unix_seconds();
        let mut per_region: BTreeMap<&str, f64> = BTreeMap::new();
        for series in shop_series_with_region() {
            *per_region
                .entry(label(series, "region").unwrap())
                .or_default() += self.value(series, t) as f64;
        }
        TrafficSnapshot::new(at, per_region).unwrap()
    }

    /// The range tests' span: the last hour but ten minutes, every 5 minutes.
    pub fn range(&self) -> (Timestamp, Timestamp, Duration) {
        (
            Timestamp::from_unix_seconds(self.end - 3600),
            Timestamp::from_unix_seconds(self.end - 600),
            Duration::from_secs(WINDOW as u64),
        )
    }

    /// OpenMetrics text with second timestamps, for `promtool tsdb create-blocks-from openmetrics`.
    pub fn openmetrics(&self) -> String {
        let mut text = String::new();
        for series in SERIES {
            for t in self.sample_times() {
                writeln!(
                    text,
                    "{METRIC}{} {} {t}",
                    labels(series),
                    self.value(series, t)
                )
                .unwrap();
            }
        }
        text.push_str("# EOF\n");
        text
    }

    /// Prometheus text format with millisecond timestamps, for
    /// VictoriaMetrics' `/api/v1/import/prometheus`.
    pub fn prometheus_text(&self) -> String {
        let mut text = String::new();
        for series in SERIES {
            for t in self.sample_times() {
                writeln!(
                    text,
                    "{METRIC}{} {} {}",
                    labels(series),
                    self.value(series, t),
                    t * 1000
                )
                .unwrap();
            }
        }
        text
    }
}

fn shop_series_with_region() -> impl Iterator<Item = &'static Series> {
    SERIES
        .iter()
        .filter(|s| label(s, "app") == Some(APP) && label(s, "region").is_some())
}

fn label(series: &Series, name: &str) -> Option<&'static str> {
    series
        .labels
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| *v)
}

fn labels(series: &Series) -> String {
    let inner: Vec<String> = series
        .labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{v}\""))
        .collect();
    format!("{{{}}}", inner.join(","))
}
