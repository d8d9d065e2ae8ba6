//! [`QueryOutcome`]: an instant query's snapshot plus what came with it.

use placer_core::{Timestamp, TrafficSnapshot};
use serde::Serialize;

use crate::{ParsedResponse, PromError, ResultType, UnlabelledSeries};

/// The answer to an instant query: the snapshot, and everything the server
/// said beside it that a careful caller may want to show.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueryOutcome {
    /// Requests per region, stamped with the time that was asked for.
    pub snapshot: TrafficSnapshot,
    /// Series without the region label, which the snapshot does not count.
    pub unlabelled: Vec<UnlabelledSeries>,
    /// Warnings the server attached to the answer.
    pub warnings: Vec<String>,
    /// True when the server flagged the answer as partial.
    pub partial: bool,
}

impl QueryOutcome {
    /// Reads an instant query's parsed answer as the traffic at `at`.
    ///
    /// A vector or scalar result is expected. The snapshot is stamped with
    /// `at` (the evaluation time that was asked for); an empty result gives
    /// an empty snapshot here: [`PrometheusSource`](crate::PrometheusSource)
    /// is the one that refuses it.
    ///
    /// # Errors
    /// [`PromError::UnexpectedResultType`] for a matrix or string result,
    /// [`PromError::Decode`] when samples carry more than one time.
    pub fn from_instant(parsed: ParsedResponse, at: Timestamp) -> Result<Self, PromError> {
        match parsed.result_type {
            ResultType::Vector | ResultType::Scalar => {}
            found => {
                return Err(PromError::UnexpectedResultType {
                    expected: "vector or scalar",
                    found,
                })
            }
        }
        let mut snapshots = parsed.snapshots.into_iter();
        let snapshot = match (snapshots.next(), snapshots.next()) {
            (None, _) => TrafficSnapshot::empty(at),
            (Some(only), None) => restamp(&only, at),
            (Some(first), Some(second)) => {
                return Err(PromError::decode(format!(
                    "an instant answer has samples at several times ({} and {})",
                    first.at(),
                    second.at()
                )))
            }
        };
        Ok(QueryOutcome {
            snapshot,
            unlabelled: parsed.unlabelled,
            warnings: parsed.warnings,
            partial: parsed.partial,
        })
    }
}

fn restamp(snapshot: &TrafficSnapshot, at: Timestamp) -> TrafficSnapshot {
    TrafficSnapshot::new(
        at,
        snapshot
            .iter()
            .map(|(region, count)| (region.as_str(), count)),
    )
    // The counts were accepted once already; re-stamping cannot change that.
    .unwrap_or_else(|_| snapshot.clone())
}
