//! [`Timeline`]: what a placement policy did over a trace, tick by tick.

use std::collections::BTreeSet;

use serde::Serialize;

use placer_core::Region;

/// The regions deployed before a trace's first tick, the regions deployed
/// after each tick's actions, and how many actions each tick took.
///
/// Requests counted at tick `i` happened in the interval that ends at tick
/// `i`, so they were served by the set in force during it:
/// [`Timeline::serving`] — the initial set for tick 0, the set after tick
/// `i − 1`'s actions otherwise. A policy never gets credit for reacting to
/// traffic before it saw it.
///
/// ```
/// use std::collections::BTreeSet;
/// use placer_core::Region;
/// use placer_lab::Timeline;
///
/// let iad: Region = "iad".parse().unwrap();
/// let fra: Region = "fra".parse().unwrap();
/// let mut timeline = Timeline::new(BTreeSet::from([iad]));
/// timeline.push(BTreeSet::from([iad, fra]), 1);
/// timeline.push(BTreeSet::from([iad, fra]), 0);
/// assert_eq!(timeline.serving(0), &BTreeSet::from([iad]));
/// assert_eq!(timeline.serving(1).len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Timeline {
    initial: BTreeSet<Region>,
    after_tick: Vec<BTreeSet<Region>>,
    actions: Vec<usize>,
}

impl Timeline {
    /// A timeline with no ticks yet, starting from `initial`.
    pub fn new(initial: BTreeSet<Region>) -> Self {
        Timeline {
            initial,
            after_tick: Vec::new(),
            actions: Vec::new(),
        }
    }

    /// Records the next tick: the set `deployed` after its actions, and how
    /// many actions (deploys and removals, successful or not) it took.
    pub fn push(&mut self, deployed: BTreeSet<Region>, actions: usize) {
        self.after_tick.push(deployed);
        self.actions.push(actions);
    }

    /// Records the next tick, counting one action per region added or
    /// removed since the previous tick.
    pub fn push_changes(&mut self, deployed: BTreeSet<Region>) {
        let before = self.after_tick.last().unwrap_or(&self.initial);
        let actions = before.symmetric_difference(&deployed).count();
        self.push(deployed, actions);
    }

    /// The regions deployed before the first tick.
    pub fn initial(&self) -> &BTreeSet<Region> {
        &self.initial
    }

    /// The regions deployed after each tick's actions, in tick order.
    pub fn after_ticks(&self) -> &[BTreeSet<Region>] {
        &self.after_tick
    }

    /// Actions taken at each tick.
    pub fn actions(&self) -> &[usize] {
        &self.actions
    }

    /// Number of ticks recorded.
    pub fn len(&self) -> usize {
        self.after_tick.len()
    }

    /// True when no tick is recorded.
    pub fn is_empty(&self) -> bool {
        self.after_tick.is_empty()
    }

    /// The part of the timeline from tick `tick` on, starting from the set
    /// that served that tick: what is scored after a warm-up.
    ///
    /// # Panics
    /// When `tick` is beyond the recorded ticks.
    ///
    /// ```
    /// # use std::collections::BTreeSet;
    /// # use placer_lab::Timeline;
    /// let [iad, fra] = ["iad", "fra"].map(|code| code.parse().unwrap());
    /// let mut timeline = Timeline::new(BTreeSet::from([iad]));
    /// timeline.push(BTreeSet::from([iad, fra]), 1);
    /// timeline.push(BTreeSet::from([fra]), 1);
    /// let scored = timeline.since(1);
    /// assert_eq!(scored.initial(), &BTreeSet::from([iad, fra]));
    /// assert_eq!(scored.after_ticks(), &[BTreeSet::from([fra])]);
    /// assert_eq!(scored.actions(), &[1]);
    /// ```
    pub fn since(&self, tick: usize) -> Timeline {
        assert!(tick <= self.len(), "tick {tick} is not recorded");
        Timeline {
            initial: match tick {
                0 => self.initial.clone(),
                _ => self.after_tick[tick - 1].clone(),
            },
            after_tick: self.after_tick[tick..].to_vec(),
            actions: self.actions[tick..].to_vec(),
        }
    }

    /// The set that served tick `tick`'s requests: the initial set for tick
    /// 0, the set after tick `tick − 1` otherwise.
    ///
    /// # Panics
    /// When `tick` is beyond the recorded ticks.
    pub fn serving(&self, tick: usize) -> &BTreeSet<Region> {
        assert!(tick < self.len().max(1), "tick {tick} is not recorded");
        match tick {
            0 => &self.initial,
            _ => &self.after_tick[tick - 1],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(codes: &[&str]) -> BTreeSet<Region> {
        codes.iter().map(|c| c.parse().unwrap()).collect()
    }

    #[test]
    fn push_changes_counts_every_added_and_removed_region() {
        let mut timeline = Timeline::new(set(&["iad"]));
        timeline.push_changes(set(&["fra", "syd"]));
        timeline.push_changes(set(&["fra", "syd"]));
        timeline.push_changes(set(&["fra"]));
        assert_eq!(timeline.actions(), &[3, 0, 1]);
        assert_eq!(timeline.len(), 3);
    }

    #[test]
    fn each_tick_is_served_by_the_set_from_before_it() {
        let mut timeline = Timeline::new(set(&["iad"]));
        timeline.push(set(&["fra"]), 2);
        timeline.push(set(&["syd"]), 2);
        assert_eq!(timeline.serving(0), &set(&["iad"]));
        assert_eq!(timeline.serving(1), &set(&["fra"]));
        assert!(std::panic::catch_unwind(|| timeline.serving(2).len()).is_err());
    }
}
