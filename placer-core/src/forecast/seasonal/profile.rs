//! One seasonal profile: a mean, a spread and a count of visits per bucket,
//! kept quantised so the state in memory is exactly the state persisted.

use super::base64;

/// Steps per unit of `ln(1 + x)` for a mean: about 0.05 % apart.
const MEAN_STEPS: f64 = 2048.0;
/// Steps per unit of `ln(1 + x)` for a spread: about 13 % apart.
const SPREAD_STEPS: f64 = 8.0;
/// How much of a bucket's new visit goes into its mean and spread.
const VISIT_WEIGHT: f64 = 0.5;

/// Per-bucket mean, spread (root-mean-square deviation from the mean
/// forecast before the visit) and visits: four bytes a bucket, in one
/// allocation (an engine keeps two profiles for every region with
/// traffic, and a service may keep thousands of engines).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Profile {
    slots: Box<[Slot]>,
}

/// One bucket, quantised.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Slot {
    mean: u16,
    spread: u8,
    visits: u8,
}

/// What a bucket holds, read back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Bucket {
    pub mean: f64,
    pub spread: f64,
    pub visits: u8,
}

impl Profile {
    pub fn new(buckets: usize) -> Self {
        Profile {
            slots: vec![Slot::default(); buckets].into_boxed_slice(),
        }
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// The bucket's content, `None` before its first visit.
    pub fn get(&self, index: usize) -> Option<Bucket> {
        let slot = self.slots[index];
        (slot.visits > 0).then(|| Bucket {
            mean: expand(slot.mean, MEAN_STEPS),
            spread: expand(u16::from(slot.spread), SPREAD_STEPS),
            visits: slot.visits,
        })
    }

    /// Folds a visit with mean `mean`, within-visit variance `variance`
    /// into the bucket.
    pub fn fold(&mut self, index: usize, mean: f64, variance: f64) {
        let (new_mean, new_spread) = match self.get(index) {
            None => (mean, variance.max(0.0).sqrt()),
            Some(before) => {
                let miss = mean - before.mean;
                let spread = (variance.max(0.0) + miss * miss).sqrt();
                (
                    before.mean + VISIT_WEIGHT * miss,
                    before.spread + VISIT_WEIGHT * (spread - before.spread),
                )
            }
        };
        let slot = &mut self.slots[index];
        slot.mean = squeeze(new_mean, MEAN_STEPS, u16::MAX);
        slot.spread = squeeze(new_spread, SPREAD_STEPS, u16::from(u8::MAX)) as u8;
        slot.visits = slot.visits.saturating_add(1);
    }

    /// True when every visited bucket's mean is zero.
    pub fn is_all_zero(&self) -> bool {
        self.slots.iter().all(|slot| slot.mean == 0)
    }

    /// The profile as base64 text: means (little-endian), spreads, visits.
    pub fn encode(&self) -> String {
        let mut bytes = Vec::with_capacity(self.len() * 4);
        for slot in self.slots.iter() {
            bytes.extend_from_slice(&slot.mean.to_le_bytes());
        }
        bytes.extend(self.slots.iter().map(|slot| slot.spread));
        bytes.extend(self.slots.iter().map(|slot| slot.visits));
        base64::encode(&bytes)
    }

    /// Reads [`encode`](Self::encode)'s text for a profile of `buckets`.
    pub fn decode(text: &str, buckets: usize) -> Option<Self> {
        let bytes = base64::decode(text)?;
        if bytes.len() != buckets * 4 {
            return None;
        }
        let (means, rest) = bytes.split_at(buckets * 2);
        let (spreads, visits) = rest.split_at(buckets);
        let slots = means
            .chunks_exact(2)
            .zip(spreads.iter().zip(visits))
            .map(|(mean, (spread, visits))| Slot {
                mean: u16::from_le_bytes([mean[0], mean[1]]),
                spread: *spread,
                visits: *visits,
            })
            .collect();
        Some(Profile { slots })
    }
}

fn squeeze(value: f64, steps: f64, max: u16) -> u16 {
    let scaled = (value.max(0.0).ln_1p() * steps).round();
    scaled.min(f64::from(max)) as u16
}

fn expand(quantised: u16, steps: f64) -> f64 {
    (f64::from(quantised) / steps).exp_m1()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mean_reads_back_within_a_twentieth_of_a_percent() {
        let mut profile = Profile::new(4);
        for value in [0.0, 0.4, 3.0, 120.0, 98_765.0] {
            profile = Profile::new(4);
            profile.fold(1, value, 0.0);
            let back = profile.get(1).unwrap().mean;
            assert!(
                (back - value).abs() <= 0.0005 * value + 0.001,
                "{value} -> {back}"
            );
        }
        assert_eq!(profile.get(0), None);
    }

    #[test]
    fn later_visits_move_the_mean_halfway_and_count() {
        let mut profile = Profile::new(2);
        profile.fold(0, 100.0, 0.0);
        profile.fold(0, 200.0, 0.0);
        let bucket = profile.get(0).unwrap();
        assert!((bucket.mean - 150.0).abs() < 0.2, "{bucket:?}");
        assert_eq!(bucket.visits, 2);
        // The miss of 100 is the new spread's evidence.
        assert!(bucket.spread > 30.0 && bucket.spread < 70.0, "{bucket:?}");
    }

    #[test]
    fn encoding_round_trips_and_rejects_the_wrong_size() {
        let mut profile = Profile::new(3);
        profile.fold(2, 42.0, 9.0);
        let text = profile.encode();
        assert_eq!(Profile::decode(&text, 3), Some(profile));
        assert_eq!(Profile::decode(&text, 4), None);
        assert_eq!(Profile::decode("not base64!", 3), None);
    }
}
