//! Round-trip times between regions, and which deployed region serves a
//! request.
//!
//! Two sources of round-trip times:
//! - the **distance model** (default): 0 ms within a region, otherwise
//!   `2 + 0.015 × km` ms over the great-circle distance — a fixed cost for
//!   entering and leaving the network plus light in fibre along a real-world
//!   path that is longer than the great circle;
//! - a **measured matrix** a user supplies as JSON, `{"from": {"to": ms}}`,
//!   the shape best-regions publishes.
//!
//! The serving model: a request entering Fly at edge region `r` is served by
//! the deployed region with the lowest round-trip time from `r`
//! ([`nearest_deployed`]).
//!
//! ```
//! use std::collections::BTreeSet;
//! use placer_core::{network::nearest_deployed, network::LatencyModel, Region};
//!
//! let model = LatencyModel::distance();
//! let deployed: BTreeSet<Region> = ["fra".parse().unwrap(), "iad".parse().unwrap()].into();
//! let (server, ms) = nearest_deployed(&"ams".parse().unwrap(), &deployed, &model).unwrap();
//! assert_eq!(server.as_str(), "fra");
//! assert!(ms < 10.0);
//! ```

use std::collections::BTreeMap;

use crate::{network::geo, network::platform::PlatformRegions, region::RegionError, Region};

/// Fixed part of the distance model, in milliseconds, for any two distinct
/// regions.
pub const BASE_RTT_MS: f64 = 2.0;

/// Distance-dependent part of the distance model, in milliseconds per
/// kilometre of great-circle distance.
pub const RTT_MS_PER_KM: f64 = 0.015;

/// Round-trip time assumed between two distinct regions when at least one is
/// missing from the catalog and no measurement covers the pair.
///
/// About an intercontinental round trip: such traffic counts as poorly served
/// rather than vanishing from the figures, and an unknown region never looks
/// closer than a near catalogued one.
pub const UNCATALOGUED_RTT_MS: f64 = 150.0;

/// Round-trip time charged to a request when no region is deployed at all.
pub const UNSERVED_RTT_MS: f64 = 500.0;

/// Where round-trip times between regions come from.
///
/// [`LatencyModel::rtt_ms`] answers every pair, by these rules in order:
/// 1. a measured value for `from → to`, when the matrix has one (this
///    includes a measured value for a region to itself);
/// 2. a measured value for `to → from` (round trips are taken as symmetric
///    when only one direction was measured);
/// 3. 0 ms when `from == to`;
/// 4. the distance model, `2 + 0.015 × km`, when both regions are in the
///    [catalog](crate::network::geo::catalog);
/// 5. [`UNCATALOGUED_RTT_MS`] otherwise.
///
/// With no matrix only rules 3–5 apply.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LatencyModel {
    measured: BTreeMap<Region, BTreeMap<Region, f64>>,
}

/// Why a measured latency matrix was rejected.
#[derive(Debug, thiserror::Error)]
pub enum LatencyMatrixError {
    /// The text is not JSON shaped like `{"from": {"to": ms}}`.
    #[error("latency matrix is not JSON of the shape {{\"from\": {{\"to\": milliseconds}}}}: {0}")]
    Json(#[from] serde_json::Error),
    /// A key is not a region code.
    #[error("latency matrix key {key:?} (at {path}): {source}")]
    BadRegion {
        /// The rejected key.
        key: String,
        /// Where the key sits, such as `fra` or `fra.AMS`.
        path: String,
        /// Why the key is not a region code.
        source: RegionError,
    },
    /// A value is not a finite, non-negative number of milliseconds.
    #[error(
        "latency matrix entry {from}.{to} is {value}: expected a number of milliseconds >= 0 (or null for not measured)"
    )]
    BadValue {
        /// The row key.
        from: String,
        /// The column key.
        to: String,
        /// The rejected value as JSON text.
        value: String,
    },
}

impl LatencyModel {
    /// The distance model alone: 0 ms within a region, otherwise
    /// `2 + 0.015 × km`.
    pub fn distance() -> Self {
        LatencyModel::default()
    }

    /// A measured matrix parsed from JSON, `{"fra": {"ams": 7.5, ...}, ...}`,
    /// with the distance model for pairs it does not cover.
    ///
    /// A `null` value means "not measured" and falls back like a missing pair.
    ///
    /// # Errors
    /// [`LatencyMatrixError`] when the text is not JSON of that shape, a key
    /// is not a region code, or a value is negative or not a number; the
    /// error names the key or entry at fault.
    pub fn from_measured_json(json: &str) -> Result<Self, LatencyMatrixError> {
        let raw: BTreeMap<String, BTreeMap<String, serde_json::Value>> =
            serde_json::from_str(json)?;
        let mut measured = BTreeMap::new();
        for (from_key, row) in raw {
            let from = parse_key(&from_key, from_key.clone())?;
            let mut parsed_row = BTreeMap::new();
            for (to_key, value) in row {
                let to = parse_key(&to_key, format!("{from_key}.{to_key}"))?;
                if value.is_null() {
                    continue;
                }
                match value.as_f64() {
                    Some(ms) if ms.is_finite() && ms >= 0.0 => {
                        // + 0.0 turns a "-0" into 0.
                        parsed_row.insert(to, ms + 0.0);
                    }
                    _ => {
                        return Err(LatencyMatrixError::BadValue {
                            from: from_key,
                            to: to_key,
                            value: value.to_string(),
                        })
                    }
                }
            }
            if !parsed_row.is_empty() {
                measured.insert(from, parsed_row);
            }
        }
        Ok(LatencyModel { measured })
    }

    /// True when a measured matrix backs this model.
    pub fn is_measured(&self) -> bool {
        !self.measured.is_empty()
    }

    /// Round-trip time in milliseconds from edge region `from` to serving
    /// region `to`, by the rules on [`LatencyModel`]. Always finite and
    /// non-negative.
    pub fn rtt_ms(&self, from: &Region, to: &Region) -> f64 {
        let lookup = |a: &Region, b: &Region| self.measured.get(a).and_then(|row| row.get(b));
        if let Some(ms) = lookup(from, to).or_else(|| lookup(to, from)) {
            return *ms;
        }
        Self::distance_rtt_ms(from, to)
    }

    /// Like [`rtt_ms`](Self::rtt_ms), with the coordinates `platform`
    /// knows for regions the catalog lacks (a region the platform lists
    /// that is newer than the catalog): [`UNCATALOGUED_RTT_MS`] only when
    /// neither has them.
    pub fn rtt_ms_in(&self, from: &Region, to: &Region, platform: &PlatformRegions) -> f64 {
        let lookup = |a: &Region, b: &Region| self.measured.get(a).and_then(|row| row.get(b));
        if let Some(ms) = lookup(from, to).or_else(|| lookup(to, from)) {
            return *ms;
        }
        if from == to {
            return 0.0;
        }
        match platform.distance_km(from, to) {
            Some(km) => BASE_RTT_MS + RTT_MS_PER_KM * km,
            None => UNCATALOGUED_RTT_MS,
        }
    }

    /// The distance model's round trip over `km` kilometres (0 within one
    /// region).
    pub fn distance_rtt_of_km(km: f64, same_region: bool) -> f64 {
        if same_region {
            0.0
        } else {
            BASE_RTT_MS + RTT_MS_PER_KM * km
        }
    }

    /// The distance model alone (rules 3–5 on [`LatencyModel`]).
    pub fn distance_rtt_ms(from: &Region, to: &Region) -> f64 {
        if from == to {
            return 0.0;
        }
        match geo::distance_km(from, to) {
            Some(km) => BASE_RTT_MS + RTT_MS_PER_KM * km,
            None => UNCATALOGUED_RTT_MS,
        }
    }
}

fn parse_key(key: &str, path: String) -> Result<Region, LatencyMatrixError> {
    Region::new(key).map_err(|source| LatencyMatrixError::BadRegion {
        key: key.to_owned(),
        path,
        source,
    })
}

/// The deployed region that serves requests entering at `from`, with its
/// round-trip time in milliseconds: the lowest RTT wins, ties go to the
/// alphabetically first region code. `None` when nothing is deployed.
pub fn nearest_deployed<'a>(
    from: &Region,
    deployed: impl IntoIterator<Item = &'a Region>,
    model: &LatencyModel,
) -> Option<(Region, f64)> {
    let mut best: Option<(&Region, f64)> = None;
    for candidate in deployed {
        let ms = model.rtt_ms(from, candidate);
        let better = match best {
            None => true,
            Some((current, best_ms)) => ms < best_ms || (ms == best_ms && candidate < current),
        };
        if better {
            best = Some((candidate, ms));
        }
    }
    best.map(|(region, ms)| (*region, ms))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    fn region(code: &str) -> Region {
        code.parse().unwrap()
    }

    #[test]
    fn distance_model_is_zero_within_a_region_and_grows_with_distance() {
        let model = LatencyModel::distance();
        assert_eq!(model.rtt_ms(&region("fra"), &region("fra")), 0.0);
        let km = geo::distance_km(&region("fra"), &region("ams")).unwrap();
        let ms = model.rtt_ms(&region("fra"), &region("ams"));
        assert!((ms - (2.0 + 0.015 * km)).abs() < 1e-9, "{ms}");
        assert!(model.rtt_ms(&region("fra"), &region("syd")) > 200.0);
    }

    #[test]
    fn uncatalogued_regions_get_the_fixed_fallback() {
        let model = LatencyModel::distance();
        assert_eq!(
            model.rtt_ms(&region("zzz"), &region("fra")),
            UNCATALOGUED_RTT_MS
        );
        assert_eq!(model.rtt_ms(&region("zzz"), &region("zzz")), 0.0);
    }

    #[test]
    fn platform_coordinates_place_regions_the_catalog_lacks() {
        use crate::network::platform::PlatformRegion;
        let model = LatencyModel::distance();
        let platform = PlatformRegions::from_platform(
            [PlatformRegion::new(region("qqq"), 50.03, 8.57)],
            crate::Timestamp::from_unix_seconds(0),
        );
        let (qqq, fra) = (region("qqq"), region("fra"));
        assert_eq!(model.rtt_ms(&qqq, &fra), UNCATALOGUED_RTT_MS);
        assert!(model.rtt_ms_in(&qqq, &fra, &platform) < 5.0);
        // Catalogued pairs are what the catalog says.
        let ams = region("ams");
        assert_eq!(
            model.rtt_ms_in(&ams, &fra, &platform),
            model.rtt_ms(&ams, &fra)
        );
        assert_eq!(
            model.rtt_ms_in(&region("zzz"), &fra, &platform),
            UNCATALOGUED_RTT_MS
        );
    }

    #[test]
    fn measured_values_win_then_the_reverse_direction_then_distance() {
        let json = r#"{"fra": {"ams": 9.5, "fra": 0.4}, "syd": {"nrt": 100, "sin": null}}"#;
        let model = LatencyModel::from_measured_json(json).unwrap();
        assert!(model.is_measured());
        assert_eq!(model.rtt_ms(&region("fra"), &region("ams")), 9.5);
        assert_eq!(model.rtt_ms(&region("ams"), &region("fra")), 9.5);
        assert_eq!(model.rtt_ms(&region("fra"), &region("fra")), 0.4);
        assert_eq!(model.rtt_ms(&region("nrt"), &region("syd")), 100.0);
        // null and absent pairs fall back to the distance model.
        let sin = region("sin");
        let syd = region("syd");
        assert_eq!(
            model.rtt_ms(&syd, &sin),
            LatencyModel::distance_rtt_ms(&syd, &sin)
        );
    }

    #[test]
    fn measured_matrix_errors_name_the_key_at_fault() {
        let err = LatencyModel::from_measured_json(r#"{"fra": {"AMS": 3}}"#).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("\"AMS\"") && text.contains("fra.AMS"),
            "{text}"
        );

        let err = LatencyModel::from_measured_json(r#"{"frankfurt": {}}"#).unwrap_err();
        assert!(err.to_string().contains("\"frankfurt\""), "{err}");

        let err = LatencyModel::from_measured_json(r#"{"fra": {"ams": -1}}"#).unwrap_err();
        assert!(err.to_string().contains("fra.ams is -1"), "{err}");

        let err = LatencyModel::from_measured_json(r#"{"fra": {"ams": "fast"}}"#).unwrap_err();
        assert!(matches!(err, LatencyMatrixError::BadValue { .. }), "{err}");

        let err = LatencyModel::from_measured_json(r#"[1, 2]"#).unwrap_err();
        assert!(matches!(err, LatencyMatrixError::Json(_)), "{err}");
    }

    #[test]
    fn requests_go_to_the_closest_deployed_region() {
        let model = LatencyModel::distance();
        let deployed: BTreeSet<Region> = ["iad", "fra", "sin"].map(region).into();
        let pick = |from: &str| nearest_deployed(&region(from), &deployed, &model).unwrap();
        assert_eq!(pick("ams").0, region("fra"));
        assert_eq!(pick("ord").0, region("iad"));
        assert_eq!(pick("syd").0, region("sin"));
        assert_eq!(pick("iad"), (region("iad"), 0.0));
        assert_eq!(
            nearest_deployed(&region("iad"), &BTreeSet::new(), &model),
            None
        );
    }

    #[test]
    fn ties_go_to_the_first_region_code_whatever_the_order() {
        let json = r#"{"lhr": {"cdg": 5, "ams": 5}}"#;
        let model = LatencyModel::from_measured_json(json).unwrap();
        let order_a = [region("cdg"), region("ams")];
        let order_b = [region("ams"), region("cdg")];
        for order in [&order_a, &order_b] {
            let (server, _) = nearest_deployed(&region("lhr"), order.iter(), &model).unwrap();
            assert_eq!(server, region("ams"));
        }
    }

    fn any_region() -> impl Strategy<Value = Region> {
        // Mostly catalogued regions, sometimes an unknown one.
        let codes: Vec<String> = geo::catalog()
            .iter()
            .map(|info| info.code.as_str().to_owned())
            .chain(["xxa".to_owned(), "xxb".to_owned()])
            .collect();
        prop::sample::select(codes).prop_map(|code| region(&code))
    }

    proptest! {
        #[test]
        fn distance_model_is_a_metric(a in any_region(), b in any_region(), c in any_region()) {
            let model = LatencyModel::distance();
            let ab = model.rtt_ms(&a, &b);
            prop_assert!(ab.is_finite() && ab >= 0.0);
            prop_assert_eq!(ab == 0.0, a == b);
            prop_assert!((ab - model.rtt_ms(&b, &a)).abs() < 1e-9);
            prop_assert!(model.rtt_ms(&a, &c) <= ab + model.rtt_ms(&b, &c) + 1e-9);
        }

        #[test]
        fn nearest_deployed_is_the_minimum(
            from in any_region(),
            deployed in prop::collection::btree_set(any_region(), 0..6),
        ) {
            let model = LatencyModel::distance();
            match nearest_deployed(&from, &deployed, &model) {
                None => prop_assert!(deployed.is_empty()),
                Some((server, ms)) => {
                    prop_assert!(deployed.contains(&server));
                    for other in &deployed {
                        prop_assert!(ms <= model.rtt_ms(&from, other));
                    }
                }
            }
        }
    }
}
