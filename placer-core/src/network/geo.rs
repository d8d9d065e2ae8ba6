//! The catalog of Fly.io regions with their coordinates, and great-circle
//! distances between them.
//!
//! The catalog is compiled into the crate (from `data/fly-regions.csv`), so
//! looking a region up never touches the file system. Regions Fly adds later
//! are simply absent until the table is updated; callers decide what an
//! uncatalogued region means (see [`crate::network::LatencyModel`]).
//!
//! ```
//! use placer_core::network::geo;
//!
//! let fra = geo::region_info(&"fra".parse().unwrap()).unwrap();
//! let ams = geo::region_info(&"ams".parse().unwrap()).unwrap();
//! assert_eq!(fra.city, "Frankfurt");
//! let km = fra.distance_km(ams);
//! assert!((350.0..400.0).contains(&km), "{km}");
//! ```

use std::sync::OnceLock;

use serde::Serialize;

use crate::Region;

/// Mean radius of the Earth in kilometres (IUGG mean radius).
pub const EARTH_RADIUS_KM: f64 = 6371.0088;

/// The embedded catalog, a copy of the shared region table.
const CATALOG_CSV: &str = include_str!("../../data/fly-regions.csv");

/// One Fly.io region and where it is.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct RegionInfo {
    /// The region code, such as `fra`.
    pub code: Region,
    /// The city the region is named after, such as `Frankfurt`.
    pub city: &'static str,
    /// ISO 3166-1 alpha-2 country code, such as `DE`.
    pub country: &'static str,
    /// Latitude in degrees, north positive.
    pub latitude: f64,
    /// Longitude in degrees, east positive.
    pub longitude: f64,
}

impl RegionInfo {
    /// Great-circle distance to `other` in kilometres.
    pub fn distance_km(&self, other: &RegionInfo) -> f64 {
        great_circle_km(
            (self.latitude, self.longitude),
            (other.latitude, other.longitude),
        )
    }
}

/// Every catalogued region, sorted by code.
pub fn catalog() -> &'static [RegionInfo] {
    static CATALOG: OnceLock<Vec<RegionInfo>> = OnceLock::new();
    CATALOG.get_or_init(|| parse_catalog(CATALOG_CSV))
}

/// The catalog entry for `code`, or `None` for a region the catalog does not
/// know.
pub fn region_info(code: &Region) -> Option<&'static RegionInfo> {
    catalog_index(code).map(|index| &catalog()[index])
}

fn catalog_index(code: &Region) -> Option<usize> {
    catalog().binary_search_by(|info| info.code.cmp(code)).ok()
}

/// Great-circle distance in kilometres between two regions, or `None` when
/// either is missing from the catalog.
///
/// Distances between catalogued regions are computed once per process and
/// then looked up: planners ask for the same pairs at every tick.
pub fn distance_km(from: &Region, to: &Region) -> Option<f64> {
    static DISTANCES: OnceLock<Vec<f64>> = OnceLock::new();
    let catalog = catalog();
    let distances = DISTANCES.get_or_init(|| {
        catalog
            .iter()
            .flat_map(|a| catalog.iter().map(move |b| a.distance_km(b)))
            .collect()
    });
    Some(distances[catalog_index(from)? * catalog.len() + catalog_index(to)?])
}

/// Great-circle distance in kilometres between two `(latitude, longitude)`
/// points given in degrees, by the haversine formula on a spherical Earth.
///
/// The haversine form stays accurate for the short distances that matter
/// most here (neighbouring regions a few hundred kilometres apart), where the
/// plain spherical law of cosines loses precision.
pub fn great_circle_km(from: (f64, f64), to: (f64, f64)) -> f64 {
    let (lat1, lon1) = (from.0.to_radians(), from.1.to_radians());
    let (lat2, lon2) = (to.0.to_radians(), to.1.to_radians());
    let half_dlat = (lat2 - lat1) / 2.0;
    let half_dlon = (lon2 - lon1) / 2.0;
    let h = half_dlat.sin().powi(2) + lat1.cos() * lat2.cos() * half_dlon.sin().powi(2);
    // Rounding can push h a hair above 1 for antipodal points.
    2.0 * EARTH_RADIUS_KM * h.clamp(0.0, 1.0).sqrt().asin()
}

/// Parses the embedded table. The data is part of the source tree and a test
/// checks it, so a malformed row is a build defect, not a runtime condition.
fn parse_catalog(csv: &'static str) -> Vec<RegionInfo> {
    let mut lines = csv.lines().filter(|line| !line.trim().is_empty());
    let header = lines.next().unwrap_or_default();
    assert_eq!(
        header.trim(),
        "code,city,country,latitude,longitude",
        "embedded region catalog has an unexpected header"
    );
    let mut regions: Vec<RegionInfo> = lines
        .map(|line| {
            let fields: Vec<&'static str> = line.split(',').map(str::trim).collect();
            let [code, city, country, latitude, longitude] = fields[..] else {
                panic!("embedded region catalog row {line:?} does not have 5 fields");
            };
            let number = |text: &str| -> f64 {
                text.parse()
                    .unwrap_or_else(|_| panic!("embedded region catalog row {line:?}: bad number"))
            };
            RegionInfo {
                code: Region::new(code)
                    .unwrap_or_else(|err| panic!("embedded region catalog: {err}")),
                city,
                country,
                latitude: number(latitude),
                longitude: number(longitude),
            }
        })
        .collect();
    regions.sort_by_key(|a| a.code);
    regions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(code: &str) -> Region {
        code.parse().unwrap()
    }

    #[test]
    fn catalog_holds_every_region_once_with_valid_coordinates() {
        let catalog = catalog();
        assert_eq!(catalog.len(), 36);
        for pair in catalog.windows(2) {
            assert!(pair[0].code < pair[1].code, "{:?} not sorted/unique", pair);
        }
        for info in catalog {
            assert!((-90.0..=90.0).contains(&info.latitude), "{info:?}");
            assert!((-180.0..=180.0).contains(&info.longitude), "{info:?}");
            assert_eq!(info.country.len(), 2, "{info:?}");
        }
    }

    #[test]
    fn looks_regions_up_by_code() {
        let syd = region_info(&region("syd")).unwrap();
        assert_eq!((syd.city, syd.country), ("Sydney", "AU"));
        assert!(syd.latitude < 0.0 && syd.longitude > 150.0);
        assert!(region_info(&region("xyz")).is_none());
    }

    #[test]
    fn distances_match_known_city_pairs() {
        // Reference figures: published great-circle distances between the
        // airports the regions are named after, within 1 %.
        let cases = [
            ("lhr", "ewr", 5_570.0),
            ("fra", "ams", 365.0),
            ("syd", "nrt", 7_820.0),
        ];
        for (from, to, expected) in cases {
            let km = distance_km(&region(from), &region(to)).unwrap();
            assert!(
                (km - expected).abs() / expected < 0.01,
                "{from}->{to}: {km} km, expected about {expected}"
            );
        }
    }

    #[test]
    fn distance_is_symmetric_and_zero_to_itself() {
        let (iad, sin) = (region("iad"), region("sin"));
        assert_eq!(distance_km(&iad, &iad), Some(0.0));
        let there = distance_km(&iad, &sin).unwrap();
        let back = distance_km(&sin, &iad).unwrap();
        assert!((there - back).abs() < 1e-9);
        assert_eq!(distance_km(&iad, &region("xyz")), None);
    }

    #[test]
    fn antipodal_points_are_half_the_circumference_apart() {
        let km = great_circle_km((0.0, 0.0), (0.0, 180.0));
        assert!((km - std::f64::consts::PI * EARTH_RADIUS_KM).abs() < 1e-6);
    }
}
