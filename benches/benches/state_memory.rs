//! Heap bytes held by one app's engine state (35 regions, long_term_window 20).
//!
//! Not a timing benchmark: it counts the bytes the state keeps allocated,
//! with dhat's heap profiler, and prints them.

use placer_benches::warmed_placer;

#[global_allocator]
static ALLOCATOR: dhat::Alloc = dhat::Alloc;

fn main() {
    let _profiler = dhat::Profiler::builder().testing().build();
    const APPS: usize = 100;
    let before = dhat::HeapStats::get().curr_bytes;
    let placers: Vec<_> = (0..APPS).map(|app| warmed_placer(20, app as u64)).collect();
    let after = dhat::HeapStats::get().curr_bytes;
    let per_app = (after - before) / APPS;
    println!(
        "engine state: {per_app} bytes per app ({:.1} KiB) over {} apps, 35 regions, long_term_window 20",
        per_app as f64 / 1024.0,
        placers.len()
    );
}
