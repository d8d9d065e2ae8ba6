//! The platform's regions (`GET /v1/platform/regions`): reading the answer,
//! the guest size it is asked for, and the actuator's cache of it.
//!
//! The Machines API's published description does not describe this
//! endpoint; Fly's own Go client reads `{"Regions": [...], "Nearest": "..."}`
//! with, per region, `code`, `name`, `latitude`, `longitude`,
//! `gateway_available`, `requires_paid_plan`, `deprecated`, `capacity` and
//! `geo_region`. The answer is read leniently: unknown fields are ignored, a
//! region without `capacity` has an unknown capacity, a region without
//! coordinates keeps the catalog's (or is left out when the catalog does
//! not know it either), and a code that is not a region code is left out.
//! An answer that lists no region at all is not believed: planning over it
//! would leave nowhere to deploy.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use placer_core::network::geo;
use placer_core::network::platform::{PlatformRegion, PlatformRegions};
use placer_core::{Region, Timestamp};
use serde::Deserialize;
use serde_json::Value;
use tokio::time::Instant;

use crate::error::{Operation, Target};
use crate::machine::MachineConfig;
use crate::FlyError;

/// Reads the endpoint's answer into the regions it lists.
pub(crate) fn parse_platform_regions(body: &[u8]) -> Result<Vec<PlatformRegion>, FlyError> {
    #[derive(Deserialize)]
    struct Answer {
        #[serde(rename = "Regions", alias = "regions")]
        regions: Option<Vec<Value>>,
    }
    let invalid = |detail: String| FlyError::InvalidResponse {
        operation: Operation::ListPlatformRegions,
        target: Target::app(),
        detail,
    };
    let answer: Answer = serde_json::from_slice(body)
        .map_err(|err| invalid(format!("expected {{\"Regions\": [...]}}: {err}")))?;
    let listed = answer
        .regions
        .ok_or_else(|| invalid("the answer has no \"Regions\" list".to_owned()))?;
    let regions: Vec<PlatformRegion> = listed.iter().filter_map(read_region).collect();
    if regions.is_empty() {
        return Err(invalid(format!(
            "the answer lists no usable region ({} listed)",
            listed.len()
        )));
    }
    Ok(regions)
}

/// One listed region, or `None` when it has no usable code or place.
fn read_region(value: &Value) -> Option<PlatformRegion> {
    let code: Region = value.get("code")?.as_str()?.trim().parse().ok()?;
    let coordinate = |key: &str| {
        value
            .get(key)
            .and_then(Value::as_f64)
            .filter(|degrees| degrees.is_finite())
    };
    let (latitude, longitude) = match (coordinate("latitude"), coordinate("longitude")) {
        (Some(lat), Some(lon))
            if (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) =>
        {
            (lat, lon)
        }
        _ => {
            let known = geo::region_info(&code)?;
            (known.latitude, known.longitude)
        }
    };
    let flag = |key: &str| value.get(key).and_then(Value::as_bool).unwrap_or(false);
    let mut region = PlatformRegion::new(code, latitude, longitude)
        .with_deprecated(flag("deprecated"))
        .with_requires_paid_plan(flag("requires_paid_plan"));
    if let Some(name) = value.get("name").and_then(Value::as_str) {
        region = region.with_name(name);
    }
    // Fly writes a signed number; below zero is no room either. Anything
    // that is not a number leaves the capacity unknown.
    if let Some(capacity) = value.get("capacity").and_then(|c| {
        c.as_u64().or_else(|| c.as_i64().map(|_| 0)).or_else(|| {
            c.as_f64()
                .filter(|f| f.is_finite())
                .map(|f| f.max(0.0) as u64)
        })
    }) {
        region = region.with_capacity(capacity);
    }
    Some(region)
}

/// The guest size preset of a machine config, as the endpoint's `size`
/// takes it: `shared-cpu-2x`, `performance-4x`, or the GPU presets. `None`
/// when the config has no guest or one no preset describes.
pub(crate) fn guest_size(config: &MachineConfig) -> Option<String> {
    let guest = config.other.get("guest")?;
    let gpu = guest.get("gpu_kind").and_then(Value::as_str).unwrap_or("");
    let preset = match gpu {
        "a100-pcie-40gb" => Some("a100-40gb".to_owned()),
        "a100-sxm4-80gb" => Some("a100-80gb".to_owned()),
        "l40s" | "a10" => Some(gpu.to_owned()),
        _ => {
            let cpus = guest
                .get("cpus")
                .and_then(Value::as_u64)
                .filter(|n| *n > 0)?;
            match guest.get("cpu_kind").and_then(Value::as_str)? {
                "shared" => Some(format!("shared-cpu-{cpus}x")),
                "performance" => Some(format!("performance-{cpus}x")),
                _ => None,
            }
        }
    }?;
    // It goes into a query string.
    preset
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        .then_some(preset)
}

/// Why the platform's regions could not be read, in words for `/health`
/// and the log (never a credential: errors do not hold the token).
pub(crate) fn fallback_reason(err: &FlyError) -> String {
    match err {
        FlyError::Http {
            status: status @ (401 | 403),
            message,
            ..
        } => format!("HTTP {status} ({message}): the token may not read the platform's regions"),
        FlyError::Http {
            status, message, ..
        } => format!("HTTP {status}: {message}"),
        FlyError::InvalidResponse { detail, .. } => format!("unreadable answer: {detail}"),
        other => other.to_string(),
    }
}

/// The platform's regions as the actuators read them last, per guest
/// size: one read serves every app of that size.
///
/// Each [`FlyMachinesActuator`](crate::FlyMachinesActuator) has its own
/// unless it is given one to share
/// ([`sharing_platform_regions`](crate::FlyMachinesActuator::sharing_platform_regions)):
/// a process placing many apps with one token then reads the regions once
/// per size and refresh, not once per app, and logs a failure to read them
/// once.
#[derive(Debug, Clone, Default)]
pub struct PlatformRegionsCache {
    sizes: Arc<tokio::sync::Mutex<BTreeMap<Option<String>, PlatformCache>>>,
}

impl PlatformRegionsCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Holds the cache: reads happen under it, so callers at once read
    /// once.
    pub(crate) async fn lock(
        &self,
    ) -> tokio::sync::MutexGuard<'_, BTreeMap<Option<String>, PlatformCache>> {
        self.sizes.lock().await
    }

    /// Has every size read again at its next use (a create was refused for
    /// capacity: some region may be full now).
    pub(crate) async fn mark_stale(&self) {
        for cache in self.sizes.lock().await.values_mut() {
            cache.stale = true;
        }
    }
}

/// What was read last for one size, and when.
#[derive(Debug, Default)]
pub(crate) struct PlatformCache {
    latest: Option<(Arc<PlatformRegions>, Instant)>,
    /// Read again at the next use, fresh or not.
    stale: bool,
    /// The reason of the failure last logged, so a failure that stays is
    /// logged once (cleared by a successful read).
    logged_failure: Option<String>,
}

impl PlatformCache {
    /// The picture read less than `refresh` before `now`, unless it was
    /// marked stale.
    pub(crate) fn fresh(&self, now: Instant, refresh: Duration) -> Option<Arc<PlatformRegions>> {
        if self.stale {
            return None;
        }
        self.latest
            .as_ref()
            .filter(|(_, at)| now.saturating_duration_since(*at) < refresh)
            .map(|(picture, _)| Arc::clone(picture))
    }

    /// Keeps what a read at `now` gave (`at` on the wall clock): the
    /// platform's answer, or the built-in picture after a failure, which is
    /// logged when its reason is new.
    pub(crate) fn store(
        &mut self,
        read: Result<Vec<PlatformRegion>, FlyError>,
        app: &str,
        size: Option<&str>,
        at: Timestamp,
        now: Instant,
    ) -> Arc<PlatformRegions> {
        let picture = match read {
            Ok(regions) => {
                let picture = PlatformRegions::from_platform(regions, at);
                let deployable = picture.deployable().count();
                if self.logged_failure.take().is_some() {
                    tracing::info!(%app, size, deployable,
                        "the platform's regions can be read again; planning over them");
                } else {
                    tracing::debug!(%app, size, deployable, "read the platform's regions");
                }
                picture
            }
            Err(err) => {
                let reason = fallback_reason(&err);
                if self.logged_failure.as_deref() != Some(reason.as_str()) {
                    tracing::warn!(%app, size,
                        "cannot read the platform's regions, planning over the built-in catalog until the next read: {reason}");
                    self.logged_failure = Some(reason.clone());
                }
                PlatformRegions::fallback(at, reason)
            }
        };
        let picture = Arc::new(picture);
        self.latest = Some((Arc::clone(&picture), now));
        self.stale = false;
        picture
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use placer_core::network::platform::Unavailable;
    use serde_json::json;

    fn config(guest: Value) -> MachineConfig {
        let mut config = MachineConfig::default();
        config.other.insert("guest".to_owned(), guest);
        config
    }

    #[test]
    fn sizes_follow_the_guest() {
        let size = |guest| guest_size(&config(guest));
        assert_eq!(
            size(json!({"cpu_kind": "shared", "cpus": 1, "memory_mb": 256})).as_deref(),
            Some("shared-cpu-1x")
        );
        assert_eq!(
            size(json!({"cpu_kind": "performance", "cpus": 2})).as_deref(),
            Some("performance-2x")
        );
        assert_eq!(
            size(json!({"cpu_kind": "performance", "cpus": 8, "gpu_kind": "a100-pcie-40gb"}))
                .as_deref(),
            Some("a100-40gb")
        );
        assert_eq!(size(json!({"cpu_kind": "quantum", "cpus": 2})), None);
        assert_eq!(size(json!({"cpu_kind": "shared"})), None);
        assert_eq!(guest_size(&MachineConfig::default()), None);
    }

    #[test]
    fn answers_are_read_leniently() {
        let body = json!({
            "Regions": [
                {"code": "fra", "name": "Frankfurt, Germany", "latitude": 50.1, "longitude": 8.6,
                 "gateway_available": true, "requires_paid_plan": false, "deprecated": false,
                 "capacity": 120, "geo_region": "europe", "something_new": [1, 2]},
                {"code": "syd", "latitude": -33.9, "longitude": 151.2, "capacity": -3},
                {"code": "mad", "deprecated": true},
                {"code": "zz9", "latitude": 1.0},
                {"code": "not a region", "latitude": 1.0, "longitude": 2.0},
                {"latitude": 1.0, "longitude": 2.0},
                "garbage"
            ],
            "Nearest": "fra"
        });
        let regions = parse_platform_regions(body.to_string().as_bytes()).unwrap();
        let codes: Vec<&str> = regions.iter().map(|r| r.code.as_str()).collect();
        assert_eq!(codes, ["fra", "syd", "mad"]);
        assert_eq!(regions[0].capacity, Some(120));
        assert_eq!(regions[0].name, "Frankfurt, Germany");
        assert_eq!(regions[1].capacity, Some(0));
        assert_eq!(regions[2].capacity, None);
        assert!(regions[2].deprecated);
        let picture = PlatformRegions::from_platform(regions, Timestamp::from_unix_seconds(0));
        let mad = "mad".parse().unwrap();
        assert_eq!(picture.unavailable(&mad), Some(Unavailable::Deprecated));
        assert!(picture.coordinates(&mad).is_some());
    }

    #[test]
    fn answers_that_cannot_be_planned_over_are_errors() {
        for body in [
            "<html>bad gateway</html>",
            "{}",
            r#"{"Regions": null}"#,
            r#"{"Regions": []}"#,
            r#"{"Regions": [{"code": "???"}]}"#,
            r#"[1, 2]"#,
        ] {
            let err = parse_platform_regions(body.as_bytes()).unwrap_err();
            assert!(
                matches!(err, FlyError::InvalidResponse { .. }),
                "{body}: {err}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn any_answer_is_read_or_refused_without_panicking(
            body in proptest::prelude::any::<Vec<u8>>(),
            capacity in proptest::prelude::any::<f64>(),
            latitude in proptest::prelude::any::<f64>(),
        ) {
            let _ = parse_platform_regions(&body);
            let shaped = format!(
                r#"{{"Regions": [{{"code": "fra", "latitude": {latitude:?}, "longitude": 8.6, "capacity": {capacity:?}}}]}}"#
            );
            if let Ok(regions) = parse_platform_regions(shaped.as_bytes()) {
                proptest::prop_assert!(regions[0].latitude.is_finite());
            }
        }
    }

    #[test]
    fn refused_tokens_are_named_in_the_reason() {
        let err = FlyError::Http {
            operation: Operation::ListPlatformRegions,
            target: Target::app(),
            status: 403,
            message: "forbidden".into(),
            code: None,
            retry_after: None,
        };
        let reason = fallback_reason(&err);
        assert!(reason.starts_with("HTTP 403"), "{reason}");
        assert!(reason.contains("token"), "{reason}");
    }
}
