//! A stateful fake of the Fly Machines API on 127.0.0.1, for tests.
//!
//! Enabled by the cargo feature `fake-api`. This crate's own tests use it,
//! and so can end-to-end tests of programs built on `placer-fly`:
//!
//! ```toml
//! [dev-dependencies]
//! placer-fly = { workspace = true, features = ["fake-api"] }
//! ```
//!
//! It follows Fly's published description of the Machines API (Swagger
//! 2.0) for the endpoints fly-placer uses: list (`include_deleted`,
//! `region`), create, get, destroy (`force`), stop, start, wait (`state`,
//! `timeout`, `instance_id`), and get, set and delete metadata, with
//! machines that have an id, name, state, region, instance_id, config
//! (metadata, image, guest, services, anything else verbatim) and
//! created_at. Errors are `{"error": "..."}` (the description's
//! `ErrorResponse`). placer-fly's tests check every request and answer
//! against JSON Schema derived from that description
//! (`placer-fly/tests/contract/`).
//!
//! Where the description says nothing, the fake models what the API does:
//! machines have a `host_status`; a wrong token gets 401 and a wrong app or
//! machine 404; a wait that runs out answers 408; a `DELETE` without
//! `force=true` of a machine that is not stopped answers 412; setting
//! metadata takes `{"value": "..."}`; a stop sends its `signal` and kills
//! the process after its `timeout` (else the config's
//! `stop_config.timeout`, else 5 s), the machine being `stopping` until
//! then ([`set_stop_delay`](FakeMachinesApi::set_stop_delay),
//! [`set_stops_hang`](FakeMachinesApi::set_stops_hang),
//! [`stops`](FakeMachinesApi::stops)).
//!
//! Leases (`POST`, `GET` and `DELETE …/machines/{id}/lease`, the
//! description's `CreateLeaseRequest` and `Lease`): a lease lasts its
//! `ttl` seconds (30 without one); while it lasts, another `POST …/lease`
//! answers 409 unless it carries the lease's nonce in the
//! `fly-machine-lease-nonce` header (then it extends the lease), and so
//! does every change to the machine (stop, start, destroy, metadata,
//! update) without that nonce; `DELETE …/lease` with the nonce releases
//! it, with another one answers 409. The description names no status for
//! these refusals; 409 is the fake's choice.
//! [`hold_lease`](FakeMachinesApi::hold_lease) plays another client.
//!
//! Fly's published rate limits
//! ([`set_limits`](FakeMachinesApi::set_limits), off by default): per app
//! and action, per machine for getting one machine, 429 with
//! `Retry-After` beyond them, counted by
//! [`throttled`](FakeMachinesApi::throttled).
//!
//! Machine names are unique within the app: a create whose `name` a machine
//! that is not destroyed already has is refused with 409 Conflict, changing
//! nothing, and a destroyed machine's name is free again. The API's
//! description says only "Unique name for this Machine"; it states neither
//! the status of the refusal nor whether destroyed machines keep their
//! names, so this is the fake's reading. A create without a name gets a
//! generated one. Tests of what holds without that check turn it off
//! ([`set_unique_names`](FakeMachinesApi::set_unique_names)): then any
//! number of machines may share a name.
//!
//! `GET /v1/platform/regions` (which Fly's published description leaves
//! out; the shape is the one Fly's Go client reads) lists every catalogued
//! region with room for [`DEFAULT_CAPACITY`] machines, those other than the
//! compute regions
//! ([`COMPUTE_REGIONS`](placer_core::network::platform::COMPUTE_REGIONS))
//! deprecated (a create there is not refused: what Fly answers is not
//! described, and a test sees the create in the requests). The room is one
//! count per region whatever `?size=` asks for; it shrinks as machines
//! start in the region and grows as they stop or are destroyed, and a
//! create in a region without room is refused with 503 and
//! `{"status": "insufficient_capacity", "error": "..."}`
//! ([`set_region_capacity`](FakeMachinesApi::set_region_capacity),
//! [`set_region_deprecated`](FakeMachinesApi::set_region_deprecated),
//! [`set_platform_regions_failure`](FakeMachinesApi::set_platform_regions_failure)).
//!
//! It can hold several apps of one organization
//! ([`add_app`](FakeMachinesApi::add_app),
//! [`delete_app`](FakeMachinesApi::delete_app), [`MachineSpec::app`]), each
//! with its own machines behind `/v1/apps/{app}/machines`, and lists them
//! at `GET /v1/apps?org_slug=` (`ListAppsResponse`: `apps` with `id`,
//! `name`, `machine_count`, and `total_apps`); the organization is
//! `personal` unless [`set_org`](FakeMachinesApi::set_org) says otherwise.
//!
//! For tests it can also: answer 429 with `Retry-After` or any error status
//! ([`Fault`]), carry a request out and still answer with an error, hold
//! responses back (one request's, or every answer with
//! [`set_answer_delay`](FakeMachinesApi::set_answer_delay)), count the most
//! requests it answered at once
//! ([`most_in_flight`](FakeMachinesApi::most_in_flight)), show new machines
//! in the listing only after a delay
//! ([`set_list_lag`](FakeMachinesApi::set_list_lag)), let machines take time
//! to start, and it records every request ([`RecordedRequest`]) with the
//! token redacted, for snapshots.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use placer_core::RegionActuator;
//! use placer_fly::fake::{FakeMachinesApi, MachineSpec};
//! use placer_fly::{ApiToken, FlyMachinesActuator, FlyOptions};
//!
//! let api = FakeMachinesApi::start("my-app", "test-token").await.unwrap();
//! api.add_machine(MachineSpec::new("iad"));
//!
//! let mut settings = FlyOptions::new("my-app".parse().unwrap(), ApiToken::new("test-token"));
//! settings.api_url = api.base_url();
//! let actuator = FlyMachinesActuator::new(settings).unwrap();
//! actuator.deploy(&"fra".parse().unwrap()).await.unwrap();
//! assert_eq!(api.live_regions(), ["fra", "iad"]);
//! # }
//! ```

mod handler;
mod model;
mod platform;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::ApiToken;
use serde::Serialize;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::machine::Machine;

pub use model::MachineSpec;
pub use platform::{PlatformFailure, DEFAULT_CAPACITY};

/// A failure the fake produces instead of (or on top of) a normal answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer 429 with `Retry-After: <seconds>`, changing nothing.
    TooManyRequests {
        /// The `Retry-After` value in seconds.
        retry_after_secs: u64,
    },
    /// Answer `status` with `{"error": message}`, changing nothing.
    Error {
        /// The HTTP status.
        status: u16,
        /// The error message.
        message: String,
    },
    /// Answer `status` with `{"error": message, "status": code}`, changing
    /// nothing: the machine-readable reason Fly's API description lists
    /// (`insufficient_capacity` for a region without room).
    ErrorWithStatus {
        /// The HTTP status.
        status: u16,
        /// The body's `status`, e.g. `insufficient_capacity`.
        code: String,
        /// The error message.
        message: String,
    },
    /// Carry out the request, then hold the response back this long: a
    /// client that gives up first does not learn that the change happened.
    Slow(Duration),
    /// Carry out the request, then answer `status` with `{"error": message}`
    /// instead of its result: e.g. a create that made the machine but
    /// answered 500, so the client does not learn that it exists.
    ErrorAfterChange {
        /// The HTTP status.
        status: u16,
        /// The error message.
        message: String,
    },
}

/// One request the fake received.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: String,
    /// Path and query string.
    pub path: String,
    /// The `authorization` (with the token replaced by `[redacted]`),
    /// `content-type` and `accept` headers, when sent.
    pub headers: std::collections::BTreeMap<String, String>,
    /// The JSON body, if any (`{"unparsed": "..."}` for non-JSON bodies).
    pub body: Option<serde_json::Value>,
    /// When the request arrived.
    #[serde(skip)]
    pub received: tokio::time::Instant,
    /// The fake's answer, once it was sent (not part of snapshots).
    #[serde(skip)]
    pub response: Option<RecordedResponse>,
    /// Tells this request apart from others with the same content.
    #[serde(skip)]
    pub(crate) seq: u64,
}

/// The answer the fake gave to a [`RecordedRequest`].
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedResponse {
    /// HTTP status.
    pub status: u16,
    /// The JSON body, if any.
    pub body: Option<serde_json::Value>,
}

/// One `POST …/stop` the fake accepted: what the client asked for
/// (`StopRequest`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopRecord {
    /// The machine's id.
    pub machine: String,
    /// The `signal` sent, e.g. `SIGINT`.
    pub signal: Option<String>,
    /// The `timeout` sent, read as Fly reads it.
    pub timeout: Option<Duration>,
}

/// A running fake Machines API; stops when dropped.
pub struct FakeMachinesApi {
    addr: SocketAddr,
    state: Arc<Mutex<model::FakeState>>,
    shutdown: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
}

impl std::fmt::Debug for FakeMachinesApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeMachinesApi")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl FakeMachinesApi {
    /// Starts the fake for `app` on a free port of 127.0.0.1. Requests must
    /// carry `token` as a fly-placer client sends it (see
    /// [`authorization_header`](crate::authorization_header)).
    ///
    /// # Errors
    /// When no loopback port can be bound.
    pub async fn start(app: &str, token: &str) -> std::io::Result<Self> {
        let expected = crate::authorization_header(&ApiToken::new(token));
        let state = Arc::new(Mutex::new(model::FakeState::new(app, expected)));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let router = handler::router(state.clone());
        let (shutdown, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let serve = axum::serve(listener, router).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(err) = serve.await {
                tracing::warn!(%err, "fake Machines API stopped with an error");
            }
        });
        Ok(FakeMachinesApi {
            addr,
            state,
            shutdown: Some(shutdown),
            server,
        })
    }

    /// The base URL to put in `FlyOptions::api_url`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Adds a machine as if the app had been deployed with it; returns its
    /// id. The machine goes to the app the fake was started for unless the
    /// spec names another ([`MachineSpec::app`]).
    pub fn add_machine(&self, spec: MachineSpec) -> String {
        let mut state = self.lock();
        state.scope = state.app.clone();
        state.add(spec)
    }

    /// Every machine of the app the fake was started for, destroyed ones
    /// included, in its current true state (no listing lag).
    pub fn machines(&self) -> Vec<Machine> {
        let mut state = self.lock();
        let app = state.app.clone();
        state.snapshot(&app)
    }

    /// Every machine of `app`, destroyed ones included.
    pub fn machines_of(&self, app: &str) -> Vec<Machine> {
        self.lock().snapshot(app)
    }

    /// Creates another app in the fake's organization (no machines yet):
    /// it answers on its own `/v1/apps/{app}/machines` endpoints, with the
    /// same token, and `GET /v1/apps?org_slug=` lists it.
    pub fn add_app(&self, app: &str) {
        self.lock().apps.insert(app.to_owned(), model::app_id(app));
    }

    /// Deletes `app` with its machines: its endpoints answer 404 and the
    /// organization's listing no longer shows it.
    pub fn delete_app(&self, app: &str) {
        self.lock().delete_app(app);
    }

    /// Sets the organization's slug (`personal` unless set), the only
    /// `org_slug` for which `GET /v1/apps` lists the apps (another answers
    /// 404).
    pub fn set_org(&self, slug: &str) {
        self.lock().org = slug.to_owned();
    }

    /// From now on, creating a machine in `region` fails with `status` and
    /// `{"error": message}`, as Fly answers for a region at capacity or one
    /// it does not have. `None` makes the region available again.
    pub fn set_region_unavailable(&self, region: &str, refusal: Option<(u16, &str)>) {
        let mut state = self.lock();
        match refusal {
            Some((status, message)) => {
                state
                    .unavailable
                    .insert(region.to_owned(), (status, message.to_owned()));
            }
            None => {
                state.unavailable.remove(region);
            }
        }
    }

    /// Marks `region` deprecated or not in `GET /v1/platform/regions` (by
    /// default the compute regions are not, every other catalogued region
    /// is). A region the fake did not list is added.
    pub fn set_region_deprecated(&self, region: &str, deprecated: bool) {
        self.lock().platform.set_deprecated(region, deprecated);
    }

    /// Sets how many more machines may start in `region` now (`None`: the
    /// answer leaves `capacity` out, and creates there never fail for it).
    /// The room shrinks as machines start there and grows as they stop or
    /// are destroyed; a create in a region without room is refused with
    /// 503 and `{"status": "insufficient_capacity", "error": "..."}`.
    pub fn set_region_capacity(&self, region: &str, capacity: Option<u64>) {
        let mut state = self.lock();
        let running = state.running_in(region);
        state.platform.set_capacity(region, capacity, running);
    }

    /// The room `GET /v1/platform/regions` shows for `region` now.
    pub fn region_capacity(&self, region: &str) -> Option<u64> {
        let mut state = self.lock();
        let running = state.running_in(region);
        state.platform.capacity(region, running)
    }

    /// From now on `GET /v1/platform/regions` fails this way (`None`: it
    /// answers the regions again).
    pub fn set_platform_regions_failure(&self, failure: Option<PlatformFailure>) {
        self.lock().platform.failure = failure;
    }

    /// Sorted, deduplicated regions that have a machine not destroyed.
    pub fn live_regions(&self) -> Vec<String> {
        Self::live(self.machines())
    }

    /// [`live_regions`](Self::live_regions) of `app`.
    pub fn live_regions_of(&self, app: &str) -> Vec<String> {
        Self::live(self.machines_of(app))
    }

    fn live(machines: Vec<Machine>) -> Vec<String> {
        let mut regions: Vec<String> = machines
            .into_iter()
            .filter(|m| m.state != "destroyed")
            .map(|m| m.region.to_string())
            .collect();
        regions.sort();
        regions.dedup();
        regions
    }

    /// Changes a machine's state (e.g. `"failed"`) or host status (e.g.
    /// `"unreachable"`), as Fly might at any time.
    pub fn set_machine(&self, id: &str, state: Option<&str>, host_status: Option<&str>) {
        self.lock().set_machine(id, state, host_status);
    }

    /// Starts a stopped (or never started) machine the way Fly's proxy
    /// does when every running machine of its region is over its soft
    /// limit: no request, no lease, just the new state. `false` when there
    /// is no such machine, or it is not stopped.
    pub fn proxy_start(&self, id: &str) -> bool {
        self.proxy_turn(id, &["stopped", "suspended", "created"], "started")
    }

    /// Stops a started machine the way Fly's proxy does once it is idle
    /// (autostop). `false` when there is no such machine, or it is not
    /// started.
    pub fn proxy_stop(&self, id: &str) -> bool {
        self.proxy_turn(id, &["started"], "stopped")
    }

    fn proxy_turn(&self, id: &str, from: &[&str], to: &str) -> bool {
        self.lock().proxy_turn(id, from, to)
    }

    /// Queues `fault` for the next request, whatever it is.
    pub fn inject(&self, fault: Fault) {
        self.lock().faults.push_back((None, fault));
    }

    /// Queues `fault` for the next request with `method` whose path (without
    /// query) ends with `path_suffix`, e.g. `("POST", "/machines")` for a create.
    pub fn inject_on(&self, method: &str, path_suffix: &str, fault: Fault) {
        let matcher = (method.to_ascii_uppercase(), path_suffix.to_owned());
        self.lock().faults.push_back((Some(matcher), fault));
    }

    /// Whether a create under a name that a machine not destroyed already
    /// has is refused with 409 (`true`, the default). With `false` the fake
    /// creates a second machine of that name, as an API that does not keep
    /// names unique would: for tests of what guards against duplicates
    /// besides the name.
    pub fn set_unique_names(&self, unique: bool) {
        self.lock().unique_names = unique;
    }

    /// New machines appear in the listing, and destroyed ones leave it, only
    /// `lag` after the change (the API's eventual consistency).
    pub fn set_list_lag(&self, lag: Duration) {
        self.lock().list_lag = lag;
    }

    /// Machines created or started from now on stay `starting` this long.
    pub fn set_start_delay(&self, delay: Duration) {
        self.lock().start_delay = delay;
    }

    /// The longest one wait request is held before it answers 408, whatever
    /// its `timeout` asks: 60 s by default, as Fly's description says
    /// ("This request will block for up to 60 seconds"). Shorten it to test
    /// waits longer than one request in less time.
    pub fn set_max_wait(&self, max: Duration) {
        self.lock().max_wait = max;
    }

    /// Stopped machines take this long to exit after the stop signal; a
    /// process still running after the stop's timeout (the request's, else
    /// the config's `stop_config.timeout`, else 5 s) is killed, as Fly does.
    /// Until then the machine is `stopping`.
    pub fn set_stop_delay(&self, delay: Duration) {
        self.lock().stop_delay = delay;
    }

    /// While set, stop requests are accepted but machines stay `stopping`,
    /// as on a host that does not answer.
    pub fn set_stops_hang(&self, hang: bool) {
        self.lock().stops_hang = hang;
    }

    /// From now on every answer is held back `delay` after the request was
    /// carried out, as from a distant or busy API: requests sent together
    /// are then in flight together.
    pub fn set_answer_delay(&self, delay: Duration) {
        self.lock().answer_delay = delay;
    }

    /// The most requests the fake was answering at once so far (counted
    /// from a request's arrival to its answer, holds and delays included).
    pub fn most_in_flight(&self) -> usize {
        self.lock().most_in_flight
    }

    /// From now on, enforces Fly's Machines API limits with these numbers
    /// (`None`: no limits, the default): each action of each app (getting
    /// one machine: of each machine) beyond its rate and burst is answered
    /// 429 with `Retry-After` in whole seconds, changing nothing. A request
    /// up to 50 ms early still passes: the trips of two requests across
    /// loopback are never exactly alike.
    pub fn set_limits(&self, limits: Option<crate::ApiLimits>) {
        self.lock().limits = limits;
    }

    /// How many requests the fake answered 429 because they went beyond
    /// the limits of [`set_limits`](Self::set_limits) (injected faults
    /// not counted).
    pub fn throttled(&self) -> u64 {
        self.lock().throttled
    }

    /// Another client (a `fly deploy`, say) takes machine `id`'s lease for
    /// `ttl`: its nonce, or `None` when the machine is unknown or already
    /// leased. Until it expires, taking the lease answers 409, and so does
    /// every change to the machine that does not carry its nonce.
    pub fn hold_lease(&self, id: &str, ttl: Duration) -> Option<String> {
        self.lock().hold_lease(id, ttl)
    }

    /// Every stop request accepted so far, in order.
    pub fn stops(&self) -> Vec<StopRecord> {
        self.lock().stops.clone()
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    /// Returns the requests received so far and forgets them.
    pub fn take_requests(&self) -> Vec<RecordedRequest> {
        std::mem::take(&mut self.lock().requests)
    }

    fn lock(&self) -> MutexGuard<'_, model::FakeState> {
        lock(&self.state)
    }
}

impl Drop for FakeMachinesApi {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        self.server.abort();
    }
}

fn lock(state: &Mutex<model::FakeState>) -> MutexGuard<'_, model::FakeState> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
