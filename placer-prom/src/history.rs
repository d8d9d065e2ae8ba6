//! Long stretches of history in several range queries.
//!
//! Prometheus refuses a range query that would return more than 11,000
//! points per series (VictoriaMetrics has a similar, configurable limit), so
//! a week at one-minute steps (10,081 points) is near the edge and anything
//! longer fails. [`PrometheusSource::query_history`] splits the range into
//! consecutive pieces of at most [`MAX_POINTS_PER_QUERY`] evaluation steps
//! ([`range_chunks`]) and joins the answers.

use std::time::Duration;

use placer_core::{Timestamp, TrafficSnapshot};

use crate::{PromError, PrometheusSource};

/// Most evaluation steps one range query asks for: safely below the 11,000
/// points per series Prometheus accepts.
pub const MAX_POINTS_PER_QUERY: usize = 10_000;

/// One range query's share of a longer range: evaluation at `start`,
/// `start + step`, … up to and including `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeChunk {
    /// First evaluation time.
    pub start: Timestamp,
    /// Last evaluation time.
    pub end: Timestamp,
}

/// Splits the evaluation times `start, start + step, …, ≤ end` into
/// consecutive chunks of at most `max_points` times each, in order. The
/// chunks neither overlap nor leave a gap: each starts one step after the
/// previous one ends, so together they ask for exactly the times one query
/// over `[start, end]` would.
///
/// Empty when `start > end`. `step` is taken in whole milliseconds (the
/// precision of a [`Timestamp`]), at least one; `max_points` at least one.
///
/// ```
/// use std::time::Duration;
/// use placer_core::Timestamp;
/// use placer_prom::range_chunks;
///
/// let start = Timestamp::from_unix_seconds(0);
/// let minute = Duration::from_secs(60);
/// let week = start + Duration::from_secs(7 * 86_400);
/// let chunks = range_chunks(start, week, minute, 10_000);
/// assert_eq!(chunks.len(), 2); // 10,081 points
/// assert_eq!(chunks[0].end + minute, chunks[1].start);
/// assert_eq!(chunks[1].end, week);
/// ```
pub fn range_chunks(
    start: Timestamp,
    end: Timestamp,
    step: Duration,
    max_points: usize,
) -> Vec<RangeChunk> {
    let step_ms = i64::try_from(step.as_millis()).unwrap_or(i64::MAX).max(1);
    let per_chunk = i64::try_from(max_points.max(1)).unwrap_or(i64::MAX);
    let span_ms = step_ms.saturating_mul(per_chunk - 1);
    let mut chunks = Vec::new();
    let mut from = start.unix_millis();
    let last = end.unix_millis();
    while from <= last {
        // The last evaluation time at or before `end`, within this chunk.
        let room = (last - from).min(span_ms);
        let to = from + room - room % step_ms;
        chunks.push(RangeChunk {
            start: Timestamp::from_unix_millis(from),
            end: Timestamp::from_unix_millis(to),
        });
        match to.checked_add(step_ms) {
            Some(next) => from = next,
            None => break,
        }
    }
    chunks
}

impl PrometheusSource {
    /// Runs the query over `[start, end]` every `step`, like
    /// [`query_range`](Self::query_range), in as many range queries as
    /// [`range_chunks`] with [`MAX_POINTS_PER_QUERY`] gives, one after the
    /// other, and joins the snapshots in time order (a time answered twice
    /// is kept once). `progress` is called after each query with the number
    /// of queries done and the total.
    ///
    /// A piece without any sample (say, before the app existed) adds
    /// nothing; only when every piece is empty is that an error.
    ///
    /// # Errors
    /// As [`query_range`](Self::query_range); the first failing query ends
    /// the fetch.
    pub async fn query_history(
        &self,
        start: Timestamp,
        end: Timestamp,
        step: Duration,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<Vec<TrafficSnapshot>, PromError> {
        if start > end {
            // Let query_range word the error.
            return self.query_range(start, end, step).await;
        }
        let chunks = range_chunks(start, end, step, MAX_POINTS_PER_QUERY);
        let mut snapshots: Vec<TrafficSnapshot> = Vec::new();
        let mut empty = None;
        for (done, chunk) in chunks.iter().enumerate() {
            match self.query_range(chunk.start, chunk.end, step).await {
                Ok(answer) => {
                    let newest = snapshots.last().map(TrafficSnapshot::at);
                    snapshots.extend(
                        answer
                            .into_iter()
                            .filter(|snapshot| newest.is_none_or(|newest| snapshot.at() > newest)),
                    );
                }
                // Nothing at all in this piece; series without the region
                // label are a setup problem and stay an error.
                Err(err @ PromError::NoRegionSeries { unlabelled: 0, .. }) => empty = Some(err),
                Err(err) => return Err(err),
            }
            progress(done + 1, chunks.len());
        }
        match empty {
            Some(err) if snapshots.is_empty() => Err(err),
            _ => Ok(snapshots),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_unix_millis(ms)
    }

    /// Every evaluation time one query over `[start, end]` would use.
    fn times(start: i64, end: i64, step: i64) -> Vec<i64> {
        (0..)
            .map(|i| start + i * step)
            .take_while(|t| *t <= end)
            .collect()
    }

    #[test]
    fn a_short_range_is_one_query() {
        let chunks = range_chunks(at(0), at(600_000), Duration::from_secs(60), 10_000);
        assert_eq!(
            chunks,
            vec![RangeChunk {
                start: at(0),
                end: at(600_000)
            }]
        );
        // A single instant is one point.
        assert_eq!(
            range_chunks(at(5), at(5), Duration::from_secs(1), 3).len(),
            1
        );
        assert!(range_chunks(at(6), at(5), Duration::from_secs(1), 3).is_empty());
    }

    #[test]
    fn chunks_end_on_the_step_grid_even_when_the_range_does_not() {
        // Times 0, 10, 20, 30, 40 (45 is off the grid).
        let chunks = range_chunks(at(0), at(45), Duration::from_millis(10), 2);
        let bounds: Vec<(i64, i64)> = chunks
            .iter()
            .map(|c| (c.start.unix_millis(), c.end.unix_millis()))
            .collect();
        assert_eq!(bounds, vec![(0, 10), (20, 30), (40, 40)]);
    }

    proptest! {
        #[test]
        fn chunks_cover_exactly_the_times_of_one_query(
            start in -1_000_000i64..1_000_000,
            length in 0i64..2_000_000,
            step in 1i64..50_000,
            max_points in 1usize..50,
        ) {
            let end = start + length;
            let chunks = range_chunks(at(start), at(end), Duration::from_millis(step as u64), max_points);
            let mut joined = Vec::new();
            for chunk in &chunks {
                let (from, to) = (chunk.start.unix_millis(), chunk.end.unix_millis());
                let points = times(from, to, step);
                prop_assert!(!points.is_empty() && points.len() <= max_points);
                prop_assert_eq!(*points.last().unwrap(), to);
                joined.extend(points);
            }
            prop_assert_eq!(joined, times(start, end, step));
        }
    }
}
