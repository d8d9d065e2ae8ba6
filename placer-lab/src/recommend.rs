//! A one-off pick of the best `k` regions for observed traffic, with the
//! current set beside it: what best-regions answers, from the engine's own
//! latency model and facility-location solver ([`crate::FixedK`]).
//!
//! The weights are the requests that entered at each edge region over some
//! window (for a [`Trace`](crate::Trace), [`Trace::totals`](crate::Trace::totals)).
//! The pick is [`FixedK::solve`] over the regions the platform takes
//! machines in ([`crate::regions::deployable`]; an edge region with traffic
//! is served, never picked), minus those the config forbids
//! ([`PlacerConfig::may_deploy`]), always containing the config's
//! `always_running_regions`. Traffic at a region without coordinates is
//! left out and named in [`Recommendation::ignored_regions`]. A set's *mean RTT* is the traffic-weighted mean
//! round trip from each request's edge region to the nearest region of the
//! set ([`UNSERVED_RTT_MS`](placer_core::network::UNSERVED_RTT_MS) when the set is empty).
//!
//! ```
//! use std::collections::{BTreeMap, BTreeSet};
//! use placer_lab::recommend::recommend;
//! use placer_core::{network::LatencyModel, PlacerConfig, Region};
//!
//! let region = |code: &str| -> Region { code.parse().unwrap() };
//! let traffic = BTreeMap::from([(region("ams"), 500.0), (region("syd"), 300.0)]);
//! let current = BTreeSet::from([region("iad")]);
//! let pick = recommend(&traffic, 2, &current, &PlacerConfig::default(), &LatencyModel::distance())
//!     .unwrap();
//! assert_eq!(pick.recommended.regions, BTreeSet::from([region("ams"), region("syd")]));
//! assert_eq!(pick.recommended.mean_rtt_ms, 0.0);
//! assert!(pick.current.mean_rtt_ms > 100.0);
//! ```

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use placer_core::{network::nearest_deployed, network::LatencyModel, PlacerConfig, Region};

use crate::fixed_k::{set_cost, FixedK, WeightError};
use crate::regions;

/// The best `k` regions for some traffic, and the current set for
/// comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation {
    /// How many regions were asked for. The pick has more when the config's
    /// always-running regions are more, and fewer when fewer regions may be
    /// deployed.
    pub k: usize,
    /// Total requests the pick was weighted by.
    pub requests: f64,
    /// The best set found.
    pub recommended: Placement,
    /// The set the pick is compared with.
    pub current: Placement,
    /// Regions of the traffic without coordinates (neither catalogued nor
    /// known to the platform), whose requests were left out.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ignored_regions: Vec<Region>,
}

/// A set of regions and how well it serves the traffic.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Placement {
    /// The regions, sorted.
    pub regions: BTreeSet<Region>,
    /// Traffic-weighted mean round trip in milliseconds.
    pub mean_rtt_ms: f64,
    /// What each region of the set serves, busiest first (regions serving
    /// nothing last, in code order).
    pub serving: Vec<Served>,
}

/// The traffic one region of a set serves: the requests whose nearest region
/// of the set it is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Served {
    /// The serving region.
    pub region: Region,
    /// Its share of all requests, from 0 to 1.
    pub share: f64,
    /// Mean round trip of the requests it serves; `None` when it serves
    /// none.
    pub mean_rtt_ms: Option<f64>,
    /// The edge regions it serves, busiest first.
    pub edges: Vec<Region>,
}

/// Why no recommendation could be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RecommendError {
    /// Zero regions were asked for.
    #[error("the number of regions to recommend must be at least 1")]
    ZeroK,
    /// The weights add up to nothing.
    #[error("there is no traffic to place regions for (every request count is zero)")]
    NoTraffic,
    /// The config allows no region at all.
    #[error(
        "the config allows no region to be deployed (check allowed_regions and excluded_regions)"
    )]
    NoCandidates,
    /// A weight is negative or not a number.
    #[error(transparent)]
    Weights(#[from] WeightError),
}

/// The best `k` regions for `traffic` (requests per edge region) under
/// `config`'s region lists, beside `current`, on `model`.
///
/// # Errors
/// [`RecommendError`] when `k` is zero, there is no traffic, the config
/// allows no region, or a weight is negative or not finite.
pub fn recommend(
    traffic: &BTreeMap<Region, f64>,
    k: usize,
    current: &BTreeSet<Region>,
    config: &PlacerConfig,
    model: &LatencyModel,
) -> Result<Recommendation, RecommendError> {
    if k == 0 {
        return Err(RecommendError::ZeroK);
    }
    let ignored_regions: Vec<Region> = traffic
        .keys()
        .filter(|region| !regions::known(region))
        .copied()
        .collect();
    let traffic: BTreeMap<Region, f64> = traffic
        .iter()
        .filter(|(region, _)| regions::known(region))
        .map(|(region, requests)| (*region, *requests))
        .collect();
    let traffic = &traffic;
    let candidates: BTreeSet<Region> = regions::deployable()
        .into_iter()
        .filter(|region| config.may_deploy(region))
        .collect();
    // An always-running region the platform takes no machine in is not
    // deployed by the engine either.
    let deployable = regions::deployable();
    let fixed: Vec<Region> = config
        .always_running_regions
        .iter()
        .filter(|region| deployable.contains(region))
        .copied()
        .collect();
    if candidates.is_empty() && fixed.is_empty() {
        return Err(RecommendError::NoCandidates);
    }
    let solver = FixedK::new(traffic.keys().copied(), candidates, fixed, model);
    let best = solver.solve(traffic, k)?;
    let requests: f64 = traffic.values().sum();
    if requests <= 0.0 {
        return Err(RecommendError::NoTraffic);
    }
    Ok(Recommendation {
        k,
        requests,
        recommended: placement(traffic, best.regions, requests, model),
        current: placement(traffic, current.clone(), requests, model),
        ignored_regions,
    })
}

/// What one region of a set serves, while it is being added up.
#[derive(Default)]
struct Load {
    requests: f64,
    /// Requests times their round trip.
    request_ms: f64,
    /// Edge regions served, with their requests.
    edges: Vec<(Region, f64)>,
}

fn placement(
    traffic: &BTreeMap<Region, f64>,
    regions: BTreeSet<Region>,
    requests: f64,
    model: &LatencyModel,
) -> Placement {
    let mean_rtt_ms = set_cost(traffic, &regions, model) / requests;
    let mut load: BTreeMap<Region, Load> = regions
        .iter()
        .map(|region| (*region, Load::default()))
        .collect();
    for (edge, &weight) in traffic.iter().filter(|(_, &w)| w > 0.0) {
        if let Some((server, ms)) = nearest_deployed(edge, &regions, model) {
            let entry = load.get_mut(&server).expect("the server is in the set");
            entry.requests += weight;
            entry.request_ms += weight * ms;
            entry.edges.push((*edge, weight));
        }
    }
    let mut serving: Vec<Served> = load
        .into_iter()
        .map(|(region, mut load)| {
            load.edges
                .sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            Served {
                region,
                share: load.requests / requests,
                mean_rtt_ms: (load.requests > 0.0).then(|| load.request_ms / load.requests),
                edges: load.edges.into_iter().map(|(edge, _)| edge).collect(),
            }
        })
        .collect();
    // Stable: equal shares keep region-code order.
    serving.sort_by(|a, b| b.share.total_cmp(&a.share));
    Placement {
        regions,
        mean_rtt_ms,
        serving,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use placer_core::network::UNSERVED_RTT_MS;

    fn region(code: &str) -> Region {
        code.parse().unwrap()
    }

    fn set(codes: &[&str]) -> BTreeSet<Region> {
        codes.iter().map(|code| region(code)).collect()
    }

    fn europe_and_sydney() -> BTreeMap<Region, f64> {
        BTreeMap::from([
            (region("ams"), 100.0),
            (region("cdg"), 100.0),
            (region("fra"), 100.0),
            (region("lhr"), 100.0),
            (region("syd"), 50.0),
        ])
    }

    #[test]
    fn picks_the_cheapest_set_and_compares_the_current_one() {
        let traffic = europe_and_sydney();
        let pick = recommend(
            &traffic,
            2,
            &set(&["iad"]),
            &PlacerConfig::default(),
            &LatencyModel::distance(),
        )
        .unwrap();
        assert_eq!(pick.requests, 450.0);
        assert_eq!(pick.recommended.regions.len(), 2);
        assert!(pick.recommended.regions.contains(&region("syd")));
        // The figure is exactly the k-median cost per request.
        let expected = set_cost(
            &traffic,
            &pick.recommended.regions,
            &LatencyModel::distance(),
        ) / 450.0;
        assert_eq!(pick.recommended.mean_rtt_ms, expected);
        assert!(pick.current.mean_rtt_ms > 3.0 * pick.recommended.mean_rtt_ms);
        // Every request is served by exactly one region of each set.
        for placement in [&pick.recommended, &pick.current] {
            let shares: f64 = placement.serving.iter().map(|s| s.share).sum();
            assert!((shares - 1.0).abs() < 1e-12, "{placement:?}");
        }
        let europe = &pick.recommended.serving[0];
        assert!((europe.share - 400.0 / 450.0).abs() < 1e-12);
        assert_eq!(europe.edges.len(), 4);
    }

    #[test]
    fn honours_the_config_region_lists() {
        let mut config = PlacerConfig::default();
        config.excluded_regions = set(&["syd"]);
        config.always_running_regions = set(&["iad"]);
        let pick = recommend(
            &europe_and_sydney(),
            2,
            &BTreeSet::new(),
            &config,
            &LatencyModel::distance(),
        )
        .unwrap();
        assert!(pick.recommended.regions.contains(&region("iad")));
        assert!(!pick.recommended.regions.contains(&region("syd")));
        assert_eq!(pick.recommended.regions.len(), 2);
        // Nothing deployed: every request at the unserved figure.
        assert_eq!(pick.current.mean_rtt_ms, UNSERVED_RTT_MS);
        assert!(pick.current.serving.is_empty());

        let mut only = PlacerConfig::default();
        only.allowed_regions = set(&["fra", "nrt"]);
        let pick = recommend(
            &europe_and_sydney(),
            1,
            &BTreeSet::new(),
            &only,
            &LatencyModel::distance(),
        )
        .unwrap();
        assert_eq!(pick.recommended.regions, set(&["fra"]));
    }

    #[test]
    fn refuses_what_it_cannot_answer() {
        let model = LatencyModel::distance();
        let config = PlacerConfig::default();
        let none = BTreeSet::new();
        assert_eq!(
            recommend(&europe_and_sydney(), 0, &none, &config, &model),
            Err(RecommendError::ZeroK)
        );
        let idle = BTreeMap::from([(region("fra"), 0.0)]);
        assert_eq!(
            recommend(&idle, 1, &none, &config, &model),
            Err(RecommendError::NoTraffic)
        );
        let mut nowhere = PlacerConfig::default();
        nowhere.allowed_regions = set(&["fra"]);
        nowhere.excluded_regions = set(&["fra"]);
        assert_eq!(
            recommend(&europe_and_sydney(), 1, &none, &nowhere, &model),
            Err(RecommendError::NoCandidates)
        );
        let negative = BTreeMap::from([(region("fra"), -1.0)]);
        assert!(matches!(
            recommend(&negative, 1, &none, &config, &model),
            Err(RecommendError::Weights(_))
        ));
    }

    #[test]
    fn matches_brute_force_on_a_small_case() {
        let traffic = europe_and_sydney();
        let model = LatencyModel::distance();
        let candidates = set(&["ams", "fra", "iad", "lhr", "nrt", "sin", "syd"]);
        let mut config = PlacerConfig::default();
        config.allowed_regions = candidates.clone();
        for k in 1..=3 {
            let pick = recommend(&traffic, k, &BTreeSet::new(), &config, &model).unwrap();
            let brute = FixedK::new(traffic.keys().copied(), candidates.clone(), [], &model)
                .brute_force(&traffic, k)
                .unwrap();
            assert!(
                (pick.recommended.mean_rtt_ms * pick.requests - brute.cost).abs() < 1e-9,
                "k = {k}: {:?} vs {:?}",
                pick.recommended.regions,
                brute.regions
            );
        }
    }
}
