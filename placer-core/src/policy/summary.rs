//! [`PolicySummary`]: what a policy says about its own state, in terms
//! that need none of its types.

use serde::Serialize;

use super::PriceInForce;
use crate::Timestamp;

/// What a policy says about its own state, for a status page, a health
/// endpoint or metrics: whoever shows it needs to know no policy's types.
/// A policy fills in what applies to it
/// ([`PlacementPolicy::summary`](super::PlacementPolicy::summary)); the
/// rest stays empty.
///
/// ```
/// use placer_core::policy::{BudgetUse, PolicySummary};
///
/// let summary = PolicySummary::default().with_budget(BudgetUse::new(48.0, 12.5));
/// assert_eq!(summary.budget.unwrap().machine_hours, 48.0);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct PolicySummary {
    /// The machine budget the policy keeps to and what its current period
    /// has spent; `None` when it keeps to none.
    pub budget: Option<BudgetUse>,
    /// The price of a region in force and why; `None` for a policy that
    /// prices no region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<PriceInForce>,
}

impl PolicySummary {
    /// The same summary, with a machine budget.
    #[must_use]
    pub fn with_budget(mut self, budget: BudgetUse) -> Self {
        self.budget = Some(budget);
        self
    }

    /// The same summary, with the region price in force.
    #[must_use]
    pub fn with_price(mut self, price: PriceInForce) -> Self {
        self.price = Some(price);
        self
    }
}

/// A machine budget and how much of it is spent.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[non_exhaustive]
pub struct BudgetUse {
    /// Machine-hours allowed per period.
    pub machine_hours: f64,
    /// Machine-hours spent so far in the current period.
    pub spent_machine_hours: f64,
    /// When the current period ends, once spending has been counted in one.
    pub period_end: Option<Timestamp>,
}

impl BudgetUse {
    /// `spent_machine_hours` of `machine_hours`.
    pub fn new(machine_hours: f64, spent_machine_hours: f64) -> Self {
        BudgetUse {
            machine_hours,
            spent_machine_hours,
            period_end: None,
        }
    }

    /// The same use, its current period ending at `end`.
    ///
    /// ```
    /// use placer_core::policy::BudgetUse;
    /// use placer_core::Timestamp;
    ///
    /// let end = Timestamp::from_unix_seconds(1_800_000_000);
    /// let budget = BudgetUse::new(48.0, 12.5).with_period_end(end);
    /// assert_eq!(budget.period_end, Some(end));
    /// ```
    #[must_use]
    pub fn with_period_end(mut self, end: Timestamp) -> Self {
        self.period_end = Some(end);
        self
    }
}
