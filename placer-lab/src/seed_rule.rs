//! An emulation of the seed's placement rule, as it shipped, for the
//! backtest's **seed** reference row.
//!
//! The rule, per region present in the tick's metrics:
//! 1. Append the count to that region's history.
//! 2. Smooth the history **newest-first**: the window of the most recent
//!    values is walked from newest to oldest, starting the average at the
//!    newest value and folding each older one in with weight `alpha`. The
//!    result leans on the *oldest* values in the window — a quirk of the
//!    seed kept here on purpose. The short window and `alpha_short` give
//!    "current", the long window and `alpha_long` give "long".
//! 3. Deploy an undeployed region when
//!    `current ≥ max(traffic_threshold, 1.1 × long)`; remove a deployed one
//!    when `current ≤ min(deployment_threshold, 0.9 × long)`. Both are
//!    trend tests: flat traffic, however high, never deploys.
//! 4. The cooldown only blocks removing a region the rule itself deployed
//!    less than `cooldown` ago; deploys are never held back.
//! 5. The config's lists hold: a region outside `allowed_regions` (when it
//!    is set) or in `excluded_regions` is never deployed, and the
//!    `always_running_regions` are deployed at once and never removed.
//!
//! Like every backtest reference, the emulation places machines only where
//! the platform takes them: each tick's traffic is first counted at the
//! [home](crate::regions::home) of the region it entered at (an edge
//! region's users at the nearest deployable region), and a region without
//! coordinates is left out.
//!
//! Regions absent from a tick's metrics get no history entry and no
//! decision (the seed only looked at regions its query returned), so a
//! deployed region whose traffic vanishes entirely is never removed.
//!
//! ```
//! use std::collections::BTreeSet;
//! use placer_core::{Timestamp, TrafficSnapshot};
//! use placer_lab::{SeedRule, SeedRuleParams};
//!
//! let mut rule = SeedRule::new(SeedRuleParams::default(), BTreeSet::new());
//! let at = |minute: i64| Timestamp::from_unix_seconds(60 * minute);
//! // Flat high traffic: no trend, no deploy.
//! for minute in 0..10 {
//!     rule.observe(&TrafficSnapshot::new(at(minute), [("syd", 300.0)]).unwrap());
//! }
//! assert!(rule.deployed().is_empty());
//! ```

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use serde::Serialize;

use placer_core::{PlacerConfig, Region, Timestamp, TrafficSnapshot};

use crate::{Timeline, Trace};

/// The seed's tuning knobs, defaulting to its shipped configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeedRuleParams {
    /// Values in the "current" average (default 5). Zero acts as 1.
    pub short_term_window: usize,
    /// Values in the "long" average (default 20). Zero acts as 1.
    pub long_term_window: usize,
    /// Smoothing weight of the "current" average (default 0.3).
    pub alpha_short: f64,
    /// Smoothing weight of the "long" average (default 0.1).
    pub alpha_long: f64,
    /// Lowest "current" that can deploy (default 50).
    pub traffic_threshold: f64,
    /// Highest "current" that can remove (default 10).
    pub deployment_threshold: f64,
    /// How long after deploying a region it cannot be removed (default 10 s).
    pub cooldown: Duration,
    /// The only regions it may deploy, when not empty (`allowed_regions`).
    pub allowed_regions: BTreeSet<Region>,
    /// Regions it never deploys (`excluded_regions`).
    pub excluded_regions: BTreeSet<Region>,
    /// Regions it deploys at once and never removes
    /// (`always_running_regions`).
    pub always_running_regions: BTreeSet<Region>,
}

impl Default for SeedRuleParams {
    fn default() -> Self {
        SeedRuleParams {
            short_term_window: 5,
            long_term_window: 20,
            alpha_short: 0.3,
            alpha_long: 0.1,
            traffic_threshold: 50.0,
            deployment_threshold: 10.0,
            cooldown: Duration::from_secs(10),
            allowed_regions: BTreeSet::new(),
            excluded_regions: BTreeSet::new(),
            always_running_regions: BTreeSet::new(),
        }
    }
}

impl SeedRuleParams {
    /// The seed's rule with the settings it shares with the engine's
    /// `config` (windows, smoothing, thresholds, cooldown, the allowed,
    /// excluded and always-running regions), so a comparison
    /// answers "what would the original script have done with this config".
    ///
    /// ```
    /// use placer_core::PlacerConfig;
    /// use placer_lab::SeedRuleParams;
    ///
    /// // The defaults agree: a default config gives the seed as shipped.
    /// assert_eq!(SeedRuleParams::from_config(&PlacerConfig::default()), SeedRuleParams::default());
    /// ```
    pub fn from_config(config: &PlacerConfig) -> Self {
        SeedRuleParams {
            short_term_window: config.short_term_window,
            long_term_window: config.long_term_window,
            alpha_short: config.alpha_short,
            alpha_long: config.alpha_long,
            traffic_threshold: config.traffic_threshold,
            deployment_threshold: config.deployment_threshold,
            cooldown: config.cooldown_period,
            allowed_regions: config.allowed_regions.clone(),
            excluded_regions: config.excluded_regions.clone(),
            always_running_regions: config.always_running_regions.clone(),
        }
    }

    /// True when the rule may deploy `region`: not excluded, and in the
    /// allowed list when there is one.
    fn may_deploy(&self, region: &Region) -> bool {
        !self.excluded_regions.contains(region)
            && (self.allowed_regions.is_empty() || self.allowed_regions.contains(region))
    }
}

/// The seed's rule with its state: history per region, the deployed set and
/// when the rule deployed each region.
#[derive(Debug, Clone)]
pub struct SeedRule {
    params: SeedRuleParams,
    /// Newest value first.
    history: BTreeMap<Region, VecDeque<f64>>,
    deployed: BTreeSet<Region>,
    deployed_at: BTreeMap<Region, Timestamp>,
}

/// What one tick of the seed's rule changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeedDecision {
    /// Regions deployed this tick.
    pub deployed: Vec<Region>,
    /// Regions removed this tick.
    pub removed: Vec<Region>,
}

impl SeedRule {
    /// The rule with empty history and `initial` deployed.
    pub fn new(params: SeedRuleParams, initial: BTreeSet<Region>) -> Self {
        SeedRule {
            params,
            history: BTreeMap::new(),
            deployed: initial,
            deployed_at: BTreeMap::new(),
        }
    }

    /// The regions deployed now.
    pub fn deployed(&self) -> &BTreeSet<Region> {
        &self.deployed
    }

    /// Feeds one tick's metrics and applies the rule's decisions.
    pub fn observe(&mut self, snapshot: &TrafficSnapshot) -> SeedDecision {
        let snapshot = &crate::regions::by_home(snapshot);
        let keep = self
            .params
            .short_term_window
            .max(self.params.long_term_window)
            .max(1);
        let now = snapshot.at();
        let mut decision = SeedDecision::default();
        for region in &self.params.always_running_regions {
            if self.deployed.insert(*region) {
                self.deployed_at.insert(*region, now);
                decision.deployed.push(*region);
            }
        }
        for (region, requests) in snapshot.iter() {
            let history = self.history.entry(*region).or_default();
            history.push_front(requests);
            history.truncate(keep);
            let current = newest_first_average(
                history.iter().take(self.params.short_term_window.max(1)),
                self.params.alpha_short,
            );
            let long = newest_first_average(
                history.iter().take(self.params.long_term_window.max(1)),
                self.params.alpha_long,
            );
            let deploy_above = self.params.traffic_threshold.max(1.1 * long);
            let remove_below = self.params.deployment_threshold.min(0.9 * long);
            if !self.deployed.contains(region)
                && current >= deploy_above
                && self.params.may_deploy(region)
            {
                self.deployed.insert(*region);
                self.deployed_at.insert(*region, now);
                decision.deployed.push(*region);
            } else if self.deployed.contains(region)
                && current <= remove_below
                && !self.cooling_down(region, now)
                && !self.params.always_running_regions.contains(region)
            {
                self.deployed.remove(region);
                decision.removed.push(*region);
            }
        }
        decision
    }

    fn cooling_down(&self, region: &Region, now: Timestamp) -> bool {
        self.deployed_at
            .get(region)
            .is_some_and(|&at| now.duration_since(at) < self.params.cooldown)
    }
}

/// The seed's average: start at the first (newest) value and fold each
/// following (older) value in with weight `alpha`.
pub fn newest_first_average<'a>(
    newest_first: impl IntoIterator<Item = &'a f64>,
    alpha: f64,
) -> f64 {
    let mut values = newest_first.into_iter();
    let Some(&first) = values.next() else {
        return 0.0;
    };
    values.fold(first, |average, &older| {
        alpha * older + (1.0 - alpha) * average
    })
}

/// Replays `trace` through the seed's rule from `initial`, one decision per
/// tick; each tick's action count is its deploys plus removals.
pub fn replay_seed_rule(
    trace: &Trace,
    initial: &BTreeSet<Region>,
    params: &SeedRuleParams,
) -> Timeline {
    let mut rule = SeedRule::new(params.clone(), initial.clone());
    let mut timeline = Timeline::new(initial.clone());
    for snapshot in trace.ticks() {
        let decision = rule.observe(snapshot);
        let actions = decision.deployed.len() + decision.removed.len();
        timeline.push(rule.deployed().clone(), actions);
    }
    timeline
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(code: &str) -> Region {
        code.parse().unwrap()
    }

    fn at(tick: i64) -> Timestamp {
        Timestamp::from_unix_seconds(60 * tick)
    }

    fn feed(rule: &mut SeedRule, tick: i64, pairs: &[(&str, f64)]) -> SeedDecision {
        rule.observe(&TrafficSnapshot::new(at(tick), pairs.iter().copied()).unwrap())
    }

    #[test]
    fn the_average_leans_on_the_oldest_value() {
        // Newest 100, oldest 0: a chronological EMA would sit near 100.
        let newest_first = [100.0, 100.0, 100.0, 100.0, 0.0];
        let average = newest_first_average(&newest_first, 0.3);
        assert!((average - 70.0).abs() < 1e-9, "{average}");
        let average = newest_first_average(&[0.0, 100.0], 0.3);
        assert!((average - 30.0).abs() < 1e-9, "{average}");
        assert_eq!(newest_first_average(&[], 0.3), 0.0);
    }

    #[test]
    fn a_rising_region_deploys_once_current_clears_both_bars() {
        let mut rule = SeedRule::new(SeedRuleParams::default(), BTreeSet::new());
        for tick in 0..20 {
            assert!(feed(&mut rule, tick, &[("syd", 20.0)]).deployed.is_empty());
        }
        // A jump to 200: current is pulled up quickly, long slowly.
        let mut deployed_at = None;
        for tick in 20..30 {
            if !feed(&mut rule, tick, &[("syd", 200.0)]).deployed.is_empty() {
                deployed_at.get_or_insert(tick);
            }
        }
        assert_eq!(deployed_at, Some(20));
        assert!(rule.deployed().contains(&region("syd")));
    }

    #[test]
    fn flat_high_traffic_never_deploys() {
        let mut rule = SeedRule::new(SeedRuleParams::default(), BTreeSet::new());
        for tick in 0..100 {
            feed(&mut rule, tick, &[("syd", 500.0)]);
        }
        assert!(rule.deployed().is_empty());
    }

    #[test]
    fn removal_needs_a_falling_trend_below_the_threshold() {
        let initial = BTreeSet::from([region("iad")]);
        let mut rule = SeedRule::new(SeedRuleParams::default(), initial);
        // Flat low traffic is not a falling trend: 5 ≤ min(10, 4.5) fails.
        for tick in 0..30 {
            feed(&mut rule, tick, &[("iad", 5.0)]);
        }
        assert!(rule.deployed().contains(&region("iad")));
        // Falling from 80 to 2 is.
        let mut rule = SeedRule::new(SeedRuleParams::default(), BTreeSet::from([region("iad")]));
        for tick in 0..20 {
            feed(&mut rule, tick, &[("iad", 80.0)]);
        }
        let removed_at =
            (20..40).find(|&tick| !feed(&mut rule, tick, &[("iad", 2.0)]).removed.is_empty());
        assert!(removed_at.is_some());
        assert!(rule.deployed().is_empty());
    }

    #[test]
    fn the_seed_row_uses_the_config_shared_settings() {
        let mut config = PlacerConfig::default();
        config.traffic_threshold = 80.0;
        config.cooldown_period = std::time::Duration::from_secs(600);
        let params = SeedRuleParams::from_config(&config);
        assert_eq!(params.traffic_threshold, 80.0);
        assert_eq!(params.cooldown.as_secs(), 600);
        // The defaults agree, so a default config gives the seed as shipped.
        assert_eq!(
            SeedRuleParams::from_config(&PlacerConfig::default()),
            SeedRuleParams::default()
        );
    }

    #[test]
    fn the_lists_of_the_config_hold() {
        let params = SeedRuleParams {
            allowed_regions: [region("fra"), region("iad")].into(),
            excluded_regions: [region("iad")].into(),
            always_running_regions: [region("lhr")].into(),
            ..SeedRuleParams::default()
        };
        let mut rule = SeedRule::new(params, BTreeSet::new());
        // A jump in every region: only fra may take it.
        for tick in 0..30 {
            let requests = if tick < 20 { 20.0 } else { 200.0 };
            feed(
                &mut rule,
                tick,
                &[
                    ("fra", requests),
                    ("iad", requests),
                    ("sin", requests),
                    ("lhr", 0.0),
                ],
            );
        }
        let expected: BTreeSet<Region> = [region("fra"), region("lhr")].into();
        assert_eq!(rule.deployed(), &expected);
        // lhr stays though it has no traffic at all.
        for tick in 30..60 {
            feed(&mut rule, tick, &[("fra", 0.0), ("lhr", 0.0)]);
        }
        assert!(rule.deployed().contains(&region("lhr")));
        assert!(!rule.deployed().contains(&region("fra")));
    }

    #[test]
    fn cooldown_only_holds_back_removal_after_a_deploy() {
        let params = SeedRuleParams {
            cooldown: Duration::from_secs(600),
            ..SeedRuleParams::default()
        };
        let mut rule = SeedRule::new(params, BTreeSet::new());
        for tick in 0..20 {
            feed(&mut rule, tick, &[("syd", 0.0)]);
        }
        assert_eq!(
            feed(&mut rule, 20, &[("syd", 400.0)]).deployed,
            vec![region("syd")]
        );
        // Traffic collapses at once: the trend says remove, the cooldown
        // (10 ticks of 60 s) says not yet.
        let removed_at =
            (21..60).find(|&tick| !feed(&mut rule, tick, &[("syd", 0.0)]).removed.is_empty());
        assert_eq!(removed_at, Some(30));
    }

    #[test]
    fn regions_missing_from_the_metrics_are_left_alone() {
        let initial = BTreeSet::from([region("iad")]);
        let mut rule = SeedRule::new(SeedRuleParams::default(), initial.clone());
        for tick in 0..50 {
            feed(&mut rule, tick, &[("fra", 1.0)]);
        }
        assert_eq!(rule.deployed(), &initial);
    }

    #[test]
    fn replay_records_the_set_and_actions_of_every_tick() {
        let ticks = (0..25)
            .map(|tick| {
                let requests = if tick < 20 { 0.0 } else { 300.0 };
                TrafficSnapshot::new(at(tick), [("syd", requests)]).unwrap()
            })
            .collect();
        let trace = Trace::new(ticks).unwrap();
        let timeline = replay_seed_rule(&trace, &BTreeSet::new(), &SeedRuleParams::default());
        assert_eq!(timeline.len(), 25);
        assert_eq!(timeline.actions().iter().sum::<usize>(), 1);
        assert_eq!(timeline.actions()[20], 1);
        assert!(timeline.after_ticks()[19].is_empty());
        assert_eq!(timeline.after_ticks()[20], BTreeSet::from([region("syd")]));
    }
}
