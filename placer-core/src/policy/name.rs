//! [`PolicyName`]: the name a config selects a policy by.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A policy's name: the config's `policy:` value, the report's `policy`,
/// and the key of the policy's memory in the persisted state.
///
/// Any name can be written; [`PlacerConfig::validate`](crate::PlacerConfig::validate)
/// accepts the ones in the [registry](super::POLICIES). Each built-in
/// policy has a constant, e.g. `PolicyName::LATENCY`.
///
/// ```
/// use placer_core::policy::PolicyName;
///
/// assert_eq!(PolicyName::default(), PolicyName::THRESHOLD);
/// assert_eq!(PolicyName::LATENCY.as_str(), "latency");
/// assert_eq!(serde_json::to_string(&PolicyName::new("toy")).unwrap(), r#""toy""#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PolicyName(Cow<'static, str>);

impl PolicyName {
    /// The name `name`.
    pub const fn new(name: &'static str) -> Self {
        PolicyName(Cow::Borrowed(name))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for PolicyName {
    fn from(name: String) -> Self {
        PolicyName(Cow::Owned(name))
    }
}

/// The default policy: `threshold`.
impl Default for PolicyName {
    fn default() -> Self {
        PolicyName::THRESHOLD
    }
}

impl fmt::Display for PolicyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
