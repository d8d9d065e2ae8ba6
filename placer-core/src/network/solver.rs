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
        self.cost_near(set, &self.nearest(set))
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
        let chosen: Vec<usize> = (0..set.len()).filter(|c| set[*c]).collect();
        self.nearest_among(&chosen)
    }

    /// Per edge row: the nearest and second-nearest of the `chosen`
    /// columns (ascending); on a tie the lowest column is the nearest.
    fn nearest_among(&self, chosen: &[usize]) -> Vec<Nearest> {
        (0..self.weights.len())
            .map(|edge| {
                let row = self.table.row(edge);
                let mut nearest = Nearest {
                    column: None,
                    best: UNSERVED_RTT_MS,
                    second: UNSERVED_RTT_MS,
                };
                for &column in chosen {
                    let ms = row[column];
                    if nearest.column.is_none() || ms < nearest.best {
                        nearest.second = nearest.best;
                        nearest.best = ms;
                        nearest.column = Some(column);
                    } else if ms < nearest.second {
                        nearest.second = ms;
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
    ///
    /// Each round keeps, per edge row, its nearest and second-nearest
    /// chosen column, and prices every move from them in one pass over the
    /// table (the classic fast-swap bookkeeping): an add saves what the new
    /// column takes over; a drop loses the gap to the second nearest on the
    /// dropped column's rows; a swap is the add plus the drop plus a
    /// correction on the rows of the dropped column that the added one
    /// serves better than their second nearest. Those sums are grouped
    /// differently from a row-by-row pricing, so their rounding differs by
    /// at most a tiny bound: every move within twice that bound of the
    /// best is priced again row by row, and the move taken is the one a
    /// row-by-row pricing of every move (in the order adds, drops, swaps)
    /// would take, ties included.
    fn improve(&self, mut set: Vec<bool>) -> Vec<bool> {
        let columns = set.len();
        let mut slot = vec![usize::MAX; columns];
        let mut add = vec![0.0; columns];
        let mut loss: Vec<f64> = Vec::new();
        let mut correction: Vec<f64> = Vec::new();
        loop {
            let chosen: Vec<usize> = (0..columns).filter(|c| set[*c]).collect();
            for (position, column) in chosen.iter().enumerate() {
                slot[*column] = position;
            }
            let nearest = self.nearest_among(&chosen);
            let size = chosen.len();
            let tolerance = 1e-9 * (1.0 + self.cost_near(&set, &nearest).abs());
            let outside: Vec<usize> = (0..columns)
                .filter(|c| !set[*c] && self.allowed[*c])
                .collect();
            let removable: Vec<usize> =
                chosen.iter().copied().filter(|c| !self.fixed[*c]).collect();

            add.fill(0.0);
            loss.clear();
            loss.resize(size, 0.0);
            correction.clear();
            correction.resize(size * columns, 0.0);
            let mut scale = 0.0;
            for (edge, (n, &w)) in nearest.iter().zip(&self.weights).enumerate() {
                let row = self.table.row(edge);
                scale += w.abs() * (n.best.abs() + n.second.abs());
                for (column, &ms) in row.iter().enumerate() {
                    if ms < n.best {
                        add[column] += w * (ms - n.best);
                    }
                }
                let Some(home) = n.column else { continue };
                let position = slot[home];
                loss[position] += w * (n.second - n.best);
                let corrections = &mut correction[position * columns..(position + 1) * columns];
                for (column, &ms) in row.iter().enumerate() {
                    if ms < n.second {
                        corrections[column] += w * (ms.max(n.best) - n.second);
                    }
                }
            }
            let largest_cost = self
                .region_cost
                .iter()
                .fold(0.0f64, |most, cost| most.max(cost.abs()));
            // Far above the rounding of either way of summing a move's
            // price (a few units in the last place per term).
            let slack = 1e-12 * (self.weights.len() as f64 + 8.0) * (scale + 2.0 * largest_cost);
            let quick_add = |column: usize| add[column] + self.region_cost[column];
            let quick_drop = |column: usize| loss[slot[column]] - self.region_cost[column];
            let quick_swap = |out: usize, into: usize| {
                let position = slot[out];
                (self.region_cost[into] - self.region_cost[out])
                    + (add[into] + loss[position] + correction[position * columns + into])
            };
            let adding = size < self.max_size;
            let dropping = size > self.min_size;
            let mut lowest = f64::INFINITY;
            if adding {
                for &column in &outside {
                    lowest = lowest.min(quick_add(column));
                }
            }
            if dropping {
                for &column in &removable {
                    lowest = lowest.min(quick_drop(column));
                }
            }
            for &out in &removable {
                for &into in &outside {
                    lowest = lowest.min(quick_swap(out, into));
                }
            }
            if lowest >= -tolerance + slack {
                return set;
            }
            // Only moves priced near the lowest can be the best one.
            let near = lowest + 2.0 * slack;
            let mut best: Option<(Move, f64)> = None;
            let mut consider = |candidate: Move, quick: f64, exact: &dyn Fn() -> f64| {
                if quick > near {
                    return;
                }
                let delta = exact();
                if delta < -tolerance && best.is_none_or(|(_, d)| delta < d) {
                    best = Some((candidate, delta));
                }
            };
            if adding {
                for &column in &outside {
                    consider(Move::Add(column), quick_add(column), &|| {
                        self.add_delta(&nearest, column)
                    });
                }
            }
            if dropping {
                for &column in &removable {
                    consider(Move::Drop(column), quick_drop(column), &|| {
                        self.drop_delta(&nearest, column)
                    });
                }
            }
            for &out in &removable {
                for &into in &outside {
                    consider(Move::Swap { out, into }, quick_swap(out, into), &|| {
                        self.swap_delta(&nearest, out, into)
                    });
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

    /// [`cost`](Self::cost) of `set` whose nearest columns are `nearest`,
    /// summed in the same order.
    fn cost_near(&self, set: &[bool], nearest: &[Nearest]) -> f64 {
        let regions: f64 = set
            .iter()
            .zip(&self.region_cost)
            .filter(|(chosen, _)| **chosen)
            .map(|(_, cost)| cost)
            .sum();
        let latency: f64 = nearest
            .iter()
            .zip(&self.weights)
            .map(|(nearest, weight)| weight * nearest.best)
            .sum();
        latency + regions
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
