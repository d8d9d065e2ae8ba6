//! Which regions the platform can place machines in now: [`PlatformRegions`].
//!
//! Fly's edge accepts requests in more places than it runs machines. Of
//! the regions in the [catalog](super::geo::catalog), only the
//! [`COMPUTE_REGIONS`] take new machines; the others are edge regions
//! whose users are served from the nearest region that does. At run time
//! the platform itself is the truth (Fly's `GET /v1/platform/regions`: a
//! region may be deprecated, or have no capacity left for a machine of the
//! app's size); an actuator that reads it hands the engine its answer
//! ([`RegionActuator::platform_regions`](crate::RegionActuator::platform_regions)),
//! and until then, or when the platform cannot be read, the built-in
//! picture stands.
//!
//! ```
//! use placer_core::network::platform::{PlatformRegion, PlatformRegions, Unavailable};
//! use placer_core::Timestamp;
//!
//! let built_in = PlatformRegions::built_in();
//! assert!(built_in.is_deployable(&"fra".parse().unwrap()));
//! // Madrid is an edge region: users enter there, machines run elsewhere.
//! let mad = "mad".parse().unwrap();
//! assert!(built_in.knows(&mad));
//! assert_eq!(built_in.unavailable(&mad), Some(Unavailable::NotCompute));
//!
//! // What the platform said: Sydney is full for the app's machine size.
//! let now = Timestamp::from_unix_seconds(1_800_000_000);
//! let read = PlatformRegions::from_platform(
//!     [PlatformRegion::new("syd".parse().unwrap(), -33.95, 151.18).with_capacity(0)],
//!     now,
//! );
//! assert_eq!(read.unavailable(&"syd".parse().unwrap()), Some(Unavailable::Full));
//! // Regions the platform did not list keep their catalog coordinates.
//! assert!(read.knows(&mad) && !read.is_deployable(&mad));
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::geo;
use super::LatencyModel;
use crate::{Region, Timestamp};

/// The regions Fly places new machines in (since October 2025); every
/// other catalogued region is an edge region only.
pub const COMPUTE_REGIONS: [&str; 18] = [
    "ams", "arn", "bom", "cdg", "dfw", "ewr", "fra", "gru", "iad", "jnb", "lax", "lhr", "nrt",
    "ord", "sin", "sjc", "syd", "yyz",
];

/// What the platform says about one region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PlatformRegion {
    /// The region code.
    pub code: Region,
    /// Its name, such as `Frankfurt, Germany` (empty when unknown).
    #[serde(default)]
    pub name: String,
    /// Latitude in degrees, north positive.
    pub latitude: f64,
    /// Longitude in degrees, east positive.
    pub longitude: f64,
    /// True when the platform no longer places new machines there.
    #[serde(default)]
    pub deprecated: bool,
    /// How many more machines of the app's size can start there now;
    /// `None` when unknown (taken as room).
    #[serde(default)]
    pub capacity: Option<u64>,
    /// True when only paid plans may place machines there.
    #[serde(default)]
    pub requires_paid_plan: bool,
}

impl PlatformRegion {
    /// A region at the given coordinates that takes machines, capacity
    /// unknown.
    pub fn new(code: Region, latitude: f64, longitude: f64) -> Self {
        PlatformRegion {
            code,
            name: String::new(),
            latitude,
            longitude,
            deprecated: false,
            capacity: None,
            requires_paid_plan: false,
        }
    }

    /// The same region, named.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The same region, deprecated or not.
    pub fn with_deprecated(mut self, deprecated: bool) -> Self {
        self.deprecated = deprecated;
        self
    }

    /// The same region with room for `capacity` more machines.
    pub fn with_capacity(mut self, capacity: u64) -> Self {
        self.capacity = Some(capacity);
        self
    }

    /// The same region, for paid plans only or not.
    pub fn with_requires_paid_plan(mut self, paid: bool) -> Self {
        self.requires_paid_plan = paid;
        self
    }
}

/// Why a region known to the engine takes no new machine of the app's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Unavailable {
    /// An edge region: the platform runs no machines there (it is not
    /// among the compute regions, or the platform did not list it).
    NotCompute,
    /// The platform has deprecated the region.
    Deprecated,
    /// The platform has no capacity left there for the app's machine size.
    Full,
}

impl Unavailable {
    /// A few words for reasons and pages: `an edge region`, `deprecated`,
    /// `at capacity`.
    pub fn describe(self) -> &'static str {
        match self {
            Unavailable::NotCompute => "an edge region",
            Unavailable::Deprecated => "deprecated",
            Unavailable::Full => "at capacity",
        }
    }
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// Where a [`PlatformRegions`] came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum RegionsSource {
    /// The built-in catalog: nothing was read from the platform (yet).
    BuiltIn,
    /// The platform's answer, read at `at`.
    Platform {
        /// When it was read.
        at: Timestamp,
    },
    /// The built-in catalog, because the platform could not be read.
    Fallback {
        /// When the read failed.
        at: Timestamp,
        /// Why, in the backend's words (never a credential).
        reason: String,
    },
}

/// The engine's picture of the platform's regions: where each region is,
/// and whether it takes new machines now.
///
/// A region is [deployable](Self::is_deployable) when the platform lists
/// it, has not deprecated it and has room for a machine of the app's size.
/// Other known regions are edge regions (their users are served from the
/// nearest deployable region), deprecated or full. A region the picture
/// does not [know](Self::knows) has no coordinates at all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlatformRegions {
    regions: BTreeMap<Region, Entry>,
    source: RegionsSource,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Entry {
    #[serde(flatten)]
    region: PlatformRegion,
    /// Listed by the platform (or, built in, a compute region).
    compute: bool,
}

impl Default for PlatformRegions {
    fn default() -> Self {
        Self::built_in().clone()
    }
}

impl PlatformRegions {
    /// The built-in picture: every catalogued region, of which the
    /// [`COMPUTE_REGIONS`] take machines (capacity unknown).
    pub fn built_in() -> &'static PlatformRegions {
        static BUILT_IN: OnceLock<PlatformRegions> = OnceLock::new();
        BUILT_IN.get_or_init(|| PlatformRegions {
            regions: geo::catalog()
                .iter()
                .map(|info| {
                    let compute = COMPUTE_REGIONS.contains(&info.code.as_str());
                    (info.code, catalog_entry(info, compute))
                })
                .collect(),
            source: RegionsSource::BuiltIn,
        })
    }

    /// The built-in picture, kept because reading the platform failed at
    /// `at` for `reason`.
    pub fn fallback(at: Timestamp, reason: impl Into<String>) -> Self {
        let mut regions = Self::built_in().clone();
        regions.source = RegionsSource::Fallback {
            at,
            reason: reason.into(),
        };
        regions
    }

    /// The platform's answer read at `at`: the listed regions as the
    /// platform describes them; catalogued regions it does not list keep
    /// their coordinates as edge regions.
    pub fn from_platform(listed: impl IntoIterator<Item = PlatformRegion>, at: Timestamp) -> Self {
        let mut regions: BTreeMap<Region, Entry> = geo::catalog()
            .iter()
            .map(|info| (info.code, catalog_entry(info, false)))
            .collect();
        for region in listed {
            regions.insert(
                region.code,
                Entry {
                    region,
                    compute: true,
                },
            );
        }
        PlatformRegions {
            regions,
            source: RegionsSource::Platform { at },
        }
    }

    /// Where this picture came from.
    pub fn source(&self) -> &RegionsSource {
        &self.source
    }

    /// True when the picture knows where `region` is.
    pub fn knows(&self, region: &Region) -> bool {
        self.regions.contains_key(region)
    }

    /// What the picture holds about `region`.
    pub fn get(&self, region: &Region) -> Option<&PlatformRegion> {
        self.regions.get(region).map(|entry| &entry.region)
    }

    /// The coordinates of `region` (latitude, longitude), if known.
    pub fn coordinates(&self, region: &Region) -> Option<(f64, f64)> {
        self.get(region).map(|r| (r.latitude, r.longitude))
    }

    /// Why `region` takes no new machine now; `None` when it does (and
    /// for a region the picture does not know: see [`knows`](Self::knows)).
    pub fn unavailable(&self, region: &Region) -> Option<Unavailable> {
        let entry = self.regions.get(region)?;
        if !entry.compute {
            Some(Unavailable::NotCompute)
        } else if entry.region.deprecated {
            Some(Unavailable::Deprecated)
        } else if entry.region.capacity == Some(0) {
            Some(Unavailable::Full)
        } else {
            None
        }
    }

    /// True when the platform takes a new machine of the app's in
    /// `region` now.
    pub fn is_deployable(&self, region: &Region) -> bool {
        self.knows(region) && self.unavailable(region).is_none()
    }

    /// Every deployable region, in code order.
    pub fn deployable(&self) -> impl Iterator<Item = Region> + '_ {
        self.regions
            .keys()
            .filter(|region| self.is_deployable(region))
            .copied()
    }

    /// Every known region, in code order.
    pub fn regions(&self) -> impl Iterator<Item = &PlatformRegion> + '_ {
        self.regions.values().map(|entry| &entry.region)
    }

    /// Great-circle distance in kilometres between two regions: the
    /// catalog's when both are catalogued, otherwise from the picture's
    /// coordinates; `None` when either has no coordinates at all.
    pub fn distance_km(&self, from: &Region, to: &Region) -> Option<f64> {
        geo::distance_km(from, to).or_else(|| {
            Some(geo::great_circle_km(
                self.coordinates(from)?,
                self.coordinates(to)?,
            ))
        })
    }

    /// Where the users entering at `region` are served best: the nearest
    /// [deployable](Self::is_deployable) region that `eligible` accepts
    /// (`region` itself when it qualifies), with the round trip of the
    /// distance model. Ties go to the first region code. `None` when no
    /// region qualifies or `region` has no coordinates.
    ///
    /// ```
    /// use placer_core::network::platform::PlatformRegions;
    ///
    /// let built_in = PlatformRegions::built_in();
    /// let home = built_in.home(&"mad".parse().unwrap(), |_| true).unwrap();
    /// assert_eq!(home.region.as_str(), "cdg");
    /// // Within the regions one may deploy to.
    /// let home = built_in.home(&"mad".parse().unwrap(), |r| r.as_str() != "cdg").unwrap();
    /// assert_eq!(home.region.as_str(), "lhr");
    /// ```
    pub fn home(&self, region: &Region, eligible: impl Fn(&Region) -> bool) -> Option<Home> {
        let mut best: Option<Home> = None;
        for server in self.deployable().filter(|r| eligible(r)) {
            let Some(km) = self.distance_km(region, &server) else {
                continue;
            };
            let rtt_ms = LatencyModel::distance_rtt_of_km(km, server == *region);
            // `deployable` walks in code order: the first of equals stays.
            if best.is_none_or(|b| rtt_ms < b.rtt_ms) {
                best = Some(Home {
                    region: server,
                    rtt_ms,
                });
            }
        }
        best
    }
}

/// The region that serves an edge region's users best, found by
/// [`PlatformRegions::home`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Home {
    /// The serving region.
    pub region: Region,
    /// The round trip from the edge region to it, in milliseconds (the
    /// distance model).
    pub rtt_ms: f64,
}

fn catalog_entry(info: &geo::RegionInfo, compute: bool) -> Entry {
    Entry {
        region: PlatformRegion::new(info.code, info.latitude, info.longitude).with_name(info.city),
        compute,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(code: &str) -> Region {
        code.parse().unwrap()
    }

    #[test]
    fn built_in_picture_places_in_the_eighteen_compute_regions_only() {
        let built_in = PlatformRegions::built_in();
        let deployable: Vec<Region> = built_in.deployable().collect();
        let expected: Vec<Region> = COMPUTE_REGIONS.iter().map(|c| region(c)).collect();
        assert_eq!(deployable, expected);
        assert_eq!(built_in.regions().count(), geo::catalog().len());
        assert_eq!(
            built_in.unavailable(&region("gig")),
            Some(Unavailable::NotCompute)
        );
        assert!(!built_in.knows(&region("xyz")));
        assert_eq!(built_in.unavailable(&region("xyz")), None);
        assert!(!built_in.is_deployable(&region("xyz")));
        for code in COMPUTE_REGIONS {
            assert!(geo::region_info(&region(code)).is_some(), "{code}");
        }
    }

    #[test]
    fn platform_answer_says_deprecated_full_and_unlisted() {
        let at = Timestamp::from_unix_seconds(1_800_000_000);
        let read = PlatformRegions::from_platform(
            [
                PlatformRegion::new(region("fra"), 50.03, 8.57).with_capacity(12),
                PlatformRegion::new(region("syd"), -33.95, 151.18).with_capacity(0),
                PlatformRegion::new(region("mad"), 40.47, -3.57).with_deprecated(true),
                PlatformRegion::new(region("qqq"), 10.0, 10.0),
            ],
            at,
        );
        assert_eq!(read.source(), &RegionsSource::Platform { at });
        assert!(read.is_deployable(&region("fra")));
        assert_eq!(read.unavailable(&region("syd")), Some(Unavailable::Full));
        assert_eq!(
            read.unavailable(&region("mad")),
            Some(Unavailable::Deprecated)
        );
        // A region new to the catalog is placed in; one the platform
        // left out keeps its coordinates but takes no machine.
        assert!(read.is_deployable(&region("qqq")));
        assert_eq!(read.coordinates(&region("qqq")), Some((10.0, 10.0)));
        assert_eq!(
            read.unavailable(&region("iad")),
            Some(Unavailable::NotCompute)
        );
        assert!(read.coordinates(&region("iad")).is_some());
    }

    #[test]
    fn fallback_is_the_built_in_picture_with_its_reason() {
        let at = Timestamp::from_unix_seconds(1_800_000_000);
        let fallback = PlatformRegions::fallback(at, "HTTP 403");
        assert!(
            matches!(fallback.source(), RegionsSource::Fallback { reason, .. } if reason == "HTTP 403")
        );
        let built: Vec<Region> = PlatformRegions::built_in().deployable().collect();
        assert_eq!(fallback.deployable().collect::<Vec<_>>(), built);
    }

    #[test]
    fn round_trips_through_json() {
        let at = Timestamp::from_unix_seconds(1_800_000_000);
        let read = PlatformRegions::from_platform(
            [PlatformRegion::new(region("syd"), -33.95, 151.18).with_capacity(0)],
            at,
        );
        let json = serde_json::to_string(&read).unwrap();
        let back: PlatformRegions = serde_json::from_str(&json).unwrap();
        assert_eq!(back, read);
    }
}
