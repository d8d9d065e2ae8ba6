use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::{network::geo, network::LatencyModel, Region};

fn brute_force(problem: &FacilityProblem<'_>) -> f64 {
    let columns = problem.allowed.len();
    let mut best = f64::INFINITY;
    for mask in 0u32..(1 << columns) {
        let set: Vec<bool> = (0..columns).map(|c| mask & (1 << c) != 0).collect();
        let size = count(&set);
        let fixed_ok = (0..columns).all(|c| !problem.fixed[c] || set[c]);
        let allowed_ok = (0..columns).all(|c| !set[c] || problem.allowed[c] || problem.fixed[c]);
        if fixed_ok && allowed_ok && size >= problem.min_size && size <= problem.max_size {
            best = best.min(problem.cost(&set));
        }
    }
    best
}

fn random_regions(rng: &mut ChaCha8Rng, n: usize) -> Vec<Region> {
    let catalog = geo::catalog();
    let mut picked: Vec<Region> = Vec::new();
    while picked.len() < n {
        let region = catalog[rng.random_range(0..catalog.len())].code;
        if !picked.contains(&region) {
            picked.push(region);
        }
    }
    picked
}

#[test]
fn local_search_matches_brute_force_on_small_instances() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let model = LatencyModel::distance();
    let (mut optimal, mut worst_ratio) = (0, 1.0f64);
    let instances = 1500;
    for _ in 0..instances {
        let regions = random_regions(&mut rng, 7);
        let table = RttTable::new(regions.iter().copied(), regions.iter().copied(), &model);
        let columns = table.servers().len();
        let weights: Vec<f64> = (0..columns)
            .map(|_| {
                if rng.random_bool(0.3) {
                    0.0
                } else {
                    rng.random_range(0.0..200.0)
                }
            })
            .collect();
        let total: f64 = weights.iter().sum();
        let min_size = rng.random_range(1..3);
        let problem = FacilityProblem {
            table: &table,
            weights,
            region_cost: (0..columns)
                .map(|_| rng.random_range(0.0..40.0) * total.max(1.0) / 100.0)
                .collect(),
            min_size,
            max_size: rng.random_range(min_size..=columns),
            fixed: (0..columns).map(|_| rng.random_bool(0.1)).collect(),
            allowed: (0..columns).map(|_| rng.random_bool(0.8)).collect(),
        };
        let fixed_count = problem.fixed.iter().filter(|f| **f).count();
        if fixed_count > problem.max_size {
            continue;
        }
        let start: Vec<bool> = (0..columns).map(|_| rng.random_bool(0.4)).collect();
        let found = problem.solve(&start);
        let optimum = brute_force(&problem);
        if !optimum.is_finite() {
            continue;
        }
        let cost = problem.cost(&found);
        assert!(
            cost >= optimum - 1e-6,
            "found {cost} below the optimum {optimum}"
        );
        if cost <= optimum + 1e-6 {
            optimal += 1;
        }
        worst_ratio = worst_ratio.max(cost / optimum.max(1e-9));
    }
    assert!(
        optimal * 100 >= instances * 98,
        "optimal on only {optimal} of {instances}"
    );
    assert!(
        worst_ratio < 1.15,
        "worst instance {worst_ratio}× the optimum"
    );
}

#[test]
fn respects_fixed_columns_and_size_bounds() {
    let model = LatencyModel::distance();
    let regions: Vec<Region> = ["iad", "fra", "syd", "nrt", "gru"]
        .iter()
        .map(|c| c.parse().unwrap())
        .collect();
    let table = RttTable::new(regions.clone(), regions.clone(), &model);
    let syd = table.server_index(&"syd".parse().unwrap()).unwrap();
    let problem = FacilityProblem {
        table: &table,
        weights: vec![100.0; 5],
        region_cost: vec![0.0; 5],
        min_size: 1,
        max_size: 2,
        fixed: (0..5).map(|c| c == syd).collect(),
        allowed: vec![true; 5],
    };
    let set = problem.solve(&[false; 5]);
    assert!(set[syd]);
    assert_eq!(count(&set), 2);
}

#[test]
fn a_high_region_cost_keeps_one_region() {
    let model = LatencyModel::distance();
    let regions: Vec<Region> = ["iad", "fra", "syd"]
        .iter()
        .map(|c| c.parse().unwrap())
        .collect();
    let table = RttTable::new(regions.clone(), regions.clone(), &model);
    let problem = FacilityProblem {
        table: &table,
        weights: vec![10.0; 3],
        region_cost: vec![1e9; 3],
        min_size: 1,
        max_size: 3,
        fixed: vec![false; 3],
        allowed: vec![true; 3],
    };
    assert_eq!(count(&problem.solve(&[true; 3])), 1);
}
