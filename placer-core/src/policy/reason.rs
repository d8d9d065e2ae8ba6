//! [`PolicyReason`]: a policy's own reasons, carried inside a
//! [`Reason`](crate::Reason).

use std::any::Any;
use std::fmt;

/// Why a policy wished what it did, in its own terms.
///
/// [`Display`](fmt::Display) gives the sentence a person reads in the
/// report, [`class`](Self::class) a stable lowercase name used as a metrics
/// label. Wrap one with [`Reason::policy`](crate::Reason::policy).
///
/// ```
/// use std::fmt;
/// use placer_core::policy::PolicyReason;
/// use placer_core::Reason;
///
/// #[derive(Debug, Clone, PartialEq)]
/// struct Busy(f64);
///
/// impl fmt::Display for Busy {
///     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
///         write!(f, "{:.0} requests", self.0)
///     }
/// }
///
/// impl PolicyReason for Busy {
///     fn class(&self) -> &'static str {
///         "busy"
///     }
/// }
///
/// let reason = Reason::policy(Busy(42.0));
/// assert_eq!(reason.to_string(), "42 requests");
/// assert_eq!(reason.class(), "busy");
/// assert_eq!(reason.policy_reason::<Busy>(), Some(&Busy(42.0)));
/// ```
pub trait PolicyReason: fmt::Display + fmt::Debug + PartialEq + Send + Sync + 'static {
    /// A stable, lowercase name of the kind of reason, for metrics labels.
    fn class(&self) -> &'static str;
}

/// [`PolicyReason`] made object safe, so [`Reason`](crate::Reason) can hold
/// any policy's.
pub(crate) trait AnyPolicyReason: fmt::Display + fmt::Debug + Send + Sync {
    fn class(&self) -> &'static str;
    fn as_any(&self) -> &dyn Any;
    fn same_as(&self, other: &dyn AnyPolicyReason) -> bool;
}

impl<T: PolicyReason> AnyPolicyReason for T {
    fn class(&self) -> &'static str {
        PolicyReason::class(self)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn same_as(&self, other: &dyn AnyPolicyReason) -> bool {
        other.as_any().downcast_ref::<T>() == Some(self)
    }
}
