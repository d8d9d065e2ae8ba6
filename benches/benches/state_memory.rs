//! Heap bytes held by one app's engine state (35 regions, long_term_window 20).
//!
//! Not a timing benchmark: it counts the bytes the state keeps allocated,
//! with dhat's heap profiler, and prints them: with the default config
//! (the threshold policy, which keeps no forecaster), with
//! `forecast: {method: none}`, and with `policy: latency` (which keeps a
//! forecaster: two profiles for each region with traffic).

use placer_benches::warmed_placer_with;
use placer_core::Placer;

#[global_allocator]
static ALLOCATOR: dhat::Alloc = dhat::Alloc;

fn main() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let default = placer_benches::config_with_history(20);
    let text =
        "dry_run: false\nlong_term_window: 20\nshort_term_window: 5\nforecast:\n  method: none\n";
    let no_forecast = placer_core::config::from_yaml(text, "bench.yml").expect("valid config");
    let text = "dry_run: false\nlong_term_window: 20\nshort_term_window: 5\npolicy: latency\n";
    let latency = placer_core::config::from_yaml(text, "bench.yml").expect("valid config");
    for (name, config) in [
        ("default config", default),
        ("forecast: {method: none}", no_forecast),
        ("policy: latency", latency),
    ] {
        const APPS: usize = 100;
        let before = dhat::HeapStats::get().curr_bytes;
        let placers: Vec<Placer> = (0..APPS)
            .map(|app| warmed_placer_with(config.clone(), 20, app as u64))
            .collect();
        let after = dhat::HeapStats::get().curr_bytes;
        let per_app = (after - before) / APPS;
        println!(
            "engine state, {name}: {per_app} bytes per app ({:.1} KiB) over {} apps, 35 regions, long_term_window 20",
            per_app as f64 / 1024.0,
            placers.len()
        );
        drop(placers);
    }
}
