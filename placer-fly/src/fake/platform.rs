//! The fake's `GET /v1/platform/regions`: the regions it places machines
//! in, deprecated or not, and the room each has left.

use std::collections::BTreeMap;

use placer_core::network::geo;
use placer_core::network::platform::COMPUTE_REGIONS;
use serde_json::{json, Value};

use super::model::Reply;

/// Room for this many more machines in each compute region, by default.
pub const DEFAULT_CAPACITY: u64 = 100_000;

/// How the fake answers `GET /v1/platform/regions` instead of the regions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlatformFailure {
    /// Answer `status` with `{"error": message}` (403 for a token that may
    /// not read the regions, 500 for an API in trouble).
    Error {
        /// The HTTP status.
        status: u16,
        /// The error message.
        message: String,
    },
    /// Answer 200 with a body that is not JSON.
    Garbage,
}

/// One region as the fake lists it.
#[derive(Debug, Clone)]
struct FakeRegion {
    name: String,
    latitude: f64,
    longitude: f64,
    geo_region: &'static str,
    deprecated: bool,
    /// Room before counting the machines running there now; `None`: the
    /// field is left out of the answer (unknown) and creates never fail.
    base_capacity: Option<u64>,
}

/// The regions and how the endpoint answers.
#[derive(Debug, Clone)]
pub(super) struct FakePlatform {
    regions: BTreeMap<String, FakeRegion>,
    pub(super) failure: Option<PlatformFailure>,
}

impl Default for FakePlatform {
    /// Every catalogued region with room for [`DEFAULT_CAPACITY`]
    /// machines, those other than the compute regions deprecated, as Fly
    /// lists regions it no longer places machines in. A create in a
    /// deprecated region is not refused: what Fly answers there is not
    /// described, and tests see any such create in the requests.
    fn default() -> Self {
        let regions = geo::catalog()
            .iter()
            .map(|info| {
                let compute = COMPUTE_REGIONS.contains(&info.code.as_str());
                let region = FakeRegion {
                    name: format!("{}, {}", info.city, info.country),
                    latitude: info.latitude,
                    longitude: info.longitude,
                    geo_region: geo_region(info.country),
                    deprecated: !compute,
                    base_capacity: Some(DEFAULT_CAPACITY),
                };
                (info.code.to_string(), region)
            })
            .collect();
        FakePlatform {
            regions,
            failure: None,
        }
    }
}

impl FakePlatform {
    /// Marks `region` deprecated or not; a region the fake does not list
    /// yet is added at the catalog's coordinates (or 0, 0).
    pub(super) fn set_deprecated(&mut self, region: &str, deprecated: bool) {
        self.entry(region).deprecated = deprecated;
    }

    /// Sets the room left in `region` now, with `running` machines there:
    /// `capacity` more may start. `None`: unknown.
    pub(super) fn set_capacity(&mut self, region: &str, capacity: Option<u64>, running: u64) {
        self.entry(region).base_capacity = capacity.map(|room| room + running);
    }

    /// The room left in `region` with `running` machines there; `None`
    /// when unknown or not listed.
    pub(super) fn capacity(&self, region: &str, running: u64) -> Option<u64> {
        let base = self.regions.get(region)?.base_capacity?;
        Some(base.saturating_sub(running))
    }

    /// The endpoint's answer, `running(region)` counting the machines
    /// running in a region now.
    pub(super) fn answer(&self, running: impl Fn(&str) -> u64) -> Reply {
        match &self.failure {
            Some(PlatformFailure::Error { status, message }) => {
                return Reply::error(*status, message)
            }
            Some(PlatformFailure::Garbage) => {
                return Reply::text(200, "<html><body>502 Bad Gateway</body></html>")
            }
            None => {}
        }
        let regions: Vec<Value> = self
            .regions
            .iter()
            .map(|(code, region)| {
                let mut listed = json!({
                    "code": code,
                    "name": region.name,
                    "latitude": region.latitude,
                    "longitude": region.longitude,
                    "gateway_available": !region.deprecated,
                    "requires_paid_plan": false,
                    "deprecated": region.deprecated,
                    "geo_region": region.geo_region,
                    "mpg_available": false,
                });
                if let Some(room) = self.capacity(code, running(code)) {
                    listed["capacity"] = json!(room);
                }
                listed
            })
            .collect();
        Reply::json(200, json!({ "Regions": regions, "Nearest": "iad" }))
    }

    fn entry(&mut self, region: &str) -> &mut FakeRegion {
        self.regions.entry(region.to_owned()).or_insert_with(|| {
            let known = region.parse().ok().and_then(|code| geo::region_info(&code));
            FakeRegion {
                name: known.map(|k| k.city.to_owned()).unwrap_or_default(),
                latitude: known.map_or(0.0, |k| k.latitude),
                longitude: known.map_or(0.0, |k| k.longitude),
                geo_region: known.map_or("europe", |k| geo_region(k.country)),
                deprecated: false,
                base_capacity: Some(DEFAULT_CAPACITY),
            }
        })
    }
}

/// Fly's `geo_region` of a country, roughly.
fn geo_region(country: &str) -> &'static str {
    match country {
        "US" | "CA" | "MX" => "north_america",
        "BR" | "AR" | "CL" | "CO" | "PE" => "south_america",
        "ZA" | "NG" | "KE" | "EG" => "africa",
        "JP" | "SG" | "IN" | "AU" | "HK" | "KR" | "TW" | "NZ" | "ID" | "AE" | "PH" => {
            "asia_pacific"
        }
        _ => "europe",
    }
}
