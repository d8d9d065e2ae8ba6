//! Deploy and remove thresholds, adaptive to each region's own traffic.

use serde::{Deserialize, Serialize};

use crate::config::ThresholdMode;
use crate::PlacerConfig;

/// The levels a region's current traffic is compared against.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Deploy when current traffic is at or above this.
    pub deploy: f64,
    /// Remove when current traffic is at or below this.
    pub remove: f64,
}

impl Thresholds {
    /// Thresholds for a region whose long-term average is `long`, with
    /// `recent_longs` its recent long-term averages (oldest first; used by
    /// [`ThresholdMode::VolatilityAware`]).
    ///
    /// ```
    /// use placer_core::{PlacerConfig, thresholds::Thresholds};
    ///
    /// let config = PlacerConfig::default(); // traffic 50, deployment 10
    /// let quiet = Thresholds::for_region(&config, 20.0, &[]);
    /// assert_eq!((quiet.deploy, quiet.remove), (50.0, 10.0));
    /// let busy = Thresholds::for_region(&config, 100.0, &[]);
    /// assert!((busy.deploy - 110.0).abs() < 1e-9); // a rising trend is needed
    /// ```
    pub fn for_region(config: &PlacerConfig, long: f64, recent_longs: &[f64]) -> Thresholds {
        match config.thresholds {
            ThresholdMode::Adaptive => adaptive(config, long),
            ThresholdMode::VolatilityAware if recent_longs.is_empty() => adaptive(config, long),
            ThresholdMode::VolatilityAware => volatility_aware(config, recent_longs),
        }
    }
}

fn adaptive(config: &PlacerConfig, long: f64) -> Thresholds {
    Thresholds {
        deploy: config.traffic_threshold.max(1.1 * long),
        remove: config.deployment_threshold.min(0.9 * long),
    }
}

fn volatility_aware(config: &PlacerConfig, recent_longs: &[f64]) -> Thresholds {
    let count = recent_longs.len() as f64;
    let mean = recent_longs.iter().sum::<f64>() / count;
    let variance = recent_longs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / count;
    let variation = if mean > 0.0 {
        variance.sqrt() / mean
    } else {
        0.0
    };
    let factor = 1.0 + variation;
    let up = config.traffic_threshold.max(mean * 1.1 * factor);
    let down = config.deployment_threshold.min(mean * 0.9 / factor);
    let hysteresis = 0.1 * (up - down);
    Thresholds {
        deploy: up + hysteresis,
        remove: (down - hysteresis).max(0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adaptive_follows_the_seed_formula() {
        let config = PlacerConfig::default();
        let t = Thresholds::for_region(&config, 5.0, &[]);
        assert_eq!(t.deploy, 50.0);
        assert!((t.remove - 4.5).abs() < 1e-9);
    }

    #[test]
    fn volatility_widens_the_band() {
        let config = PlacerConfig {
            thresholds: ThresholdMode::VolatilityAware,
            ..PlacerConfig::default()
        };
        let steady = Thresholds::for_region(&config, 60.0, &[60.0; 10]);
        let jumpy = Thresholds::for_region(&config, 60.0, &[20.0, 100.0, 20.0, 100.0, 60.0]);
        assert!(jumpy.deploy > steady.deploy, "{jumpy:?} vs {steady:?}");
        assert!(jumpy.remove <= steady.remove);
        // Steady traffic: factor 1, so the band is the adaptive one widened by 10 % of its gap.
        let gap = 66.0 - 10.0;
        assert!(
            (steady.deploy - (66.0 + 0.1 * gap)).abs() < 1e-9,
            "{steady:?}"
        );
    }
}
