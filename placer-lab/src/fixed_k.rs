//! Placements of exactly `k` regions, on the engine's one facility-location
//! solver ([`placer_core::network::solver`]): what the quality report's
//! best-static-K and oracle-K rows and [`crate::recommend`] ask for.
//!
//! A `k`-region question is a facility problem with `min_size = max_size = k`
//! and no region cost. The solver runs from two starts and keeps the better
//! result (the first on a tie): greedy addition from the fixed regions, and
//! greedy removal from every candidate, each followed by swap local search.
//!
//! ```
//! use std::collections::{BTreeMap, BTreeSet};
//! use placer_core::{network::geo, network::LatencyModel, Region};
//! use placer_lab::FixedK;
//!
//! let region = |code: &str| -> Region { code.parse().unwrap() };
//! let traffic: BTreeMap<Region, f64> =
//!     [(region("ams"), 40.0), (region("cdg"), 30.0), (region("syd"), 50.0)].into();
//! let everywhere: Vec<Region> = geo::catalog().iter().map(|info| info.code).collect();
//! let solver = FixedK::new(
//!     traffic.keys().copied(),
//!     everywhere,
//!     BTreeSet::new(),
//!     &LatencyModel::distance(),
//! );
//! let best = solver.solve(&traffic, 2).unwrap();
//! assert!(best.regions.contains(&region("syd")));
//! assert_eq!(best.regions.len(), 2);
//! ```

use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet};

use placer_core::network::solver::FacilityProblem;
use placer_core::{
    network::nearest_deployed, network::LatencyModel, network::RttTable, network::UNSERVED_RTT_MS,
    Region,
};
use serde::Serialize;

/// A fixed-size placement instance: edge regions that carry traffic, the
/// regions a solution may choose from, and regions every solution contains.
#[derive(Debug, Clone)]
pub struct FixedK {
    table: RttTable,
    /// Per column of `table`: whether every solution contains it.
    fixed: Vec<bool>,
}

/// A chosen set of regions and its cost.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pick {
    /// The chosen regions.
    pub regions: BTreeSet<Region>,
    /// `Σ_r w_r · RTT(r, regions)`, in request-milliseconds.
    pub cost: f64,
}

/// Why a fixed-size question could not be answered.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WeightError {
    /// A weight names an edge region the instance was not built with.
    #[error("region {region} carries traffic but is not one of the instance's edge regions")]
    UnknownEdge {
        /// The region at fault.
        region: Region,
    },
    /// A set names a region that is not a candidate.
    #[error("region {region} is not a candidate of this placement instance")]
    UnknownCandidate {
        /// The region at fault.
        region: Region,
    },
    /// A weight is negative, NaN or infinite.
    #[error("traffic weight {weight} for region {region} is not a finite number >= 0")]
    BadWeight {
        /// The region at fault.
        region: Region,
        /// The rejected weight.
        weight: f64,
    },
}

impl FixedK {
    /// An instance over `edges` (regions whose traffic counts), choosing from
    /// `candidates`; every solution contains `fixed`, which become candidates
    /// too.
    pub fn new(
        edges: impl IntoIterator<Item = Region>,
        candidates: impl IntoIterator<Item = Region>,
        fixed: impl IntoIterator<Item = Region>,
        model: &LatencyModel,
    ) -> Self {
        let fixed: BTreeSet<Region> = fixed.into_iter().collect();
        let servers = candidates.into_iter().chain(fixed.iter().copied());
        let table = RttTable::new(edges, servers, model);
        let fixed = table.servers().iter().map(|r| fixed.contains(r)).collect();
        FixedK { table, fixed }
    }

    /// The candidate regions (fixed ones included), sorted.
    pub fn candidates(&self) -> &[Region] {
        self.table.servers()
    }

    /// The best set of `k` regions found.
    ///
    /// The set always contains the fixed regions: a `k` below their number
    /// yields exactly the fixed regions, and a `k` above the number of
    /// candidates yields every candidate.
    ///
    /// # Errors
    /// [`WeightError`] when a weight is negative or not finite, or names a
    /// region that is not an edge of this instance.
    pub fn solve<'a, W: Borrow<f64>>(
        &self,
        weights: impl IntoIterator<Item = (&'a Region, W)>,
        k: usize,
    ) -> Result<Pick, WeightError> {
        let problem = self.problem(self.weights(weights)?, k);
        let everything = vec![true; self.candidates().len()];
        let set = problem.solve_from_each(&[&self.fixed, &everything]);
        Ok(self.pick(&problem, &set))
    }

    /// The cost `Σ_r w_r · RTT(r, set)` of deploying exactly `set`.
    ///
    /// # Errors
    /// As [`FixedK::solve`], and [`WeightError::UnknownCandidate`] when `set`
    /// holds a region that is not a candidate.
    pub fn cost<'a, W: Borrow<f64>>(
        &self,
        weights: impl IntoIterator<Item = (&'a Region, W)>,
        set: &BTreeSet<Region>,
    ) -> Result<f64, WeightError> {
        let problem = self.problem(self.weights(weights)?, set.len());
        Ok(problem.cost(&self.columns(set)?))
    }

    /// The optimal set of `k` regions by trying every combination; ties go
    /// to the combination that comes first in region-code order. Same
    /// clamping of `k` as [`FixedK::solve`].
    ///
    /// Runs in time proportional to C(candidates, k): meant for checking the
    /// solver and for small instances.
    ///
    /// # Errors
    /// As [`FixedK::solve`].
    pub fn brute_force<'a, W: Borrow<f64>>(
        &self,
        weights: impl IntoIterator<Item = (&'a Region, W)>,
        k: usize,
    ) -> Result<Pick, WeightError> {
        let problem = self.problem(self.weights(weights)?, k);
        let free: Vec<usize> = (0..self.fixed.len()).filter(|c| !self.fixed[*c]).collect();
        let extra = problem.min_size - (self.fixed.len() - free.len());
        let mut picks: Vec<usize> = (0..extra).collect();
        let mut best: Option<(f64, Vec<bool>)> = None;
        loop {
            let mut set = self.fixed.clone();
            for &i in &picks {
                set[free[i]] = true;
            }
            let cost = problem.cost(&set);
            if best.as_ref().is_none_or(|(least, _)| cost < *least) {
                best = Some((cost, set));
            }
            if !next_combination(&mut picks, free.len()) {
                break;
            }
        }
        let (_, set) = best.expect("at least one combination is tried");
        Ok(self.pick(&problem, &set))
    }

    fn problem(&self, weights: Vec<f64>, k: usize) -> FacilityProblem<'_> {
        let columns = self.candidates().len();
        let fixed = self.fixed.iter().filter(|f| **f).count();
        let size = k.clamp(fixed, columns);
        FacilityProblem {
            table: &self.table,
            weights,
            region_cost: vec![0.0; columns],
            min_size: size,
            max_size: size,
            fixed: self.fixed.clone(),
            allowed: vec![true; columns],
        }
    }

    /// Weight per edge row; edges without a weight carry none.
    fn weights<'a, W: Borrow<f64>>(
        &self,
        weights: impl IntoIterator<Item = (&'a Region, W)>,
    ) -> Result<Vec<f64>, WeightError> {
        let mut rows = vec![0.0; self.table.edges().len()];
        for (region, weight) in weights {
            let weight = *weight.borrow();
            if !weight.is_finite() || weight < 0.0 {
                return Err(WeightError::BadWeight {
                    region: *region,
                    weight,
                });
            }
            let row = self
                .table
                .edge_index(region)
                .ok_or(WeightError::UnknownEdge { region: *region })?;
            rows[row] += weight;
        }
        Ok(rows)
    }

    fn columns(&self, set: &BTreeSet<Region>) -> Result<Vec<bool>, WeightError> {
        let mut columns = vec![false; self.candidates().len()];
        for region in set {
            let column = self
                .table
                .server_index(region)
                .ok_or(WeightError::UnknownCandidate { region: *region })?;
            columns[column] = true;
        }
        Ok(columns)
    }

    fn pick(&self, problem: &FacilityProblem<'_>, set: &[bool]) -> Pick {
        let regions = self
            .candidates()
            .iter()
            .zip(set)
            .filter(|(_, chosen)| **chosen)
            .map(|(region, _)| *region)
            .collect();
        Pick {
            regions,
            cost: problem.cost(set),
        }
    }
}

/// Advances `picks` (strictly increasing indices below `n`) to the next
/// combination in lexicographic order; false after the last one.
fn next_combination(picks: &mut [usize], n: usize) -> bool {
    let k = picks.len();
    for i in (0..k).rev() {
        if picks[i] < n - k + i {
            picks[i] += 1;
            for j in i + 1..k {
                picks[j] = picks[j - 1] + 1;
            }
            return true;
        }
    }
    false
}

/// The facility-location cost `Σ_r w_r · RTT(r, set)` in request-milliseconds
/// for any weights and set, straight from the model; `RTT(r, ∅)` is
/// [`UNSERVED_RTT_MS`].
pub fn set_cost(
    weights: &BTreeMap<Region, f64>,
    set: &BTreeSet<Region>,
    model: &LatencyModel,
) -> f64 {
    weights
        .iter()
        .map(|(region, weight)| {
            let ms = nearest_deployed(region, set, model).map_or(UNSERVED_RTT_MS, |(_, ms)| ms);
            weight * ms
        })
        .sum()
}

#[cfg(test)]
mod tests;
