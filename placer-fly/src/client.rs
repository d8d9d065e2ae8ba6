//! The HTTP client for the Machines API endpoints fly-placer uses.
//!
//! One method per endpoint; each turns the answer into a typed result or a
//! [`FlyError`] naming the operation, the machine and the region. Policy
//! (which machine, when) lives in the actuator, not here.

use std::time::{Duration, SystemTime};

use placer_core::Region;
use reqwest::header::{HeaderName, HeaderValue, AUTHORIZATION, RETRY_AFTER};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::json;

use crate::counts::{Reply, RequestCounter};
use crate::error::{parse_retry_after, Operation, Target};
use crate::gate::RequestGate;
use crate::limits::{ApiLimits, BucketKey};
use crate::machine::{parse_machine_list, Machine, MachineConfig, StopConfig};
use crate::options::without_credentials;
use crate::platform::parse_platform_regions;
use crate::{FlyError, FlyOptions};
use placer_core::network::platform::PlatformRegion;

/// Longest part of a non-JSON error body kept in an error message.
const MAX_MESSAGE_CHARS: usize = 300;

/// The header that carries a machine's lease nonce on the calls that
/// change the machine (the name Fly's own client sends).
pub const LEASE_NONCE_HEADER: &str = "fly-machine-lease-nonce";

/// A request answered 429 goes out again, once its bucket's hold is over,
/// when the API asked for at most this long: it was not carried out, so
/// sending it again does nothing twice.
const RESEND_AFTER_429_WITHIN: Duration = Duration::from_secs(5);
/// How many times one request is sent at most when answered 429.
const MAX_SENDS: u32 = 3;

pub(crate) struct MachinesClient {
    http: reqwest::Client,
    api_url: String,
    machines_url: String,
    app: String,
    authorization: HeaderValue,
    request_timeout: Duration,
    gate: RequestGate,
    limits: ApiLimits,
    counter: RequestCounter,
}

impl MachinesClient {
    pub(crate) fn new(settings: &FlyOptions, gate: RequestGate) -> Result<Self, FlyError> {
        let mut authorization = HeaderValue::from_str(&crate::authorization_header(
            settings
                .token
                .as_ref()
                .ok_or_else(|| FlyError::invalid_setting("token", "is not set"))?,
        ))
        .map_err(|_| {
            FlyError::invalid_setting("token", "contains characters not allowed in a header")
        })?;
        // Keeps the value out of the HTTP stack's own Debug output.
        authorization.set_sensitive(true);
        let http = gate
            .http_client()
            .map_err(|err| FlyError::invalid_setting("api_url", err.to_string()))?;
        Ok(MachinesClient {
            http,
            api_url: settings.api_url.trim_end_matches('/').to_owned(),
            machines_url: format!(
                "{}/v1/apps/{}/machines",
                settings.api_url.trim_end_matches('/'),
                settings.app_name()
            ),
            app: settings.app_name().to_owned(),
            authorization,
            request_timeout: settings.request_timeout,
            gate,
            limits: settings.api_limits.clone(),
            counter: RequestCounter::default(),
        })
    }

    /// The counts of this client's requests by answer.
    pub(crate) fn counter(&self) -> &RequestCounter {
        &self.counter
    }

    /// The names of organization `org`'s apps (`GET /v1/apps?org_slug=`).
    /// `org` must be a slug (letters, digits, `-`, `_`).
    pub(crate) async fn list_apps(&self, org: &str) -> Result<Vec<String>, FlyError> {
        #[derive(serde::Deserialize)]
        struct Listed {
            #[serde(default)]
            apps: Vec<ListedApp>,
        }
        #[derive(serde::Deserialize)]
        struct ListedApp {
            name: String,
        }
        let url = format!("{}/v1/apps?org_slug={org}", self.api_url);
        let request = self.request(Method::GET, &url);
        let body = self
            .send_in(org, Operation::ListApps, &Target::app(), request)
            .await?;
        let listed: Listed =
            serde_json::from_slice(&body).map_err(|err| FlyError::InvalidResponse {
                operation: Operation::ListApps,
                target: Target::app(),
                detail: format!("expected a ListAppsResponse: {err}"),
            })?;
        Ok(listed.apps.into_iter().map(|app| app.name).collect())
    }

    /// The platform's regions (`GET /v1/platform/regions`), with the
    /// capacity for machines of guest size `size` (e.g. `shared-cpu-1x`;
    /// without one Fly answers for its default size). `size` must be made
    /// of lowercase letters, digits and `-`.
    pub(crate) async fn platform_regions(
        &self,
        size: Option<&str>,
    ) -> Result<Vec<PlatformRegion>, FlyError> {
        let mut url = format!("{}/v1/platform/regions", self.api_url);
        if let Some(size) = size {
            url.push_str("?size=");
            url.push_str(size);
        }
        let request = self.request(Method::GET, &url);
        let body = self
            .send(Operation::ListPlatformRegions, &Target::app(), request)
            .await?;
        parse_platform_regions(&body)
    }

    pub(crate) async fn list(&self) -> Result<Vec<Machine>, FlyError> {
        let request = self.request(Method::GET, &self.machines_url);
        let body = self
            .send(Operation::ListMachines, &Target::app(), request)
            .await?;
        parse_machine_list(&body)
    }

    /// Every machine of the app, destroyed ones included (as long as the
    /// API still lists them).
    pub(crate) async fn list_including_deleted(&self) -> Result<Vec<Machine>, FlyError> {
        let url = format!("{}?include_deleted=true", self.machines_url);
        let request = self.request(Method::GET, &url);
        let body = self
            .send(Operation::ListMachines, &Target::app(), request)
            .await?;
        parse_machine_list(&body)
    }

    /// Creates machine `name`; the API refuses a name the app already uses
    /// (HTTP 409).
    pub(crate) async fn create(
        &self,
        region: &Region,
        name: &str,
        config: &MachineConfig,
        skip_launch: bool,
    ) -> Result<Machine, FlyError> {
        let target = Target::region(region);
        let request = self.request(Method::POST, &self.machines_url).json(&json!({
            "name": name,
            "region": region,
            "config": config,
            "skip_launch": skip_launch,
        }));
        let body = self
            .send(Operation::CreateMachine, &target, request)
            .await?;
        serde_json::from_slice(&body).map_err(|err| FlyError::InvalidResponse {
            operation: Operation::CreateMachine,
            target,
            detail: format!("expected the new machine: {err}"),
        })
    }

    /// Destroys a machine. Without `force` the API refuses (412) a machine
    /// that is not stopped; with it, Fly kills a running machine. A machine
    /// that is already gone (404) counts as destroyed.
    pub(crate) async fn destroy(
        &self,
        machine: &Machine,
        force: bool,
        lease: Option<&str>,
    ) -> Result<(), FlyError> {
        let mut url = self.machine_url(machine)?;
        if force {
            url.push_str("?force=true");
        }
        let request = with_lease(self.request(Method::DELETE, &url), lease);
        match self
            .send(Operation::DestroyMachine, &target_of(machine), request)
            .await
        {
            Err(FlyError::Http { status: 404, .. }) => Ok(()),
            other => other.map(drop),
        }
    }

    /// Stops a machine: Fly sends `how.signal` and kills the process if it
    /// has not exited after `how.timeout` (each the machine's own setting
    /// when absent).
    pub(crate) async fn stop(
        &self,
        machine: &Machine,
        how: &StopConfig,
        lease: Option<&str>,
    ) -> Result<(), FlyError> {
        let url = format!("{}/stop", self.machine_url(machine)?);
        let request = with_lease(self.request(Method::POST, &url).json(how), lease);
        self.send(Operation::StopMachine, &target_of(machine), request)
            .await
            .map(drop)
    }

    pub(crate) async fn start(&self, machine: &Machine) -> Result<(), FlyError> {
        let url = format!("{}/start", self.machine_url(machine)?);
        let request = self.request(Method::POST, &url);
        self.send(Operation::StartMachine, &target_of(machine), request)
            .await
            .map(drop)
    }

    /// Waits until the machine is `started`, at most `timeout` (whole
    /// seconds, at least one, as the API takes them).
    pub(crate) async fn wait_started(
        &self,
        machine: &Machine,
        timeout: Duration,
    ) -> Result<(), FlyError> {
        if self.wait_for(machine, "started", timeout).await? {
            Ok(())
        } else {
            Err(FlyError::WaitTimedOut {
                machine: machine.id.clone(),
                region: machine.region,
                timeout: Duration::from_secs(wait_seconds(timeout)),
            })
        }
    }

    /// Waits until the machine is in `state` (`started`, `stopped` or
    /// `destroyed`), at most `timeout` rounded up to whole seconds, at
    /// least one. The API holds one wait for at most [`MAX_WAIT`], so a
    /// longer one is several requests, each asking for what is left. False
    /// when the machine did not get there in time (408).
    pub(crate) async fn wait_for(
        &self,
        machine: &Machine,
        state: &str,
        timeout: Duration,
    ) -> Result<bool, FlyError> {
        let seconds = wait_seconds(timeout);
        // tokio's clock, as the fake's and the gate's (tests pause it).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
        // A server that answered 408 at once would otherwise be asked
        // again and again: no more rounds than whole seconds.
        for _ in 0..seconds {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if self.wait_once(machine, state, left.min(MAX_WAIT)).await? {
                return Ok(true);
            }
            if tokio::time::Instant::now() >= deadline {
                break;
            }
        }
        Ok(false)
    }

    /// One wait request of at most `timeout` (rounded up to whole seconds,
    /// at least one): false on 408.
    async fn wait_once(
        &self,
        machine: &Machine,
        state: &str,
        timeout: Duration,
    ) -> Result<bool, FlyError> {
        let seconds = wait_seconds(timeout);
        let mut url = format!(
            "{}/wait?state={state}&timeout={seconds}",
            self.machine_url(machine)?
        );
        if let Some(instance) = &machine.instance_id {
            url.push_str(&format!("&instance_id={}", checked_id(instance, machine)?));
        }
        // The server holds the request open for up to `timeout`.
        let request = self
            .request(Method::GET, &url)
            .timeout(Duration::from_secs(seconds) + self.request_timeout);
        match self
            .send(Operation::WaitForMachine, &target_of(machine), request)
            .await
        {
            Err(FlyError::Http { status: 408, .. }) => Ok(false),
            other => other.map(|_| true),
        }
    }

    pub(crate) async fn set_metadata(
        &self,
        machine: &Machine,
        key: &str,
        value: &str,
        lease: Option<&str>,
    ) -> Result<(), FlyError> {
        let url = format!("{}/metadata/{key}", self.machine_url(machine)?);
        let request = with_lease(
            self.request(Method::POST, &url)
                .json(&json!({ "value": value })),
            lease,
        );
        self.send(Operation::UpdateMetadata, &target_of(machine), request)
            .await
            .map(drop)
    }

    pub(crate) async fn delete_metadata(
        &self,
        machine: &Machine,
        key: &str,
    ) -> Result<(), FlyError> {
        let url = format!("{}/metadata/{key}", self.machine_url(machine)?);
        let request = self.request(Method::DELETE, &url);
        match self
            .send(Operation::UpdateMetadata, &target_of(machine), request)
            .await
        {
            Err(FlyError::Http { status: 404, .. }) => Ok(()),
            other => other.map(drop),
        }
    }

    /// Takes the machine's lease for `ttl` (whole seconds, at least one):
    /// its nonce. Another client's lease is an error that
    /// [`is_lease_conflict`](FlyError::is_lease_conflict).
    pub(crate) async fn acquire_lease(
        &self,
        machine: &Machine,
        ttl: Duration,
    ) -> Result<String, FlyError> {
        let url = format!("{}/lease", self.machine_url(machine)?);
        let request = self.request(Method::POST, &url).json(&json!({
            "ttl": ttl.as_secs().max(1),
            "description": "fly-placer is removing the machine's region",
        }));
        let target = target_of(machine);
        let body = self.send(Operation::AcquireLease, &target, request).await?;
        lease_nonce(&body).ok_or_else(|| FlyError::InvalidResponse {
            operation: Operation::AcquireLease,
            target,
            detail: "expected a Lease with a nonce".to_owned(),
        })
    }

    /// Releases the lease whose nonce is `nonce`. A machine that is gone
    /// (404) has no lease to release.
    pub(crate) async fn release_lease(
        &self,
        machine: &Machine,
        nonce: &str,
    ) -> Result<(), FlyError> {
        let url = format!("{}/lease", self.machine_url(machine)?);
        let request = with_lease(self.request(Method::DELETE, &url), Some(nonce));
        match self
            .send(Operation::ReleaseLease, &target_of(machine), request)
            .await
        {
            Err(FlyError::Http { status: 404, .. }) => Ok(()),
            other => other.map(drop),
        }
    }

    fn request(&self, method: Method, url: &str) -> RequestBuilder {
        self.http
            .request(method, url)
            .timeout(self.request_timeout)
            .header(AUTHORIZATION, self.authorization.clone())
    }

    fn machine_url(&self, machine: &Machine) -> Result<String, FlyError> {
        Ok(format!(
            "{}/{}",
            self.machines_url,
            checked_id(&machine.id, machine)?
        ))
    }

    /// Sends a request about the app, within its bucket.
    async fn send(
        &self,
        operation: Operation,
        target: &Target,
        request: RequestBuilder,
    ) -> Result<Vec<u8>, FlyError> {
        self.send_in(&self.app, operation, target, request).await
    }

    /// Sends a request within the bucket of `operation` on `scope` (the app,
    /// or the organization for its apps). A 429 holds that bucket back for
    /// its `Retry-After` (one interval of the rate without one); the request
    /// goes out again once the hold is over when that is soon, and
    /// otherwise its error says how long to wait.
    async fn send_in(
        &self,
        scope: &str,
        operation: Operation,
        target: &Target,
        mut request: RequestBuilder,
    ) -> Result<Vec<u8>, FlyError> {
        let key = BucketKey::new(scope, operation, target.machine.as_deref());
        let limit = self.limits.of(operation);
        let buckets = self.gate.buckets();
        let mut sent = 0;
        loop {
            sent += 1;
            let again = (sent < MAX_SENDS).then(|| request.try_clone()).flatten();
            buckets.wait_turn(&key, limit).await;
            match self.send_once(operation, target, request).await {
                Err(err) if err.status() == Some(429) => {
                    let hold = err.retry_after().unwrap_or_else(|| {
                        limit.rate.map_or(Duration::from_secs(1), |rate| {
                            Duration::from_secs_f64(1.0 / rate)
                        })
                    });
                    buckets.hold(&key, limit, hold);
                    match again {
                        Some(next) if hold <= RESEND_AFTER_429_WITHIN => {
                            tracing::debug!(app = %self.app, %operation, ?hold, "answered 429; sending again after the hold");
                            request = next;
                        }
                        _ => return Err(err),
                    }
                }
                other => return other,
            }
        }
    }

    async fn send_once(
        &self,
        operation: Operation,
        target: &Target,
        request: RequestBuilder,
    ) -> Result<Vec<u8>, FlyError> {
        // Held until the answer is read: it counts against the gate's cap.
        let _admitted = self.gate.admit().await;
        let no_answer = |err: reqwest::Error| {
            self.counter.record(Reply::NoAnswer);
            transport_error(operation, target, &err)
        };
        let response = request.send().await.map_err(no_answer)?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, SystemTime::now()));
        let body = response.bytes().await.map_err(no_answer)?;
        self.counter.record(Reply::of_status(status.as_u16()));
        if status.is_success() {
            return Ok(body.to_vec());
        }
        let (message, code) = error_body(status, &body);
        Err(FlyError::Http {
            operation,
            target: target.clone(),
            status: status.as_u16(),
            message,
            code,
            retry_after,
        })
    }
}

/// The longest wait the API holds open ("up to 60 seconds").
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(60);

/// A wait's `timeout` parameter: whole seconds, at least one.
fn wait_seconds(timeout: Duration) -> u64 {
    timeout.as_secs_f64().ceil().max(1.0) as u64
}

/// `request` with the lease nonce, when there is one.
fn with_lease(request: RequestBuilder, lease: Option<&str>) -> RequestBuilder {
    match lease.and_then(|nonce| HeaderValue::from_str(nonce).ok()) {
        Some(nonce) => request.header(HeaderName::from_static(LEASE_NONCE_HEADER), nonce),
        None => request,
    }
}

/// The nonce of a lease answer: the description's `Lease` has it at the top
/// level, Fly's own client reads it under `data`; either is taken.
fn lease_nonce(body: &[u8]) -> Option<String> {
    let answer: serde_json::Value = serde_json::from_slice(body).ok()?;
    let nonce = [&answer["nonce"], &answer["data"]["nonce"]]
        .into_iter()
        .find_map(|nonce| nonce.as_str().filter(|n| !n.is_empty()))
        .map(str::to_owned);
    nonce
}

fn target_of(machine: &Machine) -> Target {
    Target::machine(&machine.id, &machine.region)
}

/// Ids go into URL paths: anything but letters and digits is refused, so a
/// strange listing cannot redirect a request elsewhere.
fn checked_id<'a>(id: &'a str, machine: &Machine) -> Result<&'a str, FlyError> {
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(id)
    } else {
        Err(FlyError::InvalidResponse {
            operation: Operation::ListMachines,
            target: Target::region(&machine.region),
            detail: format!("machine id {id:?} has characters other than letters and digits"),
        })
    }
}

fn transport_error(operation: Operation, target: &Target, err: &reqwest::Error) -> FlyError {
    // reqwest's messages name the URL (app and machine, never the token,
    // but a password written into api_url would be there too); the chain of
    // sources says what actually failed.
    let mut detail = err.to_string();
    if let Some(url) = err.url() {
        detail = detail.replace(url.as_str(), &without_credentials(url.as_str()));
    }
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        detail.push_str(": ");
        detail.push_str(&cause.to_string());
        source = cause.source();
    }
    FlyError::Transport {
        operation,
        target: target.clone(),
        not_sent: err.is_connect(),
        timed_out: err.is_timeout(),
        detail,
    }
}

/// The message and the machine-readable `status` of an error answer. Fly
/// answers errors as `{"error": "...", "status": "..."}` (the `status` only
/// sometimes); anything else is quoted in part.
fn error_body(status: StatusCode, body: &[u8]) -> (String, Option<String>) {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        error: String,
        #[serde(default)]
        status: Option<String>,
    }
    if let Ok(parsed) = serde_json::from_slice::<ErrorBody>(body) {
        let code = parsed.status.filter(|code| !code.is_empty());
        return (parsed.error, code);
    }
    (error_message(status, body), None)
}

/// The start of a body that is not Fly's error JSON, or the status's name.
fn error_message(status: StatusCode, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return status.canonical_reason().unwrap_or("no message").to_owned();
    }
    let mut quoted: String = text.chars().take(MAX_MESSAGE_CHARS).collect();
    if text.chars().count() > MAX_MESSAGE_CHARS {
        quoted.push('…');
    }
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_come_from_the_error_field_or_the_body() {
        let message = |status, body: &[u8]| error_body(status, body).0;
        assert_eq!(
            message(
                StatusCode::UNPROCESSABLE_ENTITY,
                br#"{"error":"bad region"}"#
            ),
            "bad region"
        );
        assert_eq!(
            message(StatusCode::BAD_GATEWAY, b"  upstream down "),
            "upstream down"
        );
        assert_eq!(message(StatusCode::BAD_GATEWAY, b""), "Bad Gateway");
        let long = "x".repeat(1000);
        assert_eq!(
            message(StatusCode::BAD_GATEWAY, long.as_bytes())
                .chars()
                .count(),
            MAX_MESSAGE_CHARS + 1
        );
    }

    #[test]
    fn a_lease_nonce_is_read_at_the_top_or_under_data() {
        assert_eq!(
            lease_nonce(br#"{"nonce":"n1","expires_at":1}"#).as_deref(),
            Some("n1")
        );
        assert_eq!(
            lease_nonce(br#"{"status":"success","data":{"nonce":"n2"}}"#).as_deref(),
            Some("n2")
        );
        assert_eq!(lease_nonce(br#"{"nonce":""}"#), None);
        assert_eq!(lease_nonce(b"not json"), None);
    }

    #[test]
    fn the_bodys_status_is_kept_beside_the_message() {
        assert_eq!(
            error_body(
                StatusCode::SERVICE_UNAVAILABLE,
                br#"{"error":"no room","status":"insufficient_capacity"}"#
            ),
            (
                "no room".to_owned(),
                Some("insufficient_capacity".to_owned())
            )
        );
        assert_eq!(
            error_body(StatusCode::CONFLICT, br#"{"error":"taken","status":""}"#),
            ("taken".to_owned(), None)
        );
        assert_eq!(
            error_body(StatusCode::CONFLICT, br#"{"error":"taken"}"#).1,
            None
        );
    }
}
