//! Speed of planning, ticking and batch planning.

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use futures::executor::block_on;
use placer_benches::{
    config_with_history, half_deployed, snapshot, tick_time, warmed_placer, REGIONS,
};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use placer_core::forecast::{ForecastSettings, NO_FORECAST};
use placer_core::network::platform::{PlatformRegion, PlatformRegions};
use placer_core::network::solver::FacilityProblem;
use placer_core::network::RttTable;
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

/// A synthetic catalog of `n` regions spread over the inhabited latitudes
/// (codes `qaa`, `qab`, …), as the platform would list them.
fn synthetic_catalog(n: usize) -> (Vec<Region>, PlatformRegions) {
    let listed: Vec<PlatformRegion> = (0..n)
        .map(|i| {
            let code = format!(
                "q{}{}",
                char::from(b'a' + (i / 26) as u8),
                char::from(b'a' + (i % 26) as u8)
            );
            let latitude = -45.0 + 105.0 * ((i * 37 % 101) as f64 / 100.0);
            let longitude = -180.0 + 360.0 * ((i * 61 % 97) as f64 / 97.0);
            PlatformRegion::new(code.parse().expect("valid code"), latitude, longitude)
        })
        .collect();
    let regions = listed.iter().map(|region| region.code).collect();
    (
        regions,
        PlatformRegions::from_platform(listed, tick_time(0)),
    )
}

/// The latency policy's search alone, as a tick runs it: traffic entering
/// in every region, one region's price (5 ms of mean RTT for the whole
/// traffic), started from the previous tick's answer. 35 catalogued regions
/// and a synthetic catalog of 100.
fn latency_search(c: &mut Criterion) {
    let mut group = c.benchmark_group("latency_search");
    let model = LatencyModel::distance();
    let (synthetic, platform) = synthetic_catalog(100);
    let catalogued: Vec<Region> = REGIONS
        .iter()
        .map(|code| code.parse().expect("valid region"))
        .collect();
    for regions in [catalogued, synthetic] {
        let table = RttTable::over_platform(
            regions.iter().copied(),
            regions.iter().copied(),
            &model,
            &platform,
        );
        let n = regions.len();
        let traffic = |tick: usize| -> Vec<f64> {
            (0..n)
                .map(|i| (60.0 + 55.0 * (tick as f64 / 30.0 + i as f64).sin()).max(0.0))
                .collect()
        };
        let problem = |weights: Vec<f64>| {
            let total: f64 = weights.iter().sum();
            FacilityProblem {
                table: &table,
                weights,
                region_cost: vec![(5.0 * total).max(1000.0); n],
                min_size: 1,
                max_size: n,
                fixed: vec![false; n],
                allowed: vec![true; n],
            }
        };
        let previous = problem(traffic(0)).solve(&vec![false; n]);
        let now = problem(traffic(1));
        group.bench_with_input(BenchmarkId::new("regions", n), &previous, |b, start| {
            b.iter(|| now.solve(start))
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
    latency_tick_with_forecasts,
    latency_search
);
criterion_main!(benches);
