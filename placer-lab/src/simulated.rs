//! [`SimulatedSource`]: made-up traffic so the service runs out of the box,
//! before any Prometheus is configured. It reads what is deployed from a
//! [`DeployedRegions`] handle that whatever changes the deployment keeps up
//! to date.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use placer_core::{MetricsError, MetricsSource, Region, Timestamp, TrafficSnapshot};

/// Request-count bands, quietest first, as in the seed project's mock
/// generator.
const BANDS: [(u64, u64); 4] = [(0, 10), (11, 29), (30, 70), (71, 100)];
/// How likely each band is for a region that runs a machine: mostly quiet,
/// so deployed regions drift towards removal.
const DEPLOYED_WEIGHTS: [u64; 4] = [40, 30, 20, 10];
/// The same for a region without a machine: mostly busy, so it drifts
/// towards deployment. The contrast keeps the thresholds busy.
const UNDEPLOYED_WEIGHTS: [u64; 4] = [10, 20, 30, 40];
/// Chance, in percent, of a spike (2–4 × traffic) in a region at a fetch.
const SPIKE_PERCENT: u64 = 5;
/// Chance, in percent, of a drop (traffic falls to almost nothing).
const DROP_PERCENT: u64 = 5;

/// What is deployed, shared between what lists and changes the deployment
/// and a [`SimulatedSource`] that reads it. Clones are handles to the same
/// set.
///
/// ```
/// use placer_lab::DeployedRegions;
///
/// let deployment = DeployedRegions::default();
/// let reader = deployment.clone();
/// deployment.insert("iad".parse().unwrap());
/// assert!(reader.get().contains(&"iad".parse().unwrap()));
/// ```
#[derive(Debug, Clone, Default)]
pub struct DeployedRegions(Arc<RwLock<BTreeSet<Region>>>);

impl DeployedRegions {
    /// A handle to a new set holding `regions`.
    pub fn new(regions: impl IntoIterator<Item = Region>) -> Self {
        DeployedRegions(Arc::new(RwLock::new(regions.into_iter().collect())))
    }

    /// The regions deployed now.
    pub fn get(&self) -> BTreeSet<Region> {
        self.0
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Replaces the set (after the deployment was listed).
    pub fn set(&self, regions: impl IntoIterator<Item = Region>) {
        *self.write() = regions.into_iter().collect();
    }

    /// Adds a region (after it was deployed).
    pub fn insert(&self, region: Region) {
        self.write().insert(region);
    }

    /// Takes a region out (after it was removed).
    pub fn remove(&self, region: &Region) {
        self.write().remove(region);
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeSet<Region>> {
        self.0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A [`MetricsSource`] that invents per-region request counts.
///
/// Each fetch draws, for every configured region, a traffic band whose odds
/// depend on whether the region is deployed (deployed regions tend to be
/// quiet and the others busy, like the seed project's mock), a value inside
/// the band scaled by a per-region popularity, and now and then a spike or a
/// drop. The numbers depend only on the seed, the fetch's sequence number,
/// the region and the deployed set, so a seed replays the same traffic.
///
/// The deployed set is read at each fetch from the [`DeployedRegions`]
/// given at construction.
///
/// ```
/// # futures::executor::block_on(async {
/// use placer_lab::{DeployedRegions, SimulatedSource};
/// use placer_core::{MetricsSource, Timestamp};
///
/// let regions = vec!["iad".parse().unwrap(), "fra".parse().unwrap()];
/// let a = SimulatedSource::new(42, regions.clone(), DeployedRegions::default());
/// let b = SimulatedSource::new(42, regions, DeployedRegions::default());
/// let t = Timestamp::from_unix_seconds(1_800_000_000);
/// assert_eq!(a.fetch(t).await.unwrap(), b.fetch(t).await.unwrap());
/// # });
/// ```
#[derive(Debug)]
pub struct SimulatedSource {
    seed: u64,
    regions: Vec<Region>,
    deployed: DeployedRegions,
    fetches: AtomicU64,
}

impl SimulatedSource {
    /// Traffic from `regions`, drawn from `seed`, with the deployment read
    /// from `deployed` at each fetch.
    pub fn new(
        seed: u64,
        regions: impl IntoIterator<Item = Region>,
        deployed: DeployedRegions,
    ) -> Self {
        let mut regions: Vec<Region> = regions.into_iter().collect();
        regions.sort();
        regions.dedup();
        SimulatedSource {
            seed,
            regions,
            deployed,
            fetches: AtomicU64::new(0),
        }
    }

    /// The seed the traffic is drawn from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The regions traffic comes from.
    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    /// The traffic of fetch number `step` (0 for the first) with `deployed`
    /// regions, at `at`. Pure: the same arguments give the same snapshot.
    pub fn traffic_at(
        &self,
        step: u64,
        deployed: &BTreeSet<Region>,
        at: Timestamp,
    ) -> TrafficSnapshot {
        let counts: Vec<(Region, f64)> = self
            .regions
            .iter()
            .map(|region| {
                let requests = self.requests(step, region, deployed.contains(region));
                (*region, requests)
            })
            .collect();
        TrafficSnapshot::new(at, counts).expect("simulated counts are finite, distinct regions")
    }

    fn requests(&self, step: u64, region: &Region, deployed: bool) -> f64 {
        let region_key = region_key(region);
        // Popularity stays with a region for the whole run: 0.6× to 1.4×.
        let mut personality = Draws::new(self.seed ^ region_key.rotate_left(17));
        let popularity = 0.6 + 0.8 * personality.unit();

        let mut draws = Draws::new(
            self.seed ^ region_key ^ step.wrapping_add(1).wrapping_mul(0xD1B5_4A32_D192_ED03),
        );
        let weights = if deployed {
            DEPLOYED_WEIGHTS
        } else {
            UNDEPLOYED_WEIGHTS
        };
        let (low, high) = BANDS[draws.weighted(&weights)];
        let mut requests = draws.between(low, high) as f64 * popularity;
        let event = draws.below(100);
        if event < SPIKE_PERCENT {
            requests *= 2.0 + 2.0 * draws.unit();
        } else if event < SPIKE_PERCENT + DROP_PERCENT {
            requests = draws.between(0, 2) as f64;
        }
        requests.round()
    }
}

#[async_trait]
impl MetricsSource for SimulatedSource {
    async fn fetch(&self, at: Timestamp) -> Result<TrafficSnapshot, MetricsError> {
        let step = self.fetches.fetch_add(1, Ordering::Relaxed);
        Ok(self.traffic_at(step, &self.deployed.get(), at))
    }
}

/// A stable number for a region code (its three letters).
fn region_key(region: &Region) -> u64 {
    region
        .as_str()
        .bytes()
        .fold(0xCBF2_9CE4_8422_2325, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01B3)
        })
}

/// SplitMix64: a tiny generator whose output is fixed by its definition, so
/// a seed means the same traffic in every build (a library generator may
/// change its stream between versions).
struct Draws(u64);

impl Draws {
    fn new(seed: u64) -> Self {
        Draws(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[0, bound)`.
    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound.max(1)
    }

    /// Uniform in `[low, high]`.
    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high - low + 1)
    }

    /// An index picked with the given weights.
    fn weighted(&mut self, weights: &[u64]) -> usize {
        let mut pick = self.below(weights.iter().sum());
        for (index, weight) in weights.iter().enumerate() {
            if pick < *weight {
                return index;
            }
            pick -= weight;
        }
        weights.len() - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regions(codes: &[&str]) -> Vec<Region> {
        codes.iter().map(|code| code.parse().unwrap()).collect()
    }

    fn mean_over(source: &SimulatedSource, deployed: &BTreeSet<Region>, region: &Region) -> f64 {
        let at = Timestamp::from_unix_seconds(0);
        let total: f64 = (0..2_000)
            .map(|step| source.traffic_at(step, deployed, at).requests(region))
            .sum();
        total / 2_000.0
    }

    #[test]
    fn same_seed_same_traffic_other_seed_other_traffic() {
        let codes = regions(&["iad", "fra", "sin"]);
        let at = Timestamp::from_unix_seconds(0);
        let none = BTreeSet::new();
        let a = SimulatedSource::new(7, codes.clone(), DeployedRegions::default());
        let b = SimulatedSource::new(7, codes.clone(), DeployedRegions::default());
        let c = SimulatedSource::new(8, codes, DeployedRegions::default());
        let run = |s: &SimulatedSource| -> Vec<TrafficSnapshot> {
            (0..20).map(|step| s.traffic_at(step, &none, at)).collect()
        };
        assert_eq!(run(&a), run(&b));
        assert_ne!(run(&a), run(&c));
    }

    #[test]
    fn undeployed_regions_are_busier_than_deployed_ones() {
        let iad: Region = "iad".parse().unwrap();
        let source = SimulatedSource::new(1, [iad], DeployedRegions::default());
        let quiet = mean_over(&source, &BTreeSet::from([iad]), &iad);
        let busy = mean_over(&source, &BTreeSet::new(), &iad);
        assert!(busy > quiet * 1.3, "undeployed {busy} vs deployed {quiet}");
    }

    #[test]
    fn traffic_has_spikes_and_drops() {
        let iad: Region = "iad".parse().unwrap();
        let source = SimulatedSource::new(3, [iad], DeployedRegions::default());
        let at = Timestamp::from_unix_seconds(0);
        let values: Vec<f64> = (0..1_000)
            .map(|step| source.traffic_at(step, &BTreeSet::new(), at).requests(&iad))
            .collect();
        assert!(
            values.iter().any(|v| *v > 140.0),
            "no spike above the top band"
        );
        assert!(
            values.iter().filter(|v| **v <= 2.0).count() > 20,
            "no drops"
        );
        assert!(values.iter().all(|v| v.is_finite() && *v >= 0.0));
    }

    proptest::proptest! {
        #[test]
        fn any_seed_gives_valid_repeatable_counts(
            seed in proptest::prelude::any::<u64>(),
            step in 0u64..1_000_000,
            deployed_mask in 0u8..16,
        ) {
            let codes = regions(&["ams", "fra", "iad", "sin"]);
            let deployed: BTreeSet<Region> = codes
                .iter()
                .enumerate()
                .filter(|(index, _)| deployed_mask & (1 << index) != 0)
                .map(|(_, region)| *region)
                .collect();
            let source = SimulatedSource::new(seed, codes.clone(), DeployedRegions::default());
            let at = Timestamp::from_unix_seconds(0);
            let first = source.traffic_at(step, &deployed, at);
            proptest::prop_assert_eq!(&first, &source.traffic_at(step, &deployed, at));
            proptest::prop_assert_eq!(first.len(), codes.len());
            for (_, requests) in first.iter() {
                // At most the top band, scaled by popularity, times a spike.
                proptest::prop_assert!((0.0..=560.0).contains(&requests));
                proptest::prop_assert_eq!(requests, requests.round());
            }
        }
    }

    #[test]
    fn fetch_follows_the_deployment_it_reads() {
        futures::executor::block_on(async {
            let codes = regions(&["iad", "fra"]);
            let deployment = DeployedRegions::default();
            let source = SimulatedSource::new(5, codes.clone(), deployment.clone());
            let at = Timestamp::from_unix_seconds(60);
            let first = source.fetch(at).await.unwrap();
            assert_eq!(first, source.traffic_at(0, &BTreeSet::new(), at));
            deployment.set(codes.clone());
            let second = source.fetch(at).await.unwrap();
            assert_eq!(
                second,
                source.traffic_at(1, &codes.into_iter().collect(), at)
            );
        });
    }
}
