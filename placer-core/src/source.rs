//! The [`MetricsSource`] trait: where per-region traffic comes from.

use std::time::Duration;

use async_trait::async_trait;

use crate::{snapshot::SnapshotError, Timestamp, TrafficSnapshot};

/// Anything that can report per-region request counts.
///
/// Implementations: `placer_prom::PrometheusSource` (Fly's Prometheus), and
/// [`ScriptedSource`](crate::ScriptedSource) in this crate for tests,
/// backtests and embedders.
///
/// A failed fetch must be an `Err`, never an empty snapshot: an empty snapshot
/// means "zero traffic everywhere", which could make the engine remove regions.
#[async_trait]
pub trait MetricsSource: Send + Sync {
    /// Fetches the request counts observed at `at` (the tick's time).
    ///
    /// Sources backed by a live system may treat `at` as "now"; sources that
    /// replay history use it to pick the matching sample.
    ///
    /// # Errors
    /// [`MetricsError`] when the counts cannot be obtained or are unusable.
    async fn fetch(&self, at: Timestamp) -> Result<TrafficSnapshot, MetricsError>;

    /// What [`fetch`](Self::fetch) would have answered at `start`,
    /// `start + step`, … up to `end`, in time order: the past traffic a
    /// new placer learns its forecasts from
    /// ([`Placer::backfill`](crate::Placer::backfill)). Times without data
    /// are left out; a source with no data at all in the range answers an
    /// empty list, not an error.
    ///
    /// The default keeps no history and answers an empty list: the engine
    /// then reacts to observed traffic until it has watched long enough to
    /// forecast.
    ///
    /// # Errors
    /// [`MetricsError`] when the history exists but cannot be read.
    async fn history(
        &self,
        start: Timestamp,
        end: Timestamp,
        step: Duration,
    ) -> Result<Vec<TrafficSnapshot>, MetricsError> {
        let _ = (start, end, step);
        Ok(Vec::new())
    }
}

/// Why a [`MetricsSource`] could not produce a snapshot.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetricsError {
    /// The backend could not be reached or answered with an error.
    #[error("{backend} query failed: {source}")]
    Backend {
        /// Which kind of source failed, e.g. `"prometheus"`.
        backend: &'static str,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The backend answered, but with data the engine cannot use.
    #[error("{backend} returned unusable data: {source}")]
    InvalidData {
        /// Which kind of source failed.
        backend: &'static str,
        /// What was wrong with the data.
        #[source]
        source: SnapshotError,
    },
    /// A scripted or replayed source has no sample for the requested time.
    #[error("no traffic sample available for {at}")]
    NoSample {
        /// The time that was asked for.
        at: Timestamp,
    },
}

impl MetricsError {
    /// Wraps any error from a backend.
    pub fn backend(
        backend: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        MetricsError::Backend {
            backend,
            source: source.into(),
        }
    }
}
