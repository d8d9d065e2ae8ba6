//! [`ApiToken`]: a Fly.io access token, and how Fly wants it sent.

use placer_core::secret::Secret;

/// A Fly.io access token: a [`Secret`] under the name Fly gives it. It never
/// shows itself in `Debug` or `Display` output.
pub type ApiToken = Secret;

/// The value of the HTTP `Authorization` header for a Fly token: macaroon
/// tokens that start with `FlyV1 ` (and values that already say `Bearer `)
/// are sent as they are, any other token as `Bearer <token>`.
///
/// ```
/// use placer_fly::{authorization_header, ApiToken};
///
/// assert_eq!(authorization_header(&ApiToken::new("FlyV1 fm2_x")), "FlyV1 fm2_x");
/// assert_eq!(authorization_header(&ApiToken::new(" abc123 ")), "Bearer abc123");
/// ```
pub fn authorization_header(token: &ApiToken) -> String {
    let token = token.expose();
    if token.starts_with("FlyV1 ") || token.starts_with("Bearer ") {
        token.to_owned()
    } else {
        format!("Bearer {token}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_prefix_for_plain_tokens_only() {
        assert_eq!(authorization_header(&ApiToken::new(" t0k ")), "Bearer t0k");
        assert_eq!(authorization_header(&ApiToken::new("Bearer x")), "Bearer x");
        assert_eq!(
            authorization_header(&ApiToken::new("FlyV1 fm2_a,fm2_b")),
            "FlyV1 fm2_a,fm2_b"
        );
    }

    #[test]
    fn the_token_never_prints() {
        let token = ApiToken::new("FlyV1 very-secret");
        assert!(!format!("{token:?} {token}").contains("very-secret"));
    }
}
