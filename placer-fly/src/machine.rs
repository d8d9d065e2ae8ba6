//! [`Machine`]: a Fly machine as the Machines API lists it, and the rules
//! that decide whether it counts as running the app in its region.

use std::collections::BTreeMap;

use placer_core::{Region, Timestamp};
use serde::{Deserialize, Serialize};

use crate::error::{Operation, Target};
use crate::options::{
    MANAGED_KEY, MANAGED_VALUE, PARKED_KEY, PROCESS_GROUP_KEY, ROLE_KEY, ROLE_STANDBY,
};
use crate::FlyError;

/// A machine as returned by `GET /v1/apps/{app}/machines`.
///
/// Only the fields fly-placer reads are typed; everything else in `config`
/// is kept verbatim in [`MachineConfig::other`], so a cloned config loses
/// nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// Stable machine id.
    pub id: String,
    /// Machine name.
    #[serde(default)]
    pub name: String,
    /// Lifecycle state: `created`, `starting`, `started`, `stopping`,
    /// `stopped`, `suspended`, `failed`, `destroying`, `destroyed`, …
    pub state: String,
    /// The region the machine runs in.
    pub region: Region,
    /// Version of the machine's current config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// Health of the machine's host: `ok`, `unknown` or `unreachable`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_status: Option<String>,
    /// Creation time, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// The machine's configuration.
    #[serde(default)]
    pub config: MachineConfig,
    /// Health check results, if the machine has checks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckStatus>,
}

/// A machine's `config` object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MachineConfig {
    /// The container image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Metadata; Fly keeps the process group here (`fly_process_group`).
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Every other config field (guest, services, env, mounts, …), verbatim.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

/// How a machine is stopped: its config's `stop_config` (Swagger
/// `fly.StopConfig`), which is also the body of `POST …/stop` (Swagger
/// `StopRequest`, the same two fields).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct StopConfig {
    /// The signal sent first, e.g. `SIGINT`; Fly's default is `SIGINT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) signal: Option<String>,
    /// How long the process may take to exit before it is killed: a
    /// `fly.Duration`, which Fly writes as Go duration text (`"30s"`) and
    /// reads as that or nanoseconds. Kept verbatim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) timeout: Option<serde_json::Value>,
}

impl MachineConfig {
    /// The config's `stop_config`, if it has a readable one.
    pub(crate) fn stop_config(&self) -> Option<StopConfig> {
        serde_json::from_value(self.other.get("stop_config")?.clone()).ok()
    }
}

/// One health check result of a machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckStatus {
    /// Check name.
    #[serde(default)]
    pub name: String,
    /// `passing`, `warning` or `critical`.
    #[serde(default)]
    pub status: String,
}

/// States in which a machine no longer runs the app and never will again.
const GONE_STATES: [&str; 3] = ["destroyed", "destroying", "failed"];

impl Machine {
    /// The machine's process group (`config.metadata.fly_process_group`).
    /// Machines without the key belong to Fly's default group `app`.
    pub fn process_group(&self) -> &str {
        self.config
            .metadata
            .get(PROCESS_GROUP_KEY)
            .map(String::as_str)
            .unwrap_or("app")
    }

    /// True when the machine exists and its host answers: its state is not
    /// destroyed, destroying or failed, and its `host_status` is not
    /// `unreachable`.
    pub fn is_alive(&self) -> bool {
        !GONE_STATES.contains(&self.state.as_str())
            && self.host_status.as_deref() != Some("unreachable")
    }

    /// True for machines fly-placer created (metadata `fly_placer=managed`).
    pub fn is_managed(&self) -> bool {
        self.config.metadata.get(MANAGED_KEY).map(String::as_str) == Some(MANAGED_VALUE)
    }

    /// True for a standby: a machine fly-placer created stopped beside the
    /// running ones (metadata `fly_placer_role=standby`), whatever its
    /// state now.
    pub fn is_standby_role(&self) -> bool {
        self.config.metadata.get(ROLE_KEY).map(String::as_str) == Some(ROLE_STANDBY)
    }

    /// True when the machine counts as a *standby* of its region: deployed,
    /// a standby by role, and not started (the proxy has not started it, or
    /// has stopped it again). Every other deployed machine counts as
    /// running: machines of the running role whatever their state (Fly's
    /// proxy may have stopped an idle one, and starts it on the next
    /// request), machines fly-placer did not make, and standbys the proxy
    /// has started.
    pub fn counts_as_standby(&self) -> bool {
        self.is_deployed() && self.is_standby_role() && !self.is_started_or_starting()
    }

    /// True when the machine runs, or is about to (`started`, `starting`).
    pub fn is_started_or_starting(&self) -> bool {
        matches!(self.state.as_str(), "started" | "starting")
    }

    /// True for machines fly-placer stopped to remove their region.
    pub fn is_parked(&self) -> bool {
        self.config.metadata.contains_key(PARKED_KEY)
    }

    /// True when the machine counts as running the app in its region: alive
    /// and not parked.
    pub fn is_deployed(&self) -> bool {
        self.is_alive() && !self.is_parked()
    }

    /// True when the machine is a good template for new regions: deployed,
    /// on a healthy host, and no health check critical.
    pub fn is_healthy(&self) -> bool {
        self.is_deployed()
            && self.host_status.as_deref().unwrap_or("ok") == "ok"
            && !self.checks.iter().any(|check| check.status == "critical")
    }

    /// True when the machine is running now (`started`).
    pub fn is_started(&self) -> bool {
        self.state == "started"
    }

    /// Creation time, when it is a readable RFC 3339 timestamp.
    pub fn created(&self) -> Option<Timestamp> {
        self.created_at.as_deref()?.parse().ok()
    }

    /// True when the config mounts a volume. Volumes live in one region, so
    /// such a machine cannot be cloned elsewhere.
    pub fn mounts_volumes(&self) -> bool {
        match self.config.other.get("mounts") {
            Some(serde_json::Value::Array(mounts)) => !mounts.is_empty(),
            Some(serde_json::Value::Null) | None => false,
            Some(_) => true,
        }
    }
}

/// Parses the body of `GET /v1/apps/{app}/machines`: a JSON array of
/// machine objects.
///
/// # Errors
/// [`FlyError::InvalidResponse`] naming the line and column of the first
/// problem, e.g. a machine without an id or with an invalid region code.
pub fn parse_machine_list(body: &[u8]) -> Result<Vec<Machine>, FlyError> {
    serde_json::from_slice(body).map_err(|err| FlyError::InvalidResponse {
        operation: Operation::ListMachines,
        target: Target::app(),
        detail: format!("expected a JSON array of machines: {err}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LISTING: &str = r#"[
      {"id": "148ed123456789", "name": "web-1", "state": "started", "region": "iad",
       "instance_id": "01H", "host_status": "ok", "created_at": "2026-01-01T00:00:00Z",
       "config": {"image": "registry.fly.io/web:1", "metadata": {"fly_process_group": "app"},
                  "guest": {"cpus": 1, "memory_mb": 256}, "services": [{"internal_port": 8080}]},
       "checks": [{"name": "http", "status": "passing"}]},
      {"id": "5683d111", "state": "destroyed", "region": "fra", "config": {}},
      {"id": "9080e222", "state": "stopped", "region": "cdg", "host_status": "unreachable",
       "config": {"metadata": {"fly_process_group": "worker", "fly_placer": "managed"}}}
    ]"#;

    #[test]
    fn parses_a_listing_and_keeps_unknown_config_fields() {
        let machines = parse_machine_list(LISTING.as_bytes()).unwrap();
        assert_eq!(machines.len(), 3);
        let web = &machines[0];
        assert_eq!(web.region.as_str(), "iad");
        assert_eq!(web.process_group(), "app");
        assert!(web.is_healthy());
        assert_eq!(web.config.other["guest"]["memory_mb"], 256);
        assert_eq!(web.created(), Some("2026-01-01T00:00:00Z".parse().unwrap()));
    }

    #[test]
    fn destroyed_failed_and_unreachable_machines_are_not_alive() {
        let machines = parse_machine_list(LISTING.as_bytes()).unwrap();
        assert!(machines[0].is_alive());
        assert!(!machines[1].is_alive());
        assert!(!machines[2].is_alive(), "unreachable host");
        assert!(machines[2].is_managed());
        assert_eq!(machines[1].process_group(), "app");
    }

    #[test]
    fn bad_listings_are_rejected_with_a_position() {
        let err = parse_machine_list(br#"[{"id": "x", "state": "started", "region": "IAD"}]"#)
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("lowercase") && text.contains("line 1"),
            "{text}"
        );
        assert!(parse_machine_list(br#"{"error": "nope"}"#).is_err());
        assert!(parse_machine_list(b"").is_err());
    }
}
