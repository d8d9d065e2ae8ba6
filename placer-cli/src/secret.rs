//! [`Secret`]: a string that never shows itself.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A secret such as the bearer token that guards `POST /trigger`.
///
/// `Debug`, `Display` and `Serialize` print `[redacted]`, so printing the
/// effective config or logging a setting never leaks it. Compare a
/// presented value with [`matches`](Self::matches), which takes the same
/// time wherever the first difference is.
///
/// ```
/// use placer_cli::Secret;
///
/// let secret = Secret::new("s3cret");
/// assert!(secret.matches("s3cret"));
/// assert!(!secret.matches("s3crex"));
/// assert_eq!(format!("{secret:?}"), "Secret([redacted])");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value` (surrounding whitespace is dropped).
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into().trim().to_owned())
    }

    /// A secret from `value`, or `None` when it is empty or blank.
    pub fn non_empty(value: impl Into<String>) -> Option<Self> {
        let secret = Secret::new(value);
        (!secret.0.is_empty()).then_some(secret)
    }

    /// True when `presented` equals the secret. The comparison looks at every
    /// byte, so its time does not tell how much of a guess was right.
    pub fn matches(&self, presented: &str) -> bool {
        let expected = self.0.as_bytes();
        let presented = presented.as_bytes();
        let mut difference = expected.len() ^ presented.len();
        for (index, byte) in expected.iter().enumerate() {
            let other = presented.get(index).copied().unwrap_or(!byte);
            difference |= usize::from(byte ^ other);
        }
        difference == 0
    }

    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("[redacted]")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        Secret::non_empty(value).ok_or_else(|| serde::de::Error::custom("must not be empty"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_or_serializes_the_value() {
        let secret = Secret::new("hunter2");
        assert!(!format!("{secret:?} {secret}").contains("hunter2"));
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"[redacted]\"");
    }

    #[test]
    fn matches_only_the_exact_value() {
        let secret = Secret::new(" abc ");
        assert!(secret.matches("abc"));
        for wrong in ["", "ab", "abd", "abcd", "ABC"] {
            assert!(!secret.matches(wrong), "{wrong:?} must not match");
        }
    }

    proptest::proptest! {
        #[test]
        fn matches_exactly_when_equal(secret in "[ -~]{1,40}", guess in "[ -~]{0,40}") {
            let wrapped = Secret::new(secret.clone());
            proptest::prop_assert_eq!(wrapped.matches(&guess), wrapped.expose() == guess);
            proptest::prop_assert!(wrapped.matches(secret.trim()));
        }
    }

    #[test]
    fn blank_values_are_no_secret() {
        assert!(Secret::non_empty("   ").is_none());
    }
}
