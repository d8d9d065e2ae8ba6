//! [`Secret`]: a credential that never shows itself.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What a [`Secret`] prints instead of its value.
pub const REDACTED: &str = "[redacted]";

/// A credential — an API token, a bearer token, a password — that cannot
/// leak by being printed.
///
/// `Debug` prints `Secret([redacted])`; `Display` and `Serialize` print
/// `[redacted]`, so logging a setting, printing an error or the effective
/// configuration never shows the value. (Serializing is for showing; a
/// serialized secret does not read back as the same secret.) The value is
/// reached only through [`expose`](Self::expose), for the one place that
/// must send it. Compare a presented value with [`matches`](Self::matches),
/// whose time does not depend on where the first difference is.
///
/// Adapters give it their own meaning: placer-fly sends it as a Fly API
/// token, placer-prom as a Prometheus credential, the CLI checks the
/// trigger token with it.
///
/// ```
/// use placer_core::secret::Secret;
///
/// let secret = Secret::new(" s3cret ");
/// assert_eq!(secret.expose(), "s3cret");
/// assert!(secret.matches("s3cret"));
/// assert_eq!(format!("{secret:?}"), "Secret([redacted])");
/// assert_eq!(secret.to_string(), "[redacted]");
/// assert!(Secret::non_empty("  ").is_none());
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
        (!secret.is_empty()).then_some(secret)
    }

    /// True when the secret is empty (adapters treat it as "no secret").
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
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
        write!(f, "Secret({REDACTED})")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

impl<'de> Deserialize<'de> for Secret {
    /// Reads a non-blank string; a blank one is an error ("must not be empty").
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        Secret::non_empty(value).ok_or_else(|| serde::de::Error::custom("must not be empty"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_display_and_serialize_never_show_the_value() {
        let secret = Secret::new("FlyV1 hunter2");
        for shown in [
            format!("{secret:?}"),
            format!("{secret:#?}"),
            format!("{secret}"),
            format!("{:?}", Some(&secret)),
            serde_json::to_string(&secret).unwrap(),
        ] {
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(shown.contains(REDACTED), "{shown}");
        }
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"[redacted]\"");
    }

    #[test]
    fn deserializes_non_blank_values_only() {
        let secret: Secret = serde_json::from_str("\" abc \"").unwrap();
        assert_eq!(secret.expose(), "abc");
        let err = serde_json::from_str::<Secret>("\"  \"").unwrap_err();
        assert!(err.to_string().contains("must not be empty"), "{err}");
    }

    #[test]
    fn matches_only_the_exact_value() {
        let secret = Secret::new(" abc ");
        assert!(secret.matches("abc"));
        for wrong in ["", "ab", "abd", "abcd", "ABC"] {
            assert!(!secret.matches(wrong), "{wrong:?} must not match");
        }
    }

    #[test]
    fn blank_values_are_no_secret() {
        assert!(Secret::non_empty("   ").is_none());
        assert!(Secret::new("  ").is_empty());
    }

    proptest::proptest! {
        #[test]
        fn matches_exactly_when_equal(secret in "[ -~]{1,40}", guess in "[ -~]{0,40}") {
            let wrapped = Secret::new(secret.clone());
            proptest::prop_assert_eq!(wrapped.matches(&guess), wrapped.expose() == guess);
            proptest::prop_assert!(wrapped.matches(secret.trim()));
        }

        #[test]
        fn no_formatting_shows_a_value(value in "[a-zA-Z0-9]{6,40}") {
            let secret = Secret::new(value.clone());
            let shown = format!("{secret:?} {secret} {secret:#?}");
            proptest::prop_assert!(!shown.contains(&value));
        }
    }
}
