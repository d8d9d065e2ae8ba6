//! [`AppName`]: a validated Fly.io app name, safe to splice into PromQL.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest app name accepted: app names become DNS labels (`<app>.fly.dev`).
const MAX_LEN: usize = 63;

/// The name of a Fly.io app, such as `shop-eu` or `api2`.
///
/// Fly app names consist of lowercase ASCII letters, digits and dashes, at
/// most 63 of them, and neither start nor end with a dash: each name is a DNS
/// label (`<app>.fly.dev`, `<app>.internal`), and DNS labels follow exactly
/// these rules. Every adapter takes this one type, so the Machines API and the
/// metrics query agree on which names exist. Because nothing else can get in, an
/// `AppName` can be placed inside a quoted PromQL label matcher without any
/// escaping: a quote, backslash or brace in a would-be name is rejected here,
/// before any query is built.
///
/// ```
/// use placer_core::AppName;
///
/// let app: AppName = "shop-eu".parse().unwrap();
/// assert_eq!(app.as_str(), "shop-eu");
///
/// let err = "shop\"}or{x=\"".parse::<AppName>().unwrap_err();
/// assert!(err.to_string().contains("'\"'"), "{err}");
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AppName(String);

/// Why a string is not a valid [`AppName`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AppNameError {
    /// The name is empty.
    #[error("app name is empty")]
    Empty,
    /// The name is longer than a DNS label allows.
    #[error("app name {name:?} is {len} characters long; at most {MAX_LEN} are allowed")]
    TooLong {
        /// The rejected name.
        name: String,
        /// Its length in characters.
        len: usize,
    },
    /// The name contains a character other than `a-z`, `0-9` or `-`.
    #[error(
        "app name {name:?} contains {character:?} at position {position}; \
         only lowercase letters, digits and dashes are allowed"
    )]
    InvalidCharacter {
        /// The rejected name.
        name: String,
        /// The first offending character.
        character: char,
        /// Its position (0-based, in characters).
        position: usize,
    },
    /// The name starts or ends with a dash.
    #[error("app name {name:?} starts or ends with a dash")]
    DashAtEdge {
        /// The rejected name.
        name: String,
    },
}

impl AppName {
    /// Validates `name` and wraps it.
    ///
    /// # Errors
    /// [`AppNameError`] naming the first problem found: empty, too long, a
    /// character outside `a-z0-9-` (with the character and its position), or
    /// a leading or trailing dash.
    pub fn new(name: &str) -> Result<Self, AppNameError> {
        if name.is_empty() {
            return Err(AppNameError::Empty);
        }
        if let Some((position, character)) = name
            .chars()
            .enumerate()
            .find(|(_, c)| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Err(AppNameError::InvalidCharacter {
                name: name.to_owned(),
                character,
                position,
            });
        }
        // Only ASCII is left, so bytes and characters coincide from here on.
        if name.len() > MAX_LEN {
            return Err(AppNameError::TooLong {
                name: name.to_owned(),
                len: name.len(),
            });
        }
        if name.starts_with('-') || name.ends_with('-') {
            return Err(AppNameError::DashAtEdge {
                name: name.to_owned(),
            });
        }
        Ok(AppName(name.to_owned()))
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for AppName {
    type Err = AppNameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AppName::new(s)
    }
}

impl fmt::Display for AppName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for AppName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl AsRef<str> for AppName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for AppName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for AppName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        AppName::new(&name).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_typical_fly_app_names() {
        for name in ["shop", "shop-eu", "api2", "7th-heaven", "a"] {
            assert_eq!(AppName::new(name).unwrap().as_str(), name);
        }
    }

    #[test]
    fn names_the_offending_character_and_its_position() {
        let err = AppName::new("Shop").unwrap_err();
        assert_eq!(
            err,
            AppNameError::InvalidCharacter {
                name: "Shop".into(),
                character: 'S',
                position: 0
            }
        );
        let err = AppName::new("shop}").unwrap_err();
        assert!(err.to_string().contains("'}' at position 4"), "{err}");
    }

    #[test]
    fn rejects_empty_long_and_dash_edged_names() {
        assert_eq!(AppName::new(""), Err(AppNameError::Empty));
        assert!(matches!(
            AppName::new(&"a".repeat(64)),
            Err(AppNameError::TooLong { len: 64, .. })
        ));
        assert!(AppName::new(&"a".repeat(63)).is_ok());
        assert!(matches!(
            AppName::new("-shop"),
            Err(AppNameError::DashAtEdge { .. })
        ));
        assert!(matches!(
            AppName::new("shop-"),
            Err(AppNameError::DashAtEdge { .. })
        ));
    }

    #[test]
    fn a_trailing_dash_is_refused_as_by_dns() {
        // placer-fly once accepted `shop-` while placer-prom refused it; a
        // name ending in a dash is no DNS label, so Fly has no such app.
        assert_eq!(
            AppName::new("shop-"),
            Err(AppNameError::DashAtEdge {
                name: "shop-".into()
            })
        );
        assert!(AppName::new("shop-eu-2").is_ok());
    }

    #[test]
    fn serializes_as_the_plain_name() {
        let app = AppName::new("shop-eu").unwrap();
        assert_eq!(serde_json::to_string(&app).unwrap(), "\"shop-eu\"");
    }

    #[test]
    fn deserializes_only_valid_names() {
        let ok: AppName = serde_json::from_str("\"shop\"").unwrap();
        assert_eq!(ok.as_str(), "shop");
        let err = serde_json::from_str::<AppName>("\"sh op\"").unwrap_err();
        assert!(err.to_string().contains("' '"), "{err}");
    }

    proptest! {
        #[test]
        fn every_name_from_the_allowed_alphabet_is_accepted(name in "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?") {
            let app = AppName::new(&name).unwrap();
            prop_assert_eq!(app.as_str(), name.as_str());
        }

        #[test]
        fn any_character_outside_the_alphabet_is_rejected_by_name(
            prefix in "[a-z0-9]{0,10}",
            bad in any::<char>().prop_filter("outside a-z0-9-", |c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')),
            suffix in "[a-z0-9]{0,10}",
        ) {
            let name = format!("{prefix}{bad}{suffix}");
            match AppName::new(&name) {
                Err(AppNameError::InvalidCharacter { character, position, .. }) => {
                    prop_assert_eq!(character, bad);
                    prop_assert_eq!(position, prefix.chars().count());
                }
                other => prop_assert!(false, "unexpected {:?}", other),
            }
        }
    }
}
