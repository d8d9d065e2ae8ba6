//! The moves of the k-median search: greedy growth, greedy shrinking and
//! swap local search, over column indices of the instance's [`RttTable`].

use super::{Demand, KMedian};
use crate::UNSERVED_RTT_MS;

impl KMedian {
    /// Adds, one at a time, the candidate that lowers the cost most.
    pub(super) fn grow_greedily(&self, demand: &Demand, chosen: &mut Vec<usize>, target: usize) {
        let mut served: Vec<f64> = demand
            .iter()
            .map(|&(row, _)| self.nearest_ms(row, chosen))
            .collect();
        while chosen.len() < target {
            let mut pick: Option<(usize, f64)> = None;
            for col in (0..self.candidates().len()).filter(|col| !chosen.contains(col)) {
                let gain: f64 = demand
                    .iter()
                    .zip(&served)
                    .map(|(&(row, weight), &now)| {
                        weight * (now - self.table.rtt(row, col)).max(0.0)
                    })
                    .sum();
                if pick.is_none_or(|(_, best)| gain > best) {
                    pick = Some((col, gain));
                }
            }
            let Some((col, _)) = pick else { return };
            chosen.push(col);
            for (now, &(row, _)) in served.iter_mut().zip(demand) {
                *now = now.min(self.table.rtt(row, col));
            }
        }
    }

    /// Removes, one at a time, the non-fixed region whose loss raises the
    /// cost least.
    pub(super) fn shrink_greedily(&self, demand: &Demand, chosen: &mut Vec<usize>, target: usize) {
        chosen.sort_unstable();
        let mut pairs = self.two_nearest(demand, chosen);
        let mut loss = vec![0.0; self.candidates().len()];
        while chosen.len() > target {
            // Losing a region moves only the rows it serves to their second
            // nearest region (or leaves them unserved when there is none).
            loss.fill(0.0);
            for (&(_, weight), pair) in demand.iter().zip(&pairs) {
                if let Some(col) = pair.nearest {
                    let fallback = if pair.second_ms.is_finite() {
                        pair.second_ms
                    } else {
                        UNSERVED_RTT_MS
                    };
                    loss[col] += weight * (fallback - pair.nearest_ms);
                }
            }
            let mut drop: Option<(usize, f64)> = None;
            for &col in chosen.iter().filter(|col| !self.fixed.contains(col)) {
                if drop.is_none_or(|(_, least)| loss[col] < least) {
                    drop = Some((col, loss[col]));
                }
            }
            let Some((gone, _)) = drop else { return };
            chosen.retain(|&col| col != gone);
            // Only rows that counted on the removed region need a new look.
            for (&(row, _), pair) in demand.iter().zip(pairs.iter_mut()) {
                if pair.nearest == Some(gone) || pair.second == Some(gone) {
                    *pair = self.two_nearest_row(row, chosen);
                }
            }
        }
    }

    /// Applies the best improving swap until none improves.
    ///
    /// Each pass prices every (outgoing, incoming) pair in O(rows) per
    /// incoming region: rows that move to the incoming region gain whatever
    /// the outgoing one is, and the rest only lose when the outgoing region
    /// was their nearest (they fall back to the incoming or second nearest).
    pub(super) fn swap_until_stable(&self, demand: &Demand, chosen: &mut Vec<usize>) {
        chosen.sort_unstable();
        let width = self.candidates().len();
        let mut in_set = vec![false; width];
        let mut loss_if_out = vec![0.0; width];
        loop {
            in_set.fill(false);
            for &col in chosen.iter() {
                in_set[col] = true;
            }
            let pairs = self.two_nearest(demand, chosen);
            let current: f64 = demand
                .iter()
                .zip(&pairs)
                .map(|(&(_, weight), pair)| weight * pair.nearest_ms)
                .sum();
            // Ignore "improvements" that are rounding noise, so the search
            // cannot cycle between sets of equal cost.
            let noise = 1e-9 * current.max(1.0);
            let mut best: Option<(f64, usize, usize)> = None;
            for inn in (0..width).filter(|&col| !in_set[col]) {
                let mut gain = 0.0;
                loss_if_out.fill(0.0);
                for (&(row, weight), pair) in demand.iter().zip(&pairs) {
                    let ms_in = self.table.rtt(row, inn);
                    if ms_in < pair.nearest_ms {
                        gain += weight * (pair.nearest_ms - ms_in);
                    } else if let Some(col) = pair.nearest {
                        loss_if_out[col] += weight * (ms_in.min(pair.second_ms) - pair.nearest_ms);
                    }
                }
                for &out in chosen.iter().filter(|col| !self.fixed.contains(col)) {
                    let improvement = gain - loss_if_out[out];
                    if improvement > noise && best.is_none_or(|(most, _, _)| improvement > most) {
                        best = Some((improvement, out, inn));
                    }
                }
            }
            let Some((_, out, inn)) = best else { return };
            chosen.retain(|&col| col != out);
            chosen.push(inn);
            chosen.sort_unstable();
        }
    }

    /// [`NearestPair`] for every active row.
    fn two_nearest(&self, demand: &Demand, chosen: &[usize]) -> Vec<NearestPair> {
        demand
            .iter()
            .map(|&(row, _)| self.two_nearest_row(row, chosen))
            .collect()
    }

    fn two_nearest_row(&self, row: usize, chosen: &[usize]) -> NearestPair {
        let rtts = self.table.row(row);
        let mut pair = NearestPair::default();
        for &col in chosen {
            let ms = rtts[col];
            if pair.nearest.is_none() || ms < pair.nearest_ms {
                pair.second = pair.nearest;
                pair.second_ms = pair.nearest_ms;
                pair.nearest = Some(col);
                pair.nearest_ms = ms;
            } else if pair.second.is_none() || ms < pair.second_ms {
                pair.second = Some(col);
                pair.second_ms = ms;
            }
        }
        pair
    }
}

/// The two chosen regions closest to one edge row. With no region chosen
/// the row is unserved; with no second region its RTT is infinite, because
/// a swap always leaves the row some region.
#[derive(Debug, Clone, Copy)]
struct NearestPair {
    nearest: Option<usize>,
    nearest_ms: f64,
    second: Option<usize>,
    second_ms: f64,
}

impl Default for NearestPair {
    fn default() -> Self {
        NearestPair {
            nearest: None,
            nearest_ms: UNSERVED_RTT_MS,
            second: None,
            second_ms: f64::INFINITY,
        }
    }
}
