//! Property tests: rules that hold for every valid config and traffic.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use futures::executor::block_on;
use placer_core::config::ThresholdMode;
use placer_core::{
    state::FIRST_BACKOFF, state::MAX_BACKOFF, Action, ActuatorError, InMemoryActuator,
    MachineCount, Outcome, Placer, PlacerConfig, Region, RegionActuator, ScriptedSource,
    TickReport, Timestamp, TrafficSnapshot,
};
use proptest::prelude::*;
use proptest::sample::subsequence;

const POOL: [&str; 8] = ["iad", "fra", "ams", "sin", "syd", "gru", "nrt", "lhr"];
const TICK: Duration = Duration::from_secs(60);

fn regions(codes: &[&str]) -> BTreeSet<Region> {
    codes.iter().map(|c| c.parse().unwrap()).collect()
}

prop_compose! {
    fn config()(
        short in 1usize..5,
        extra in 0usize..15,
        alpha_short in 0.05f64..=1.0,
        alpha_long in 0.05f64..=1.0,
        traffic_threshold in 20.0f64..120.0,
        deployment_fraction in 0.0f64..0.9,
        allowed in subsequence(POOL.to_vec(), 0..=8),
        excluded in subsequence(POOL.to_vec(), 0..=3),
        always in subsequence(POOL.to_vec(), 0..=2),
        max_actions in 1usize..4,
        sustain in 0usize..4,
        cooldown_ticks in 0u64..6,
        volatility in any::<bool>(),
        min_regions in 1usize..3,
    ) -> PlacerConfig {
        let excluded = regions(&excluded);
        let allowed = regions(&allowed);
        // Keep the generated config valid: always-running ⊆ allowed (when set), ∉ excluded.
        let always: BTreeSet<Region> = regions(&always)
            .into_iter()
            .filter(|r| !excluded.contains(r) && (allowed.is_empty() || allowed.contains(r)))
            .collect();
        PlacerConfig::default().with_dry_run(false).with_cooldown_period(TICK * cooldown_ticks as u32).with_short_term_window(short).with_long_term_window(short + extra).with_alpha_short(alpha_short).with_alpha_long(alpha_long).with_traffic_threshold(traffic_threshold).with_deployment_threshold(traffic_threshold * deployment_fraction).with_allowed_regions(allowed).with_excluded_regions(excluded).with_always_running_regions(always).with_max_actions_per_tick(max_actions).with_sustain_ticks(sustain).with_thresholds(if volatility { ThresholdMode::VolatilityAware } else { ThresholdMode::Adaptive }).with_min_regions(min_regions)
    }
}

/// One tick's observation: `None` is a failed fetch.
fn observations() -> impl Strategy<Value = Vec<Option<Vec<(usize, f64)>>>> {
    let snapshot = prop::collection::vec((0usize..8, 0.0f64..300.0), 0..6);
    prop::collection::vec(prop::option::weighted(0.85, snapshot), 1..40)
}

fn initial() -> impl Strategy<Value = Vec<&'static str>> {
    subsequence(POOL.to_vec(), 1..=3)
}

fn snapshot(at: Timestamp, counts: &[(usize, f64)]) -> TrafficSnapshot {
    let mut merged: BTreeMap<&str, f64> = BTreeMap::new();
    for (index, count) in counts {
        merged.insert(POOL[*index], *count);
    }
    TrafficSnapshot::new(at, merged).unwrap()
}

fn run(
    config: &PlacerConfig,
    initial: &[&str],
    observations: &[Option<Vec<(usize, f64)>>],
) -> Vec<TickReport> {
    let mut placer = Placer::new(config.clone()).unwrap();
    let actuator = InMemoryActuator::new(regions(initial));
    let source = ScriptedSource::new();
    let start = Timestamp::from_unix_seconds(1_800_000_000);
    observations
        .iter()
        .enumerate()
        .map(|(i, observation)| {
            let now = start + TICK * i as u32;
            match observation {
                Some(counts) => source.push(snapshot(now, counts)),
                None => source.push_failure("metrics backend unavailable"),
            }
            block_on(placer.tick(&source, &actuator, now))
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn safety_rules_hold_on_every_tick(
        config in config(),
        initial in initial(),
        observations in observations(),
    ) {
        let reports = run(&config, &initial, &observations);
        let mut last_action: BTreeMap<Region, Timestamp> = BTreeMap::new();
        for (report, observation) in reports.iter().zip(&observations) {
            prop_assert!(report.actions.len() <= config.max_actions_per_tick);
            if observation.is_none() {
                prop_assert!(report.error.is_some());
                prop_assert!(report.actions.is_empty(), "a failed fetch acted: {report:?}");
            }
            for region in &report.deployed {
                let already = report.current_deployment.contains(region);
                prop_assert!(already || config.may_deploy(region) || config.always_running_regions.contains(region),
                    "deployed {region} against the lists");
                prop_assert!(!config.excluded_regions.contains(region));
            }
            for region in &report.removed {
                prop_assert!(!config.always_running_regions.contains(region), "removed always-running {region}");
            }
            let before = report.current_deployment.len();
            let after = report.updated_deployment.len();
            if after < before {
                prop_assert!(after >= config.min_regions, "went below min_regions: {report:?}");
            }
            prop_assert!(before == 0 || after > 0, "removed the last region");
            for action in report.actions.iter().filter(|a| a.outcome == Outcome::Ok) {
                if let Some(previous) = last_action.get(&action.decision.region) {
                    prop_assert!(report.at.duration_since(*previous) >= config.cooldown_period,
                        "cooldown violated on {}", action.decision.region);
                }
                last_action.insert(action.decision.region, report.at);
            }
        }
    }

    #[test]
    fn same_input_same_reports(
        config in config(),
        initial in initial(),
        observations in observations(),
    ) {
        let first = run(&config, &initial, &observations);
        let second = run(&config, &initial, &observations);
        prop_assert_eq!(
            serde_json::to_string(&first).unwrap(),
            serde_json::to_string(&second).unwrap()
        );
    }

    #[test]
    fn steady_traffic_over_threshold_is_deployed_within_the_sustain_window(
        config in config(),
        level in 1.0f64..3.0,
    ) {
        let mut config = config;
        config.allowed_regions.clear();
        config.excluded_regions.clear();
        config.always_running_regions.clear();
        config.sustain_ticks = config.sustain_ticks.max(1);
        let hot = 1; // fra, not initially deployed
        let count = config.traffic_threshold * level;
        let ticks = config.sustain_ticks + config.long_term_window;
        let observations: Vec<_> = (0..ticks).map(|_| Some(vec![(0, 0.0), (hot, count)])).collect();
        let reports = run(&config, &["iad"], &observations);
        let deployed_at = reports.iter().position(|r| r.deployed.iter().any(|x| x.as_str() == "fra"));
        prop_assert!(deployed_at.is_some(), "never deployed fra at {count}");
        // With `short_term_window` points the current average is the steady level itself.
        prop_assert!(deployed_at.unwrap() < config.short_term_window + config.sustain_ticks,
            "fra deployed late, at tick {:?}", deployed_at);
    }

    #[test]
    fn constant_traffic_settles(
        config in config(),
        initial in initial(),
        counts in prop::collection::vec((0usize..8, 0.0f64..300.0), 1..8),
    ) {
        let cooldown_ticks = (config.cooldown_period.as_secs() / 60) as usize;
        let settle = config.long_term_window + 8 * (cooldown_ticks + 2) + config.sustain_ticks + 8;
        let observations: Vec<_> = (0..settle + 20).map(|_| Some(counts.clone())).collect();
        let reports = run(&config, &initial, &observations);
        for report in &reports[settle..] {
            prop_assert!(report.actions.is_empty(), "still acting after settling: {:?}", report.actions);
        }
    }
}

#[test]
fn failed_fetch_never_removes_even_after_quiet_history() {
    let config = PlacerConfig::default().with_dry_run(false);
    let mut observations: Vec<Option<Vec<(usize, f64)>>> =
        vec![Some(vec![(0, 100.0), (1, 100.0)]); 5];
    observations.extend(vec![None; 10]);
    let reports = run(&config, &["iad", "fra"], &observations);
    assert!(reports[5..]
        .iter()
        .all(|r| r.removed.is_empty() && r.error.is_some()));
    assert!(reports[5..].iter().all(|r| r
        .actions
        .iter()
        .all(|a| a.decision.action != Action::Remove)));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// With a machine budget over the whole run, the latency policy never
    /// spends more than it, whatever the traffic and the action limit.
    #[test]
    fn the_latency_policy_stays_within_its_machine_budget(
        initial in subsequence(POOL.to_vec(), 1..=1),
        observations in prop::collection::vec(
            prop::option::weighted(0.9, prop::collection::vec((0usize..8, 0.0f64..300.0), 2..8)),
            5..60,
        ),
        regions_on_average in 1.0f64..3.0,
        region_cost_ms in 0.1f64..5.0,
        max_actions in 1usize..4,
    ) {
        let ticks = observations.len();
        let machine_hours = regions_on_average * ticks as f64 / 60.0;
        let start = Timestamp::from_unix_seconds(1_800_000_000);
        let mut config = PlacerConfig::default().with_dry_run(false).with_policy(placer_core::policy::PolicyName::LATENCY).with_max_actions_per_tick(max_actions);
        let budget = placer_core::policy::MachineBudget::new(machine_hours)
            .with_period(TICK * ticks as u32)
            // The period covers the interval before each tick, as the
            // machines that served it ran then.
            .with_starts(start - TICK);
        config.policy_settings.set(
            &placer_core::policy::LatencySettings::default()
                .with_region_cost_ms(region_cost_ms)
                .with_budget(Some(budget)),
        );
        let reports = run(&config, &initial, &observations);
        let mut running = initial.len();
        let mut machine_minutes = 0usize;
        for report in &reports {
            machine_minutes += running;
            running = report.updated_deployment.len();
        }
        prop_assert!(
            machine_minutes as f64 <= machine_hours * 60.0 + 1e-6,
            "{machine_minutes} machine-minutes against a budget of {:.2}", machine_hours * 60.0
        );
    }
}

/// An actuator over [`InMemoryActuator`] that cannot deploy the `full`
/// regions: each attempt is noted at the time in `now` and refused as
/// [`ActuatorError::RegionUnavailable`].
struct AtCapacity {
    inner: InMemoryActuator,
    full: BTreeSet<Region>,
    now: Mutex<Timestamp>,
    attempts: Mutex<Vec<(Region, Timestamp)>>,
}

#[async_trait]
impl RegionActuator for AtCapacity {
    async fn deployment(&self) -> Result<BTreeMap<Region, MachineCount>, ActuatorError> {
        self.inner.deployment().await
    }

    async fn scale(&self, region: &Region, target: MachineCount) -> Result<(), ActuatorError> {
        if !target.is_deployed() || !self.full.contains(region) {
            return self.inner.scale(region, target).await;
        }
        let at = *self.now.lock().unwrap();
        self.attempts.lock().unwrap().push((*region, at));
        Err(ActuatorError::region_unavailable(
            "test",
            region,
            "no capacity",
        ))
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// A region that is never available is never deployed, and tried again
    /// only after a backoff that doubles with each refusal.
    #[test]
    fn a_region_always_at_capacity_is_tried_ever_less_often(
        config in config(),
        initial in initial(),
        full in subsequence(POOL.to_vec(), 1..=3),
        observations in observations(),
    ) {
        let full = regions(&full);
        let initial: BTreeSet<Region> = regions(&initial).difference(&full).copied().collect();
        prop_assume!(!initial.is_empty());
        let actuator = AtCapacity {
            inner: InMemoryActuator::new(initial),
            full: full.clone(),
            now: Mutex::new(Timestamp::EPOCH),
            attempts: Mutex::new(Vec::new()),
        };
        let mut placer = Placer::new(config).unwrap();
        let source = ScriptedSource::new();
        let start = Timestamp::from_unix_seconds(1_800_000_000);
        for (i, observation) in observations.iter().enumerate() {
            let now = start + TICK * i as u32;
            *actuator.now.lock().unwrap() = now;
            match observation {
                Some(counts) => source.push(snapshot(now, counts)),
                None => source.push_failure("metrics backend unavailable"),
            }
            let report = block_on(placer.tick(&source, &actuator, now));
            for region in &full {
                prop_assert!(!report.updated_deployment.contains(region));
            }
        }
        let attempts = actuator.attempts.lock().unwrap().clone();
        for region in &full {
            let times: Vec<Timestamp> = attempts.iter().filter(|(r, _)| r == region).map(|(_, t)| *t).collect();
            let gaps: Vec<Duration> = times.windows(2).map(|w| w[1].duration_since(w[0])).collect();
            // The n-th wait is at least 2^(n-1) times the first, up to the
            // longest (a run this short never forgets a backoff).
            for (n, gap) in gaps.iter().enumerate() {
                let least = (FIRST_BACKOFF * (1 << n.min(16))).min(MAX_BACKOFF);
                prop_assert!(*gap >= least, "{region}: {gaps:?}");
            }
        }
    }
}
