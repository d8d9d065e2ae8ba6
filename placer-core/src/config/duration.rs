//! Durations in config files: seconds as a number (`60`, `2.5`) or a
//! duration such as `"90s"` or `"10m"`, as `cooldown_period` is written.
//!
//! Use it on fields of a config section of your own (a
//! `config::ConfigExtension`, with the `yaml` feature) so every duration in
//! the file reads the same way:
//!
//! ```
//! use std::time::Duration;
//!
//! #[derive(serde::Deserialize)]
//! struct Section {
//!     #[serde(with = "placer_core::config::duration")]
//!     interval: Duration,
//!     #[serde(default, with = "placer_core::config::duration::option")]
//!     timeout: Option<Duration>,
//! }
//! ```

use std::time::Duration;

use serde::de::{self, Visitor};
use serde::{Deserializer, Serializer};

/// Reads a duration as a config file writes it: seconds as a number
/// (`90`, `2.5`) or a text such as `90s` or `10m` — for flags and other
/// text that should read durations the same way.
///
/// ```
/// use std::time::Duration;
/// use placer_core::config::duration;
///
/// assert_eq!(duration::parse("90"), Ok(Duration::from_secs(90)));
/// assert_eq!(duration::parse(" 1m 30s "), Ok(Duration::from_secs(90)));
/// assert!(duration::parse("-1").is_err());
/// assert!(duration::parse("soon").is_err());
/// ```
///
/// # Errors
/// What is wrong with `text`, in words.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        return Duration::try_from_secs_f64(seconds).map_err(|_| {
            format!("must be a finite, non-negative number of seconds (got {seconds})")
        });
    }
    humantime::parse_duration(text)
        .map_err(|err| format!("{text:?} is not a duration ({err}); try \"90s\" or \"10m\""))
}

/// Writes a duration as text such as `"1m 30s"`.
pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&humantime::format_duration(*value))
}

/// Reads seconds (a number) or a duration text.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    deserializer.deserialize_any(SecondsOrText)
}

/// The same for optional durations (`null` or a missing key is `None`).
pub mod option {
    use super::*;

    /// Writes `Some` as [`serialize`](super::serialize) does, `None` as null.
    pub fn serialize<S: Serializer>(
        value: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(duration) => super::serialize(duration, serializer),
            None => serializer.serialize_none(),
        }
    }

    /// Reads null as `None`, anything else as [`deserialize`](super::deserialize) does.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        deserializer.deserialize_option(OptionalDuration)
    }

    struct OptionalDuration;

    impl<'de> Visitor<'de> for OptionalDuration {
        type Value = Option<Duration>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            SecondsOrText.expecting(f)
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, inner: D) -> Result<Self::Value, D::Error> {
            super::deserialize(inner).map(Some)
        }
    }
}

struct SecondsOrText;

impl Visitor<'_> for SecondsOrText {
    type Value = Duration;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a number of seconds or a duration such as \"90s\" or \"10m\"")
    }

    fn visit_u64<E: de::Error>(self, seconds: u64) -> Result<Duration, E> {
        Ok(Duration::from_secs(seconds))
    }

    fn visit_i64<E: de::Error>(self, seconds: i64) -> Result<Duration, E> {
        u64::try_from(seconds)
            .map(Duration::from_secs)
            .map_err(|_| E::custom(format!("must not be negative (got {seconds})")))
    }

    fn visit_f64<E: de::Error>(self, seconds: f64) -> Result<Duration, E> {
        Duration::try_from_secs_f64(seconds).map_err(|_| {
            E::custom(format!(
                "must be a finite, non-negative number of seconds (got {seconds})"
            ))
        })
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
        parse(text).map_err(E::custom)
    }
}
