//! [`Decision`]: what the engine decided for one region, and why. The same
//! type carries a policy's wish, a planned move, a region left alone and the
//! region part of a carried-out action.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Reason, Region};

/// A move on one region, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Start running the app in the region.
    Deploy,
    /// Stop running the app in the region.
    Remove,
    /// Leave the region as it is.
    None,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Deploy => "deploy",
            Action::Remove => "remove",
            Action::None => "none",
        })
    }
}

/// A move that changes the deployment: what a planned action can be.
///
/// ```
/// use placer_core::{Action, Move};
///
/// assert_eq!(Action::from(Move::Remove), Action::Remove);
/// assert_eq!(Move::try_from(Action::None), Err(Action::None));
/// assert_eq!(Move::Deploy.to_string(), "deploy");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Move {
    /// Start running the app in the region.
    Deploy,
    /// Stop running the app in the region.
    Remove,
}

impl fmt::Display for Move {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Action::from(*self).fmt(f)
    }
}

impl From<Move> for Action {
    fn from(step: Move) -> Self {
        match step {
            Move::Deploy => Action::Deploy,
            Move::Remove => Action::Remove,
        }
    }
}

/// `Action::None` is not a move; it comes back as the error.
impl TryFrom<Action> for Move {
    type Error = Action;
    fn try_from(action: Action) -> Result<Self, Action> {
        match action {
            Action::Deploy => Ok(Move::Deploy),
            Action::Remove => Ok(Move::Remove),
            Action::None => Err(Action::None),
        }
    }
}

impl PartialEq<Action> for Move {
    fn eq(&self, other: &Action) -> bool {
        Action::from(*self) == *other
    }
}

impl PartialEq<Move> for Action {
    fn eq(&self, other: &Move) -> bool {
        *self == Action::from(*other)
    }
}

/// What the engine decided for one region, and why.
///
/// With `A = `[`Action`] it is a policy's wish or a region the tick left
/// alone (its action may be `none`); with `A = `[`Move`] it is a planned
/// deploy or remove, which can never be `none`.
///
/// ```
/// use placer_core::{Action, Decision, Move, Reason};
///
/// let planned = Decision::new("fra".parse().unwrap(), Move::Deploy, Reason::AlwaysRunningMissing);
/// let wish: Decision = planned.clone().into();
/// assert_eq!(wish.action, Action::Deploy);
/// assert_eq!(
///     serde_json::to_string(&planned).unwrap(),
///     r#"{"region":"fra","action":"deploy","reason":"Region is in always_running_regions list and is not deployed"}"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Decision<A = Action> {
    /// The region.
    pub region: Region,
    /// What is (or was wanted to be) done with it.
    pub action: A,
    /// Why.
    pub reason: Reason,
}

impl<A> Decision<A> {
    /// A decision on `region`.
    pub fn new(region: Region, action: A, reason: Reason) -> Self {
        Decision {
            region,
            action,
            reason,
        }
    }
}

impl From<Decision<Move>> for Decision<Action> {
    fn from(planned: Decision<Move>) -> Self {
        Decision::new(planned.region, planned.action.into(), planned.reason)
    }
}

/// A change carried out on a region: a deploy, a removal, or a change of
/// its machine count while it stays deployed (with a `machines:` section).
/// What [`LastAction`](crate::state::LastAction) records.
///
/// Serialized as `"deploy"`, `"remove"` or `"resize"`, so states written
/// before resizes had a name of their own still read (and `"none"`, which
/// such states may hold).
///
/// ```
/// use placer_core::{Action, Change, Move};
///
/// assert_eq!(Change::from(Move::Deploy), Action::Deploy);
/// assert_eq!(Change::Resize.to_string(), "resize");
/// assert_ne!(Change::Resize, Action::Deploy);
/// assert_eq!(serde_json::to_string(&Change::Resize).unwrap(), r#""resize""#);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// The app started running in the region.
    Deploy,
    /// The app stopped running in the region.
    Remove,
    /// The region stayed deployed with another count of machines.
    Resize,
    /// Nothing: only read from a state that recorded it, where it still
    /// starts the region's cooldown. The engine never records it.
    None,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Change::Deploy => "deploy",
            Change::Remove => "remove",
            Change::Resize => "resize",
            Change::None => "none",
        })
    }
}

impl From<Move> for Change {
    fn from(step: Move) -> Self {
        match step {
            Move::Deploy => Change::Deploy,
            Move::Remove => Change::Remove,
        }
    }
}

/// A deploy, remove or none equals its [`Action`]; a resize equals none of
/// them.
impl PartialEq<Action> for Change {
    fn eq(&self, other: &Action) -> bool {
        matches!(
            (self, other),
            (Change::Deploy, Action::Deploy)
                | (Change::Remove, Action::Remove)
                | (Change::None, Action::None)
        )
    }
}

impl PartialEq<Change> for Action {
    fn eq(&self, other: &Change) -> bool {
        other == self
    }
}
