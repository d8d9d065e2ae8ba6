//! The situation of the seed README's example output, as a snapshot.
#![cfg(feature = "yaml")]

use futures::executor::block_on;
use placer_core::{config, InMemoryActuator, Placer, ScriptedSource, Timestamp, TrafficSnapshot};

const SEED_CONFIG: &str = "\
dry_run: True
cooldown_period: 10
short_term_window: 5
long_term_window: 20
alpha_short: 0.3
alpha_long: 0.1
traffic_threshold: 50
deployment_threshold: 10
allowed_regions: [iad, cdg, lhr, fra, sfo]
excluded_regions: [nrt]
always_running_regions: [fra]
";

/// Per-region request counts over 20 ticks: cdg, iad, fra and sfo drift down
/// from around 40, lhr rises, ams/sin/nrt are busy but not placeable.
fn traffic(tick: usize) -> Vec<(&'static str, f64)> {
    let t = tick as f64;
    vec![
        ("cdg", 42.0 - 0.3 * t),
        ("ams", 70.0 + t),
        ("iad", 41.0 - 0.6 * t),
        ("sin", 55.0 + 2.0 * t),
        ("nrt", 80.0),
        ("lhr", 12.0 + 2.2 * t),
        ("fra", 45.0 - 1.4 * t),
        ("sfo", 38.0 - 0.5 * t),
    ]
}

#[test]
fn seed_readme_situation_report() {
    let config = config::from_yaml(SEED_CONFIG, "config.yml").unwrap();
    let mut placer = Placer::new(config).unwrap();
    let deployment = ["fra", "iad", "lhr", "cdg"].map(|c| c.parse().unwrap());
    let actuator = InMemoryActuator::new(deployment);
    let source = ScriptedSource::new();
    let start = Timestamp::from_unix_seconds(1_800_000_000);
    let mut report = None;
    for tick in 0..20 {
        let now = start + std::time::Duration::from_secs(60 * tick as u64);
        source.push(TrafficSnapshot::new(now, traffic(tick)).unwrap());
        report = Some(block_on(placer.tick(&source, &actuator, now)));
    }
    insta::assert_json_snapshot!(report.unwrap());
}
