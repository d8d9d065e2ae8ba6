//! [`Timestamp`]: points in time handed to the engine as values.
//!
//! The engine never reads a clock. Callers pass the time of each tick, which
//! makes backtests, replays and tests deterministic.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time with millisecond precision, counted from the Unix epoch.
///
/// Serialized as an RFC 3339 UTC string (`2026-11-28T10:00:00Z`).
///
/// ```
/// use placer_core::Timestamp;
/// use std::time::Duration;
///
/// let t: Timestamp = "2026-11-28T10:00:00Z".parse().unwrap();
/// let later = t + Duration::from_secs(90);
/// assert_eq!(later.to_string(), "2026-11-28T10:01:30Z");
/// assert_eq!(later.duration_since(t), Duration::from_secs(90));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp {
    unix_millis: i64,
}

/// An RFC 3339 string that could not be read as a [`Timestamp`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid timestamp {input:?}: expected RFC 3339 UTC such as 2026-11-28T10:00:00Z")]
pub struct TimestampError {
    /// The rejected input.
    pub input: String,
}

impl Timestamp {
    /// The Unix epoch, 1970-01-01T00:00:00Z.
    pub const EPOCH: Timestamp = Timestamp { unix_millis: 0 };

    /// A timestamp `unix_seconds` after the epoch.
    pub const fn from_unix_seconds(unix_seconds: i64) -> Self {
        Timestamp {
            unix_millis: unix_seconds.saturating_mul(1000),
        }
    }

    /// A timestamp `unix_millis` milliseconds after the epoch.
    pub const fn from_unix_millis(unix_millis: i64) -> Self {
        Timestamp { unix_millis }
    }

    /// Converts a [`SystemTime`] (for callers that do read a clock).
    pub fn from_system_time(time: SystemTime) -> Self {
        match time.duration_since(UNIX_EPOCH) {
            Ok(after) => Timestamp::from_unix_millis(after.as_millis() as i64),
            Err(before) => Timestamp::from_unix_millis(-(before.duration().as_millis() as i64)),
        }
    }

    /// Milliseconds since the epoch.
    pub const fn unix_millis(self) -> i64 {
        self.unix_millis
    }

    /// Whole seconds since the epoch (rounded down).
    pub const fn unix_seconds(self) -> i64 {
        self.unix_millis.div_euclid(1000)
    }

    /// Time elapsed from `earlier` to `self`; zero when `earlier` is later.
    pub fn duration_since(self, earlier: Timestamp) -> Duration {
        let millis = self.unix_millis.saturating_sub(earlier.unix_millis);
        Duration::from_millis(millis.max(0) as u64)
    }

    /// The same instant as a [`SystemTime`].
    pub fn to_system_time(self) -> SystemTime {
        if self.unix_millis >= 0 {
            UNIX_EPOCH + Duration::from_millis(self.unix_millis as u64)
        } else {
            UNIX_EPOCH - Duration::from_millis(self.unix_millis.unsigned_abs())
        }
    }
}

impl std::ops::Add<Duration> for Timestamp {
    type Output = Timestamp;
    fn add(self, rhs: Duration) -> Timestamp {
        let millis = i64::try_from(rhs.as_millis()).unwrap_or(i64::MAX);
        Timestamp::from_unix_millis(self.unix_millis.saturating_add(millis))
    }
}

impl std::ops::Sub<Duration> for Timestamp {
    type Output = Timestamp;
    fn sub(self, rhs: Duration) -> Timestamp {
        let millis = i64::try_from(rhs.as_millis()).unwrap_or(i64::MAX);
        Timestamp::from_unix_millis(self.unix_millis.saturating_sub(millis))
    }
}

impl Timestamp {
    /// The last instant RFC 3339 can write: 9999-12-31T23:59:59.999Z.
    const LAST_RFC3339_MILLIS: i64 = 253_402_300_799_999;
}

/// RFC 3339 UTC for times from 1970 to the year 9999; other times (which
/// no clock gives, but a garbled input may) as their count of milliseconds
/// from the epoch, such as `591639209200000ms-after-epoch`, which
/// [`FromStr`](std::str::FromStr) reads back. It never fails.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.unix_millis < 0 {
            return write!(f, "{}ms-before-epoch", self.unix_millis.unsigned_abs());
        }
        if self.unix_millis > Self::LAST_RFC3339_MILLIS {
            return write!(f, "{}ms-after-epoch", self.unix_millis);
        }
        let time = self.to_system_time();
        if self.unix_millis % 1000 == 0 {
            write!(f, "{}", humantime::format_rfc3339_seconds(time))
        } else {
            write!(f, "{}", humantime::format_rfc3339_millis(time))
        }
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::str::FromStr for Timestamp {
    type Err = TimestampError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim();
        let millis = |suffix: &str, sign: i128| -> Option<Timestamp> {
            let count: u64 = trimmed.strip_suffix(suffix)?.parse().ok()?;
            let millis = i64::try_from(sign * i128::from(count)).ok()?;
            Some(Timestamp::from_unix_millis(millis))
        };
        if let Some(at) = millis("ms-before-epoch", -1).or_else(|| millis("ms-after-epoch", 1)) {
            return Ok(at);
        }
        humantime::parse_rfc3339(trimmed)
            .map(Timestamp::from_system_time)
            .map_err(|_| TimestampError {
                input: s.to_owned(),
            })
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn every_time_prints_and_reads_back(millis in any::<i64>()) {
            let at = Timestamp::from_unix_millis(millis);
            let text = at.to_string();
            prop_assert_eq!(text.parse::<Timestamp>(), Ok(at), "{}", text);
        }
    }

    #[test]
    fn a_time_past_the_year_9999_prints_as_milliseconds() {
        let at = Timestamp::from_unix_millis(591_639_209_200_000);
        assert_eq!(at.to_string(), "591639209200000ms-after-epoch");
        let last = Timestamp::from_unix_millis(Timestamp::LAST_RFC3339_MILLIS);
        assert_eq!(last.to_string(), "9999-12-31T23:59:59.999Z");
        assert_eq!(
            format!("{:?}", Timestamp::from_unix_millis(i64::MIN)),
            "9223372036854775808ms-before-epoch"
        );
    }

    #[test]
    fn round_trips_through_rfc3339() {
        let t = Timestamp::from_unix_seconds(1_700_000_000);
        let text = t.to_string();
        assert_eq!(text, "2023-11-14T22:13:20Z");
        assert_eq!(text.parse::<Timestamp>().unwrap(), t);
        let with_millis = Timestamp::from_unix_millis(1_700_000_000_250);
        assert_eq!(
            with_millis.to_string().parse::<Timestamp>().unwrap(),
            with_millis
        );
    }

    #[test]
    fn duration_since_never_goes_negative() {
        let a = Timestamp::from_unix_seconds(10);
        let b = Timestamp::from_unix_seconds(20);
        assert_eq!(b.duration_since(a), Duration::from_secs(10));
        assert_eq!(a.duration_since(b), Duration::ZERO);
    }

    #[test]
    fn rejects_non_rfc3339_text() {
        assert!("yesterday".parse::<Timestamp>().is_err());
    }
}
