//! Short- and long-term exponential moving averages of a region's traffic.

use serde::{Deserialize, Serialize};

use crate::{history::RegionHistory, PlacerConfig};

/// Exponential moving average of `points`, given oldest first: the first
/// point seeds it and each later point moves it by `alpha` of the difference,
/// so the newest points weigh the most.
///
/// ```
/// use placer_core::predictor::ema;
///
/// assert_eq!(ema([10.0, 10.0, 10.0], 0.3), Some(10.0));
/// // A fresh spike moves a fast average more than a slow one.
/// assert!(ema([10.0, 10.0, 100.0], 0.5) > ema([10.0, 10.0, 100.0], 0.1));
/// assert_eq!(ema(std::iter::empty(), 0.5), None);
/// ```
pub fn ema(points: impl IntoIterator<Item = f64>, alpha: f64) -> Option<f64> {
    let mut points = points.into_iter();
    let first = points.next()?;
    Some(points.fold(first, |average, point| average + alpha * (point - average)))
}

/// The smoothed traffic of one region.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Averages {
    /// EMA with `alpha_short` over the last `short_term_window` points.
    pub short: f64,
    /// EMA with `alpha_long` over the last `long_term_window` points.
    pub long: f64,
    /// What the thresholds compare: `short` once `short_term_window` points
    /// exist, `long` before that.
    pub current: f64,
    /// Points of history the averages are built from.
    pub points: usize,
}

impl Averages {
    /// The averages of `history` under `config`, or `None` when there is no
    /// data yet.
    pub fn of(history: &RegionHistory, config: &PlacerConfig) -> Option<Averages> {
        let short = ema(history.newest(config.short_term_window), config.alpha_short)?;
        let long = ema(history.newest(config.long_term_window), config.alpha_long)?;
        let points = history.len();
        let current = if points >= config.short_term_window {
            short
        } else {
            long
        };
        Some(Averages {
            short,
            long,
            current,
            points,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(points: &[f64]) -> RegionHistory {
        let mut history = RegionHistory::default();
        for point in points {
            history.push(*point, 100);
        }
        history
    }

    #[test]
    fn fresh_spike_moves_short_average_more_than_long() {
        let config = PlacerConfig::default();
        let mut points = vec![10.0; 19];
        points.push(200.0);
        let averages = Averages::of(&history(&points), &config).unwrap();
        assert!(averages.short > averages.long, "{averages:?}");
        // In time order the newest point carries alpha of the weight.
        assert!((averages.short - (10.0 + 0.3 * 190.0)).abs() < 1e-9);
        assert!((averages.long - (10.0 + 0.1 * 190.0)).abs() < 1e-9);
    }

    #[test]
    fn old_spike_fades_from_short_average_first() {
        let config = PlacerConfig::default();
        let mut points = vec![200.0];
        points.extend([10.0; 10]);
        let averages = Averages::of(&history(&points), &config).unwrap();
        // The spike is outside the short window entirely.
        assert_eq!(averages.short, 10.0);
        assert!(averages.long > averages.short);
    }

    #[test]
    fn current_is_long_until_short_window_fills() {
        let config = PlacerConfig::default();
        let few = Averages::of(&history(&[10.0, 50.0]), &config).unwrap();
        assert_eq!(few.current, few.long);
        let enough = Averages::of(&history(&[10.0, 50.0, 50.0, 50.0, 50.0]), &config).unwrap();
        assert_eq!(enough.current, enough.short);
    }

    #[test]
    fn no_points_no_averages() {
        assert!(Averages::of(&RegionHistory::default(), &PlacerConfig::default()).is_none());
    }
}
