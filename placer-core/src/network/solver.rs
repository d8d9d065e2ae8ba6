//! Facility location on an [`RttTable`]: the set of serving regions that
//! minimises `Σ_e w_e · RTT(e, D) + region_cost · |D|`, by local search.
//!
//! This is the engine's one placement solver: the latency policy asks it
//! every tick, and offline tools ask it for reference placements (a fixed
//! size `k` is `min_size = max_size = k` with no region cost).
//!
//! ```
//! use placer_core::network::solver::{count, FacilityProblem};
//! use placer_core::{network::LatencyModel, Region, network::RttTable};
//!
//! let regions: Vec<Region> = ["fra", "iad", "syd"].iter().map(|c| c.parse().unwrap()).collect();
//! let table = RttTable::new(regions.clone(), regions, &LatencyModel::distance());
//! // Most traffic enters in Sydney (rows and columns are sorted by code).
//! let syd = table.server_index(&"syd".parse().unwrap()).unwrap();
//! let problem = FacilityProblem {
//!     table: &table,
//!     weights: (0..3).map(|row| if row == syd { 100.0 } else { 1.0 }).collect(),
//!     region_cost: vec![0.0; 3],
//!     min_size: 1,
//!     max_size: 1,
//!     fixed: vec![false; 3],
//!     allowed: vec![true; 3],
//! };
//! let best = problem.solve(&[false; 3]);
//! assert_eq!(count(&best), 1);
//! assert!(best[syd]);
//! ```

use crate::{network::RttTable, network::UNSERVED_RTT_MS};

/// One placement question: weights per table row, cost per region, size
/// bounds, and which columns must or may be chosen. Sets of columns are
/// `Vec<bool>`/`&[bool]` indexed like the table's servers.
#[derive(Debug)]
pub struct FacilityProblem<'a> {
    /// Round-trip times from every edge (row) to every candidate (column).
    pub table: &'a RttTable,
    /// Traffic per edge row.
    pub weights: Vec<f64>,
    /// Per column: objective units (request-milliseconds) choosing it costs.
    pub region_cost: Vec<f64>,
    /// Fewest columns a solution may have.
    pub min_size: usize,
    /// Most columns a solution may have.
    pub max_size: usize,
    /// Columns every solution contains.
    pub fixed: Vec<bool>,
    /// Columns a solution may contain.
    pub allowed: Vec<bool>,
}

/// Per edge row: the nearest chosen column (if any), its RTT, and the RTT of
/// the second nearest.
#[derive(Debug, Clone, Copy)]
struct Nearest {
    column: Option<usize>,
    best: f64,
    second: f64,
}

#[derive(Debug, Clone, Copy)]
enum Move {
    Add(usize),
    Drop(usize),
    Swap { out: usize, into: usize },
}

impl FacilityProblem<'_> {
    /// Traffic-weighted RTT of `set` plus its region cost.
    pub fn cost(&self, set: &[bool]) -> f64 {
        let regions: f64 = set
            .iter()
            .zip(&self.region_cost)
            .filter(|(chosen, _)| **chosen)
            .map(|(_, cost)| cost)
            .sum();
        let latency: f64 = self
            .nearest(set)
            .iter()
            .zip(&self.weights)
            .map(|(nearest, weight)| weight * nearest.best)
            .sum();
        latency + regions
    }

    /// The best set found from `start` and from the fixed columns alone;
    /// on a tie, the one reached from `start` (no change for nothing).
    pub fn solve(&self, start: &[bool]) -> Vec<bool> {
        self.solve_from_each(&[start, &self.fixed])
    }

    /// The best set found by local search from each of `starts`, or from
    /// the fixed columns alone when `starts` is empty. Each start is first
    /// made feasible: fixed columns added, then the most useful columns
    /// added one at a time up to `min_size` (greedy addition) or the least
    /// useful dropped down to `max_size` (greedy removal). A later start's
    /// result replaces an earlier one only when it is cheaper by more than
    /// rounding noise, so on a tie the earliest start wins.
    ///
    /// Starting from every column and from none gives greedy removal and
    /// greedy addition, the two classic starts for a fixed-size problem.
    pub fn solve_from_each(&self, starts: &[&[bool]]) -> Vec<bool> {
        let mut best: Option<Vec<bool>> = None;
        for start in starts {
            let found = self.improve(self.feasible(start.to_vec()));
            best = match best {
                Some(kept) if self.cost(&found) >= self.cost(&kept) - self.tolerance(&kept) => {
                    Some(kept)
                }
                _ => Some(found),
            };
        }
        best.unwrap_or_else(|| self.improve(self.feasible(self.fixed.clone())))
    }

    fn tolerance(&self, set: &[bool]) -> f64 {
        1e-9 * (1.0 + self.cost(set).abs())
    }

    fn nearest(&self, set: &[bool]) -> Vec<Nearest> {
        (0..self.weights.len())
            .map(|edge| {
                let row = self.table.row(edge);
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

    /// Adds fixed columns, then the most useful columns until `min_size`,
    /// then drops the least useful until `max_size`.
    fn feasible(&self, mut set: Vec<bool>) -> Vec<bool> {
        for (column, fixed) in self.fixed.iter().enumerate() {
            set[column] |= *fixed;
        }
        for (column, allowed) in self.allowed.iter().enumerate() {
            set[column] &= *allowed || self.fixed[column];
        }
        while count(&set) < self.min_size {
            let nearest = self.nearest(&set);
            let best = (0..set.len())
                .filter(|c| !set[*c] && self.allowed[*c])
                .map(|c| (c, self.add_delta(&nearest, c)))
                .min_by(|a, b| a.1.total_cmp(&b.1));
            match best {
                Some((column, _)) => set[column] = true,
                None => break,
            }
        }
        while count(&set) > self.max_size {
            let nearest = self.nearest(&set);
            let best = (0..set.len())
                .filter(|c| set[*c] && !self.fixed[*c])
                .map(|c| (c, self.drop_delta(&nearest, c)))
                .min_by(|a, b| a.1.total_cmp(&b.1));
            match best {
                Some((column, _)) => set[column] = false,
                None => break,
            }
        }
        set
    }

    /// Best-improvement local search over add, drop and swap moves.
    fn improve(&self, mut set: Vec<bool>) -> Vec<bool> {
        loop {
            let nearest = self.nearest(&set);
            let size = count(&set);
            let mut best: Option<(Move, f64)> = None;
            let tolerance = self.tolerance(&set);
            let mut consider = |candidate: Move, delta: f64| {
                if delta < -tolerance && best.is_none_or(|(_, d)| delta < d) {
                    best = Some((candidate, delta));
                }
            };
            let outside: Vec<usize> = (0..set.len())
                .filter(|c| !set[*c] && self.allowed[*c])
                .collect();
            let removable: Vec<usize> = (0..set.len())
                .filter(|c| set[*c] && !self.fixed[*c])
                .collect();
            if size < self.max_size {
                for &column in &outside {
                    consider(Move::Add(column), self.add_delta(&nearest, column));
                }
            }
            if size > self.min_size {
                for &column in &removable {
                    consider(Move::Drop(column), self.drop_delta(&nearest, column));
                }
            }
            for &out in &removable {
                for &into in &outside {
                    consider(
                        Move::Swap { out, into },
                        self.swap_delta(&nearest, out, into),
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

    fn add_delta(&self, nearest: &[Nearest], column: usize) -> f64 {
        let saved: f64 = nearest
            .iter()
            .zip(&self.weights)
            .enumerate()
            .map(|(edge, (n, w))| w * (self.table.rtt(edge, column) - n.best).min(0.0))
            .sum();
        saved + self.region_cost[column]
    }

    fn drop_delta(&self, nearest: &[Nearest], column: usize) -> f64 {
        let lost: f64 = nearest
            .iter()
            .zip(&self.weights)
            .filter(|(n, _)| n.column == Some(column))
            .map(|(n, w)| w * (n.second - n.best))
            .sum();
        lost - self.region_cost[column]
    }

    fn swap_delta(&self, nearest: &[Nearest], out: usize, into: usize) -> f64 {
        let regions = self.region_cost[into] - self.region_cost[out];
        let latency: f64 = nearest
            .iter()
            .zip(&self.weights)
            .enumerate()
            .map(|(edge, (n, w))| {
                let incoming = self.table.rtt(edge, into);
                let after = if n.column == Some(out) {
                    n.second.min(incoming)
                } else {
                    n.best.min(incoming)
                };
                w * (after - n.best)
            })
            .sum();
        regions + latency
    }
}

/// How many columns `set` chooses.
pub fn count(set: &[bool]) -> usize {
    set.iter().filter(|chosen| **chosen).count()
}

#[cfg(test)]
mod tests;
