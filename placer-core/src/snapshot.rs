//! [`TrafficSnapshot`]: per-region request counts observed at one time.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Region, Timestamp};

/// Request counts per region, as observed at one point in time.
///
/// Every count is finite and non-negative: NaN, infinite or negative values
/// are rejected when the snapshot is built, so they can never reach an
/// average. A region absent from a snapshot had no requests.
///
/// ```
/// use placer_core::{Region, Timestamp, TrafficSnapshot};
///
/// let at = Timestamp::from_unix_seconds(1_800_000_000);
/// let snapshot = TrafficSnapshot::new(at, [("iad", 120.0), ("fra", 40.0)]).unwrap();
/// assert_eq!(snapshot.requests(&"iad".parse().unwrap()), 120.0);
/// assert_eq!(snapshot.requests(&"syd".parse().unwrap()), 0.0);
///
/// assert!(TrafficSnapshot::new(at, [("iad", f64::NAN)]).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawSnapshot", into = "RawSnapshot")]
pub struct TrafficSnapshot {
    at: Timestamp,
    requests: BTreeMap<Region, f64>,
}

/// Why a snapshot could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// A region label is not a valid region code.
    #[error(transparent)]
    InvalidRegion(#[from] crate::region::RegionError),
    /// A count is NaN or infinite.
    #[error("request count for region {region} is not a finite number ({value})")]
    NotFinite {
        /// The region whose count was rejected.
        region: String,
        /// The rejected value.
        value: f64,
    },
    /// A count is below zero.
    #[error("request count for region {region} is negative ({value})")]
    Negative {
        /// The region whose count was rejected.
        region: String,
        /// The rejected value.
        value: f64,
    },
    /// The same region appears twice.
    #[error("region {region} appears more than once in one snapshot")]
    Duplicate {
        /// The repeated region.
        region: String,
    },
}

impl TrafficSnapshot {
    /// Builds a snapshot from `(region, requests)` pairs.
    ///
    /// # Errors
    /// [`SnapshotError`] for an invalid region code, a repeated region, or a
    /// count that is NaN, infinite or negative.
    pub fn new<R, I>(at: Timestamp, requests: I) -> Result<Self, SnapshotError>
    where
        R: AsRef<str>,
        I: IntoIterator<Item = (R, f64)>,
    {
        let mut map = BTreeMap::new();
        for (code, value) in requests {
            let code = code.as_ref();
            let region = Region::new(code)?;
            check_count(code, value)?;
            if map.insert(region, value).is_some() {
                return Err(SnapshotError::Duplicate {
                    region: code.to_owned(),
                });
            }
        }
        Ok(TrafficSnapshot { at, requests: map })
    }

    /// A snapshot with no traffic in any region.
    pub fn empty(at: Timestamp) -> Self {
        TrafficSnapshot {
            at,
            requests: BTreeMap::new(),
        }
    }

    /// When the counts were observed.
    pub fn at(&self) -> Timestamp {
        self.at
    }

    /// Requests seen in `region` (zero when absent).
    pub fn requests(&self, region: &Region) -> f64 {
        self.requests.get(region).copied().unwrap_or(0.0)
    }

    /// All regions with a count, in region order.
    pub fn iter(&self) -> impl Iterator<Item = (&Region, f64)> + '_ {
        self.requests.iter().map(|(r, v)| (r, *v))
    }

    /// Number of regions with a count.
    pub fn len(&self) -> usize {
        self.requests.len()
    }

    /// True when no region has a count.
    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }

    /// Sum of all counts.
    pub fn total(&self) -> f64 {
        self.requests.values().sum()
    }
}

fn check_count(region: &str, value: f64) -> Result<(), SnapshotError> {
    if !value.is_finite() {
        return Err(SnapshotError::NotFinite {
            region: region.to_owned(),
            value,
        });
    }
    if value < 0.0 {
        return Err(SnapshotError::Negative {
            region: region.to_owned(),
            value,
        });
    }
    Ok(())
}

#[derive(Serialize, Deserialize)]
struct RawSnapshot {
    at: Timestamp,
    requests: BTreeMap<String, f64>,
}

impl TryFrom<RawSnapshot> for TrafficSnapshot {
    type Error = SnapshotError;
    fn try_from(raw: RawSnapshot) -> Result<Self, Self::Error> {
        TrafficSnapshot::new(raw.at, raw.requests)
    }
}

impl From<TrafficSnapshot> for RawSnapshot {
    fn from(snapshot: TrafficSnapshot) -> Self {
        RawSnapshot {
            at: snapshot.at,
            requests: snapshot
                .requests
                .into_iter()
                .map(|(r, v)| (r.as_str().to_owned(), v))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> Timestamp {
        Timestamp::from_unix_seconds(1000)
    }

    #[test]
    fn rejects_nan_infinite_and_negative_counts() {
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let err = TrafficSnapshot::new(at(), [("iad", bad)]).unwrap_err();
            assert!(matches!(err, SnapshotError::NotFinite { .. }), "{err}");
        }
        let err = TrafficSnapshot::new(at(), [("iad", -1.0)]).unwrap_err();
        assert!(err.to_string().contains("negative"), "{err}");
    }

    #[test]
    fn rejects_duplicates_and_bad_codes() {
        assert!(matches!(
            TrafficSnapshot::new(at(), [("iad", 1.0), ("iad", 2.0)]),
            Err(SnapshotError::Duplicate { .. })
        ));
        assert!(matches!(
            TrafficSnapshot::new(at(), [("IAD", 1.0)]),
            Err(SnapshotError::InvalidRegion(_))
        ));
    }

    #[test]
    fn deserialization_applies_the_same_checks() {
        let ok: TrafficSnapshot =
            serde_json::from_str(r#"{"at":"2026-01-01T00:00:00Z","requests":{"fra":3.0}}"#)
                .unwrap();
        assert_eq!(ok.total(), 3.0);
        assert!(serde_json::from_str::<TrafficSnapshot>(
            r#"{"at":"2026-01-01T00:00:00Z","requests":{"fra":-3.0}}"#
        )
        .is_err());
    }
}
