//! The app's usual traffic: a slow average of its total requests per
//! observation, against which the latency policy prices a region.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// A time-weighted exponential average of the app's total traffic.
///
/// Each update moves the average towards the new total by the share of a
/// half-life that has passed since the previous one, so irregular ticks
/// weigh by the time they cover, not by their number.
///
/// ```
/// use std::time::Duration;
/// use placer_core::policy::TrafficBaseline;
/// use placer_core::Timestamp;
///
/// let start = Timestamp::from_unix_seconds(0);
/// let half_life = Duration::from_secs(3600);
/// let baseline = TrafficBaseline::start(100.0, start);
/// // One half-life later, halfway from 100 to 300.
/// let later = baseline.update(300.0, start + half_life, half_life);
/// assert!((later.requests - 200.0).abs() < 1e-9);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrafficBaseline {
    /// The average total, in requests per observation.
    pub requests: f64,
    /// When it was last updated.
    pub at: Timestamp,
}

impl TrafficBaseline {
    /// A baseline that starts at the first observed `total`.
    pub fn start(total: f64, at: Timestamp) -> Self {
        TrafficBaseline {
            requests: total,
            at,
        }
    }

    /// The baseline after observing `total` at `now`. A clock that went
    /// backwards counts as no time passing.
    pub fn update(self, total: f64, now: Timestamp, half_life: Duration) -> Self {
        let elapsed = now.duration_since(self.at).as_secs_f64();
        let kept = if half_life.is_zero() {
            0.0
        } else {
            0.5f64.powf(elapsed / half_life.as_secs_f64())
        };
        TrafficBaseline {
            requests: kept * self.requests + (1.0 - kept) * total,
            at: if now > self.at { now } else { self.at },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_unix_seconds(seconds)
    }

    #[test]
    fn a_short_spike_barely_moves_the_baseline() {
        let mut baseline = TrafficBaseline::start(200.0, at(0));
        for minute in 1..=30 {
            baseline = baseline.update(800.0, at(60 * minute), 2 * HOUR);
        }
        // Half an hour of a fourfold spike against a two-hour half-life.
        assert!(
            baseline.requests > 200.0 && baseline.requests < 350.0,
            "{baseline:?}"
        );
    }

    #[test]
    fn ticks_weigh_by_the_time_they_cover() {
        let one_step = TrafficBaseline::start(0.0, at(0)).update(100.0, at(3600), HOUR);
        let mut many_steps = TrafficBaseline::start(0.0, at(0));
        for minute in 1..=60 {
            many_steps = many_steps.update(100.0, at(60 * minute), HOUR);
        }
        assert!((one_step.requests - 50.0).abs() < 1e-9);
        assert!((many_steps.requests - 50.0).abs() < 1e-9);
    }

    #[test]
    fn a_clock_that_goes_back_changes_nothing() {
        let baseline = TrafficBaseline::start(100.0, at(600));
        let after = baseline.update(900.0, at(0), HOUR);
        assert_eq!(after, baseline);
    }

    #[test]
    fn a_zero_half_life_follows_the_latest_total() {
        let baseline = TrafficBaseline::start(100.0, at(0)).update(40.0, at(60), Duration::ZERO);
        assert_eq!(baseline.requests, 40.0);
    }
}
