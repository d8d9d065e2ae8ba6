//! [`ApiToken`]: a Fly.io access token that never shows itself.

use std::fmt;

/// A secret access token for Fly.io's APIs.
///
/// `Debug` and `Display` print `[redacted]`, so a token cannot leak through
/// logs, error messages or `{:?}` output. The only way to the secret is
/// [`authorization_header`](Self::authorization_header), which adapters call
/// when they build a request.
///
/// ```
/// use placer_core::ApiToken;
///
/// let token = ApiToken::new("FlyV1 fm2_secret");
/// assert_eq!(token.authorization_header(), "FlyV1 fm2_secret");
/// assert_eq!(format!("{token:?}"), "ApiToken([redacted])");
///
/// let personal = ApiToken::new("abc123");
/// assert_eq!(personal.authorization_header(), "Bearer abc123");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ApiToken(String);

impl ApiToken {
    /// Wraps a token as given (surrounding whitespace is dropped).
    pub fn new(token: impl Into<String>) -> Self {
        ApiToken(token.into().trim().to_owned())
    }

    /// The value of the HTTP `Authorization` header for this token: macaroon
    /// tokens that start with `FlyV1 ` are sent as they are, any other token
    /// as `Bearer <token>`.
    pub fn authorization_header(&self) -> String {
        if self.0.starts_with("FlyV1 ") || self.0.starts_with("Bearer ") {
            self.0.clone()
        } else {
            format!("Bearer {}", self.0)
        }
    }

    /// True when the token is empty (treated as "no token" by adapters).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken([redacted])")
    }
}

impl fmt::Display for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_the_secret() {
        let token = ApiToken::new("FlyV1 very-secret");
        assert!(!format!("{token:?}").contains("very-secret"));
        assert!(!format!("{token}").contains("very-secret"));
    }

    #[test]
    fn bearer_prefix_for_plain_tokens() {
        assert_eq!(ApiToken::new(" t0k ").authorization_header(), "Bearer t0k");
        assert_eq!(ApiToken::new("Bearer x").authorization_header(), "Bearer x");
    }
}
