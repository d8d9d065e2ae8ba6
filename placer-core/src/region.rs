//! The [`Region`] newtype: a validated Fly.io region code.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A Fly.io region code such as `iad` or `fra`.
///
/// A region code is exactly three lowercase ASCII letters. It is stored
/// inline and is `Copy`, so passing regions around costs nothing. Validating at the
/// boundary means the rest of the engine never has to wonder whether `"IAD "`
/// and `"iad"` are the same place.
///
/// ```
/// use placer_core::Region;
///
/// let fra: Region = "fra".parse().unwrap();
/// assert_eq!(fra.as_str(), "fra");
/// assert!("FRA".parse::<Region>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Region([u8; 3]);

/// Why a string is not a valid [`Region`] code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid region code {code:?}: {problem}")]
pub struct RegionError {
    /// The rejected input.
    pub code: String,
    /// What is wrong with it.
    pub problem: &'static str,
}

impl Region {
    /// Validates `code` and wraps it.
    ///
    /// # Errors
    /// [`RegionError`] unless `code` is exactly three lowercase ASCII letters.
    pub fn new(code: &str) -> Result<Self, RegionError> {
        let problem = if code.len() != 3 {
            Some("a region code has exactly three letters")
        } else if code.bytes().any(|b| b.is_ascii_uppercase()) {
            Some("region codes are lowercase")
        } else if !code.bytes().all(|b| b.is_ascii_lowercase()) {
            Some("a region code has only the letters a-z")
        } else {
            None
        };
        match problem {
            Some(problem) => Err(RegionError {
                code: code.to_owned(),
                problem,
            }),
            None => {
                let bytes = code.as_bytes();
                Ok(Region([bytes[0], bytes[1], bytes[2]]))
            }
        }
    }

    /// The code as a string slice.
    pub fn as_str(&self) -> &str {
        // Only lowercase ASCII letters are ever stored, so this cannot fail.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl FromStr for Region {
    type Err = RegionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Region::new(s)
    }
}

impl AsRef<str> for Region {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Serialize for Region {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Region {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Region::new(&code).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_three_lowercase_letters() {
        assert_eq!(Region::new("iad").unwrap().as_str(), "iad");
    }

    #[test]
    fn rejects_uppercase_with_a_hint() {
        let err = Region::new("IAD").unwrap_err();
        assert!(err.to_string().contains("lowercase"), "{err}");
    }

    #[test]
    fn rejects_wrong_length_and_symbols() {
        assert!(Region::new("").is_err());
        assert!(Region::new("iadx").is_err());
        assert!(Region::new("ia").is_err());
        assert!(Region::new("i-d").is_err());
        assert!(Region::new("i d").is_err());
    }

    #[test]
    fn deserializes_only_valid_codes() {
        let ok: Region = serde_json::from_str("\"fra\"").unwrap();
        assert_eq!(ok.as_str(), "fra");
        assert!(serde_json::from_str::<Region>("\"Fra\"").is_err());
    }
}
