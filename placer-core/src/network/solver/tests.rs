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

/// The search as it priced moves before the fast-swap bookkeeping: every
/// move priced row by row against nearest columns found from scratch.
mod row_by_row {
    use super::super::{count, FacilityProblem, Move, Nearest};
    use crate::network::UNSERVED_RTT_MS;

    fn nearest(problem: &FacilityProblem<'_>, set: &[bool]) -> Vec<Nearest> {
        (0..problem.weights.len())
            .map(|edge| {
                let row = problem.table.row(edge);
                let mut nearest = Nearest {
                    column: None,
                    best: UNSERVED_RTT_MS,
                    second: UNSERVED_RTT_MS,
                };
                for (column, ms) in row.iter().enumerate().filter(|(c, _)| set[*c]) {
                    if nearest.column.is_none() || *ms < nearest.best {
                        nearest.second = nearest.best;
                        nearest.best = *ms;
                        nearest.column = Some(column);
                    } else if *ms < nearest.second {
                        nearest.second = *ms;
                    }
                }
                nearest
            })
            .collect()
    }

    fn cost(problem: &FacilityProblem<'_>, set: &[bool]) -> f64 {
        let regions: f64 = set
            .iter()
            .zip(&problem.region_cost)
            .filter(|(chosen, _)| **chosen)
            .map(|(_, cost)| cost)
            .sum();
        let latency: f64 = nearest(problem, set)
            .iter()
            .zip(&problem.weights)
            .map(|(nearest, weight)| weight * nearest.best)
            .sum();
        latency + regions
    }

    fn tolerance(problem: &FacilityProblem<'_>, set: &[bool]) -> f64 {
        1e-9 * (1.0 + cost(problem, set).abs())
    }

    fn improve(problem: &FacilityProblem<'_>, mut set: Vec<bool>) -> Vec<bool> {
        loop {
            let nearest = nearest(problem, &set);
            let size = count(&set);
            let mut best: Option<(Move, f64)> = None;
            let tolerance = tolerance(problem, &set);
            let mut consider = |candidate: Move, delta: f64| {
                if delta < -tolerance && best.is_none_or(|(_, d)| delta < d) {
                    best = Some((candidate, delta));
                }
            };
            let outside: Vec<usize> = (0..set.len())
                .filter(|c| !set[*c] && problem.allowed[*c])
                .collect();
            let removable: Vec<usize> = (0..set.len())
                .filter(|c| set[*c] && !problem.fixed[*c])
                .collect();
            if size < problem.max_size {
                for &column in &outside {
                    consider(Move::Add(column), problem.add_delta(&nearest, column));
                }
            }
            if size > problem.min_size {
                for &column in &removable {
                    consider(Move::Drop(column), problem.drop_delta(&nearest, column));
                }
            }
            for &out in &removable {
                for &into in &outside {
                    consider(
                        Move::Swap { out, into },
                        problem.swap_delta(&nearest, out, into),
                    );
                }
            }
            match best {
                None => return set,
                Some((Move::Add(column), _)) => set[column] = true,
                Some((Move::Drop(column), _)) => set[column] = false,
                Some((Move::Swap { out, into }, _)) => {
                    set[out] = false;
                    set[into] = true;
                }
            }
        }
    }

    /// `FacilityProblem::solve` priced row by row.
    pub(super) fn solve(problem: &FacilityProblem<'_>, start: &[bool]) -> Vec<bool> {
        let mut best: Option<Vec<bool>> = None;
        for start in [start, &problem.fixed[..]] {
            let found = improve(problem, problem.feasible(start.to_vec()));
            best = match best {
                Some(kept)
                    if cost(problem, &found)
                        >= cost(problem, &kept) - tolerance(problem, &kept) =>
                {
                    Some(kept)
                }
                _ => Some(found),
            };
        }
        best.expect("two starts")
    }

    /// `FacilityProblem::cost` as it was computed.
    pub(super) fn objective(problem: &FacilityProblem<'_>, set: &[bool]) -> f64 {
        cost(problem, set)
    }
}

/// A random instance on `table`; with `ties`, many moves price the same
/// (zero and repeated weights, one region cost for every column).
fn random_problem<'t>(
    rng: &mut ChaCha8Rng,
    table: &'t RttTable,
    ties: bool,
) -> FacilityProblem<'t> {
    let columns = table.servers().len();
    let edges = table.edges().len();
    let weights: Vec<f64> = (0..edges)
        .map(|_| match (ties, rng.random_range(0..4)) {
            (_, 0) => 0.0,
            (true, _) => [1.0, 10.0, 100.0][rng.random_range(0..3)],
            (false, _) => rng.random_range(0.0..500.0),
        })
        .collect();
    let total: f64 = weights.iter().sum();
    let shared = rng.random_range(0.0..30.0) * total.max(1.0) / 100.0;
    let min_size = rng.random_range(0..3).min(columns);
    FacilityProblem {
        table,
        weights,
        region_cost: (0..columns)
            .map(|_| {
                if ties {
                    shared
                } else {
                    rng.random_range(0.0..30.0) * total.max(1.0) / 100.0
                }
            })
            .collect(),
        min_size,
        max_size: rng.random_range(min_size.max(1)..=columns),
        fixed: (0..columns).map(|_| rng.random_bool(0.05)).collect(),
        allowed: (0..columns).map(|_| rng.random_bool(0.85)).collect(),
    }
}

#[test]
fn fast_search_takes_the_same_moves_as_row_by_row_pricing() {
    let mut rng = ChaCha8Rng::seed_from_u64(25);
    let model = LatencyModel::distance();
    let mut compared = 0;
    for instance in 0..1500 {
        let most = geo::catalog().len().min(40);
        let (servers, edges) = (rng.random_range(1..most), rng.random_range(1..most));
        let servers = random_regions(&mut rng, servers);
        // Every third instance has its users where the servers are.
        let edges = if instance % 3 == 0 {
            servers.clone()
        } else {
            random_regions(&mut rng, edges)
        };
        let table = RttTable::new(edges, servers, &model);
        let problem = random_problem(&mut rng, &table, instance % 2 == 0);
        let columns = table.servers().len();
        let start: Vec<bool> = (0..columns).map(|_| rng.random_bool(0.3)).collect();
        let fast = problem.solve(&start);
        let slow = row_by_row::solve(&problem, &start);
        assert_eq!(
            fast, slow,
            "instance {instance}: {problem:?} from {start:?}"
        );
        assert_eq!(
            problem.cost(&fast).to_bits(),
            row_by_row::objective(&problem, &fast).to_bits()
        );
        compared += 1;
    }
    assert_eq!(compared, 1500);
}
