//! Shared fixtures for the benchmarks in `benches/benches`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::collections::BTreeSet;
use std::time::Duration;

use placer_core::{Placer, PlacerConfig, Region, Timestamp, TrafficSnapshot};

/// The first 35 Fly region codes, used as a full-size app.
pub const REGIONS: [&str; 35] = [
    "ams", "arn", "atl", "bog", "bom", "bos", "cdg", "den", "dfw", "ewr", "eze", "fra", "gdl",
    "gig", "gru", "hkg", "iad", "jnb", "lax", "lhr", "mad", "mia", "nrt", "ord", "otp", "phx",
    "qro", "scl", "sea", "sin", "sjc", "syd", "waw", "yul", "yyz",
];

/// One minute between ticks.
pub const TICK: Duration = Duration::from_secs(60);

/// The time of tick `index`.
pub fn tick_time(index: usize) -> Timestamp {
    Timestamp::from_unix_seconds(1_800_000_000) + TICK * index as u32
}

/// Deterministic, varied traffic for all 35 regions at tick `index`
/// (`salt` tells apps apart).
pub fn snapshot(index: usize, salt: u64) -> TrafficSnapshot {
    let counts = REGIONS.iter().enumerate().map(|(i, code)| {
        let phase = (index as f64 / 30.0) + i as f64 + salt as f64 * 0.37;
        (*code, (60.0 + 55.0 * phase.sin()).max(0.0))
    });
    TrafficSnapshot::new(tick_time(index), counts).expect("valid traffic")
}

/// A live config keeping `history` points per region.
pub fn config_with_history(history: usize) -> PlacerConfig {
    PlacerConfig::default()
        .with_dry_run(false)
        .with_long_term_window(history)
        .with_short_term_window(5.min(history))
}

/// An engine that has seen `history` ticks of traffic.
pub fn warmed_placer(history: usize, salt: u64) -> Placer {
    warmed_placer_with(config_with_history(history), history, salt)
}

/// An engine with `config` that has seen `history` ticks of traffic.
pub fn warmed_placer_with(config: PlacerConfig, history: usize, salt: u64) -> Placer {
    let mut placer = Placer::new(config).expect("valid config");
    for index in 0..history {
        placer.observe(&snapshot(index, salt));
    }
    placer
}

/// Half of the regions, as the deployed set.
pub fn half_deployed() -> BTreeSet<Region> {
    REGIONS
        .iter()
        .step_by(2)
        .map(|code| code.parse().expect("valid region"))
        .collect()
}
