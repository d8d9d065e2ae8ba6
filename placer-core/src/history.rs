//! [`RegionHistory`]: the bounded series of request counts kept per region.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// Request counts observed in one region, oldest first, holding at most a
/// fixed number of points (the longest averaging window).
///
/// ```
/// use placer_core::history::RegionHistory;
///
/// let mut history = RegionHistory::default();
/// for count in [1.0, 2.0, 3.0, 4.0] {
///     history.push(count, 3);
/// }
/// assert_eq!(history.iter().collect::<Vec<_>>(), vec![2.0, 3.0, 4.0]);
/// ```
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RegionHistory {
    points: VecDeque<f64>,
}

/// A copy with the same room as the original: the engine copies its state
/// at a tick while the status endpoints still show the previous one, then
/// adds a point to every history; a copy of only the points held would be
/// moved to a larger allocation at once.
impl Clone for RegionHistory {
    fn clone(&self) -> Self {
        let mut points = VecDeque::with_capacity(self.points.capacity().max(self.points.len()));
        points.extend(self.points.iter().copied());
        RegionHistory { points }
    }
}

impl RegionHistory {
    /// Appends the newest point, dropping the oldest ones beyond `capacity`.
    pub fn push(&mut self, requests: f64, capacity: usize) {
        let capacity = capacity.max(1);
        // Room for exactly `capacity` points: growing by doubling would
        // hold up to twice the memory the history needs, for every region.
        if self.points.capacity() < capacity {
            self.points.reserve_exact(capacity - self.points.len());
        }
        while self.points.len() >= capacity {
            self.points.pop_front();
        }
        self.points.push_back(requests);
    }

    /// Drops the oldest points so that at most `capacity` remain.
    pub fn truncate_to(&mut self, capacity: usize) {
        while self.points.len() > capacity {
            self.points.pop_front();
        }
    }

    /// Points from oldest to newest.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = f64> + ExactSizeIterator + '_ {
        self.points.iter().copied()
    }

    /// The newest `n` points (or all, if fewer), oldest first.
    pub fn newest(&self, n: usize) -> impl Iterator<Item = f64> + '_ {
        self.points
            .iter()
            .skip(self.points.len().saturating_sub(n))
            .copied()
    }

    /// The most recent point.
    pub fn latest(&self) -> Option<f64> {
        self.points.back().copied()
    }

    /// Number of points held.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// True when no point is held.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// True when every point held is zero.
    pub fn is_all_zero(&self) -> bool {
        self.points.iter().all(|point| *point == 0.0)
    }

    pub(crate) fn is_valid(&self) -> bool {
        self.points.iter().all(|p| p.is_finite() && *p >= 0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::RegionHistory;

    #[test]
    fn a_copy_keeps_the_room_for_the_full_window() {
        let mut history = RegionHistory::default();
        for count in [1.0, 2.0, 3.0] {
            history.push(count, 20);
        }
        let copy = history.clone();
        assert_eq!(copy, history);
        assert_eq!(copy.points.capacity(), history.points.capacity());
        assert!(copy.points.capacity() >= 20);
    }
}
