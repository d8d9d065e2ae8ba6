//! [`FlyError`]: what went wrong talking to the Machines API, and whether
//! trying again can help.

use std::fmt;
use std::time::Duration;

use placer_core::{actuator::Retry, ActuatorError, Region};

/// The Machines API call that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// `GET /v1/apps/{app}/machines`
    ListMachines,
    /// `POST /v1/apps/{app}/machines`
    CreateMachine,
    /// `DELETE /v1/apps/{app}/machines/{id}?force=true`
    DestroyMachine,
    /// `POST /v1/apps/{app}/machines/{id}/stop`
    StopMachine,
    /// `POST /v1/apps/{app}/machines/{id}/start`
    StartMachine,
    /// `GET /v1/apps/{app}/machines/{id}/wait`
    WaitForMachine,
    /// `POST` or `DELETE /v1/apps/{app}/machines/{id}/metadata/{key}`
    UpdateMetadata,
    /// `GET /v1/apps?org_slug={org}`
    ListApps,
    /// `GET /v1/apps/{app}/machines/{id}`
    GetMachine,
    /// `POST /v1/apps/{app}/machines/{id}/lease`
    AcquireLease,
    /// `DELETE /v1/apps/{app}/machines/{id}/lease`
    ReleaseLease,
    /// `GET /v1/platform/regions?size={size}`
    ListPlatformRegions,
}

impl Operation {
    /// True when repeating the call after an unclear outcome (a timeout, a
    /// dropped connection) cannot do harm. Creating a machine is the one call
    /// where a lost response may hide a machine that was in fact created.
    pub fn is_safe_to_repeat(self) -> bool {
        !matches!(self, Operation::CreateMachine)
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::ListMachines => "listing machines",
            Operation::CreateMachine => "creating a machine",
            Operation::DestroyMachine => "destroying a machine",
            Operation::StopMachine => "stopping a machine",
            Operation::StartMachine => "starting a machine",
            Operation::WaitForMachine => "waiting for a machine to start",
            Operation::UpdateMetadata => "updating machine metadata",
            Operation::ListApps => "listing the organization's apps",
            Operation::GetMachine => "getting a machine",
            Operation::AcquireLease => "taking a machine's lease",
            Operation::ReleaseLease => "releasing a machine's lease",
            Operation::ListPlatformRegions => "reading the platform's regions",
        })
    }
}

/// What a request was about: the machine and region at stake, when known.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    /// The machine the request was about.
    pub machine: Option<String>,
    /// The region the request was about.
    pub region: Option<Region>,
}

impl Target {
    /// A request about the app as a whole.
    pub fn app() -> Self {
        Target::default()
    }

    /// A request about `region`.
    pub fn region(region: &Region) -> Self {
        Target {
            machine: None,
            region: Some(*region),
        }
    }

    /// A request about `machine` in `region`.
    pub fn machine(machine: &str, region: &Region) -> Self {
        Target {
            machine: Some(machine.to_owned()),
            region: Some(*region),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.machine, &self.region) {
            (Some(machine), Some(region)) => write!(f, " (machine {machine} in {region})"),
            (Some(machine), None) => write!(f, " (machine {machine})"),
            (None, Some(region)) => write!(f, " (region {region})"),
            (None, None) => Ok(()),
        }
    }
}

/// The body `status` with which Fly refuses a create for lack of capacity
/// in the region.
pub const INSUFFICIENT_CAPACITY: &str = "insufficient_capacity";

/// Why a call to the Fly Machines API, or the actuator's use of it, failed.
///
/// No variant ever holds the API token: requests are described by operation,
/// app, machine and region only.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FlyError {
    /// A setting is invalid; nothing was sent.
    #[error("invalid Fly setting `{field}`: {problem}")]
    InvalidSettings {
        /// The setting at fault, e.g. `"app"`.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// The API answered with an error status.
    #[error("Fly API {operation}{target} failed with HTTP {status}: {message}")]
    Http {
        /// The call that failed.
        operation: Operation,
        /// The machine and region at stake.
        target: Target,
        /// The HTTP status code.
        status: u16,
        /// Fly's error message (`{"error": "..."}`), or the start of the body.
        message: String,
        /// The answer's machine-readable `status` when it has one: Fly's
        /// API description lists `insufficient_capacity` and `unknown`.
        code: Option<String>,
        /// The delay the server asked for with `Retry-After`, if any.
        retry_after: Option<Duration>,
    },
    /// The request did not get an answer: connection refused, reset or timed out.
    #[error("Fly API {operation}{target} did not complete: {detail}")]
    Transport {
        /// The call that failed.
        operation: Operation,
        /// The machine and region at stake.
        target: Target,
        /// True when the request never reached the server (connecting
        /// failed), so it certainly had no effect.
        not_sent: bool,
        /// True when the request timed out.
        timed_out: bool,
        /// A description of the failure (never contains request headers).
        detail: String,
    },
    /// The API answered 2xx with a body that is not what the API documents.
    #[error("Fly API {operation}{target} returned an unreadable response: {detail}")]
    InvalidResponse {
        /// The call whose answer could not be read.
        operation: Operation,
        /// The machine and region at stake.
        target: Target,
        /// What could not be read, with line and column for JSON errors.
        detail: String,
    },
    /// No machine to clone into a new region.
    #[error("cannot deploy {region}: {reason}")]
    NoTemplate {
        /// The region that was to be deployed.
        region: Region,
        /// Why no template machine could be used.
        reason: String,
    },
    /// A machine was created but did not start within the configured wait.
    #[error("machine {machine} in {region} did not reach `started` within {timeout:?}")]
    WaitTimedOut {
        /// The new machine.
        machine: String,
        /// Its region.
        region: Region,
        /// How long we waited.
        timeout: Duration,
    },
    /// The API refused to create machine `name` because the app already has
    /// a machine of that name, and the listing does not show it yet: an
    /// earlier create whose answer was lost (a 5xx, a timeout) made it, by
    /// this process, a process before a restart or another fly-placer
    /// sharing the app. Creating one under another name could run two
    /// machines; the actuator adopts it once the listing shows it.
    #[error(
        "machine {name} already exists in {region} (an earlier create made it, but its answer \
         was lost and the listing does not show it yet); not creating another"
    )]
    CreationInDoubt {
        /// The region at stake.
        region: Region,
        /// The name the machine was created under.
        name: String,
    },
    /// Every name tried for a new machine in `region` is held by a machine
    /// that cannot be adopted (destroyed, failed, or another process
    /// group's).
    #[error("cannot deploy {region}: the names {first} to {last} are all taken by machines that are gone or belong elsewhere")]
    NamesTaken {
        /// The region that was to be deployed.
        region: Region,
        /// The first name tried.
        first: String,
        /// The last name tried.
        last: String,
    },
}

impl FlyError {
    /// True when sending the same request again may succeed and cannot do
    /// harm: HTTP 429, 5xx, and requests that got no answer, except a
    /// create whose outcome is unknown.
    pub fn is_retryable(&self) -> bool {
        match self {
            FlyError::Http { status, .. } => *status == 429 || (500..=599).contains(status),
            FlyError::Transport {
                operation,
                not_sent,
                ..
            } => *not_sent || operation.is_safe_to_repeat(),
            _ => false,
        }
    }

    /// The delay the server asked for with `Retry-After`, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FlyError::Http { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// This error as a [`RegionActuator`](placer_core::RegionActuator)
    /// error about `region`, carrying its retry advice: transient when
    /// [`is_retryable`](Self::is_retryable), after the server's
    /// [`retry_after`](Self::retry_after) if it gave one. The error itself
    /// stays the source, so callers can still downcast to it.
    ///
    /// A [region refusal](Self::refuses_region) about a known region
    /// becomes [`ActuatorError::RegionUnavailable`], so the engine backs off
    /// from that region instead of trying it every tick. A create
    /// [in doubt](Self::is_creation_in_doubt) becomes
    /// [`ActuatorError::InDoubt`]: never retried, and the engine keeps the
    /// region pending (counted as deployed, not created again) until the
    /// listing shows the machine or its grace period passes.
    pub fn into_actuator_error(self, region: Option<&Region>) -> ActuatorError {
        if let (true, Some(region)) = (self.is_creation_in_doubt(), region) {
            return ActuatorError::in_doubt(crate::BACKEND, region, self);
        }
        if let (
            true,
            Some(region),
            FlyError::Http {
                status, message, ..
            },
        ) = (self.refuses_region(), region, &self)
        {
            let reason = format!("HTTP {status}: {message}");
            return ActuatorError::region_unavailable(crate::BACKEND, region, reason)
                .with_source(self);
        }
        let retry = if self.is_retryable() {
            Retry::Transient {
                after: self.retry_after(),
            }
        } else {
            Retry::Never
        };
        ActuatorError::backend(crate::BACKEND, region, self).with_retry(retry)
    }

    /// True when the request may have changed something although it failed:
    /// a 5xx answer (the server may have acted before failing) or a request
    /// sent without an answer. 429 and other 4xx answers change nothing, nor
    /// does a create refused for the region's capacity, whatever its status
    /// (Fly answers `insufficient_capacity` with a 5xx too).
    pub(crate) fn may_have_taken_effect(&self) -> bool {
        match self {
            FlyError::Http { status, .. } => (500..=599).contains(status) && !self.refuses_region(),
            FlyError::Transport { not_sent, .. } => !*not_sent,
            _ => false,
        }
    }

    /// True when this is a create whose outcome is unknown: the machine may
    /// exist although the call failed. A create answered with a 5xx that is
    /// not a [region refusal](Self::refuses_region), sent without an
    /// answer, or answered 2xx with a body that cannot be read, and
    /// [`CreationInDoubt`](Self::CreationInDoubt).
    pub fn is_creation_in_doubt(&self) -> bool {
        match self {
            FlyError::CreationInDoubt { .. } => true,
            FlyError::Http { operation, .. } | FlyError::Transport { operation, .. } => {
                *operation == Operation::CreateMachine && self.may_have_taken_effect()
            }
            FlyError::InvalidResponse { operation, .. } => *operation == Operation::CreateMachine,
            _ => false,
        }
    }

    /// True when the API refused to create a machine because of the region
    /// itself rather than the request or the account. The body is read
    /// first, the status second:
    /// - a body whose `status` is `insufficient_capacity`, whatever the HTTP
    ///   status (Fly sends it with 503 too);
    /// - a 409 or 412 whose message speaks of insufficient resources,
    ///   memory or capacity (a 409 is a taken name only when it does not);
    /// - HTTP 422, or another 4xx whose message speaks of capacity,
    ///   insufficient resources or the region (a region at capacity, or one
    ///   Fly does not have).
    ///
    /// Never for 401, 403, 404, 408 or 429, nor for any other 5xx answer,
    /// after which the create may have taken effect.
    pub fn refuses_region(&self) -> bool {
        let FlyError::Http {
            operation: Operation::CreateMachine,
            status,
            message,
            code,
            ..
        } = self
        else {
            return false;
        };
        if code.as_deref() == Some(INSUFFICIENT_CAPACITY) {
            return true;
        }
        if !(400..=499).contains(status) || matches!(status, 401 | 403 | 404 | 408 | 429) {
            return false;
        }
        let message = message.to_ascii_lowercase();
        let short_of_resources = ["capacity", "insufficient"]
            .iter()
            .any(|word| message.contains(word));
        match status {
            409 | 412 => short_of_resources,
            422 => true,
            _ => short_of_resources || message.contains("region"),
        }
    }

    /// True when the API refused the call because another client holds
    /// the machine's lease (a `fly deploy`, `flyctl`, another tool). Fly's
    /// description states no status for it, so every plausible answer
    /// counts:
    /// - taking the lease answered 409, 412 or 423;
    /// - any call answered 409, 412 or 423 whose message speaks of a lease
    ///   (a 412 without one is "not stopped", a 409 without one a taken
    ///   name or a full region).
    pub fn is_lease_conflict(&self) -> bool {
        let FlyError::Http {
            operation,
            status,
            message,
            ..
        } = self
        else {
            return false;
        };
        if !matches!(status, 409 | 412 | 423) {
            return false;
        }
        *operation == Operation::AcquireLease || message.to_ascii_lowercase().contains("lease")
    }

    /// The HTTP status, for errors the API answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            FlyError::Http { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub(crate) fn invalid_setting(field: &'static str, problem: impl Into<String>) -> Self {
        FlyError::InvalidSettings {
            field,
            problem: problem.into(),
        }
    }
}

/// Reads a `Retry-After` header value: delay-seconds or an HTTP date.
pub(crate) fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{SystemTime, UNIX_EPOCH};

    fn http(status: u16) -> FlyError {
        FlyError::Http {
            operation: Operation::ListMachines,
            target: Target::app(),
            status,
            message: "x".into(),
            code: None,
            retry_after: None,
        }
    }

    #[test]
    fn only_throttling_and_server_errors_are_retryable() {
        assert!(http(429).is_retryable());
        assert!(http(500).is_retryable());
        assert!(http(503).is_retryable());
        for status in [400, 401, 403, 404, 408, 409, 422] {
            assert!(!http(status).is_retryable(), "{status}");
        }
    }

    #[test]
    fn a_create_without_answer_is_not_retried_but_a_refused_connection_is() {
        let lost = FlyError::Transport {
            operation: Operation::CreateMachine,
            target: Target::app(),
            not_sent: false,
            timed_out: true,
            detail: "timed out".into(),
        };
        assert!(!lost.is_retryable());
        let refused = FlyError::Transport {
            operation: Operation::CreateMachine,
            target: Target::app(),
            not_sent: true,
            timed_out: false,
            detail: "connection refused".into(),
        };
        assert!(refused.is_retryable());
    }

    #[test]
    fn the_actuator_error_carries_the_retry_advice() {
        let mut throttled = http(429);
        if let FlyError::Http { retry_after, .. } = &mut throttled {
            *retry_after = Some(Duration::from_secs(3));
        }
        let err = throttled.into_actuator_error(None);
        assert!(err.is_transient());
        assert_eq!(err.retry_after(), Some(Duration::from_secs(3)));
        let err = http(503).into_actuator_error(None);
        assert!(err.is_transient());
        assert_eq!(err.retry_after(), None);
        let err = http(403).into_actuator_error(Some(&"fra".parse().unwrap()));
        assert!(!err.is_transient());
        assert!(err.to_string().contains("HTTP 403"), "{err}");
        let lost_create = FlyError::Transport {
            operation: Operation::CreateMachine,
            target: Target::app(),
            not_sent: false,
            timed_out: true,
            detail: "timed out".into(),
        };
        assert!(!lost_create.into_actuator_error(None).is_transient());
    }

    #[test]
    fn a_create_that_may_have_made_the_machine_is_in_doubt_and_never_retried() {
        let syd: Region = "syd".parse().unwrap();
        let lost = FlyError::Transport {
            operation: Operation::CreateMachine,
            target: Target::region(&syd),
            not_sent: false,
            timed_out: true,
            detail: "timed out".into(),
        };
        let unreadable = FlyError::InvalidResponse {
            operation: Operation::CreateMachine,
            target: Target::region(&syd),
            detail: "expected value at line 1 column 1".into(),
        };
        let taken = FlyError::CreationInDoubt {
            region: syd,
            name: "fly-placer-app-syd-1".into(),
        };
        for err in [
            create_failed(500, "internal error"),
            create_failed(502, "bad gateway"),
            lost,
            unreadable,
            taken,
        ] {
            assert!(err.is_creation_in_doubt(), "{err}");
            let err = err.into_actuator_error(Some(&syd));
            assert!(err.may_have_taken_effect(), "{err}");
            assert!(!err.is_transient(), "{err}");
        }
        let not_sent = FlyError::Transport {
            operation: Operation::CreateMachine,
            target: Target::region(&syd),
            not_sent: true,
            timed_out: false,
            detail: "connection refused".into(),
        };
        let mut full = create_failed(503, "no room");
        if let FlyError::Http { code, .. } = &mut full {
            *code = Some(INSUFFICIENT_CAPACITY.to_owned());
        }
        for err in [
            not_sent,
            full,
            create_failed(409, "insufficient memory available to fulfill request"),
            create_failed(422, "invalid"),
            http(500),
        ] {
            assert!(!err.is_creation_in_doubt(), "{err}");
            assert!(!err.into_actuator_error(Some(&syd)).may_have_taken_effect());
        }
    }

    fn create_failed(status: u16, message: &str) -> FlyError {
        FlyError::Http {
            operation: Operation::CreateMachine,
            target: Target::region(&"syd".parse().unwrap()),
            status,
            message: message.into(),
            code: None,
            retry_after: None,
        }
    }

    #[test]
    fn a_create_refused_for_the_region_makes_the_region_unavailable() {
        let syd: Region = "syd".parse().unwrap();
        for (status, message) in [
            (422, "could not reserve resource for machine"),
            (412, "insufficient resources available to fulfill request"),
            (400, "region syd is at capacity"),
            (400, "unknown region zzz"),
            (409, "insufficient memory available to fulfill request"),
            (503, "no capacity"),
        ] {
            let mut refused = create_failed(status, message);
            if status == 503 {
                if let FlyError::Http { code, .. } = &mut refused {
                    *code = Some(INSUFFICIENT_CAPACITY.to_owned());
                }
            }
            assert!(!refused.may_have_taken_effect(), "{status} {message}");
            let err = refused.into_actuator_error(Some(&syd));
            let (region, reason) = err.unavailable_region().expect("a region refusal");
            assert_eq!(region, &syd);
            assert_eq!(reason, format!("HTTP {status}: {message}"));
            assert!(!err.is_transient(), "backed off, not retried");
        }
        for (status, message) in [
            (401, "region"),
            (429, "capacity"),
            (500, "boom"),
            (503, "insufficient capacity, maybe"),
            (400, "bad image"),
            (409, "machine name already in use"),
            (412, "machine is leased by another process in this region"),
        ] {
            let err = create_failed(status, message).into_actuator_error(Some(&syd));
            assert!(err.unavailable_region().is_none(), "{status} {message}");
        }
        let mut listing = create_failed(422, "capacity");
        if let FlyError::Http { operation, .. } = &mut listing {
            *operation = Operation::ListMachines;
        }
        assert!(!listing.refuses_region());
    }

    #[test]
    fn a_lease_held_elsewhere_is_read_from_every_plausible_answer() {
        let answer = |operation, status, message: &str| FlyError::Http {
            operation,
            target: Target::app(),
            status,
            message: message.into(),
            code: None,
            retry_after: None,
        };
        for status in [409, 412, 423] {
            assert!(answer(Operation::AcquireLease, status, "held").is_lease_conflict());
            assert!(answer(Operation::StopMachine, status, "machine is leased").is_lease_conflict());
        }
        assert!(!answer(Operation::DestroyMachine, 412, "machine is started").is_lease_conflict());
        assert!(!answer(Operation::CreateMachine, 409, "name taken").is_lease_conflict());
        assert!(!answer(Operation::AcquireLease, 500, "lease").is_lease_conflict());
        assert!(!answer(Operation::AcquireLease, 404, "no machine").is_lease_conflict());
    }

    #[test]
    fn retry_after_accepts_seconds_and_http_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(parse_retry_after("soon", SystemTime::now()), None);
    }

    #[test]
    fn messages_name_operation_status_machine_and_region() {
        let err = FlyError::Http {
            operation: Operation::DestroyMachine,
            target: Target::machine("3d8d413b29d089", &"fra".parse().unwrap()),
            status: 412,
            message: "machine is leased".into(),
            code: None,
            retry_after: None,
        };
        assert_eq!(
            err.to_string(),
            "Fly API destroying a machine (machine 3d8d413b29d089 in fra) failed with HTTP 412: machine is leased"
        );
    }
}
