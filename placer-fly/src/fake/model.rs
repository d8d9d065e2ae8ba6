//! The fake's machines and what each endpoint does to them.

use std::collections::VecDeque;
use std::time::Duration;

use placer_core::{Region, Timestamp};
use serde_json::{json, Value};
use tokio::time::Instant;

use super::platform::FakePlatform;
use super::{Fault, RecordedRequest, StopRecord};
use crate::machine::{Machine, MachineConfig};
use crate::options::{MANAGED_KEY, MANAGED_VALUE, PROCESS_GROUP_KEY};

/// A machine to add to the fake, as `fly deploy` would have made it.
#[derive(Debug, Clone)]
pub struct MachineSpec {
    app: Option<String>,
    name: Option<String>,
    region: String,
    state: String,
    host_status: String,
    created_at: Option<String>,
    config: MachineConfig,
}

impl MachineSpec {
    /// A started machine of process group `app` in `region`, with an image,
    /// a shared-cpu guest and one HTTP service, not marked as fly-placer's.
    pub fn new(region: &str) -> Self {
        let mut config = MachineConfig {
            image: Some("registry.fly.io/my-app:deployment-01".to_owned()),
            ..MachineConfig::default()
        };
        config
            .metadata
            .insert(PROCESS_GROUP_KEY.to_owned(), "app".to_owned());
        config.other.insert(
            "guest".to_owned(),
            json!({"cpu_kind": "shared", "cpus": 1, "memory_mb": 256}),
        );
        config.other.insert(
            "services".to_owned(),
            json!([{"protocol": "tcp", "internal_port": 8080, "autostart": true,
                    "ports": [{"port": 443, "handlers": ["tls", "http"]}]}]),
        );
        MachineSpec {
            app: None,
            name: None,
            region: region.to_owned(),
            state: "started".to_owned(),
            host_status: "ok".to_owned(),
            created_at: None,
            config,
        }
    }

    /// Sets the name; by default `<app>-<region>-<n>`, `n` counting the
    /// machines added so far.
    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }

    /// Puts the machine in another app of the fake's organization (see
    /// [`add_app`](super::FakeMachinesApi::add_app)); by default it goes to
    /// the app the fake was started for.
    pub fn app(mut self, app: &str) -> Self {
        self.app = Some(app.to_owned());
        self
    }

    /// Sets the state, e.g. `"stopped"`.
    pub fn state(mut self, state: &str) -> Self {
        self.state = state.to_owned();
        self
    }

    /// Sets the host status, e.g. `"unreachable"`.
    pub fn host_status(mut self, host_status: &str) -> Self {
        self.host_status = host_status.to_owned();
        self
    }

    /// Sets `created_at` (RFC 3339); by default machines are created one
    /// minute apart from 2026-01-01T00:00:00Z in the order they are added.
    pub fn created_at(mut self, created_at: &str) -> Self {
        self.created_at = Some(created_at.to_owned());
        self
    }

    /// Puts the machine in another process group.
    pub fn process_group(self, group: &str) -> Self {
        self.metadata(PROCESS_GROUP_KEY, group)
    }

    /// Marks the machine as created by fly-placer.
    pub fn managed(self) -> Self {
        self.metadata(MANAGED_KEY, MANAGED_VALUE)
    }

    /// Sets a metadata entry.
    pub fn metadata(mut self, key: &str, value: &str) -> Self {
        self.config
            .metadata
            .insert(key.to_owned(), value.to_owned());
        self
    }

    /// Sets any other config field, e.g. `mounts`.
    pub fn config_field(mut self, key: &str, value: Value) -> Self {
        self.config.other.insert(key.to_owned(), value);
        self
    }
}

/// A machine and what the listing does not show yet.
struct Entry {
    /// The app the machine belongs to.
    app: String,
    machine: Machine,
    /// Listed only from this instant on.
    listed_from: Instant,
    /// After a destroy: the state the listing keeps showing until then.
    listed_as_before: Option<(String, Instant)>,
    /// While `starting`: when it becomes `started`.
    started_at: Option<Instant>,
    /// While `stopping`: when it becomes `stopped` (never if `None`).
    stopped_at: Option<Instant>,
    /// The machine's lease, while someone holds one (it may have expired).
    lease: Option<FakeLease>,
}

/// A lease on one machine.
#[derive(Debug, Clone)]
struct FakeLease {
    nonce: String,
    owner: String,
    description: String,
    expires: Instant,
    expires_at_unix: u64,
}

impl FakeLease {
    fn is_live(&self, now: Instant) -> bool {
        now < self.expires
    }

    fn to_json(&self) -> Value {
        json!({
            "nonce": self.nonce,
            "owner": self.owner,
            "description": self.description,
            "expires_at": self.expires_at_unix,
            "version": "1",
        })
    }
}

/// The lease TTL when a request gives none.
const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(30);

/// How early a request may arrive and still count as within Fly's limits:
/// the client spaces its requests by the rate, and the trips of two
/// requests across loopback are never exactly alike.
const LIMIT_TOLERANCE: Duration = Duration::from_millis(50);

/// What the fake answers: status, JSON body (or text that is not JSON),
/// and `Retry-After` seconds.
pub(super) struct Reply {
    pub(super) status: u16,
    pub(super) body: Option<Value>,
    pub(super) text: Option<String>,
    pub(super) retry_after: Option<u64>,
}

impl Reply {
    pub(super) fn json(status: u16, body: Value) -> Self {
        Reply {
            status,
            body: Some(body),
            text: None,
            retry_after: None,
        }
    }

    /// A body that is not JSON, as a proxy in trouble answers.
    pub(super) fn text(status: u16, text: &str) -> Self {
        Reply {
            status,
            body: None,
            text: Some(text.to_owned()),
            retry_after: None,
        }
    }

    pub(super) fn error(status: u16, message: &str) -> Self {
        Reply::json(status, json!({ "error": message }))
    }

    pub(super) fn ok() -> Self {
        Reply::json(200, json!({ "ok": true }))
    }

    pub(super) fn no_content() -> Self {
        Reply {
            status: 204,
            body: None,
            text: None,
            retry_after: None,
        }
    }
}

pub(super) struct FakeState {
    /// The app the fake was started for.
    pub(super) app: String,
    /// The app the request being answered is about (set by the router).
    pub(super) scope: String,
    /// The organization's apps, the first one included, with their ids.
    pub(super) apps: std::collections::BTreeMap<String, String>,
    /// The organization's slug (`GET /v1/apps?org_slug=`).
    pub(super) org: String,
    pub(super) expected_authorization: String,
    entries: Vec<Entry>,
    created: u64,
    pub(super) faults: VecDeque<(Option<(String, String)>, Fault)>,
    pub(super) list_lag: Duration,
    pub(super) start_delay: Duration,
    /// The longest one wait request is held (Fly: 60 s).
    pub(super) max_wait: Duration,
    pub(super) requests: Vec<RecordedRequest>,
    pub(super) next_seq: u64,
    pub(super) stop_delay: Duration,
    pub(super) stops_hang: bool,
    pub(super) stops: Vec<StopRecord>,
    /// Every answer is held back this long after the request was carried out.
    pub(super) answer_delay: Duration,
    /// Requests being answered now, and the most there ever were at once.
    pub(super) in_flight: usize,
    pub(super) most_in_flight: usize,
    /// Regions where creating a machine fails: the status and message.
    pub(super) unavailable: std::collections::BTreeMap<String, (u16, String)>,
    /// Fly's limits, when the fake enforces them.
    pub(super) limits: Option<crate::ApiLimits>,
    /// Tokens and last refill of each (app, action, machine) bucket.
    buckets: std::collections::HashMap<(String, &'static str, Option<String>), (f64, Instant)>,
    /// Requests answered 429 because they went beyond the limits.
    pub(super) throttled: u64,
    /// Leases handed out so far (their nonces count on it).
    leases: u64,
    /// Whether a create under a name a live machine has is refused.
    pub(super) unique_names: bool,
    /// `GET /v1/platform/regions` and the room each region has left.
    pub(super) platform: FakePlatform,
}

impl FakeState {
    pub(super) fn new(app: &str, expected_authorization: String) -> Self {
        FakeState {
            app: app.to_owned(),
            scope: app.to_owned(),
            apps: std::collections::BTreeMap::from([(app.to_owned(), app_id(app))]),
            org: "personal".to_owned(),
            expected_authorization,
            entries: Vec::new(),
            created: 0,
            faults: VecDeque::new(),
            list_lag: Duration::ZERO,
            start_delay: Duration::ZERO,
            max_wait: Duration::from_secs(60),
            requests: Vec::new(),
            next_seq: 0,
            stop_delay: Duration::ZERO,
            stops_hang: false,
            stops: Vec::new(),
            answer_delay: Duration::ZERO,
            in_flight: 0,
            most_in_flight: 0,
            unavailable: std::collections::BTreeMap::new(),
            limits: None,
            buckets: std::collections::HashMap::new(),
            throttled: 0,
            leases: 0,
            unique_names: true,
            platform: FakePlatform::default(),
        }
    }

    /// When the fake enforces Fly's limits and a request of `action` on
    /// `scope` (about `machine` for a get of one machine) goes beyond them:
    /// the `Retry-After` seconds of the 429 it gets. The request is counted
    /// otherwise.
    pub(super) fn over_limit(
        &mut self,
        scope: &str,
        action: &'static str,
        machine: Option<&str>,
    ) -> Option<u64> {
        let limits = self.limits.as_ref()?;
        let (rate, burst) = if action == "get" {
            (limits.get_requests_per_second, limits.get_burst)
        } else {
            (limits.requests_per_second, limits.burst)
        };
        if !(rate.is_finite() && rate > 0.0) {
            return None;
        }
        let burst = f64::from(burst.max(1));
        let now = Instant::now();
        let key = (
            scope.to_owned(),
            action,
            machine.filter(|_| action == "get").map(str::to_owned),
        );
        let (tokens, updated) = self.buckets.entry(key).or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*updated).as_secs_f64() * rate).min(burst);
        *updated = now;
        let needed = 1.0 - LIMIT_TOLERANCE.as_secs_f64() * rate;
        if *tokens >= needed {
            *tokens -= 1.0;
            return None;
        }
        self.throttled += 1;
        Some(((1.0 - *tokens) / rate).ceil().max(1.0) as u64)
    }

    /// The refusal of a change to machine `id` while another client holds
    /// its lease: the request must carry the live lease's nonce.
    pub(super) fn lease_refusal(&mut self, id: &str, nonce: Option<&str>) -> Option<Reply> {
        let now = Instant::now();
        let entry = self.find(id)?;
        let lease = entry.lease.as_ref().filter(|lease| lease.is_live(now))?;
        if nonce == Some(lease.nonce.as_str()) {
            return None;
        }
        Some(Reply::error(
            409,
            &format!(
                "machine {id} is leased by {} until {}; send its lease nonce to change it",
                lease.owner, lease.expires_at_unix
            ),
        ))
    }

    /// `POST …/lease`: a new lease on a machine without a live one, or the
    /// same lease longer for the holder of its nonce; 409 while another
    /// client holds it.
    pub(super) fn acquire_lease(
        &mut self,
        id: &str,
        body: Option<&Value>,
        nonce: Option<&str>,
        owner: &str,
    ) -> Reply {
        let ttl = match body.and_then(|b| b.get("ttl")) {
            None | Some(Value::Null) => DEFAULT_LEASE_TTL,
            Some(ttl) => match ttl.as_u64() {
                Some(seconds) if seconds > 0 => Duration::from_secs(seconds),
                _ => return Reply::error(400, &format!("invalid ttl {ttl}")),
            },
        };
        let description = body
            .and_then(|b| b.get("description"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        self.leases += 1;
        let fresh = format!("{:032x}", 0xfa4e_0000_u64 + self.leases);
        let now = Instant::now();
        let Some(entry) = self.find(id) else {
            return Reply::error(404, "machine not found");
        };
        let held = entry.lease.as_ref().filter(|lease| lease.is_live(now));
        let nonce = match held {
            Some(lease) if nonce == Some(lease.nonce.as_str()) => lease.nonce.clone(),
            Some(lease) => {
                return Reply::error(
                    409,
                    &format!(
                        "lease currently held by {} until {}",
                        lease.owner, lease.expires_at_unix
                    ),
                )
            }
            None => fresh,
        };
        let expires_at_unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_secs())
            + ttl.as_secs();
        let lease = FakeLease {
            nonce,
            owner: owner.to_owned(),
            description,
            expires: now + ttl,
            expires_at_unix,
        };
        let answer = lease.to_json();
        entry.lease = Some(lease);
        Reply::json(200, answer)
    }

    /// `GET …/lease`: the live lease, or 404.
    pub(super) fn show_lease(&mut self, id: &str) -> Reply {
        let now = Instant::now();
        let Some(entry) = self.find(id) else {
            return Reply::error(404, "machine not found");
        };
        match entry.lease.as_ref().filter(|lease| lease.is_live(now)) {
            Some(lease) => Reply::json(200, lease.to_json()),
            None => Reply::error(404, "no active lease"),
        }
    }

    /// `DELETE …/lease`: only with the live lease's nonce (409 otherwise);
    /// a machine without a live lease has nothing to release (404).
    pub(super) fn release_lease(&mut self, id: &str, nonce: Option<&str>) -> Reply {
        let now = Instant::now();
        let Some(entry) = self.find(id) else {
            return Reply::error(404, "machine not found");
        };
        match entry.lease.as_ref().filter(|lease| lease.is_live(now)) {
            None => {
                entry.lease = None;
                Reply::error(404, "no active lease")
            }
            Some(lease) if nonce == Some(lease.nonce.as_str()) => {
                entry.lease = None;
                Reply::ok()
            }
            Some(lease) => Reply::error(
                409,
                &format!("lease currently held by {}; wrong nonce", lease.owner),
            ),
        }
    }

    /// Another client takes machine `id`'s lease for `ttl`: its nonce, or
    /// `None` when the machine is unknown or already leased.
    pub(super) fn hold_lease(&mut self, id: &str, ttl: Duration) -> Option<String> {
        let scope = self
            .entries
            .iter()
            .find(|e| e.machine.id == id)
            .map(|e| e.app.clone())?;
        self.scope = scope;
        let body = json!({ "ttl": ttl.as_secs().max(1), "description": "fly deploy" });
        let reply = self.acquire_lease(id, Some(&body), None, "someone@example.com");
        (reply.status == 200)
            .then(|| reply.body?.get("nonce")?.as_str().map(str::to_owned))
            .flatten()
    }

    /// Machines of any app running (or starting) in `region` now: each
    /// takes room there.
    pub(super) fn running_in(&mut self, region: &str) -> u64 {
        self.tick(Instant::now());
        self.entries
            .iter()
            .filter(|e| {
                e.machine.region.as_str() == region
                    && matches!(e.machine.state.as_str(), "started" | "starting")
            })
            .count() as u64
    }

    /// `GET /v1/platform/regions`: one room count whatever the `size`.
    pub(super) fn platform_regions(&mut self, _size: Option<&str>) -> Reply {
        self.tick(Instant::now());
        let entries = &self.entries;
        self.platform.answer(|region| {
            entries
                .iter()
                .filter(|e| {
                    e.machine.region.as_str() == region
                        && matches!(e.machine.state.as_str(), "started" | "starting")
                })
                .count() as u64
        })
    }

    /// The first queued fault that applies to this request.
    pub(super) fn take_fault(&mut self, method: &str, path: &str) -> Option<Fault> {
        let index = self.faults.iter().position(|(matcher, _)| match matcher {
            None => true,
            Some((m, suffix)) => m == method && path.ends_with(suffix.as_str()),
        })?;
        self.faults.remove(index).map(|(_, fault)| fault)
    }

    /// Adds a machine to the app `spec` names, else to the scope's app.
    pub(super) fn add(&mut self, spec: MachineSpec) -> String {
        let app = spec.app.clone().unwrap_or_else(|| self.scope.clone());
        let now = Instant::now();
        self.created += 1;
        let n = self.created;
        let id = format!("{:014x}", 0x003d_8d41_3000_0000_u64 + n);
        let created_at = spec.created_at.unwrap_or_else(|| {
            (Timestamp::from_unix_seconds(1_767_225_600) + Duration::from_secs(60 * n)).to_string()
        });
        let region = spec
            .region
            .parse::<Region>()
            .expect("MachineSpec needs a valid region");
        let machine = Machine {
            id: id.clone(),
            name: spec.name.unwrap_or_else(|| format!("{app}-{region}-{n}")),
            state: spec.state,
            region,
            instance_id: Some(format!("01FAKE{n:08}")),
            host_status: Some(spec.host_status),
            created_at: Some(created_at),
            config: spec.config,
            checks: Vec::new(),
        };
        self.entries.push(Entry {
            app,
            machine,
            listed_from: now,
            listed_as_before: None,
            started_at: None,
            stopped_at: None,
            lease: None,
        });
        id
    }

    /// Settles machines whose start time has come.
    fn tick(&mut self, now: Instant) {
        for entry in &mut self.entries {
            if let Some(at) = entry.started_at {
                if now >= at && entry.machine.state == "starting" {
                    entry.machine.state = "started".to_owned();
                    entry.started_at = None;
                }
            }
            if let Some(at) = entry.stopped_at {
                if now >= at && entry.machine.state == "stopping" {
                    entry.machine.state = "stopped".to_owned();
                    entry.stopped_at = None;
                }
            }
        }
    }

    /// Every machine of `app`, destroyed ones included.
    pub(super) fn snapshot(&mut self, app: &str) -> Vec<Machine> {
        self.tick(Instant::now());
        self.entries
            .iter()
            .filter(|e| e.app == app)
            .map(|e| e.machine.clone())
            .collect()
    }

    /// `GET /v1/apps?org_slug=`: the organization's apps.
    pub(super) fn list_apps(&mut self, org_slug: Option<&str>) -> Reply {
        let Some(org_slug) = org_slug.filter(|slug| !slug.is_empty()) else {
            return Reply::error(400, "org_slug is required");
        };
        if org_slug != self.org {
            return Reply::error(404, &format!("organization {org_slug} not found"));
        }
        self.tick(Instant::now());
        let apps: Vec<Value> = self
            .apps
            .iter()
            .map(|(name, id)| {
                let machines = self
                    .entries
                    .iter()
                    .filter(|e| &e.app == name && e.machine.state != "destroyed")
                    .count();
                json!({ "id": id, "name": name, "machine_count": machines })
            })
            .collect();
        Reply::json(200, json!({ "total_apps": apps.len(), "apps": apps }))
    }

    /// Deletes `app` and its machines, as `fly apps destroy` does.
    pub(super) fn delete_app(&mut self, app: &str) {
        self.apps.remove(app);
        self.entries.retain(|e| e.app != app);
    }

    pub(super) fn set_machine(&mut self, id: &str, state: Option<&str>, host: Option<&str>) {
        if let Some(entry) = self.entries.iter_mut().find(|e| e.machine.id == id) {
            if let Some(state) = state {
                entry.machine.state = state.to_owned();
            }
            if let Some(host) = host {
                entry.machine.host_status = Some(host.to_owned());
            }
        }
    }

    /// Moves machine `id` (of any app) from one of the states `from` to
    /// `to`, as Fly's proxy does; false when it is in none of them.
    pub(super) fn proxy_turn(&mut self, id: &str, from: &[&str], to: &str) -> bool {
        self.tick(Instant::now());
        match self.entries.iter_mut().find(|e| e.machine.id == id) {
            Some(entry) if from.contains(&entry.machine.state.as_str()) => {
                entry.machine.state = to.to_owned();
                entry.started_at = None;
                entry.stopped_at = None;
                true
            }
            _ => false,
        }
    }

    fn find(&mut self, id: &str) -> Option<&mut Entry> {
        let scope = &self.scope;
        self.entries
            .iter_mut()
            .find(|e| &e.app == scope && e.machine.id == id && e.machine.state != "destroyed")
    }

    fn launch(&self, entry: &mut Entry, now: Instant) {
        if self.start_delay.is_zero() {
            entry.machine.state = "started".to_owned();
        } else {
            entry.machine.state = "starting".to_owned();
            entry.started_at = Some(now + self.start_delay);
        }
    }

    pub(super) fn list(&mut self, include_deleted: bool, region: Option<&str>) -> Reply {
        let now = Instant::now();
        self.tick(now);
        let listed: Vec<Machine> = self
            .entries
            .iter()
            .filter(|e| e.app == self.scope && now >= e.listed_from)
            .filter(|e| region.is_none_or(|r| e.machine.region.as_str() == r))
            .filter_map(|e| {
                let mut machine = e.machine.clone();
                if let Some((before, until)) = &e.listed_as_before {
                    if now < *until {
                        machine.state = before.clone();
                    }
                }
                (include_deleted || machine.state != "destroyed").then_some(machine)
            })
            .collect();
        Reply::json(
            200,
            serde_json::to_value(listed).expect("machines serialize"),
        )
    }

    pub(super) fn create(&mut self, body: Option<&Value>) -> Reply {
        let Some(body) = body else {
            return Reply::error(400, "request body must be JSON");
        };
        let Some(region) = body.get("region").and_then(Value::as_str) else {
            return Reply::error(400, "region is required");
        };
        if region.parse::<Region>().is_err() {
            return Reply::error(400, &format!("invalid region {region:?}"));
        }
        if let Some((status, message)) = self.unavailable.get(region) {
            return Reply::error(*status, message);
        }
        let running = self.running_in(region);
        if self.platform.capacity(region, running) == Some(0) {
            // As Fly answers a region without room for the machine.
            return Reply::json(
                503,
                json!({
                    "error": format!("insufficient resources to create a machine in {region}"),
                    "status": crate::INSUFFICIENT_CAPACITY,
                }),
            );
        }
        let config: MachineConfig = match serde_json::from_value(body["config"].clone()) {
            Ok(config) => config,
            Err(err) => return Reply::error(400, &format!("invalid config: {err}")),
        };
        if config.image.as_deref().unwrap_or("").is_empty() {
            return Reply::error(400, "config.image is required");
        }
        let name = match body.get("name") {
            None | Some(Value::Null) => None,
            Some(Value::String(name)) if !name.is_empty() => Some(name.clone()),
            Some(other) => return Reply::error(400, &format!("invalid name {other}")),
        };
        if let (Some(name), true) = (&name, self.unique_names) {
            if self.entries.iter().any(|e| {
                e.app == self.scope && &e.machine.name == name && e.machine.state != "destroyed"
            }) {
                return Reply::error(
                    409,
                    &format!("a machine named {name:?} already exists in this app"),
                );
            }
        }
        let mut spec = MachineSpec::new(region);
        spec.name = name;
        spec.config = config;
        let id = self.add(spec);
        let now = Instant::now();
        let skip_launch = body["skip_launch"].as_bool().unwrap_or(false);
        let list_lag = self.list_lag;
        let mut entry = self.entries.pop().expect("just added");
        if skip_launch {
            entry.machine.state = "created".to_owned();
        } else {
            self.launch(&mut entry, now);
        }
        entry.listed_from = now + list_lag;
        let machine = entry.machine.clone();
        self.entries.push(entry);
        debug_assert_eq!(machine.id, id);
        Reply::json(
            200,
            serde_json::to_value(machine).expect("machine serializes"),
        )
    }

    pub(super) fn get(&mut self, id: &str) -> Reply {
        self.tick(Instant::now());
        match self.find(id) {
            Some(entry) => Reply::json(200, serde_json::to_value(&entry.machine).expect("json")),
            None => Reply::error(404, "machine not found"),
        }
    }

    pub(super) fn destroy(&mut self, id: &str, force: bool) -> Reply {
        let now = Instant::now();
        let lag = self.list_lag;
        let Some(entry) = self.find(id) else {
            return Reply::error(404, "machine not found");
        };
        let state = entry.machine.state.as_str();
        if !force && !matches!(state, "stopped" | "suspended" | "created" | "failed") {
            return Reply::error(
                412,
                &format!(
                    "machine is {state}, not stopped; stop it first or destroy with force=true"
                ),
            );
        }
        let before = std::mem::replace(&mut entry.machine.state, "destroyed".to_owned());
        entry.listed_as_before = Some((before, now + lag));
        Reply::ok()
    }

    /// `POST …/stop` with an optional `StopRequest` body: the process gets
    /// the signal, and is killed if it has not exited after the timeout
    /// (the request's, else the config's `stop_config.timeout`, else 5 s).
    pub(super) fn stop(&mut self, id: &str, body: Option<&Value>) -> Reply {
        let (signal, timeout) = match parse_stop_request(body) {
            Ok(parsed) => parsed,
            Err(message) => return Reply::error(400, &message),
        };
        let now = Instant::now();
        let (delay, hang) = (self.stop_delay, self.stops_hang);
        let Some(entry) = self.find(id) else {
            return Reply::error(404, "machine not found");
        };
        let record = StopRecord {
            machine: id.to_owned(),
            signal,
            timeout,
        };
        if matches!(entry.machine.state.as_str(), "started" | "starting") {
            entry.started_at = None;
            let kill_after = timeout
                .or_else(|| {
                    let config = entry.machine.config.stop_config()?;
                    parse_fly_duration(config.timeout.as_ref()?).ok()
                })
                .unwrap_or(Duration::from_secs(5));
            let exit = delay.min(kill_after);
            if hang {
                entry.machine.state = "stopping".to_owned();
                entry.stopped_at = None;
            } else if exit.is_zero() {
                entry.machine.state = "stopped".to_owned();
            } else {
                entry.machine.state = "stopping".to_owned();
                entry.stopped_at = Some(now + exit);
            }
        }
        self.stops.push(record);
        Reply::ok()
    }

    pub(super) fn start(&mut self, id: &str) -> Reply {
        let now = Instant::now();
        let delay = self.start_delay;
        let Some(entry) = self.find(id) else {
            return Reply::error(404, "machine not found");
        };
        let previous = entry.machine.state.clone();
        if matches!(previous.as_str(), "stopped" | "suspended" | "created") {
            if delay.is_zero() {
                entry.machine.state = "started".to_owned();
            } else {
                entry.machine.state = "starting".to_owned();
                entry.started_at = Some(now + delay);
            }
        }
        Reply::json(200, json!({ "previous_state": previous }))
    }

    /// `Some(true)` once the machine is in `state`, `None` if it is unknown.
    pub(super) fn reached(&mut self, id: &str, state: &str) -> Option<bool> {
        self.tick(Instant::now());
        let entry = self
            .entries
            .iter()
            .find(|e| e.app == self.scope && e.machine.id == id)?;
        Some(entry.machine.state == state)
    }

    pub(super) fn metadata(&mut self, id: &str) -> Reply {
        match self.find(id) {
            Some(entry) => Reply::json(
                200,
                serde_json::to_value(&entry.machine.config.metadata).expect("json"),
            ),
            None => Reply::error(404, "machine not found"),
        }
    }

    pub(super) fn set_metadata(&mut self, id: &str, key: &str, value: Option<String>) -> Reply {
        let Some(entry) = self.find(id) else {
            return Reply::error(404, "machine not found");
        };
        match value {
            Some(value) => entry.machine.config.metadata.insert(key.to_owned(), value),
            None => entry.machine.config.metadata.remove(key),
        };
        Reply::no_content()
    }
}

/// Reads a `StopRequest` body: an object with an optional string `signal`
/// and an optional `fly.Duration` `timeout`.
/// An app's id, made up from its name as Fly's look (letters and digits).
pub(super) fn app_id(name: &str) -> String {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{hash:016x}")
}

fn parse_stop_request(body: Option<&Value>) -> Result<(Option<String>, Option<Duration>), String> {
    let Some(body) = body else {
        return Ok((None, None));
    };
    let Some(fields) = body.as_object() else {
        return Err("the body must be a JSON object".to_owned());
    };
    if let Some(unknown) = fields
        .keys()
        .find(|k| !matches!(k.as_str(), "signal" | "timeout"))
    {
        return Err(format!("unknown field {unknown:?}"));
    }
    let signal = match fields.get("signal") {
        None => None,
        Some(Value::String(signal)) if signal.starts_with("SIG") && signal.len() > 3 => {
            Some(signal.clone())
        }
        Some(other) => return Err(format!("invalid signal {other}")),
    };
    let timeout = fields.get("timeout").map(parse_fly_duration).transpose()?;
    Ok((signal, timeout))
}

/// A `fly.Duration` as Fly reads it: Go duration text (`"1m30s"`,
/// `"500ms"`) or a whole number of nanoseconds.
fn parse_fly_duration(value: &Value) -> Result<Duration, String> {
    let invalid = || format!("invalid duration {value}");
    if let Some(nanos) = value.as_u64() {
        return Ok(Duration::from_nanos(nanos));
    }
    let text = value.as_str().ok_or_else(invalid)?;
    let mut rest = text;
    let mut total = Duration::ZERO;
    if rest.is_empty() {
        return Err(invalid());
    }
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        let number: f64 = rest[..number_len].parse().map_err(|_| invalid())?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds_per_unit = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(invalid()),
        };
        rest = &rest[unit_len..];
        total += Duration::from_secs_f64(number * seconds_per_unit);
    }
    Ok(total)
}
