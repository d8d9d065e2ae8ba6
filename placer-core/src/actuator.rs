//! The [`RegionActuator`] trait: what is deployed, and changing it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::network::platform::PlatformRegions;
use crate::{MachineCount, Region};

/// Anything that can list how many machines an app runs in each region and
/// bring a region to a given count.
///
/// [`deployment`](Self::deployment) and [`scale`](Self::scale) are the
/// one way to read and change a deployment; every implementation and
/// wrapper provides both. [`deployed_regions`](Self::deployed_regions),
/// [`deploy`](Self::deploy) and [`remove`](Self::remove) are shorthands
/// built on them (the regions with a running machine, scale to
/// [`MachineCount::ONE`], scale to [`MachineCount::NONE`]) that nobody
/// overrides.
///
/// The actuator is the source of truth about what is deployed: the engine asks
/// it at every tick and never keeps its own guess — except that a change
/// which failed [in doubt](ActuatorError::in_doubt) counts as made until
/// the listing shows it or `pending_grace` passes, so a listing that lags
/// behind a create cannot cause a second one.
///
/// Implementations: `placer_fly::FlyMachinesActuator` (the Fly Machines API),
/// the `fly-placer` binary's dry-run simulation (kept in a state file), and
/// [`InMemoryActuator`](crate::InMemoryActuator) in this crate.
#[async_trait]
pub trait RegionActuator: Send + Sync {
    /// How many machines of the app each region has: every region with at
    /// least one, running or standby. A region absent from the map has
    /// none.
    ///
    /// # Errors
    /// [`ActuatorError`] when the deployment cannot be read.
    async fn deployment(&self) -> Result<BTreeMap<Region, MachineCount>, ActuatorError>;

    /// Brings `region` to `target` machines. Must be idempotent: asking
    /// again for the count the region already has creates and destroys
    /// nothing, and a retried call never makes a machine twice.
    /// [`MachineCount::NONE`] stops running the app in the region.
    ///
    /// # Errors
    /// [`ActuatorError`] when the region could not be brought to `target`,
    /// including when the actuator refuses (for example, to keep the app's
    /// last machine); [`ActuatorError::in_doubt`] when a machine's create
    /// failed but may have taken effect (its answer was lost): the engine
    /// then counts the change as made, and does not ask again, until the
    /// listing shows it or `pending_grace` passes.
    async fn scale(&self, region: &Region, target: MachineCount) -> Result<(), ActuatorError>;

    /// The regions where the app currently runs: those of
    /// [`deployment`](Self::deployment) with at least one running machine.
    /// A shorthand; implementations do not override it.
    ///
    /// # Errors
    /// [`ActuatorError`] when the deployment cannot be read.
    async fn deployed_regions(&self) -> Result<BTreeSet<Region>, ActuatorError> {
        Ok(self
            .deployment()
            .await?
            .into_iter()
            .filter(|(_, count)| count.is_deployed())
            .map(|(region, _)| region)
            .collect())
    }

    /// Runs the app in `region` with one machine: [`scale`](Self::scale)
    /// to [`MachineCount::ONE`]. A shorthand; implementations do not
    /// override it.
    ///
    /// # Errors
    /// As [`scale`](Self::scale).
    async fn deploy(&self, region: &Region) -> Result<(), ActuatorError> {
        self.scale(region, MachineCount::ONE).await
    }

    /// Stops running the app in `region`: [`scale`](Self::scale) to
    /// [`MachineCount::NONE`]. A shorthand; implementations do not
    /// override it.
    ///
    /// # Errors
    /// As [`scale`](Self::scale).
    async fn remove(&self, region: &Region) -> Result<(), ActuatorError> {
        self.scale(region, MachineCount::NONE).await
    }

    /// True when this actuator only simulates a deployment and never touches
    /// real infrastructure.
    ///
    /// With `dry_run: true` the engine changes a deployment
    /// ([`scale`](Self::scale)) only through simulating actuators, so a real
    /// deployment is never changed in dry-run. The default is `false`.
    fn is_simulation(&self) -> bool {
        false
    }

    /// Says the caller is done with the actuator until its next
    /// [`deployment`](Self::deployment):
    /// [`Placer::tick`](crate::Placer::tick) calls it at the end of every
    /// tick. An actuator that keeps something for the rest of a tick (the
    /// deployment it listed, to reuse for the changes that follow) can let
    /// it go, so it is not held until the next tick. A wrapper passes it on.
    /// The default does nothing.
    fn tick_finished(&self) {}

    /// What the platform says about its regions now: which take new
    /// machines of the app's size, which are deprecated or full, and where
    /// each is. [`Placer::tick`](crate::Placer::tick) asks after listing
    /// the deployment, and observes and plans over that picture. `None` (the default)
    /// when the actuator does not know: the engine keeps the picture it
    /// has, at first [the built-in one](crate::network::platform::PlatformRegions::built_in).
    /// An actuator that reads the platform answers from its own cache, and
    /// when the platform cannot be read it answers with a
    /// [fallback](crate::network::platform::PlatformRegions::fallback) rather
    /// than an error: a tick never fails for it. A wrapper passes it on.
    async fn platform_regions(&self) -> Option<Arc<PlatformRegions>> {
        None
    }
}

/// Why a [`RegionActuator`] call failed.
///
/// It is cheap to clone (the underlying error is shared), and two errors
/// are equal when their messages are: that is all a saved
/// [`TickReport`](crate::TickReport) keeps of them.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ActuatorError {
    /// The backend failed or refused the request.
    #[error("{backend} failed{}: {source}", region_suffix(.region))]
    Backend {
        /// Which kind of actuator failed, e.g. `"fly"`.
        backend: &'static str,
        /// The region at stake, if any.
        region: Option<Region>,
        /// The underlying error.
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync>,
        /// Whether trying again may help, as the backend judged it.
        retry: Retry,
    },
    /// The actuator refused the change to keep the app safe. An expected
    /// refusal, not a failure: the engine reports the action as
    /// [skipped](crate::Outcome::Skipped) and does not ask again for a while.
    #[error("refused to change {region}: {reason}")]
    Refused {
        /// The region at stake.
        region: Region,
        /// Why the change was refused.
        reason: String,
    },
    /// Someone else is changing the region's machines right now (a deploy
    /// holds a machine's lease, say): the change is not made this tick.
    /// Not a failure, and not a refusal either: the engine reports the
    /// action as [skipped](crate::Outcome::Skipped) and may ask again at
    /// the next tick, with no backoff.
    #[error("{region} is busy: {reason}")]
    Busy {
        /// The region at stake.
        region: Region,
        /// Who or what holds it, in the backend's words.
        reason: String,
    },
    /// The backend cannot run the app in `region` for now: no capacity
    /// there, or the region is refused (unknown, closed to the app). The
    /// engine backs off from the region and plans without it until trying
    /// again (see [`RegionBackoff`](crate::state::RegionBackoff)).
    #[error("{backend} cannot deploy to {region}: {reason}")]
    RegionUnavailable {
        /// Which kind of actuator failed, e.g. `"fly"`.
        backend: &'static str,
        /// The region that cannot be deployed.
        region: Region,
        /// The backend's own words, e.g. `HTTP 422: insufficient capacity`.
        reason: String,
        /// The underlying error.
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
    /// The backend failed to confirm a change that may nevertheless have
    /// taken effect: a create whose answer was lost (a 5xx after the
    /// request was carried out, a timeout, a dropped connection). Never
    /// retried ([`Retry::Never`]): repeating it could make the change
    /// twice. A deploy that fails with it keeps its region *pending* in the
    /// engine state — counted as deployed, not deployed again — until a
    /// listing shows it or `pending_grace` has passed (see
    /// [`PendingDeploy`](crate::state::PendingDeploy)).
    #[error(
        "{backend} failed for region {region}, but the change may have taken effect: {source}"
    )]
    InDoubt {
        /// Which kind of actuator failed, e.g. `"fly"`.
        backend: &'static str,
        /// The region whose change is in doubt.
        region: Region,
        /// The underlying error.
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
    /// An error known only by its message: one read back from a saved
    /// [`TickReport`](crate::TickReport).
    #[error("{message}")]
    Reported {
        /// The error's message as it was reported.
        message: String,
    },
}

impl PartialEq for ActuatorError {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

impl Eq for ActuatorError {}

fn region_suffix(region: &Option<Region>) -> String {
    match region {
        Some(region) => format!(" for region {region}"),
        None => String::new(),
    }
}

/// What a failed call says about trying it again. Only the backend knows
/// (an HTTP 503 is transient, a 403 is not; a create whose answer was lost
/// must not be repeated), so it sets this when it builds the
/// [`ActuatorError`]; wrappers such as [`Retrying`](crate::wrap::Retrying)
/// only read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Retry {
    /// Trying again cannot help, or could repeat a change that did happen.
    /// The default: a backend that says nothing is never retried.
    #[default]
    Never,
    /// The failure is transient: the same call may succeed later and cannot
    /// do harm.
    Transient {
        /// The delay the backend asked for (e.g. HTTP `Retry-After`), if any.
        after: Option<Duration>,
    },
}

impl ActuatorError {
    /// Wraps any error from a backend, as not worth retrying. Mark it
    /// [`transient`](Self::transient) when trying again may help.
    ///
    /// ```
    /// use std::time::Duration;
    /// use placer_core::ActuatorError;
    ///
    /// let err = ActuatorError::backend("fly", None, "HTTP 403");
    /// assert!(!err.is_transient());
    ///
    /// let err = ActuatorError::backend("fly", None, "HTTP 429")
    ///     .with_retry_after(Duration::from_secs(3));
    /// assert!(err.is_transient());
    /// assert_eq!(err.retry_after(), Some(Duration::from_secs(3)));
    /// ```
    pub fn backend(
        backend: &'static str,
        region: Option<&Region>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        ActuatorError::Backend {
            backend,
            region: region.cloned(),
            source: Arc::from(source.into()),
            retry: Retry::Never,
        }
    }

    /// A failure that may go away if the same call is tried again (a
    /// timeout, an HTTP 503): [`backend`](Self::backend) marked
    /// [`transient`](Self::transient).
    ///
    /// ```
    /// use placer_core::ActuatorError;
    ///
    /// let fra = "fra".parse().unwrap();
    /// let err = ActuatorError::transient_failure("bot", Some(&fra), "timed out");
    /// assert!(err.is_transient());
    /// assert_eq!(err.to_string(), "bot failed for region fra: timed out");
    /// ```
    pub fn transient_failure(
        backend: &'static str,
        region: Option<&Region>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::backend(backend, region, source).transient()
    }

    /// The backend cannot run the app in `region` for now (no capacity
    /// there, or the region is closed to the app), in its own words
    /// `reason`. A deploy that fails with it puts the region in a backoff
    /// (see [`RegionBackoff`](crate::state::RegionBackoff)).
    ///
    /// ```
    /// use placer_core::ActuatorError;
    ///
    /// let nrt = "nrt".parse().unwrap();
    /// let err = ActuatorError::region_unavailable("bot", &nrt, "insufficient capacity");
    /// assert_eq!(err.unavailable_region(), Some((&nrt, "insufficient capacity")));
    /// assert_eq!(err.to_string(), "bot cannot deploy to nrt: insufficient capacity");
    /// ```
    pub fn region_unavailable(
        backend: &'static str,
        region: &Region,
        reason: impl Into<String>,
    ) -> Self {
        let reason = reason.into();
        ActuatorError::RegionUnavailable {
            backend,
            region: *region,
            source: Arc::from(Box::<dyn std::error::Error + Send + Sync>::from(
                reason.clone(),
            )),
            reason,
        }
    }

    /// A change to `region` that failed without saying whether it took
    /// effect (see [`InDoubt`](Self::InDoubt)): never retried, and a deploy
    /// in doubt keeps its region pending in the engine state.
    ///
    /// ```
    /// use placer_core::ActuatorError;
    ///
    /// let fra = "fra".parse().unwrap();
    /// let err = ActuatorError::in_doubt("bot", &fra, "HTTP 500 after the request was sent");
    /// assert!(err.may_have_taken_effect());
    /// assert!(!err.is_transient());
    /// assert!(!err.clone().transient().is_transient(), "never made retryable");
    /// ```
    pub fn in_doubt(
        backend: &'static str,
        region: &Region,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        ActuatorError::InDoubt {
            backend,
            region: *region,
            source: Arc::from(source.into()),
        }
    }

    /// True when the failed change may have taken effect all the same
    /// ([`InDoubt`](Self::InDoubt)): the caller must not repeat it before
    /// it has looked whether it did.
    pub fn may_have_taken_effect(&self) -> bool {
        matches!(self, ActuatorError::InDoubt { .. })
    }

    /// The same error with `source` as the underlying error, for a
    /// [`Backend`](Self::Backend), [`RegionUnavailable`](Self::RegionUnavailable)
    /// or [`InDoubt`](Self::InDoubt) one (the others have none and are
    /// returned as they are).
    pub fn with_source(
        mut self,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        match &mut self {
            ActuatorError::Backend { source: slot, .. }
            | ActuatorError::RegionUnavailable { source: slot, .. }
            | ActuatorError::InDoubt { source: slot, .. } => {
                *slot = Arc::from(source.into());
            }
            ActuatorError::Refused { .. }
            | ActuatorError::Busy { .. }
            | ActuatorError::Reported { .. } => {}
        }
        self
    }

    /// The change was refused to keep the app safe (see
    /// [`Refused`](Self::Refused)).
    pub fn refused(region: &Region, reason: impl Into<String>) -> Self {
        ActuatorError::Refused {
            region: *region,
            reason: reason.into(),
        }
    }

    /// Someone else is changing `region` now (see [`Busy`](Self::Busy)).
    pub fn busy(region: &Region, reason: impl Into<String>) -> Self {
        ActuatorError::Busy {
            region: *region,
            reason: reason.into(),
        }
    }

    /// The same error, marked transient: the same call may succeed later.
    /// A [`Refused`](Self::Refused) change, or one
    /// [in doubt](Self::InDoubt), stays final.
    pub fn transient(self) -> Self {
        self.with_retry(Retry::Transient { after: None })
    }

    /// The same error, marked transient, with the delay the backend asked
    /// for before trying again.
    pub fn with_retry_after(self, after: Duration) -> Self {
        self.with_retry(Retry::Transient { after: Some(after) })
    }

    /// The same error with `retry` as its retry advice. A
    /// [`Refused`](Self::Refused) change stays final, and so does one
    /// [in doubt](Self::InDoubt).
    pub fn with_retry(mut self, retry: Retry) -> Self {
        if let ActuatorError::Backend { retry: slot, .. } = &mut self {
            *slot = retry;
        }
        self
    }

    /// What the backend said about trying again.
    pub fn retry(&self) -> Retry {
        match self {
            ActuatorError::Backend { retry, .. } => *retry,
            ActuatorError::Refused { .. }
            | ActuatorError::Busy { .. }
            | ActuatorError::RegionUnavailable { .. }
            | ActuatorError::InDoubt { .. }
            | ActuatorError::Reported { .. } => Retry::Never,
        }
    }

    /// True when the same call may succeed if tried again.
    pub fn is_transient(&self) -> bool {
        matches!(self.retry(), Retry::Transient { .. })
    }

    /// The region the backend cannot deploy for now, when this error says
    /// so ([`RegionUnavailable`](Self::RegionUnavailable)), with its reason.
    pub fn unavailable_region(&self) -> Option<(&Region, &str)> {
        match self {
            ActuatorError::RegionUnavailable { region, reason, .. } => Some((region, reason)),
            _ => None,
        }
    }

    /// The delay the backend asked for before trying again, if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self.retry() {
            Retry::Transient { after } => after,
            Retry::Never => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_errors_are_final_unless_the_backend_says_otherwise() {
        let err = ActuatorError::backend("x", None, "boom");
        assert_eq!(err.retry(), Retry::Never);
        let err = err.transient();
        assert!(err.is_transient());
        assert_eq!(err.retry_after(), None);
        let err = err.with_retry_after(Duration::from_millis(1500));
        assert_eq!(err.retry_after(), Some(Duration::from_millis(1500)));
        assert!(!err.with_retry(Retry::Never).is_transient());
    }

    #[test]
    fn a_refusal_is_never_transient() {
        let refused = ActuatorError::Refused {
            region: "fra".parse().unwrap(),
            reason: "last machine".into(),
        }
        .transient();
        assert!(!refused.is_transient());
        assert_eq!(refused.retry_after(), None);
    }

    #[test]
    fn a_change_in_doubt_is_never_retried_and_says_so() {
        let fra: Region = "fra".parse().unwrap();
        let err = ActuatorError::in_doubt("fly", &fra, "HTTP 500")
            .with_retry_after(Duration::from_secs(1));
        assert_eq!(err.retry(), Retry::Never);
        assert!(err.may_have_taken_effect());
        assert_eq!(
            err.to_string(),
            "fly failed for region fra, but the change may have taken effect: HTTP 500"
        );
        let plain = ActuatorError::backend("fly", Some(&fra), "HTTP 500").transient();
        assert!(!plain.may_have_taken_effect());
    }

    #[test]
    fn the_message_is_unchanged_by_the_advice() {
        let fra: Region = "fra".parse().unwrap();
        let err = ActuatorError::backend("fly", Some(&fra), "HTTP 503").transient();
        assert_eq!(err.to_string(), "fly failed for region fra: HTTP 503");
    }
}
