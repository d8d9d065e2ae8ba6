//! [`RegionMap`]: the engine state's regions, in region order, in one
//! vector of exactly the regions held.

use super::RegionState;
use crate::Region;

/// What the engine remembers per region, in region order. A map of a few
/// dozen entries: one sorted vector without spare room holds them in about
/// half the memory of a `BTreeMap` (whose nodes are sized for eleven
/// entries and are often half full), and a copy of it is one allocation.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RegionMap {
    entries: Vec<(Region, RegionState)>,
}

impl RegionMap {
    fn position(&self, region: &Region) -> Result<usize, usize> {
        self.entries.binary_search_by(|(held, _)| held.cmp(region))
    }

    /// Room for `more` entries, exactly.
    pub(crate) fn reserve_exact(&mut self, more: usize) {
        self.entries.reserve_exact(more);
    }

    /// The state of `region`, added with default values if not held.
    pub(crate) fn entry_or_default(&mut self, region: Region) -> &mut RegionState {
        let at = match self.position(&region) {
            Ok(at) => at,
            Err(at) => {
                // One more entry without doubling the vector's room.
                self.entries.reserve_exact(1);
                self.entries.insert(at, (region, RegionState::default()));
                at
            }
        };
        &mut self.entries[at].1
    }

    pub(crate) fn get(&self, region: &Region) -> Option<&RegionState> {
        let at = self.position(region).ok()?;
        Some(&self.entries[at].1)
    }

    pub(crate) fn contains(&self, region: &Region) -> bool {
        self.position(region).is_ok()
    }

    /// Every entry, in region order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Region, &RegionState)> + '_ {
        self.entries.iter().map(|(region, state)| (region, state))
    }

    /// Every entry, in region order, the states changeable.
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (&Region, &mut RegionState)> + '_ {
        self.entries
            .iter_mut()
            .map(|(region, state)| (&*region, state))
    }

    /// Every state, in region order, changeable.
    pub(crate) fn values_mut(&mut self) -> impl Iterator<Item = &mut RegionState> + '_ {
        self.entries.iter_mut().map(|(_, state)| state)
    }

    /// Keeps the entries `keep` is true for.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&Region, &RegionState) -> bool) {
        let before = self.entries.len();
        self.entries.retain(|(region, state)| keep(region, state));
        if self.entries.len() < before {
            self.entries.shrink_to_fit();
        }
    }

    /// Moves every entry out, in region order.
    pub(crate) fn into_entries(self) -> impl Iterator<Item = (Region, RegionState)> {
        self.entries.into_iter()
    }
}

/// Entries in any order; a region given twice keeps its last state.
impl FromIterator<(Region, RegionState)> for RegionMap {
    fn from_iter<I: IntoIterator<Item = (Region, RegionState)>>(entries: I) -> Self {
        let mut entries: Vec<_> = entries.into_iter().collect();
        // Stable: of equal regions the last given stays last.
        entries.sort_by_key(|(region, _)| *region);
        entries.reverse();
        entries.dedup_by(|(a, _), (b, _)| a == b);
        entries.reverse();
        entries.shrink_to_fit();
        RegionMap { entries }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(code: &str) -> Region {
        code.parse().unwrap()
    }

    fn with_streak(high_streak: u32) -> RegionState {
        RegionState {
            high_streak,
            ..RegionState::default()
        }
    }

    #[test]
    fn entries_stay_in_region_order_whatever_order_they_come_in() {
        let mut map = RegionMap::default();
        for code in ["lhr", "ams", "syd", "iad", "ams"] {
            map.entry_or_default(region(code)).high_streak += 1;
        }
        let held: Vec<_> = map
            .iter()
            .map(|(region, state)| (region.to_string(), state.high_streak))
            .collect();
        assert_eq!(
            held,
            [("ams", 2), ("iad", 1), ("lhr", 1), ("syd", 1)].map(|(r, s)| (r.to_owned(), s))
        );
        assert!(map.contains(&region("iad")));
        assert!(!map.contains(&region("fra")));
        assert_eq!(map.get(&region("ams")).unwrap().high_streak, 2);
        assert!(map.get(&region("fra")).is_none());
    }

    #[test]
    fn the_vector_holds_no_spare_room() {
        let mut map = RegionMap::default();
        for (i, code) in ["iad", "ams", "lhr", "syd", "nrt", "fra", "gru"]
            .into_iter()
            .enumerate()
        {
            map.entry_or_default(region(code));
            assert_eq!(map.entries.capacity(), i + 1);
        }
        map.retain(|region, _| region.to_string() != "lhr");
        assert_eq!(map.entries.capacity(), 6);
        assert_eq!(map.clone().entries.capacity(), 6);
    }

    #[test]
    fn collected_entries_are_sorted_and_the_last_of_a_region_wins() {
        let map: RegionMap = [
            (region("syd"), with_streak(1)),
            (region("ams"), with_streak(2)),
            (region("syd"), with_streak(3)),
        ]
        .into_iter()
        .collect();
        let held: Vec<_> = map
            .into_entries()
            .map(|(region, state)| (region.to_string(), state.high_streak))
            .collect();
        assert_eq!(held, [("ams".to_owned(), 2), ("syd".to_owned(), 3)]);
    }
}
