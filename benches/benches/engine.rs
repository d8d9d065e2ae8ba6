//! Speed of planning, ticking and batch planning.

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use futures::executor::block_on;
use placer_benches::{
    config_with_history, half_deployed, snapshot, tick_time, warmed_placer, REGIONS,
};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use placer_core::forecast::{ForecastSettings, NO_FORECAST};
use placer_core::policy::PolicyName;
use placer_core::{
    network::LatencyModel, InMemoryActuator, Placer, PlacerConfig, Region, ScriptedSource,
};
use placer_lab::scenario::{self, Scenario};
use placer_lab::{backtest, FixedK};

fn plan_35_regions(c: &mut Criterion) {
    let mut group = c.benchmark_group("plan_35_regions");
    let deployed = half_deployed();
    for history in [20usize, 100, 1000] {
        let placer = warmed_placer(history, 1);
        group.bench_with_input(
            BenchmarkId::new("history", history),
            &placer,
            |b, placer| b.iter(|| placer.decide(&deployed, tick_time(history))),
        );
    }
    group.finish();
}

fn kmedian_35_regions(c: &mut Criterion) {
    let regions: Vec<Region> = REGIONS
        .iter()
        .map(|code| code.parse().expect("valid region"))
        .collect();
    let weights: BTreeMap<Region, f64> = regions
        .iter()
        .enumerate()
        .map(|(i, region)| (*region, 10.0 + (i * 37 % 11) as f64 * 13.0))
        .collect();
    let solver = FixedK::new(regions.clone(), regions, [], &LatencyModel::distance());
    let mut group = c.benchmark_group("kmedian_35_regions");
    for k in [3usize, 8] {
        group.bench_with_input(BenchmarkId::new("k", k), &k, |b, k| {
            b.iter(|| solver.solve(&weights, *k).expect("valid weights"))
        });
    }
    group.finish();
}

fn full_tick_in_memory(c: &mut Criterion) {
    let placer = warmed_placer(20, 2);
    c.bench_function("tick_35_regions_in_memory", |b| {
        b.iter_batched(
            || {
                let source = ScriptedSource::from_snapshots([snapshot(20, 2)]);
                let actuator = InMemoryActuator::new(half_deployed());
                (placer.clone(), source, actuator)
            },
            |(mut placer, source, actuator)| {
                block_on(placer.tick(&source, &actuator, tick_time(20)))
            },
            BatchSize::SmallInput,
        )
    });
}

fn batch_of_apps(c: &mut Criterion) {
    const APPS: usize = 10_000;
    let placers: Vec<_> = (0..APPS).map(|app| warmed_placer(20, app as u64)).collect();
    let deployed = half_deployed();
    let mut group = c.benchmark_group("batch_plan");
    group.sample_size(10);
    group.throughput(Throughput::Elements(APPS as u64));
    group.bench_function("10000_apps_x_35_regions", |b| {
        b.iter(|| {
            placers
                .iter()
                .map(|placer| placer.decide(&deployed, tick_time(20)).actions.len())
                .sum::<usize>()
        })
    });
    group.finish();
}

fn backtest_throughput(c: &mut Criterion) {
    let trace = scenario::generate(
        Scenario::FollowTheSun,
        Duration::from_secs(24 * 3600),
        1,
        scenario::DEFAULT_STEP,
    )
    .expect("a valid scenario");
    let initial: BTreeSet<Region> = ["iad".parse().expect("valid region")].into();
    let mut group = c.benchmark_group("backtest_35_regions");
    group.sample_size(10);
    group.throughput(Throughput::Elements(trace.len() as u64));
    for policy in [PolicyName::THRESHOLD, PolicyName::LATENCY] {
        let name = policy.to_string();
        let config = PlacerConfig::default().with_policy(policy);
        group.bench_function(name, |b| {
            b.iter(|| block_on(backtest::replay(&config, &trace, &initial, |_| {})))
        });
    }
    group.finish();
}

/// One latency-policy tick with 35 regions, reacting only (`forecast.method:
/// none`, the latency tick before forecasts) and planning with forecasts
/// (the seasonal forecaster warm-started with a week of history).
fn latency_tick_with_forecasts(c: &mut Criterion) {
    const WEEK: usize = 7 * 24 * 60;
    let mut group = c.benchmark_group("latency_tick_35_regions");
    for method in [NO_FORECAST, "seasonal"] {
        let mut config = config_with_history(20).with_policy(PolicyName::LATENCY);
        config
            .policy_settings
            .set(&ForecastSettings::default().with_method(method.to_owned()));
        let mut placer = Placer::new(config).expect("valid config");
        let week: Vec<_> = (0..WEEK).map(|index| snapshot(index, 3)).collect();
        placer.warm_start(&week);
        for index in WEEK..WEEK + 20 {
            placer.observe(&snapshot(index, 3));
        }
        let label = if method == NO_FORECAST {
            "reactive"
        } else {
            "forecasting"
        };
        group.bench_function(label, |b| {
            b.iter_batched(
                || {
                    let source = ScriptedSource::from_snapshots([snapshot(WEEK + 20, 3)]);
                    let actuator = InMemoryActuator::new(half_deployed());
                    (placer.clone(), source, actuator)
                },
                |(mut placer, source, actuator)| {
                    block_on(placer.tick(&source, &actuator, tick_time(WEEK + 20)))
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    plan_35_regions,
    kmedian_35_regions,
    full_tick_in_memory,
    batch_of_apps,
    backtest_throughput,
    latency_tick_with_forecasts
);
criterion_main!(benches);
