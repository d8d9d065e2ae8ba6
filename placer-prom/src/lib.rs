//! placer-prom: per-region traffic for fly-placer from a Prometheus HTTP API.
//!
//! Fly.io exposes each organisation's metrics at
//! `https://api.fly.io/prometheus/<org-slug>` (VictoriaMetrics underneath,
//! speaking the Prometheus API). [`PrometheusSource`] asks it how many
//! requests each region served and hands the answer to the engine as a
//! [`TrafficSnapshot`](placer_core::TrafficSnapshot), through the
//! [`MetricsSource`](placer_core::MetricsSource) trait. Any Prometheus or
//! VictoriaMetrics server works the same way, with or without a token.
//!
//! - Live ticks use instant queries ([`PrometheusSource::query_instant`],
//!   or [`MetricsSource::fetch`](placer_core::MetricsSource::fetch)).
//! - Backtests use range queries ([`PrometheusSource::query_range`]): one
//!   snapshot per step of real history; [`PrometheusSource::query_history`]
//!   splits a long range into queries small enough for the server.
//! - A failed query is always an error, never an empty snapshot: an empty
//!   snapshot would read as "no traffic anywhere" and could remove regions.
//!   `NaN` and infinite values are refused, series without the region label
//!   are reported, and server warnings and partial answers are surfaced.
//! - With the `test-server` feature, `test_server::FakePrometheus` is a
//!   small Prometheus API on 127.0.0.1 for tests, here and in programs built
//!   on this crate.
//!
//! ```no_run
//! use placer_core::{MetricsSource, secret::Secret, Timestamp};
//! use placer_prom::{PrometheusOptions, PrometheusSource};
//! use std::time::{Duration, SystemTime};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let mut settings = PrometheusOptions::new(
//!     "https://api.fly.io/prometheus/personal",
//!     "shop".parse()?, // validated: lowercase letters, digits, dashes
//! );
//! settings.token = Some(Secret::new(std::env::var("FLY_API_TOKEN")?));
//! let source = PrometheusSource::new(settings)?;
//!
//! // A live tick: requests per region over the last five minutes.
//! let now = Timestamp::from_system_time(SystemTime::now());
//! let outcome = source.query_instant(now).await?;
//! for (region, requests) in outcome.snapshot.iter() {
//!     println!("{region}: {requests:.0} requests");
//! }
//! for series in &outcome.unlabelled {
//!     eprintln!("not attributed to a region: {series}");
//! }
//!
//! // The engine only needs the trait.
//! let snapshot = source.fetch(now).await?;
//! assert_eq!(snapshot.at(), now);
//!
//! // A backtest over the last day, one snapshot every ten minutes.
//! let history = source
//!     .query_range(now - Duration::from_secs(86_400), now, Duration::from_secs(600))
//!     .await?;
//! println!("{} snapshots", history.len());
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod apps;
mod error;
mod history;
mod options;
mod outcome;
mod response;
mod source;
#[cfg(feature = "test-server")]
pub mod test_server;

pub use apps::{AppsAnswer, AppsQuery, BATCHES_AT_ONCE, DEFAULT_MAX_QUERY_BYTES};
pub use error::{PromError, TransportError};
pub use history::{range_chunks, RangeChunk, MAX_POINTS_PER_QUERY};
pub use options::url_without_credentials;
pub use options::{apps_regex, APPS_PLACEHOLDER, DEFAULT_APPS_QUERY_TEMPLATE, DEFAULT_APP_LABEL};
pub use options::{
    PrometheusOptions, APP_PLACEHOLDER, DEFAULT_QUERY_TEMPLATE, DEFAULT_REGION_LABEL,
    DEFAULT_TIMEOUT,
};
pub use outcome::QueryOutcome;
pub use response::{parse_response, split_by_label, ParsedResponse, ResultType, UnlabelledSeries};
pub use source::PrometheusSource;
